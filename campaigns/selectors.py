"""Reads about campaigns shared by the admin, the dashboards and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Max, Min, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import TruncHour

from .models import CallCounter, CallRecord, Campaign, SingleCall

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def counted_by_state_outcome(campaign: Campaign) -> list[dict]:
    """(state, outcome, n, talk, units) rows: from the trigger-kept counters on PostgreSQL
    (a few dozen rows whatever the campaign's size), else aggregated from the records."""
    if connection.vendor == "postgresql":
        source = CallCounter.objects.filter(campaign=campaign).values("state", "outcome")
        return list(
            source.annotate(n=Sum("calls"), talk=Sum("talk_seconds"), units=Sum("billed_units")).filter(n__gt=0)
        )
    source = CallRecord.objects.filter(campaign=campaign, is_test=False).values("state", "outcome")
    return list(source.annotate(n=Count("id"), talk=Sum("talk_seconds"), units=Sum("billed_units")))


def first_and_last(campaign: Campaign):
    """(first submit, last report) times: kept by the counters on PostgreSQL, else aggregated."""
    source = CallCounter.objects if connection.vendor == "postgresql" else CallRecord.objects.filter(is_test=False)
    if connection.vendor == "postgresql":
        found = source.filter(campaign=campaign).aggregate(
            first=Min("first_submitted_at"), last=Max("last_reported_at")
        )
    else:
        found = source.filter(campaign=campaign).aggregate(first=Min("submitted_at"), last=Max("reported_at"))
    return found["first"], found["last"]


def campaign_stats(campaign: Campaign) -> dict:
    """Live figures for one campaign (DESIGN.md, "Stats")."""
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
    finished = sum(by_state.get(s, 0) for s in ("answered", "failed", "expired"))
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
    if connection.vendor == "postgresql":
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
