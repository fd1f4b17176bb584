"""Admin for campaigns, templates, recipients, call records, callback events and the do-not-call list."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import display

from .models import CallbackEvent, CallRecord, Campaign, DoNotCallEntry, Recipient, RecipientImport, VoiceTemplate


@admin.register(VoiceTemplate)
class VoiceTemplateAdmin(ModelAdmin):
    list_display = ("name", "account", "review_state", "vendor_template_id", "updated_at")
    list_filter = ("review_state", "account")
    search_fields = ("name", "content", "vendor_template_id")
    readonly_fields = ("vendor_template_id", "review_state", "review_message", "created_at", "updated_at")
    list_select_related = ("account",)


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    list_display = ("name", "account", "product", "state", "scheduled_at", "created_at")
    list_filter = ("state", "product", "account")
    search_fields = ("name",)
    readonly_fields = ("state", "launched_at", "completed_at", "created_at")
    list_select_related = ("account",)
    fieldsets = (
        (None, {"fields": ("name", "account", "fallback_account", "product", "template", "content")}),
        (_("Schedule"), {"fields": ("scheduled_at", "quiet_hours_start", "quiet_hours_end", "rate_limit_per_second")}),
        (_("Retries"), {"fields": ("max_attempts", "retry_delay_minutes", "retry_outcomes", "report_window_minutes")}),
        (_("Status"), {"fields": ("state", "launched_at", "completed_at", "created_at")}),
    )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Recipient)
class RecipientAdmin(ModelAdmin):
    list_display = ("mobile", "campaign", "variables", "line")
    list_filter = ("campaign",)
    search_fields = ("mobile",)
    list_select_related = ("campaign",)
    show_full_result_count = False


@admin.register(CallRecord)
class CallRecordAdmin(ModelAdmin):
    list_display = ("mobile", "campaign", "attempt", "state", "outcome", "talk_seconds", "submitted_at", "reported_at")
    list_filter = ("state", "outcome", "account", "campaign")
    search_fields = ("mobile", "custom_id", "vendor_message_id")
    date_hierarchy = "submitted_at"
    list_select_related = ("campaign",)
    show_full_result_count = False
    readonly_fields = [f.name for f in CallRecord._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(CallbackEvent)
class CallbackEventAdmin(ModelAdmin):
    list_display = ("received_at", "vendor", "account", "source", "state", "reports_count", "short_error")
    list_filter = ("state", "vendor", "source")
    date_hierarchy = "received_at"
    readonly_fields = ("vendor", "account", "source", "received_at", "remote_addr", "headers", "query", "body_text", "state", "error", "reports_count", "processed_at")
    exclude = ("body",)
    list_select_related = ("account",)

    @display(description=_("error"))
    def short_error(self, obj):
        return obj.error[:80]

    @display(description=_("body"))
    def body_text(self, obj):
        return bytes(obj.body).decode("utf-8", errors="replace")[:20000]

    def has_add_permission(self, request):
        return False


@admin.register(DoNotCallEntry)
class DoNotCallEntryAdmin(ModelAdmin):
    list_display = ("mobile", "reason", "created_at")
    search_fields = ("mobile", "reason")


@admin.register(RecipientImport)
class RecipientImportAdmin(ModelAdmin):
    list_display = ("original_name", "campaign", "state", "rows", "accepted", "invalid", "duplicates", "blocked", "created_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in RecipientImport._meta.fields]
    list_select_related = ("campaign",)

    def has_add_permission(self, request):
        return False
