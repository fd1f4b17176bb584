"""Admin for single calls placed over the API and the route that picks their account per product."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import ChoicesDropdownFilter, RelatedDropdownFilter
from unfold.decorators import display

from voiceops.admin_base import creator_label

from . import selectors
from .admin import CALL_STATE_COLORS, LocalDateRangeFilter, _number_search, _short_time
from .models import OUTCOME_LABELS, CallRecord, CallRoute, SingleCall

HIDDEN_CODE = SingleCall.HIDDEN_CODE


class LatestStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return CallRecord.State.choices

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() else queryset


class AttemptInline(TabularInline):
    model = CallRecord
    fk_name = "single_call"
    fields = (
        "attempt_link",
        "state",
        "outcome",
        "raw_code",
        "raw_message",
        "talk_seconds",
        "submitted_at",
        "reported_at",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = _("attempt")
    verbose_name_plural = _("attempts")

    @display(description=_("attempt"))
    def attempt_link(self, obj):
        url = reverse("admin:campaigns_callrecord_change", args=[obj.pk])
        return format_html('<a class="text-primary-600" href="{}">#{}</a>', url, obj.attempt)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SingleCall)
class SingleCallAdmin(ModelAdmin):
    list_display = (
        "created",
        "out_id_display",
        "mobile",
        "product",
        "account",
        "state_badge",
        "outcome_display",
        "talk_display",
        "creator",
    )
    list_filter = (
        LatestStateFilter,
        ("product", ChoicesDropdownFilter),
        ("account", RelatedDropdownFilter),
        ("created_by_key", RelatedDropdownFilter),  # which integrating system placed them
        ("created_at", LocalDateRangeFilter),
    )
    list_filter_submit = True
    search_fields = ("out_id", "mobile")
    search_help_text = _("The caller's reference (out_id), the call's id or a number in any spelling.")
    show_full_result_count = False
    inlines = [AttemptInline]
    fields = ("out_id", "mobile", "product", "account", "template", "message", "creator", "credential", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return selectors.single_calls().select_related("template", "created_by", "created_by_key")

    @display(description=_("created by"))
    def creator(self, obj):
        return creator_label(obj)

    def get_search_results(self, request, queryset, search_term):
        return _number_search(queryset, search_term, ("out_id",), request, by_id=True)

    @display(description=_("created"), ordering="created_at")
    def created(self, obj):
        return _short_time(obj.created_at)

    @display(description=_("caller's reference"), ordering="out_id")
    def out_id_display(self, obj):
        return obj.out_id or "—"

    @display(description=_("state"), label=CALL_STATE_COLORS, ordering="state")
    def state_badge(self, obj):
        return obj.state, CallRecord.State(obj.state).label if obj.state else "—"

    @display(description=_("outcome"), ordering="outcome")
    def outcome_display(self, obj):
        return OUTCOME_LABELS.get(obj.outcome, obj.outcome) if obj.outcome else "—"

    @display(description=_("talk time (s)"))
    def talk_display(self, obj):
        attempts = list(obj.attempts.all())
        talk = attempts[-1].talk_seconds if attempts else None
        return "—" if talk is None else talk

    @display(description=_("message"))
    def message(self, obj):
        if obj.product == "verify":
            return _("verification code %(code)s") % {"code": HIDDEN_CODE}
        return format_html("{}<br>{}", obj.message_text, obj.shown_variables())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a placed call is a record of money spent and of a number called


@admin.register(CallRoute)
class CallRouteAdmin(ModelAdmin):
    """Operators choose, per product, the account a single call uses when the caller names none."""

    list_display = ("product", "account", "updated_at")
    autocomplete_fields = ()
    fields = ("product", "account")
