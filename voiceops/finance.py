"""``/dashboard/finance/``: balances, their history and spend, for finance (read-only).

Who: superusers and the Finance and Operators groups. What: every vendor account's latest balance
in its own unit (CNY, calls or points), when it was read, a history chart, accounts under their
threshold highlighted, days left at the last 7 days' spend rate; spend per campaign, per vendor
account and per vendor for a chosen period (billed units × the account's price per unit), as a
page and as CSV. Only GET is answered: nothing here changes anything.

Spend is counted by call time (``submitted_at``, indexed with the state) for calls that ended
(answered, failed, expired). Balance history is read as the last snapshot of each hour or day
(one window-function query), so the page stays small however often balances are polled.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber, TruncDay, TruncHour
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns.exports import csv_response
from campaigns.models import CallRecord
from vendors.adapters import VENDOR_CHOICES
from vendors.models import BalanceSnapshot, VendorAccount

FINANCE_GROUPS = ("Finance", "Operators")
DEFAULT_DAYS = 30
MAX_DAYS = 366
RATE_DAYS = 7
BILLED_STATES = ("answered", "failed", "expired")
VENDOR_LABELS = dict(VENDOR_CHOICES)


def can_view_finance(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_vo_finance", None)
    if cached is None:
        cached = user._vo_finance = user.groups.filter(name__in=FINANCE_GROUPS).exists()
    return cached


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("from"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start of the period is after its end."))
        if start and end and (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose a period of at most %(days)d days.") % {"days": MAX_DAYS})
        return data


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    @property
    def since(self) -> datetime:
        return _day_start(self.start)

    @property
    def until(self) -> datetime:
        return _day_start(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def from_request(cls, request) -> tuple[Period, PeriodForm]:
        today = timezone.localdate()
        form = PeriodForm(request.GET or None)
        start = end = None
        if form.is_bound and form.is_valid():
            start, end = form.cleaned_data.get("start"), form.cleaned_data.get("end")
        end = end or today
        start = start or end - timedelta(days=DEFAULT_DAYS - 1)
        if not form.is_bound:
            form = PeriodForm(initial={"start": start, "end": end})
        return cls(start, end), form


# --------------------------------------------------------------------------- balances
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
            chart = {
                "type": "line",
                "data": {
                    "labels": labels,
                    "datasets": [
                        {
                            "label": _("balance") + (f" ({unit})" if unit else ""),
                            "data": [float(points[b]) if b in points else None for b in buckets],
                            "borderColor": "#9333ea",
                            "backgroundColor": "#9333ea22",
                            "fill": True,
                            "spanGaps": True,
                            "tension": 0.25,
                            "pointRadius": 2,
                        },
                        {
                            "label": _("threshold"),
                            "data": [float(account.low_balance_threshold)] * len(buckets),
                            "borderColor": "#dc2626",
                            "borderDash": [6, 4],
                            "pointRadius": 0,
                            "borderWidth": 1,
                        },
                    ],
                },
                "options": {
                    "plugins": {"legend": {"display": True, "position": "top"}},
                    "scales": {"y": {"beginAtZero": True}},
                },
            }
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


# --------------------------------------------------------------------------- spend
def spend(period: Period) -> dict:
    """Billed units and cost per campaign, per vendor account and per vendor (one grouped query)."""
    rows = list(
        CallRecord.objects.filter(
            state__in=BILLED_STATES,
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
                else blank(name=_("Single calls (API)"), url=reverse("admin:campaigns_singlecall_changelist")),
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


# --------------------------------------------------------------------------- views
def _guard(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not (request.user.is_staff and can_view_finance(request.user)):
        raise PermissionDenied
    return None


@never_cache
@require_GET
def finance_dashboard(request):
    if (response := _guard(request)) is not None:
        return response
    period, form = Period.from_request(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Finance"),
        "subtitle": _("Balances and spend"),
        "form": form,
        "period": period,
        "balances": balances(period),
        "spend": spend(period),
        "export_url": reverse("finance-export"),
        "query": f"start={period.start.isoformat()}&end={period.end.isoformat()}",
        "rate_days": RATE_DAYS,
    }
    return TemplateResponse(request, "dashboard/finance.html", context)


@never_cache
@require_GET
def finance_export(request):
    if (response := _guard(request)) is not None:
        return response
    period, _form = Period.from_request(request)
    kind = request.GET.get("kind", "campaigns")
    stamp = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}"
    if kind == "balances":
        header = [
            _("vendor account"),
            _("vendor"),
            _("balance"),
            _("unit"),
            _("read at"),
            _("low balance threshold"),
            _("below threshold"),
            _("days left"),
        ]
        rows = (
            [
                b["account"].name,
                b["vendor"],
                b["amount"],
                b["unit"],
                b["read_at"],
                b["account"].low_balance_threshold,
                b["below"],
                b["days_left"],
            ]
            for b in balances(period)
        )
        return csv_response(f"balances-{timezone.localdate():%Y%m%d}.csv", header, rows)
    data = spend(period)
    if kind not in ("campaigns", "accounts", "vendors"):
        kind = "campaigns"
    first = {"campaigns": _("campaign"), "accounts": _("vendor account"), "vendors": _("vendor")}[kind]
    header = [first, _("calls"), _("answered"), _("billed units"), _("cost (CNY)"), _("units without a price")]
    if kind == "accounts":
        header.insert(1, _("vendor"))
    rows = []
    for item in data[kind]:
        row = [item["name"], item["calls"], item["answered"], item["units"], item["cost"], item["unpriced_units"]]
        if kind == "accounts":
            row.insert(1, item["vendor"])
        rows.append(row)
    return csv_response(f"spend-{kind}-{stamp}.csv", header, rows)


urlpatterns = [
    path("", finance_dashboard, name="finance-dashboard"),
    path("export.csv", finance_export, name="finance-export"),
]
