"""Reads about campaigns shared by the admin, the dashboards and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Max, Min, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import TruncHour

from .database import is_postgresql
from .imports import progress_key
from .models import CallCounter, CallRecord, Campaign, RecipientImport, SingleCall

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def counted_by_state_outcome(campaign: Campaign) -> list[dict]:
    """(state, outcome, n, talk, units) rows: from the trigger-kept counters on PostgreSQL
    (a few dozen rows whatever the campaign's size), else aggregated from the records."""
    if is_postgresql():
        source = CallCounter.objects.filter(campaign=campaign).values("state", "outcome")
        return list(
            source.annotate(n=Sum("calls"), talk=Sum("talk_seconds"), units=Sum("billed_units")).filter(n__gt=0)
        )
    source = CallRecord.objects.filter(campaign=campaign, is_test=False).values("state", "outcome")
    return list(source.annotate(n=Count("id"), talk=Sum("talk_seconds"), units=Sum("billed_units")))


def first_and_last(campaign: Campaign):
    """(first submit, last report) times: kept by the counters on PostgreSQL, else aggregated."""
    source = CallCounter.objects if is_postgresql() else CallRecord.objects.filter(is_test=False)
    if is_postgresql():
        found = source.filter(campaign=campaign).aggregate(
            first=Min("first_submitted_at"), last=Max("last_reported_at")
        )
    else:
        found = source.filter(campaign=campaign).aggregate(first=Min("submitted_at"), last=Max("reported_at"))
    return found["first"], found["last"]


def campaign_stats(campaign: Campaign) -> dict:
    """Live figures for one campaign (docs/architecture.md, "Where each rule lives")."""
    by_state: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    total = talk_total = units = 0
    for row in counted_by_state_outcome(campaign):
        total += row["n"]
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["n"]
        if row["outcome"]:
            by_outcome[row["outcome"]] = by_outcome.get(row["outcome"], 0) + row["n"]
        talk_total += row["talk"] or 0
        units += row["units"] or 0
    first_submit, last_report = first_and_last(campaign)
    answered = by_state.get("answered", 0)
    finished = sum(by_state.get(s, 0) for s in CallRecord.RESULT_STATES)
    price = campaign.account.price_per_unit
    return {
        "campaign": campaign.pk,
        "state": campaign.state,
        "recipients": campaign.recipient_count,
        "total": total,
        "attempts": total,
        "by_state": by_state,
        "by_outcome": by_outcome,
        "answered": answered,
        "answer_rate": round(answered / finished, 4) if finished else None,
        "avg_talk_seconds": round(talk_total / answered, 1) if answered else None,
        "billed_units": units,
        "cost": str((price * units).quantize(Decimal("0.01"))) if price is not None else None,
        "first_submitted_at": first_submit,
        "last_reported_at": last_report,
        "timeline": hourly_timeline(campaign),
    }


def hourly_timeline(campaign: Campaign) -> list[dict]:
    """Calls reported per hour, split answered / not answered."""
    if is_postgresql():
        rows = (
            CallCounter.objects.filter(campaign=campaign)
            .exclude(hour=EPOCH)
            .values("hour", "state")
            .annotate(n=Sum("calls"))
            .filter(n__gt=0)
            .order_by("hour")
        )
    else:
        rows = (
            CallRecord.objects.filter(campaign=campaign, reported_at__isnull=False)
            .annotate(hour=TruncHour("reported_at"))
            .values("hour", "state")
            .annotate(n=Count("id"))
            .order_by("hour")
        )
    timeline: dict = {}
    for row in rows:
        slot = timeline.setdefault(row["hour"], {"hour": row["hour"], "answered": 0, "not_answered": 0})
        slot["answered" if row["state"] == "answered" else "not_answered"] += row["n"]
    return list(timeline.values())


def _pct(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0


def progress_from_states(by_state: dict[str, int], recipients: int | None = None) -> dict:
    """Progress figures from counts of call rows by state (one grouped query upstream)."""
    total = sum(by_state.values())
    queued = by_state.get("queued", 0)
    in_flight = sum(by_state.get(s, 0) for s in CallRecord.IN_FLIGHT_STATES)
    final = sum(by_state.get(s, 0) for s in CallRecord.FINAL_STATES)
    answered = by_state.get("answered", 0)
    failed = final - answered
    ended = answered + sum(by_state.get(s, 0) for s in CallRecord.FAILED_STATES)
    data = {
        "total": total,
        "queued": queued,
        "submitted": in_flight,
        "final": final,
        "answered": answered,
        "failed": failed,
        "pct_answered": _pct(answered, total),
        "pct_failed": _pct(failed, total),
        "pct_submitted": _pct(in_flight, total),
        "pct_queued": _pct(queued, total),
        "pct_done": round(_pct(final, total)),
        "answer_rate": f"{answered * 100 / ended:.1f}%" if ended else "—",
    }
    if recipients is not None:
        data["recipients"] = recipients
    return data


def counts_by_state(campaign_ids) -> list[dict]:
    """(campaign_id, state, n) for several campaigns, test calls left out: from the trigger-kept
    counters on PostgreSQL (a few rows per campaign whatever its size), else from the records."""
    ids = list(campaign_ids)
    if is_postgresql():
        return list(
            CallCounter.objects.filter(campaign_id__in=ids)
            .values("campaign_id", "state")
            .annotate(n=Sum("calls"))
            .filter(n__gt=0)
        )
    return list(
        CallRecord.objects.filter(campaign_id__in=ids, is_test=False)
        .values("campaign_id", "state")
        .annotate(n=Count("id"))
    )


def progress_for(campaign_ids) -> dict[int, dict]:
    """Progress of several campaigns in one grouped query."""
    by_campaign: dict[int, dict[str, int]] = {pk: {} for pk in campaign_ids}
    for row in counts_by_state(campaign_ids):
        by_campaign[row["campaign_id"]][row["state"]] = row["n"]
    return {pk: progress_from_states(states) for pk, states in by_campaign.items()}


IMPORT_COUNTS = ("processed_bytes", "rows", "accepted", "invalid", "duplicates", "blocked")


def import_figures(job: RecipientImport) -> dict:
    """An import's counts and percent: live from the cache the importer writes while it runs, else its row.

    The one place the two are merged (the admin's progress and the API's import resource).
    """
    figures = {name: getattr(job, name) for name in IMPORT_COUNTS} | {"percent": job.percent}
    if job.state == RecipientImport.State.RUNNING:
        live = cache.get(progress_key(job.pk)) or {}
        figures.update({name: live[name] for name in IMPORT_COUNTS if name in live})
        figures["percent"] = min(99, figures["processed_bytes"] * 100 // job.size_bytes) if job.size_bytes else 0
    return figures


def single_calls() -> QuerySet[SingleCall]:
    """Single calls with ``state`` and ``outcome`` of their latest attempt (filterable) and their attempts."""
    latest = CallRecord.objects.filter(single_call=OuterRef("pk")).order_by("-attempt")
    return (
        SingleCall.objects.annotate(
            state=Subquery(latest.values("state")[:1]), outcome=Subquery(latest.values("outcome")[:1])
        )
        .select_related("account")
        .prefetch_related(Prefetch("attempts", queryset=CallRecord.objects.order_by("attempt")))
    )
