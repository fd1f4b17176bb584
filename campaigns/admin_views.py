"""Extra admin views for campaigns: the campaign dashboard, its buttons, uploads, progress and exports.

Every view here is thin: it checks the user's permission on the object, calls ``services`` (or
``selectors`` / ``exports``) and answers with a redirect and a message, JSON or a file. Queries are
bounded: every figure comes from grouped aggregates, never from a loop over rows.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from reporting.charts import outcome_chart, outcome_color, outcome_label, timeline_chart
from voiceops.admin_base import creator_label

from . import do_not_call, exports, selectors, services
from .models import CallRecord, Campaign, DoNotCallEntry, RecipientImport
from .readers import FILE_SUFFIXES, UnreadableFile, check_size

RECENT_IMPORTS = 5
TEST_CALLS_SHOWN = 5
TOP_FAILURES = 10


# ---- helpers
def _campaign(request, model_admin, object_id, *, change: bool = False) -> Campaign:
    campaign = model_admin.get_object(request, object_id)
    if campaign is None:
        raise Http404(_("No such campaign."))
    allowed = (
        model_admin.has_change_permission(request, campaign)
        if change
        else model_admin.has_view_or_change_permission(request, campaign)
    )
    if not allowed:
        raise PermissionDenied
    return campaign


def _change_url(campaign: Campaign, anchor: str = "") -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk]) + (f"#{anchor}" if anchor else "")


def failure_reasons(campaign: Campaign, limit: int = TOP_FAILURES) -> list[dict]:
    """The vendor's own words for failed calls, most frequent first (one grouped query)."""
    rows = (
        CallRecord.objects.filter(campaign=campaign, state__in=CallRecord.FAILED_STATES, is_test=False)
        .values("outcome", "raw_code", "raw_message")
        .annotate(n=Count("id"))
        .order_by("-n", "outcome", "raw_code")[:limit]
    )
    return [{**row, "outcome_label": outcome_label(row["outcome"])} for row in rows]


def import_status(job: RecipientImport) -> dict:
    """An import's figures: live from the cache while it runs, from its row once finished."""
    data = {
        "id": job.pk,
        "name": job.original_name,
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "error": job.error,
        "size_bytes": job.size_bytes,
        **selectors.import_figures(job),
        "finished": job.state in (RecipientImport.State.DONE, RecipientImport.State.FAILED),
        "ok": job.state == RecipientImport.State.DONE,
        "failed": job.state == RecipientImport.State.FAILED,
    }
    data["rejected"] = data["invalid"] + data["duplicates"] + data["blocked"]
    data["has_counts"] = data["finished"] and data["rows"] > 0
    if data["finished"] and data["rejected"]:
        for fmt in exports.FORMATS:
            data[f"rejected_{fmt}_url"] = reverse(
                "admin:campaigns_campaign_import_rejected", args=[job.campaign_id, job.pk, fmt]
            )
    return data


def _allowed_actions(request, model_admin, campaign: Campaign) -> dict[str, bool]:
    if not model_admin.has_change_permission(request, campaign):
        return {}
    allowed = campaign.allowed_actions()
    return {
        **{action: action in allowed for action in Campaign.USER_ACTIONS},
        "test_call": campaign.state not in Campaign.FINISHED_STATES,
    }


