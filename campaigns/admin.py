"""Admin for campaigns, templates, recipients, call records, callback events and the do-not-call list.

The campaign change page is a dashboard (``templates/admin/campaigns/campaign/dashboard.html``):
progress, charts, failure reasons, buttons for the campaign's life and the recipient upload. The
buttons and uploads are small views in ``admin_views`` that call ``services``.
"""

from datetime import datetime, time, timedelta
from functools import update_wrapper

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import BinaryField, F, Func, IntegerField, Q, Value
from django.db.models.lookups import GreaterThan
from django.http import Http404, HttpResponseRedirect
from django.urls import path, re_path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from unfold.contrib.filters.admin import (
    AutocompleteSelectFilter,
    ChoicesDropdownFilter,
    RangeDateFilter,
    RelatedDropdownFilter,
)
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget

from voiceops.admin_base import ModelAdmin, WritesWhatTheOperatorChanged, creator_label

from . import admin_views, exports, templates_service
from .imports import VariableRule, variable_texts
from .models import (
    OUTCOME_CHOICES,
    OUTCOME_LABELS,
    CallbackEvent,
    CallRecord,
    Campaign,
    DoNotCallEntry,
    InboundReply,
    Recipient,
    RecipientImport,
    VoiceTemplate,
)
from .phones import InvalidNumber, normalize
from .receipts.events import process_event

STATE_COLORS = {
    "draft": "info",
    "scheduled": "info",
    "running": "success",
    "paused": "warning",
    "completed": "primary",
    "cancelled": "danger",
}
CALL_STATE_COLORS = {
    "queued": "info",
    "submitting": "info",
    "submitted": "info",
    "answered": "success",
    "failed": "danger",
    "submit_failed": "danger",
    "cancelled": "warning",
    "expired": "warning",
}
REVIEW_COLORS = {"draft": "info", "pending": "warning", "approved": "success", "rejected": "danger"}


class LocalDateRangeFilter(RangeDateFilter):
    """Whole local days (Asia/Shanghai), ``to`` included, compared as timestamps so indexes are used."""

    def queryset(self, request, queryset):
        filters = {}
        for suffix, lookup, shift in (("_from", "gte", 0), ("_to", "lt", 1)):
            value = self.used_parameters.get(f"{self.parameter_name}{suffix}")
            if not value:
                continue
            try:
                day = datetime.strptime(str(value)[:10], "%Y-%m-%d").date()
            except ValueError:
                return None
            filters[f"{self.parameter_name}__{lookup}"] = timezone.make_aware(
                datetime.combine(day + timedelta(days=shift), time.min)
            )
        return queryset.filter(**filters)


def _short_time(moment):
    if moment is None:
        return "—"
    local = timezone.localtime(moment)
    return local.strftime("%H:%M:%S") if local.date() == timezone.localdate() else local.strftime("%Y-%m-%d %H:%M")


def _wrap(model_admin, view):
    """An admin view bound to ``model_admin``: login, staff, CSRF and never_cache from the admin site."""

    def wrapper(request, *args, **kwargs):
        return view(request, model_admin, *args, **kwargs)

    return model_admin.admin_site.admin_view(update_wrapper(wrapper, view))


