"""Reporting pages: the finance page and its CSV exports, and the admin home page's callbacks.

``/dashboard/finance/``: balances, their history and spend, for finance (read-only). Who: superusers
and the Finance and Operators groups. Only GET is answered: nothing here changes anything. The
figures come from ``selectors.finance`` and ``selectors.dashboard``.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from campaigns.exports import csv_response
from voiceops import worker_health

from .forms import Period
from .selectors.dashboard import (
    answer_rate_by_day,
    callback_problems,
    running_campaigns,
    running_count,
    todays_outcomes,
    vendor_health,
)
from .selectors.finance import RATE_DAYS, balances, spend

FINANCE_GROUPS = ("Finance", "Operators")


def can_view_finance(user) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_vo_finance", None)
    if cached is None:
        cached = user._vo_finance = user.groups.filter(name__in=FINANCE_GROUPS).exists()
    return cached


# ---- finance
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
    return TemplateResponse(request, "reporting/finance.html", context)


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


# ---- admin home page (unfold callbacks)
def admin_dashboard(request, context):
    user = request.user
    data: dict = {"finance_url": context.get("finance_nav_url")}  # admin_globals decided who may see it
    if user.has_perm("campaigns.view_campaign") or user.has_perm("campaigns.view_callrecord"):
        data["worker_silence"] = worker_health.silence()
    if user.has_perm("campaigns.view_campaign"):
        data["running"] = running_campaigns()
        data["running_count"] = running_count()
        data["campaigns_url"] = reverse("admin:campaigns_campaign_changelist")
    if user.has_perm("campaigns.view_callrecord"):
        data["today"] = todays_outcomes()
        data["week"] = answer_rate_by_day()
        data["calls_url"] = reverse("admin:campaigns_callrecord_changelist")
    if user.has_perm("vendors.view_vendoraccount"):
        data["vendors"] = vendor_health()
    if user.has_perm("campaigns.view_callbackevent"):
        data["callbacks"] = callback_problems()
    context["vo_dash"] = data
    context["title"] = _("Dashboard")
    return context


def admin_globals(request) -> dict:
    """Context on every admin page (unfold's GLOBAL_CALLBACK): the sidebar's finance link, for those allowed."""
    return {"finance_nav_url": reverse("finance-dashboard") if can_view_finance(request.user) else None}