def campaign_dashboard(request, model_admin, campaign: Campaign) -> dict:
    """Everything the campaign's change page shows above the form (a fixed number of queries)."""
    stats = selectors.campaign_stats(campaign)
    progress = selectors.progress_from_states(stats["by_state"], stats["recipients"], stats["numbers_ended"])
    retries_pending = CallRecord.objects.filter(
        campaign=campaign, state=CallRecord.State.QUEUED, attempt__gt=1, is_test=False
    ).count()
    test_calls = [
        {
            "call": call,
            "outcome": outcome_label(call.outcome) if call.outcome else "",
            "url": reverse("admin:campaigns_callrecord_change", args=[call.pk]),
        }
        for call in CallRecord.objects.filter(campaign=campaign, is_test=True).order_by("-id")[:TEST_CALLS_SHOWN]
    ]
    user = request.user
    can_change = model_admin.has_change_permission(request, campaign)
    imports = []
    if user.has_perm("campaigns.view_recipientimport") or can_change:
        recent = (
            RecipientImport.objects.filter(campaign=campaign)
            .select_related("created_by", "created_by_key")
            .defer("rejected_rows")
            .order_by("-created_at")[:RECENT_IMPORTS]
        )
        imports = [
            import_status(job)
            | {
                "progress_url": reverse("admin:campaigns_campaign_import_progress", args=[campaign.pk, job.pk]),
                "creator": creator_label(job) if job.created_by_id or job.created_by_key_id else "",
            }
            for job in recent
        ]
    actions = _allowed_actions(request, model_admin, campaign)
    by_outcome = dict(sorted(stats["by_outcome"].items(), key=lambda kv: -kv[1]))
    return {
        "vo": {
            "stats": stats,
            "progress": progress,
            "progress_url": reverse("admin:campaigns_campaign_progress", args=[campaign.pk]),
            "live": campaign.state in (Campaign.State.RUNNING, Campaign.State.SCHEDULED),
            "answer_rate": progress["answer_rate_per_attempt"],
            "avg_talk": f"{stats['avg_talk_seconds']:.0f}" if stats["avg_talk_seconds"] is not None else "—",
            "retries_pending": retries_pending,
            "test_calls": test_calls,
            "outcomes": [
                {"outcome": k, "label": outcome_label(k), "count": n, "color": outcome_color(k)}
                for k, n in by_outcome.items()
            ],
            "outcome_chart": outcome_chart(by_outcome),
            "timeline_chart": timeline_chart(stats["timeline"]),
            "failures": failure_reasons(campaign),
            "imports": imports,
            "can_upload": can_change
            and user.has_perm("campaigns.add_recipient")
            and campaign.state not in Campaign.FINISHED_STATES,
            "upload_url": reverse("admin:campaigns_campaign_upload", args=[campaign.pk]),
            "actions": {
                name: reverse("admin:campaigns_campaign_act", args=[campaign.pk, name])
                for name, ok in actions.items()
                if ok
            },
            "can_export": user.has_perm("campaigns.view_callrecord"),
            "export_urls": {
                fmt: reverse("admin:campaigns_campaign_export_calls", args=[campaign.pk, fmt])
                for fmt in exports.FORMATS
            },
            "calls_url": reverse("admin:campaigns_callrecord_changelist") + f"?campaign__id__exact={campaign.pk}",
            "now_local": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "calling_hours": f"{campaign.quiet_hours_start:%H:%M}–{campaign.quiet_hours_end:%H:%M}",
            "quiet_start": f"{campaign.quiet_hours_start:%H:%M}",
            "quiet_end": f"{campaign.quiet_hours_end:%H:%M}",
            "launch_warning": calling_hours_warning(campaign, timezone.now()),
            "not_dialling": selectors.why_not_dialling(campaign),
        }
    }


# ---- actions
def _parse_when(value: str):
    value = (value or "").strip()
    if not value:
        return None
    moment = parse_datetime(value.replace(" ", "T"))
    if moment is None:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def calling_hours_warning(campaign: Campaign, when) -> str:
    """ "Calls will start at 08:00" when ``when`` falls outside the campaign's calling hours, else ""."""
    starts = campaign.calls_start_at(when)
    if starts == when:
        return ""
    local = timezone.localtime(starts)
    same_day = local.date() == timezone.localtime(when).date()
    return _("%(when)s is outside the calling hours (%(hours)s, Asia/Shanghai): calls will start at %(start)s.") % {
        "when": timezone.localtime(when).strftime("%H:%M"),
        "hours": f"{campaign.quiet_hours_start:%H:%M}–{campaign.quiet_hours_end:%H:%M}",
        "start": local.strftime("%H:%M") if same_day else local.strftime("%H:%M, %Y-%m-%d"),
    }


def _warn_outside_calling_hours(request, campaign: Campaign, when) -> None:
    warning = calling_hours_warning(campaign, when)
    if warning:
        messages.warning(request, warning)


