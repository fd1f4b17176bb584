"""The admin home page's figures (``reporting.views.admin_dashboard``), drawn by templates/admin/index.html.

Each section shows only to users allowed to see its data (vendor accounts to operators and
finance, callback events to operators), and every figure is one grouped query: the page costs
the same with ten calls or ten million.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Count, Sum
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from campaigns.database import is_postgresql
from campaigns.models import CallbackEvent, CallCounter, CallRecord, Campaign
from campaigns.selectors import ENDED_STATES, not_dialling_for, progress_for
from vendors.models import HEALTH_LEVELS, VendorAccount

from ..charts import answer_rate_chart, outcome_chart

RUNNING_SHOWN = 10
LAG_AFTER = timedelta(minutes=10)
DAYS = 7
FINAL_RESULT_STATES = ENDED_STATES  # the answer rate's one definition (campaigns.selectors.answer_rates)


def local_midnight(day=None) -> datetime:
    day = day or timezone.localdate()
    return timezone.make_aware(datetime.combine(day, time.min))


def running_campaigns(limit: int = RUNNING_SHOWN) -> list[dict]:
    campaigns = list(
        Campaign.objects.filter(state__in=Campaign.ACTIVE_STATES)
        .select_related("account", "fallback_account", "template")
        .order_by("-launched_at", "-id")[:limit]
    )
    progress = progress_for([c.pk for c in campaigns])
    reasons = not_dialling_for(campaigns)
    return [
        {
            "campaign": c,
            "progress": progress[c.pk],
            "not_dialling": reasons[c.pk],
            "url": reverse("admin:campaigns_campaign_change", args=[c.pk]),
            "progress_url": reverse("admin:campaigns_campaign_progress", args=[c.pk]),
        }
        for c in campaigns
    ]


def running_count() -> int:
    """Every running or paused campaign (the home page lists the latest RUNNING_SHOWN of them)."""
    return Campaign.objects.filter(state__in=Campaign.ACTIVE_STATES).count()


def results_by_hour(since: datetime, states=None) -> list[dict]:
    """(hour, state, outcome, n) of call results reported since ``since``, test calls left out:
    from the trigger-kept counters on PostgreSQL, else grouped from the records."""
    if is_postgresql():
        rows = CallCounter.objects.filter(hour__gte=since)
        if states:
            rows = rows.filter(state__in=states)
        return list(rows.values("hour", "state", "outcome").annotate(n=Sum("calls")).filter(n__gt=0).order_by())
    rows = CallRecord.objects.filter(reported_at__gte=since, is_test=False)
    if states:
        rows = rows.filter(state__in=states)
    return list(
        rows.annotate(hour=TruncHour("reported_at"))
        .values("hour", "state", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )


def todays_outcomes() -> dict:
    """Today's call results (by report time, local day) per outcome."""
    counts: dict[str, int] = {}
    for row in results_by_hour(local_midnight()):
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + row["n"]
    return {"total": sum(counts.values()), "chart": outcome_chart(counts)}


def answer_rate_by_day(days: int = DAYS) -> dict:
    """Calls with a final result per local day (by report time) and the share answered."""
    first_day = timezone.localdate() - timedelta(days=days - 1)
    per_day: dict = {}
    for row in results_by_hour(local_midnight(first_day), states=CallRecord.RESULT_STATES):
        day = timezone.localtime(row["hour"]).date()
        slot = per_day.setdefault(day, {"n": 0, "answered": 0})
        slot["n"] += row["n"]
        if row["state"] == "answered":
            slot["answered"] += row["n"]
    labels, rates, volumes = [], [], []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        slot = per_day.get(day)
        labels.append(day.strftime("%m-%d"))
        volumes.append(slot["n"] if slot else 0)
        rates.append(round(slot["answered"] * 100 / slot["n"], 1) if slot and slot["n"] else None)
    chart = answer_rate_chart(labels, rates, volumes)
    total = sum(volumes)
    answered = sum(slot["answered"] for slot in per_day.values())
    return {"chart": chart, "total": total, "rate": f"{answered * 100 / total:.1f}%" if total else "—"}


def vendor_health() -> list[dict]:
    """Every vendor account with its latest balance, circuit, last error and lagging receipts."""
    cutoff = timezone.now() - LAG_AFTER
    lagging = dict(
        CallRecord.objects.filter(state=CallRecord.State.SUBMITTED, submitted_at__lt=cutoff)
        .values_list("account_id")
        .annotate(n=Count("id"))
        .values_list("account_id", "n")
    )
    accounts = VendorAccount.objects.with_latest_balance().order_by("-is_active", "name")
    rows = []
    for account in accounts:
        lag = lagging.get(account.pk, 0)
        low = account.latest_amount is not None and account.latest_amount < account.low_balance_threshold
        health = account.health(lagging_receipts=lag)
        rows.append(
            {
                "account": account,
                "lagging": lag,
                "low": low,
                "health": health.label,
                "level": HEALTH_LEVELS[health],
                "balance": f"{account.latest_amount.normalize():,f} {account.latest_unit}"
                if account.latest_amount is not None
                else "—",
                "url": reverse("admin:vendors_vendoraccount_change", args=[account.pk]),
            }
        )
    return rows


def callback_problems() -> dict:
    counts = dict(
        CallbackEvent.objects.filter(state__in=[CallbackEvent.State.FAILED, CallbackEvent.State.UNMATCHED])
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    base = reverse("admin:campaigns_callbackevent_changelist")
    return {
        "failed": counts.get(CallbackEvent.State.FAILED, 0),
        "unmatched": counts.get(CallbackEvent.State.UNMATCHED, 0),
        "failed_url": f"{base}?state__exact={CallbackEvent.State.FAILED}",
        "unmatched_url": f"{base}?state__exact={CallbackEvent.State.UNMATCHED}",
    }
