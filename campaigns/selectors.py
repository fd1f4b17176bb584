"""Reads about campaigns shared by the admin, the dashboards and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Max, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.translation import gettext as _

from vendors.adapters import adapter_class
from vendors.models import BalanceSnapshot, VendorAccount
from vendors.services import CIRCUIT_OPEN_FOR

from .database import is_postgresql
from .imports import progress_key
from .models import CallCounter, CallRecord, Campaign, RecipientImport, SingleCall, VoiceTemplate

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The one definition of the answer rates (page, API, statistics, home page). An attempt has ended
# when the vendor gave it a result or refused it; a cancelled call was never dialled and is no
# attempt. A number answers at most once (no attempt follows an answer), so answered calls are
# answered numbers.
ENDED_STATES = ("answered", "failed", "submit_failed", "expired")


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def answer_rates(by_state: dict[str, int], numbers_ended: int) -> dict:
    """``per_attempt``: answered ÷ attempts that ended; ``per_number``: answered numbers ÷ numbers
    with at least one ended attempt (what a marketer reads as "how many people picked up")."""
    answered = by_state.get("answered", 0)
    ended = sum(by_state.get(s, 0) for s in ENDED_STATES)
    return {
        "answered": answered,
        "ended_attempts": ended,
        "numbers_ended": numbers_ended,
        "per_attempt": ratio(answered, ended),
        "per_number": ratio(answered, numbers_ended),
    }


def numbers_ended(campaign_ids) -> dict[int, int]:
    """Numbers (recipients) with at least one ended attempt, per campaign (one grouped query)."""
    ids = list(campaign_ids)
    found = dict(
        CallRecord.objects.filter(campaign_id__in=ids, is_test=False, state__in=ENDED_STATES)
        .values_list("campaign_id")
        .annotate(n=Count("recipient_id", distinct=True))
        .values_list("campaign_id", "n")
    )
    return {pk: found.get(pk, 0) for pk in ids}


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
    rates = answer_rates(by_state, numbers_ended([campaign.pk])[campaign.pk])
    answered = rates["answered"]
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
        "ended_attempts": rates["ended_attempts"],
        "numbers_ended": rates["numbers_ended"],
        "answer_rate_per_attempt": rates["per_attempt"],
        "answer_rate_per_number": rates["per_number"],
        "answer_rate": rates["per_attempt"],
        "avg_talk_seconds": round(talk_total / answered, 1) if answered else None,
        "billed_units": units,
        "cost": str((price * units).quantize(Decimal("0.01"))) if price is not None else None,
        "first_submitted_at": first_submit,
        "last_reported_at": last_report,
        "timeline": hourly_timeline(campaign),
    }


def hourly_timeline(campaign: Campaign) -> list[dict]:
    """Attempts ended per hour (by report time), split answered / not answered; test calls and
    cancelled calls (never dialled) are left out. From the trigger-kept counters on PostgreSQL."""
    if not is_postgresql():
        return timeline_from_records(campaign)
    rows = (
        CallCounter.objects.filter(campaign=campaign)
        .exclude(hour=EPOCH)
        .values("hour", "state")
        .annotate(n=Sum("calls"))
        .filter(n__gt=0)
        .order_by("hour")
    )
    return _timeline(rows)


def timeline_from_records(campaign: Campaign) -> list[dict]:
    """The same from the call records themselves (other databases)."""
    rows = (
        CallRecord.objects.filter(campaign=campaign, reported_at__isnull=False, is_test=False)
        .annotate(hour=TruncHour("reported_at"))
        .values("hour", "state")
        .annotate(n=Count("id"))
        .order_by("hour")
    )
    return _timeline(rows)


def _timeline(rows) -> list[dict]:
    timeline: dict = {}
    for row in rows:
        if row["state"] not in ENDED_STATES:
            continue
        slot = timeline.setdefault(row["hour"], {"hour": row["hour"], "answered": 0, "not_answered": 0})
        slot["answered" if row["state"] == "answered" else "not_answered"] += row["n"]
    return list(timeline.values())


# --------------------------------------------------------------------------- why nothing moves
def _when(moment) -> str:
    local = timezone.localtime(moment)
    return local.strftime("%H:%M") if local.date() == timezone.localdate() else local.strftime("%Y-%m-%d %H:%M")


def _account_problems(account: VendorAccount, balance: BalanceSnapshot | None, now) -> list[tuple[str, str]]:
    if not account.is_active:
        return [("account_inactive", _("The vendor account “%(name)s” is not active.") % {"name": account.name})]
    problems = []
    if account.circuit_open_until and account.circuit_open_until > now:
        problems.append(
            (
                "circuit_open",
                _(
                    "The vendor account “%(name)s” stopped answering: calls to it are held since %(since)s "
                    "and tried again at %(until)s. Last vendor error: %(error)s"
                )
                % {
                    "name": account.name,
                    "since": _when(account.circuit_open_until - CIRCUIT_OPEN_FOR),
                    "until": _when(account.circuit_open_until),
                    "error": account.last_error or "—",
                },
            )
        )
    if balance is not None and balance.amount <= 0:
        problems.append(
            (
                "balance_exhausted",
                _("The vendor account “%(name)s” has no balance left (%(amount)s %(unit)s at %(when)s).")
                % {
                    "name": account.name,
                    "amount": f"{balance.amount.normalize():f}",
                    "unit": balance.unit,
                    "when": _when(balance.taken_at),
                },
            )
        )
    return problems


def why_not_dialling(campaign: Campaign, now=None) -> list[dict]:
    """Why a campaign that is not finished makes no calls now, as ``{"code", "message"}`` items."""
    return not_dialling_for([campaign], now)[campaign.pk]


def not_dialling_for(campaigns: list[Campaign], now=None) -> dict[int, list[dict]]:
    """Why each campaign makes no calls now (empty when calls can go out), in two queries for any number.

    Shown on the campaign's page, on each role's home page and in the API, so everyone who sees a
    campaign stand still reads the same reasons: not launched, scheduled, paused, a template
    awaiting the vendor's review, an inactive account, an open circuit (since when, the last vendor
    error, until when), no balance, outside calling hours (until when), retries not yet due.
    """
    now = now or timezone.now()
    account_ids = {c.account_id for c in campaigns} | {
        c.fallback_account_id for c in campaigns if c.fallback_account_id
    }
    balances = _latest_balances(account_ids)
    running = [c.pk for c in campaigns if c.state == Campaign.State.RUNNING]
    queued = {}
    if running:
        rows = (
            CallRecord.objects.filter(campaign_id__in=running, state=CallRecord.State.QUEUED, is_test=False)
            .values("campaign_id")
            .annotate(
                due=Count("id", filter=Q(not_before__isnull=True) | Q(not_before__lte=now)),
                next_due=Min("not_before"),
            )
        )
        queued = {row["campaign_id"]: row for row in rows}
    return {c.pk: _reasons(c, balances, queued.get(c.pk), now) for c in campaigns}


def _latest_balances(account_ids) -> dict:
    """The latest balance snapshot of each account (one query)."""
    if not account_ids:
        return {}
    if is_postgresql():
        snaps = (
            BalanceSnapshot.objects.filter(account_id__in=account_ids)
            .order_by("account_id", "-taken_at")
            .distinct("account_id")
        )
        return {snap.account_id: snap for snap in snaps}
    found = {}
    for snap in BalanceSnapshot.objects.filter(account_id__in=account_ids).order_by("-taken_at"):
        found.setdefault(snap.account_id, snap)
    return found


def _reasons(campaign: Campaign, balances: dict, queued: dict | None, now) -> list[dict]:
    reasons: list[tuple[str, str]] = []
    state = campaign.state
    if state in (Campaign.State.COMPLETED, Campaign.State.CANCELLED):
        return []
    if state == Campaign.State.DRAFT:
        reasons.append(("draft", _("Not launched yet.")))
    elif state == Campaign.State.SCHEDULED:
        reasons.append(
            ("scheduled", _("Scheduled: calls start at %(when)s.") % {"when": _when(campaign.scheduled_at or now)})
        )
    elif state == Campaign.State.PAUSED:
        reasons.append(("paused", _("Paused: no calls go out until it is resumed.")))
    template = campaign.template
    if (
        template is not None
        and template.review_state != VoiceTemplate.Review.APPROVED
        and adapter_class(campaign.account.vendor).reviews_templates
    ):
        reasons.append(
            (
                "template_review",
                _("The template “%(name)s” is not approved by the vendor yet (%(review)s).")
                % {"name": template.name, "review": template.get_review_state_display()},
            )
        )
    primary = _account_problems(campaign.account, balances.get(campaign.account_id), now)
    fallback = campaign.fallback_account
    reasons += primary
    if primary and fallback is not None:
        fallback_problems = _account_problems(fallback, balances.get(fallback.pk), now)
        if fallback_problems:
            reasons += fallback_problems
        else:
            reasons.append(
                (
                    "using_fallback",
                    _("Calls go through the fallback account “%(name)s” meanwhile.") % {"name": fallback.name},
                )
            )
    starts = campaign.scheduled_at if state == Campaign.State.SCHEDULED and campaign.scheduled_at else now
    if state in (Campaign.State.RUNNING, Campaign.State.SCHEDULED) and not campaign.in_calling_hours(max(starts, now)):
        reasons.append(
            (
                "quiet_hours",
                _("Outside calling hours (%(hours)s, Asia/Shanghai): calls resume at %(when)s.")
                % {
                    "hours": f"{campaign.quiet_hours_start:%H:%M}–{campaign.quiet_hours_end:%H:%M}",
                    "when": _when(campaign.calls_start_at(max(starts, now))),
                },
            )
        )
    if state == Campaign.State.RUNNING and not reasons and queued and not queued["due"] and queued["next_due"]:
        reasons.append(
            (
                "retries_waiting",
                _("Waiting for retries: the next is due at %(when)s.") % {"when": _when(queued["next_due"])},
            )
        )
    return [{"code": code, "message": message} for code, message in reasons]


def _pct(part: int, whole: int) -> float:
    return round(part * 100 / whole, 1) if whole else 0


def _percent(rate: float | None) -> str:
    return f"{rate * 100:.1f}%" if rate is not None else "—"


def progress_from_states(by_state: dict[str, int], recipients: int | None = None, numbers_ended: int = 0) -> dict:
    """Progress figures from counts of call rows by state (one grouped query upstream).

    Cancelled calls were never dialled: they count as final but neither answered nor not answered.
    The answer rates are ``selectors.answer_rates`` (the one definition).
    """
    total = sum(by_state.values())
    queued = by_state.get("queued", 0)
    in_flight = sum(by_state.get(s, 0) for s in CallRecord.IN_FLIGHT_STATES)
    final = sum(by_state.get(s, 0) for s in CallRecord.FINAL_STATES)
    cancelled = by_state.get("cancelled", 0)
    rates = answer_rates(by_state, numbers_ended)
    answered = rates["answered"]
    failed = rates["ended_attempts"] - answered
    data = {
        "total": total,
        "queued": queued,
        "submitted": in_flight,
        "final": final,
        "answered": answered,
        "failed": failed,
        "cancelled": cancelled,
        "pct_answered": _pct(answered, total),
        "pct_failed": _pct(failed, total),
        "pct_cancelled": _pct(cancelled, total),
        "pct_submitted": _pct(in_flight, total),
        "pct_queued": _pct(queued, total),
        "pct_done": round(_pct(final, total)),
        "answer_rate": _percent(rates["per_attempt"]),
        "answer_rate_per_attempt": _percent(rates["per_attempt"]),
        "answer_rate_per_number": _percent(rates["per_number"]),
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
    numbers = numbers_ended(by_campaign)
    return {pk: progress_from_states(states, numbers_ended=numbers[pk]) for pk, states in by_campaign.items()}


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