@require_POST
def campaign_action(request, model_admin, object_id, action):
    campaign = _campaign(request, model_admin, object_id, change=True)
    allowed = _allowed_actions(request, model_admin, campaign)
    if action not in allowed:
        raise Http404(_("Unknown action."))
    try:
        if action == "launch":
            services.launch(campaign, actor=request.user)
            messages.success(
                request,
                _("“%(name)s” is running: calls go out as the schedule and calling hours allow.")
                % {"name": campaign.name},
            )
            _warn_outside_calling_hours(request, campaign, timezone.now())
        elif action == "schedule":
            when = _parse_when(request.POST.get("scheduled_at", ""))
            if when is None:
                raise services.CampaignError(_("Give the date and time to start at."))
            services.launch(campaign, at=when, actor=request.user)
            messages.success(
                request,
                _("“%(name)s” is scheduled to start at %(when)s.")
                % {"name": campaign.name, "when": formats.date_format(timezone.localtime(when), "DATETIME_FORMAT")},
            )
            _warn_outside_calling_hours(request, campaign, when)
        elif action == "pause":
            services.pause(campaign, actor=request.user)
            messages.success(
                request, _("“%(name)s” is paused: no new calls go out until it is resumed.") % {"name": campaign.name}
            )
        elif action == "resume":
            services.resume(campaign, actor=request.user)
            messages.success(request, _("“%(name)s” is resumed.") % {"name": campaign.name})
        elif action == "cancel":
            count = services.cancel(campaign, actor=request.user)
            messages.success(
                request,
                _("“%(name)s” is cancelled; %(count)d queued call(s) will not be made.")
                % {"name": campaign.name, "count": count},
            )
        elif action == "retry_failed":
            count = services.retry_failed(campaign, actor=request.user)
            if count:
                messages.success(request, _("%(count)d failed call(s) queued for another attempt.") % {"count": count})
            else:
                messages.info(request, _("No failed calls to retry."))
        elif action == "test_call":
            mobile = request.POST.get("mobile", "").strip()
            if not mobile:
                raise services.CampaignError(_("Give the number to call."))
            call = services.send_test_call(campaign, mobile, actor=request.user)
            messages.success(
                request,
                _("Test call to %(mobile)s queued; its receipt will show on this page.") % {"mobile": call.mobile},
            )
        else:
            raise Http404(_("Unknown action."))
    except services.CampaignError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(_change_url(campaign))


@require_POST
def upload_recipients(request, model_admin, object_id):
    campaign = _campaign(request, model_admin, object_id, change=True)
    if not request.user.has_perm("campaigns.add_recipient"):
        raise PermissionDenied
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a CSV or XLSX file to upload."))
    else:
        try:
            job = services.start_file_import(campaign, upload, request.user)
        except services.CampaignError as exc:  # a finished campaign, not a CSV/XLSX file, empty, too large
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("“%(name)s” uploaded; the recipients are being imported.") % {"name": job.original_name}
            )
    return HttpResponseRedirect(_change_url(campaign, "vo-imports"))


# ---- JSON for the live parts
@require_GET
def import_progress(request, model_admin, object_id, import_id):
    campaign = _campaign(request, model_admin, object_id)
    if not request.user.has_perm("campaigns.view_recipientimport"):  # as the API decides
        raise PermissionDenied
    job = RecipientImport.objects.filter(pk=import_id, campaign=campaign).defer("rejected_rows").first()
    if job is None:
        raise Http404(_("No such import."))
    return JsonResponse(import_status(job))


@require_GET
def campaign_progress(request, model_admin, object_id):
    campaign = _campaign(request, model_admin, object_id)
    data = selectors.progress_for([campaign.pk])[campaign.pk]
    data.update(
        state=campaign.state,
        state_label=str(campaign.get_state_display()),
        recipients=campaign.recipient_count,
        finished=campaign.state in Campaign.FINISHED_STATES,
    )
    return JsonResponse(data)


# ---- exports
@require_GET
def export_campaign_calls(request, model_admin, object_id, fmt):
    campaign = _campaign(request, model_admin, object_id)
    if not request.user.has_perm("campaigns.view_callrecord"):
        raise PermissionDenied
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return exports.export_calls(
        CallRecord.objects.filter(campaign=campaign), fmt, f"calls-{campaign.pk}-{campaign.name}-{stamp}"
    )


