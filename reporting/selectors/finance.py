"""The finance page's figures (``/dashboard/finance/``, read-only).

Every vendor account's latest balance in its own unit (CNY, calls or points), when it was read, a
history chart, accounts under their threshold highlighted, days left at the last 7 days' spend rate;
spend per campaign, per vendor account and per vendor for a chosen period (billed units × the
account's price per unit).

Spend is counted by call time (``submitted_at``, indexed with the state) for calls that ended
(answered, failed, expired). Balance history is read as the last snapshot of each hour or day
(one window-function query), so the page stays small however often balances are polled.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber, TruncDay, TruncHour
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import CallRecord
from vendors.adapters import VENDOR_CHOICES
from vendors.models import BalanceSnapshot, VendorAccount

from ..charts import balance_chart
from ..forms import Period

RATE_DAYS = 7
VENDOR_LABELS = dict(VENDOR_CHOICES)


# ---- balances
def last_per_bucket(since: datetime, until: datetime, hourly: bool) -> list[dict]:
    """The last snapshot of each account in each hour (or local day), oldest first: one query."""
    trunc = TruncHour("taken_at") if hourly else TruncDay("taken_at")
    return list(
        BalanceSnapshot.objects.filter(taken_at__gte=since, taken_at__lt=until)
        .annotate(
            bucket=trunc, rn=Window(RowNumber(), partition_by=[F("account_id"), trunc], order_by=F("taken_at").desc())
        )
        .filter(rn=1)
        .order_by("account_id", "bucket")
        .values("account_id", "bucket", "amount", "unit", "taken_at")
    )


def used_from_history(points: list[dict]) -> dict[int, tuple[Decimal, timedelta]]:
    """Balance used per account: the sum of its drops (top-ups ignored) and the time they span."""
    used: dict[int, list] = {}
    previous: dict[int, dict] = {}
    for point in points:
        pk = point["account_id"]
        entry = used.setdefault(pk, [Decimal(0), point["taken_at"], point["taken_at"]])
        before = previous.get(pk)
        if before is not None and point["amount"] < before["amount"]:
            entry[0] += before["amount"] - point["amount"]
        entry[2] = point["taken_at"]
        previous[pk] = point
    return {pk: (total, last - first) for pk, (total, first, last) in used.items()}


def days_left(amount: Decimal | None, used: Decimal, span: timedelta) -> Decimal | None:
    if amount is None or span < timedelta(hours=1) or used <= 0:
        return None
    if amount <= 0:
        return Decimal(0)
    per_day = used / Decimal(span.total_seconds() / 86400)
    return (amount / per_day).quantize(Decimal("0.1"))


def _fmt(amount: Decimal | None, unit: str = "") -> str:
    if amount is None:
        return "—"
    text = f"{amount.quantize(Decimal('0.01')):,}" if amount != amount.to_integral_value() else f"{amount:,.0f}"
    return f"{text} {unit}".strip()


def balances(period: Period) -> list[dict]:
    now = timezone.now()
    accounts = list(VendorAccount.objects.with_latest_balance().order_by("-is_active", "name"))
    rate_points = last_per_bucket(now - timedelta(days=RATE_DAYS), now + timedelta(minutes=1), hourly=True)
    rate_used = used_from_history(rate_points)
    hourly = period.days <= 3
    history = last_per_bucket(period.since, period.until, hourly=hourly)
    period_used = used_from_history(history)
    labels, buckets = _bucket_labels(period, hourly)
    series: dict[int, dict] = defaultdict(dict)
    for point in history:
        local = timezone.localtime(point["bucket"])
        series[point["account_id"]][local.replace(tzinfo=None) if hourly else local.date()] = point["amount"]
    rows = []
    for account in accounts:
        used, span = rate_used.get(account.pk, (Decimal(0), timedelta(0)))
        left = days_left(account.latest_amount, used, span)
        below = account.latest_amount is not None and account.latest_amount < account.low_balance_threshold
        points = series.get(account.pk, {})
        unit = account.latest_unit or ""
        chart = None
        if points:
            chart = balance_chart(
                labels,
                [float(points[b]) if b in points else None for b in buckets],
                float(account.low_balance_threshold),
                unit,
            )
        rows.append(
            {
                "account": account,
                "vendor": VENDOR_LABELS.get(account.vendor, account.vendor),
                "amount": account.latest_amount,
                "unit": unit,
                "balance": _fmt(account.latest_amount, unit),
                "threshold": _fmt(account.low_balance_threshold, unit),
                "read_at": account.latest_at,
                "below": below,
                "days_left": left,
                "per_day": _fmt(used / Decimal(span.total_seconds() / 86400), unit)
                if span >= timedelta(hours=1) and used > 0
                else "—",
                "period_used": _fmt(period_used.get(account.pk, (Decimal(0), None))[0], unit),
                "chart": chart,
                "chart_id": f"vo-balance-chart-{account.pk}",
            }
        )
    return rows


def _bucket_labels(period: Period, hourly: bool):
    if hourly:
        buckets = [datetime.combine(period.start, time.min) + timedelta(hours=h) for h in range(period.days * 24)]
        return [b.strftime("%m-%d %H:00") for b in buckets], buckets
    buckets = [period.start + timedelta(days=d) for d in range(period.days)]
    return [b.strftime("%m-%d") for b in buckets], buckets


# ---- spend
def spend(period: Period) -> dict:
    """Billed units and cost per campaign, per vendor account and per vendor (one grouped query)."""
    rows = list(
        CallRecord.objects.filter(
            state__in=CallRecord.RESULT_STATES,
            submitted_at__gte=period.since,
            submitted_at__lt=period.until,
            account__isnull=False,
        )
        .values("campaign_id", "campaign__name", "account_id")
        .annotate(calls=Count("id"), answered=Count("id", filter=Q(state="answered")), units=Sum("billed_units"))
        .order_by()
    )
    accounts = {a.pk: a for a in VendorAccount.objects.filter(pk__in={r["account_id"] for r in rows})}

    def blank(**extra):
        return {"calls": 0, "answered": 0, "units": 0, "cost": Decimal(0), "unpriced_units": 0, **extra}

    by_campaign: dict[int, dict] = {}
    by_account: dict[int, dict] = {}
    by_vendor: dict[str, dict] = {}
    for row in rows:
        account = accounts[row["account_id"]]
        units = row["units"] or 0
        cost = account.price_per_unit * units if account.price_per_unit is not None else None
        targets = (
            by_campaign.setdefault(
                row["campaign_id"],
                blank(
                    name=row["campaign__name"],
                    url=reverse("admin:campaigns_campaign_change", args=[row["campaign_id"]]),
                )
                if row["campaign_id"] is not None
                else blank(name=gettext("Single calls (API)"), url=reverse("admin:campaigns_singlecall_changelist")),
            ),
            by_account.setdefault(
                account.pk,
                blank(
                    name=account.name,
                    vendor=VENDOR_LABELS.get(account.vendor, account.vendor),
                    price=account.price_per_unit,
                ),
            ),
            by_vendor.setdefault(account.vendor, blank(name=VENDOR_LABELS.get(account.vendor, account.vendor))),
        )
        for target in targets:
            target["calls"] += row["calls"]
            target["answered"] += row["answered"]
            target["units"] += units
            if cost is None:
                target["unpriced_units"] += units
            else:
                target["cost"] += cost
    for table in (by_campaign, by_account, by_vendor):
        for item in table.values():
            item["cost"] = item["cost"].quantize(Decimal("0.01"))
    total = blank()
    for item in by_vendor.values():
        for key in ("calls", "answered", "units", "cost", "unpriced_units"):
            total[key] += item[key]
    order = lambda table: sorted(table.values(), key=lambda i: (-i["cost"], -i["units"], str(i["name"])))  # noqa: E731
    return {"campaigns": order(by_campaign), "accounts": order(by_account), "vendors": order(by_vendor), "total": total}