# ---- templates
@admin.register(VoiceTemplate)
class VoiceTemplateAdmin(WritesWhatTheOperatorChanged, ModelAdmin):
    list_display = ("name", "account", "review_badge", "vendor_template_id", "updated_at")
    list_filter = ("review_state", "account")
    search_fields = ("name", "content", "vendor_template_id")
    readonly_fields = ("vendor_template_id", "review_state", "review_message", "created_at", "updated_at")
    list_select_related = ("account",)
    actions = ["submit_to_vendor", "resubmit_to_vendor", "delete_at_vendor"]
    change_form_outer_before_template = "admin/campaigns/voicetemplate/vendor_actions.html"

    @display(description=_("review"), label=REVIEW_COLORS)
    def review_badge(self, obj):
        return obj.review_state, obj.get_review_state_display()

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes through the vendor first
        return actions

    def save_model(self, request, obj, form, change):
        content_changed = change and bool({"content", "account"} & set(form.changed_data))
        super().save_model(request, obj, form, change)
        before = obj.review_state
        templates_service.after_save(obj, created=not change, content_changed=content_changed)
        if obj.review_state != before and obj.review_state == VoiceTemplate.Review.DRAFT:
            messages.warning(
                request,
                _("The text changed: re-submit “%(name)s” to the vendor before campaigns can use it.")
                % {"name": obj.name},
            )

    def _report(self, request, result):
        self.message_user(request, result.message, messages.SUCCESS if result.ok else messages.ERROR)

    @action(description=_("Submit to the vendor for review"), permissions=["change"])
    def submit_to_vendor(self, request, queryset):
        for template in queryset.select_related("account"):
            self._report(request, templates_service.submit_template(template, actor=request.user))

    @action(description=_("Re-submit to the vendor (after a rejection or an edit)"), permissions=["change"])
    def resubmit_to_vendor(self, request, queryset):
        for template in queryset.select_related("account"):
            self._report(request, templates_service.submit_template(template, resubmit=True, actor=request.user))

    @action(description=_("Delete at the vendor, then here"), permissions=["delete"])
    def delete_at_vendor(self, request, queryset):
        for template in queryset.select_related("account"):
            pk = template.pk
            result = templates_service.delete_template_at_vendor(template)
            if result.ok:
                template.pk = pk
                self.log_deletions(request, [template])
            self._report(request, result)

    def get_urls(self):
        return [
            path(
                "<int:object_id>/vendor/<str:operation>/",
                _wrap(self, template_vendor_action),
                name="campaigns_voicetemplate_vendor",
            ),
        ] + super().get_urls()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk and self.has_change_permission(request, obj):
            context["vo_template"] = {
                "reviews": templates_service.vendor_reviews_templates(obj),
                "submit_url": reverse("admin:campaigns_voicetemplate_vendor", args=[obj.pk, "submit"]),
                "resubmit_url": reverse("admin:campaigns_voicetemplate_vendor", args=[obj.pk, "resubmit"]),
                "can_submit": not obj.filed_with_vendor,
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def delete_view(self, request, object_id, extra_context=None):
        """Deleting asks the vendor first (DelTemplate) and keeps the row if the vendor refuses."""
        if request.method == "POST":
            template = self.get_object(request, unquote(object_id))
            if template is not None and self.has_delete_permission(request, template):
                pk = template.pk
                result = templates_service.delete_template_at_vendor(template)
                self._report(request, result)
                if result.ok:
                    template.pk = pk
                    self.log_deletions(request, [template])
                    return HttpResponseRedirect(reverse("admin:campaigns_voicetemplate_changelist"))
                return HttpResponseRedirect(reverse("admin:campaigns_voicetemplate_change", args=[pk]))
        return super().delete_view(request, object_id, extra_context)


@require_POST
def template_vendor_action(request, model_admin, object_id, operation):
    """The submit / re-submit buttons on a template's page (POST, CSRF-checked by the admin site)."""
    template = model_admin.get_object(request, str(object_id))
    if template is None or operation not in ("submit", "resubmit"):
        raise Http404
    if not model_admin.has_change_permission(request, template):
        raise PermissionDenied
    result = templates_service.submit_template(template, resubmit=operation == "resubmit", actor=request.user)
    model_admin._report(request, result)
    return HttpResponseRedirect(reverse("admin:campaigns_voicetemplate_change", args=[template.pk]))


# ---- campaigns
class CampaignForm(forms.ModelForm):
    """Retries are chosen among the outcomes by checkbox, never typed as JSON."""

    retry_outcomes = forms.MultipleChoiceField(
        label=capfirst(_("retry on")),
        choices=[(value, label) for value, label in OUTCOME_CHOICES if value != "answered"],
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        required=False,
        help_text=_(
            "Outcomes that get another attempt. With none ticked the default set applies; "
            "to never retry, set max attempts to 1."
        ),
    )

    class Meta:
        model = Campaign
        fields = ("retry_outcomes",)  # the admin adds the fields of its fieldsets

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "retry_outcomes" in self.fields:
            self.initial["retry_outcomes"] = list(self.instance.retryable_outcomes)


@admin.register(Campaign)
class CampaignAdmin(WritesWhatTheOperatorChanged, ModelAdmin):
    form = CampaignForm
    list_display = (
        "name",
        "account",
        "product",
        "state_badge",
        "scheduled_at",
        "launched_at",
        "completed_at",
        "creator",
    )
    list_filter = ("state", "product", "account")
    search_fields = ("name",)
    readonly_fields = ("state", "launched_at", "completed_at", "created_at", "creator")
    list_select_related = ("account", "created_by", "created_by_key")
    change_form_outer_before_template = "admin/campaigns/campaign/dashboard.html"
    fieldsets = (
        (None, {"fields": ("name", "account", "fallback_account", "product", "template", "content")}),
        (_("Schedule"), {"fields": ("scheduled_at", "quiet_hours_start", "quiet_hours_end", "rate_limit_per_second")}),
        (_("Retries"), {"fields": ("max_attempts", "retry_delay_minutes", "retry_outcomes", "report_window_minutes")}),
        (_("Status"), {"fields": ("state", "launched_at", "completed_at", "created_at", "creator")}),
    )

    @display(description=_("state"), label=STATE_COLORS, ordering="state")
    def state_badge(self, obj):
        return obj.state, obj.get_state_display()

    @display(description=_("created by"))
    def creator(self, obj):
        return creator_label(obj)

    @display(description=_("retry on"))
    def retry_on(self, obj):
        return "、".join(str(OUTCOME_LABELS[o]) for o in obj.retryable_outcomes if o in OUTCOME_LABELS)

    def get_fieldsets(self, request, obj=None):
        """Who may only read a campaign sees its retry outcomes by name, not the stored list."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        swap = {"retry_outcomes": "retry_on"}
        return [(name, {**opts, "fields": [swap.get(f, f) for f in opts["fields"]]}) for name, opts in fieldsets]

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "retry_on")

    def get_urls(self):
        views = admin_views
        fmt = "(?P<fmt>csv|xlsx)"
        urls = [
            path(
                "<int:object_id>/act/<str:action>/", _wrap(self, views.campaign_action), name="campaigns_campaign_act"
            ),
            path("<int:object_id>/upload/", _wrap(self, views.upload_recipients), name="campaigns_campaign_upload"),
            path(
                "<int:object_id>/progress.json",
                _wrap(self, views.campaign_progress),
                name="campaigns_campaign_progress",
            ),
            path(
                "<int:object_id>/imports/<int:import_id>/progress.json",
                _wrap(self, views.import_progress),
                name="campaigns_campaign_import_progress",
            ),
            re_path(
                rf"^(?P<object_id>\d+)/imports/(?P<import_id>\d+)/rejected\.{fmt}$",
                _wrap(self, views.export_import_rejected),
                name="campaigns_campaign_import_rejected",
            ),
            re_path(
                rf"^(?P<object_id>\d+)/calls\.{fmt}$",
                _wrap(self, views.export_campaign_calls),
                name="campaigns_campaign_export_calls",
            ),
        ]
        return urls + super().get_urls()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context.update(admin_views.campaign_dashboard(request, self, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class RecipientForm(forms.ModelForm):
    """The variables box takes what an import or the API would: the campaign's rule
    (``imports.VariableRule``), so a recipient is never dialled with a message filled wrong."""

    class Meta:
        model = Recipient
        fields = ("variables",)
        error_messages = {
            "variables": {"invalid": _('This is not valid JSON. Write a list in quotes, e.g. ["王先生", "SO1"].')}
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "variables" in self.fields and self.instance.campaign_id:
            names = self.instance.campaign.variable_names
            self.fields["variables"].help_text = _(
                "A JSON list of %(count)d text(s), in the template's order: %(names)s. Example: %(example)s"
            ) % {"count": len(names), "names": "、".join(names) or "—", "example": _example(len(names))}

    def clean_variables(self):
        variables = variable_texts(self.cleaned_data.get("variables"))
        campaign = self.instance.campaign
        if variables is None:
            raise forms.ValidationError(
                _("Write the variables as a JSON list of texts in the template's order, e.g. %(example)s."),
                code="invalid",
                params={"example": _example(len(campaign.variable_names))},
            )
        variables, reason = VariableRule(campaign).check(variables)
        if reason:
            raise forms.ValidationError(
                _("The campaign's message %(reason)s. Write them as a JSON list in that order, e.g. %(example)s."),
                code="invalid",
                params={"reason": reason, "example": _example(len(campaign.variable_names))},
            )
        return variables


def _example(count: int) -> str:
    return "[" + ", ".join(['"…"'] * count) + "]"


@admin.register(Recipient)
class RecipientAdmin(ModelAdmin):
    form = RecipientForm
    list_display = ("mobile", "campaign", "variables", "line")
    list_filter = (("campaign", AutocompleteSelectFilter),)
    list_filter_submit = True
    search_fields = ("mobile",)
    list_select_related = ("campaign",)
    show_full_result_count = False
    # Recipients come in through an upload or the API (number checks, duplicates, do-not-call list,
    # counts, first calls); here only their variables can be corrected.
    readonly_fields = ("campaign", "mobile", "line")

    def has_add_permission(self, request):
        return False

    def get_search_results(self, request, queryset, search_term):
        return _number_search(queryset, search_term, extra=(), request=request)


BIGINT = 2**63 - 1


def _number_search(queryset, search_term, extra, request=None, by_id=False):
    """Search by number in any spelling (normalized to E.164, an indexed exact match) or by ids.

    ``by_id``: a whole number is also the row's id (the ``id`` the API answered). With ``request``,
    a text that is no number and matches nothing is explained on the page (why it is not a number),
    rather than left as a bare "0 results" that reads as "never called".
    """
    term = search_term.strip()
    if not term:
        return queryset, False
    query, problem = Q(), None
    try:
        query |= Q(mobile=normalize(term))
    except InvalidNumber as exc:
        query |= Q(mobile=term)
        problem = exc
    for name in extra:
        query |= Q(**{name: term})
    if by_id and term.isascii() and term.isdigit() and int(term) <= BIGINT:
        query |= Q(pk=int(term))
    found = queryset.filter(query)
    if problem is not None and request is not None and "autocomplete" not in request.path and not found.exists():
        messages.warning(
            request,
            _("Nothing matches “%(term)s”. As a number it cannot be called: %(reason)s.")
            % {"term": term[:40], "reason": problem},
        )
    return found, False


# ---- call records
@admin.register(CallRecord)
class CallRecordAdmin(ModelAdmin):
    list_display = (
        "mobile",
        "campaign",
        "attempt_display",
        "state_badge",
        "outcome_display",
        "raw_code",
        "talk_seconds",
        "key_pressed",
        "submitted",
        "reported",
    )
    list_filter = (
        ("campaign", AutocompleteSelectFilter),
        ("state", ChoicesDropdownFilter),
        ("outcome", ChoicesDropdownFilter),
        ("account", RelatedDropdownFilter),
        ("submitted_at", LocalDateRangeFilter),
        "is_test",
    )
    list_filter_submit = True
    search_fields = ("mobile",)
    search_help_text = _(
        "A number in any spelling (13800138000, +86 138 0013 8000…), the call's id or custom id (S12A1), "
        "or the vendor's message id."
    )
    list_select_related = ("campaign", "account")
    show_full_result_count = False
    actions = ["export_csv", "export_xlsx"]
    change_form_outer_before_template = "admin/campaigns/callrecord/attempts.html"
    change_form_outer_after_template = "admin/campaigns/callrecord/receipts.html"
    readonly_fields = [f.name for f in CallRecord._meta.fields] + ["number", "recipient_variables"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "campaign",
                    "single_call",
                    "number",
                    "recipient_variables",
                    "attempt",
                    "is_test",
                    "state",
                    "outcome",
                )
            },
        ),
        (
            _("Receipt (normalized)"),
            {"fields": ("raw_code", "raw_message", "talk_seconds", "billed_seconds", "billed_units", "key_pressed")},
        ),
        (_("Vendor"), {"fields": ("account", "custom_id", "vendor_message_id", "batch_id")}),
        (_("Times"), {"fields": ("created_at", "not_before", "submitted_at", "reported_at")}),
    )

    @display(description=_("state"), label=CALL_STATE_COLORS, ordering="state")
    def state_badge(self, obj):
        return obj.state, obj.get_state_display()

    @display(description=_("attempt"), ordering="attempt")
    def attempt_display(self, obj):
        return _("test") if obj.is_test else obj.attempt

    @display(description=_("submitted"), ordering="submitted_at")
    def submitted(self, obj):
        return _short_time(obj.submitted_at)

    @display(description=_("reported"), ordering="reported_at")
    def reported(self, obj):
        return _short_time(obj.reported_at)

    @display(description=_("outcome"), ordering="outcome")
    def outcome_display(self, obj):
        return OUTCOME_LABELS.get(obj.outcome, obj.outcome) if obj.outcome else "—"

    @display(description=_("number"))
    def number(self, obj):
        """The number, shown once, linked to its recipient row (``get_fieldsets`` shows it only to
        those who may open that row; others see the plain ``mobile``)."""
        if not obj.recipient_id:
            return obj.mobile
        url = reverse("admin:campaigns_recipient_change", args=[obj.recipient_id])
        return format_html('<a href="{}">{}</a>', url, obj.mobile)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.admin_site._registry[Recipient].has_view_permission(request):
            return fieldsets
        return [
            (name, {**opts, "fields": ["mobile" if f == "number" else f for f in opts["fields"]]})
            for name, opts in fieldsets
        ]

    @display(description=_("variables"))
    def recipient_variables(self, obj):
        if obj.single_call_id:
            return obj.single_call.shown_variables()
        return "、".join(obj.recipient.variables or []) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign", "account", "recipient", "single_call")

    def get_search_results(self, request, queryset, search_term):
        return _number_search(queryset, search_term, ("custom_id", "vendor_message_id"), request, by_id=True)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # nothing here is edited; a saved page would write the call back as read, over a receipt

    def has_delete_permission(self, request, obj=None):
        return False  # every call is accounted for, even from superusers; removal is a retention job's

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            # raw callback bodies (other calls' ids among them) only for those who may read callback events
            context["vo_history"] = call_history(
                obj, with_receipts=request.user.has_perm("campaigns.view_callbackevent")
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @action(description=_("Export selected calls as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return exports.export_calls(queryset, "csv", f"calls-{timezone.localtime():%Y%m%d-%H%M}")

    @action(description=_("Export selected calls as XLSX"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        return exports.export_calls(queryset, "xlsx", f"calls-{timezone.localtime():%Y%m%d-%H%M}")


RECEIPT_WINDOW_BEFORE = timedelta(minutes=5)
RECEIPT_WINDOW_AFTER = timedelta(hours=2)
MAX_RECEIPTS = 20


class BytesPosition(Func):
    """Where ``needle`` starts in the binary ``haystack`` (1-based, 0 if absent): position() or instr()."""

    output_field = IntegerField()

    def __init__(self, haystack, needle: bytes):
        super().__init__(haystack, Value(needle, output_field=BinaryField()))

    def as_postgresql(self, compiler, connection, **extra_context):
        haystack, needle = self.get_source_expressions()
        return Func(needle, haystack, function="position", arg_joiner=" in ", output_field=IntegerField()).as_sql(
            compiler, connection
        )

    def as_sql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="instr", **extra_context)


def _body_contains_any(queryset, needles: list[str]):
    """Stored events whose raw body holds any of ``needles`` (the receipts of one recipient's calls)."""
    needles = [n for n in needles if n]
    if not needles:
        return queryset.none()
    found = Q()
    for needle in needles:
        found |= Q(GreaterThan(BytesPosition(F("body"), needle.encode()), 0))
    return queryset.filter(found)


def _receipt_text(event: CallbackEvent, needles: set[str]) -> str:
    """The part of a stored callback that concerns this recipient (whole pushes, matching pulled items)."""
    import json

    body = bytes(event.body)
    if event.source == "pull":
        try:
            items = [
                i
                for i in json.loads(body.decode("utf-8"))
                if {str(i.get("custom_id")), str(i.get("vendor_message_id"))} & needles
            ]
            return json.dumps(items, ensure_ascii=False, indent=2, default=str)
        except (ValueError, TypeError, AttributeError):
            pass
    for encoding in ("utf-8", "gb18030"):
        try:
            return body.decode(encoding)[:4000]
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", errors="replace")[:4000]


def call_history(call: CallRecord, *, with_receipts: bool = True) -> dict:
    """All attempts at this recipient, their replies and the stored callbacks that carried their
    receipts (three queries). A test call stands alone: it shares its recipient row, not its number."""
    if call.is_test:
        attempts = [call]
    elif call.single_call_id:
        attempts = list(
            CallRecord.objects.filter(single_call_id=call.single_call_id).select_related("account").order_by("attempt")
        )
    else:
        attempts = list(
            CallRecord.objects.filter(recipient_id=call.recipient_id, is_test=False)
            .select_related("account")
            .order_by("attempt")
        )
    needles = {c.custom_id for c in attempts} | {c.vendor_message_id for c in attempts if c.vendor_message_id}
    moments = [m for c in attempts for m in (c.submitted_at, c.reported_at) if m]
    events, replies = [], []
    if moments:
        start = min(moments) - RECEIPT_WINDOW_BEFORE
        end = (
            timezone.now()
            if any(c.state in CallRecord.OPEN_STATES for c in attempts)
            else max(moments) + RECEIPT_WINDOW_AFTER
        )
        accounts = {c.account_id for c in attempts if c.account_id}
        found = CallbackEvent.objects.filter(received_at__gte=start, received_at__lte=end).filter(
            Q(account_id__in=accounts) | Q(account__isnull=True)
        )
        matching = _body_contains_any(found, sorted(needles)) if with_receipts else found.none()
        for event in matching.order_by("received_at")[:MAX_RECEIPTS]:
            events.append(
                {
                    "event": event,
                    "text": _receipt_text(event, needles),
                    "url": reverse("admin:campaigns_callbackevent_change", args=[event.pk]),
                }
            )
        replies = list(
            InboundReply.objects.filter(
                Q(call_id__in=[c.pk for c in attempts])
                | Q(call__isnull=True, mobile=call.mobile, received_at__gte=start, received_at__lte=end)
            ).order_by("received_at")[:MAX_RECEIPTS]
        )
    return {
        "attempts": [
            {
                "call": c,
                "current": c.pk == call.pk,
                "outcome": OUTCOME_LABELS.get(c.outcome, c.outcome) if c.outcome else "",
                "url": reverse("admin:campaigns_callrecord_change", args=[c.pk]),
            }
            for c in attempts
        ],
        "receipts": events,
        "show_receipts": with_receipts,
        "replies": replies,
    }


# ---- callbacks, do-not-call, imports
@admin.register(CallbackEvent)
class CallbackEventAdmin(ModelAdmin):
    list_display = ("received_at", "vendor", "account", "source", "state_badge", "reports_count", "short_error")
    list_filter = ("state", "vendor", "source")
    date_hierarchy = "received_at"
    readonly_fields = (
        "vendor",
        "account",
        "source",
        "received_at",
        "remote_addr",
        "headers",
        "query",
        "body_text",
        "state",
        "error",
        "reports_count",
        "processed_at",
    )
    exclude = ("body",)
    list_select_related = ("account",)
    actions = ["reprocess"]

    @display(
        description=_("state"),
        label={
            "received": "info",
            "applied": "success",
            "unmatched": "warning",
            "failed": "danger",
            "refused": "danger",
        },
        ordering="state",
    )
    def state_badge(self, obj):
        return obj.state, obj.get_state_display()

    @display(description=_("error"))
    def short_error(self, obj):
        return obj.error[:80]

    @display(description=_("body"))
    def body_text(self, obj):
        return bytes(obj.body).decode("utf-8", errors="replace")[:20000]

    @action(description=_("Process again (after a fix)"), permissions=["change"])
    def reprocess(self, request, queryset):
        results: dict[str, int] = {}
        for pk in queryset.values_list("pk", flat=True)[:1000]:
            state = process_event(pk).state
            results[state] = results.get(state, 0) + 1
        summary = ", ".join(f"{CallbackEvent.State(k).label}: {n}" for k, n in sorted(results.items()))
        self.message_user(request, _("Processed again: %(summary)s") % {"summary": summary or "0"})

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        """The list's "process again" needs it; an event's page is read only (a save would write the
        event back as read, over what processing it wrote meanwhile)."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # the raw record of what vendors sent is kept, even from superusers


@admin.register(InboundReply)
class InboundReplyAdmin(ModelAdmin):
    list_display = ("received_at", "mobile", "content", "account", "call")
    list_filter = ("account",)
    search_fields = ("mobile",)
    readonly_fields = ("account", "call", "mobile", "content", "received_at", "event")
    list_select_related = ("account", "call")
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        return _number_search(queryset, search_term, extra=(), request=request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DoNotCallEntry)
class DoNotCallEntryAdmin(ModelAdmin):
    """Entries typed in any spelling (normalized by the model), imported from a file, exported."""

    list_display = ("mobile", "reason", "created_at")
    search_fields = ("mobile", "reason")
    search_help_text = _("A number in any spelling, or words of the reason.")
    list_before_template = "admin/campaigns/donotcallentry/import_export.html"
    actions = ["export_csv", "export_xlsx"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        found, _dup = _number_search(queryset, term, extra=())
        return found | queryset.filter(reason__icontains=term), False

    def get_urls(self):
        fmt = "(?P<fmt>csv|xlsx)"
        return [
            path("import/", _wrap(self, admin_views.import_do_not_call), name="campaigns_donotcallentry_import"),
            re_path(
                rf"^export\.{fmt}$", _wrap(self, admin_views.export_do_not_call), name="campaigns_donotcallentry_export"
            ),
            re_path(
                rf"^rejected/(?P<token>[0-9a-f]{{32}})\.{fmt}$",
                _wrap(self, admin_views.do_not_call_rejected),
                name="campaigns_donotcallentry_rejected",
            ),
        ] + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "vo_dnc": {
                "can_import": self.has_add_permission(request),
                "import_url": reverse("admin:campaigns_donotcallentry_import"),
                "export_urls": {
                    fmt: reverse("admin:campaigns_donotcallentry_export", args=[fmt]) for fmt in exports.FORMATS
                },
            },
        }
        return super().changelist_view(request, extra_context)

    @action(description=_("Export selected entries as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        return exports.export_do_not_call(queryset, "csv")

    @action(description=_("Export selected entries as XLSX"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        return exports.export_do_not_call(queryset, "xlsx")


@admin.register(RecipientImport)
class RecipientImportAdmin(ModelAdmin):
    """Read only: every field is the importer's, and a saved page would write back what it read
    (a running import's state over the finished one)."""

    list_display = (
        "original_name",
        "campaign",
        "state",
        "rows",
        "accepted",
        "invalid",
        "duplicates",
        "blocked",
        "created_at",
        "creator",
    )
    list_filter = ("state",)
    readonly_fields = [
        f.name for f in RecipientImport._meta.fields if f.name not in ("rejected_rows", "created_by", "created_by_key")
    ] + ["creator", "rejected_download"]
    exclude = ("rejected_rows", "created_by", "created_by_key")
    list_select_related = ("campaign", "created_by", "created_by_key")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return (
            qs.defer("rejected_rows")
            if request.resolver_match and request.resolver_match.url_name.endswith("changelist")
            else qs
        )

    @display(description=_("created by"))
    def creator(self, obj):
        return creator_label(obj)

    @display(description=_("rejected rows"))
    def rejected_download(self, obj):
        if not obj.pk or not obj.rejected_rows:
            return "—"
        csv_url = reverse("admin:campaigns_campaign_import_rejected", args=[obj.campaign_id, obj.pk, "csv"])
        xlsx_url = reverse("admin:campaigns_campaign_import_rejected", args=[obj.campaign_id, obj.pk, "xlsx"])
        count = len(obj.rejected_rows)
        label = ngettext("%(count)d row", "%(count)d rows", count) % {"count": count}
        return format_html(
            '{}: <a class="text-primary-600" href="{}">CSV</a> · <a class="text-primary-600" href="{}">XLSX</a>',
            label,
            csv_url,
            xlsx_url,
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