@require_GET
def export_import_rejected(request, model_admin, object_id, import_id, fmt):
    campaign = _campaign(request, model_admin, object_id)
    if not (
        request.user.has_perm("campaigns.view_recipientimport") or model_admin.has_change_permission(request, campaign)
    ):
        raise PermissionDenied
    job = RecipientImport.objects.filter(pk=import_id, campaign=campaign).first()
    if job is None:
        raise Http404(_("No such import."))
    return exports.export_rejected(job, fmt)


# --------------------------------------------------------------------------- do-not-call list
REJECTED_CACHE_SECONDS = 3600
DNC_REASONS_SHOWN = 5


def _dnc_changelist():
    return HttpResponseRedirect(reverse("admin:campaigns_donotcallentry_changelist"))


@require_POST
def import_do_not_call(request, model_admin):
    """A CSV/XLSX of numbers (and optional reasons) into the list; rejected rows reported inline
    and downloadable for an hour; a file that added nothing is reported as a failure."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    upload = request.FILES.get("file")
    if upload is None or not upload.size:
        messages.error(request, _("Choose a CSV or XLSX file to upload."))
        return _dnc_changelist()
    if Path(upload.name).suffix.lower() not in FILE_SUFFIXES:
        messages.error(request, _("“%(name)s” is not a CSV or XLSX file.") % {"name": upload.name})
        return _dnc_changelist()
    try:
        check_size(upload.size)
        with _stored(upload) as path:
            result = do_not_call.import_file(path, upload.name, request.POST.get("reason", ""))
    except UnreadableFile as exc:
        messages.error(request, _("Nothing was added: %(error)s") % {"error": exc})
        return _dnc_changelist()
    link = ""
    if result.rejected:
        token = uuid.uuid4().hex
        cache.set(f"voiceops.dnc.rejected.{token}", result.rejected, REJECTED_CACHE_SECONDS)
        link = format_html(
            ' {}: <a class="vo-link" href="{}">CSV</a> · <a class="vo-link" href="{}">XLSX</a>',
            _("Rejected rows"),
            reverse("admin:campaigns_donotcallentry_rejected", args=[token, "csv"]),
            reverse("admin:campaigns_donotcallentry_rejected", args=[token, "xlsx"]),
        )
    reasons = "; ".join(
        _("line %(line)s “%(number)s”: %(reason)s") % {"line": line, "number": number, "reason": reason}
        for line, number, reason in result.rejected[:DNC_REASONS_SHOWN]
    )
    figures = {"rows": result.rows, "added": result.added, "already": result.already, "rejected": len(result.rejected)}
    if result.failed:
        text = _("Nothing was added from “%(name)s”: all %(rows)d rows were rejected. First reasons: %(reasons)s") % {
            **figures,
            "name": upload.name,
            "reasons": reasons,
        }
        messages.error(request, format_html("{}{}", text, link))
    else:
        text = _(
            "“%(name)s”: %(added)d numbers added, %(already)d already on the list, %(rejected)d rows rejected."
        ) % {**figures, "name": upload.name}
        if reasons:
            text += " " + _("First reasons: %(reasons)s") % {"reasons": reasons}
        level = messages.WARNING if result.rejected else messages.SUCCESS
        messages.add_message(request, level, format_html("{}{}", text, link))
    return _dnc_changelist()


class _stored:
    """The upload as a file on disk for the reader (deleted afterwards: it holds people's numbers)."""

    def __init__(self, upload):
        self.upload = upload

    def __enter__(self) -> Path:
        suffix = Path(self.upload.name).suffix.lower()
        self.file = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115
        for chunk in self.upload.chunks():
            self.file.write(chunk)
        self.file.close()
        return Path(self.file.name)

    def __exit__(self, *exc):
        Path(self.file.name).unlink(missing_ok=True)


@require_GET
def export_do_not_call(request, model_admin, fmt):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    return exports.export_do_not_call(DoNotCallEntry.objects.all(), fmt)


@require_GET
def do_not_call_rejected(request, model_admin, token, fmt):
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    rows = cache.get(f"voiceops.dnc.rejected.{token}")
    if rows is None:
        raise Http404(_("This report has expired; import the file again to see its rejected rows."))
    return exports.export_rejected_rows(rows, fmt, f"do-not-call-rejected-{token[:8]}")
