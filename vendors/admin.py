"""Admin for vendor accounts: secrets are write-only, health and balance at a glance."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from . import callback_setup, services
from .models import HEALTH_LEVELS, BalanceSnapshot, VendorAccount


class VendorAccountForm(forms.ModelForm):
    """The secret is typed in, never shown back: an empty field keeps the stored one."""

    api_secret = forms.CharField(
        label=_("secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted. Leave empty to keep the current secret."),
    )

    class Meta:
        model = VendorAccount
        fields = (
            "name",
            "vendor",
            "is_active",
            "base_url",
            "api_id",
            "api_secret",
            "user_id",
            "options",
            "rate_limit_per_second",
            "pull_reports",
            "low_balance_threshold",
            "price_per_unit",
        )

    def clean_api_secret(self):
        value = self.cleaned_data.get("api_secret")
        if not value and self.instance.pk:
            return self.instance.api_secret
        return value


def callback_details(account: VendorAccount, request) -> dict:
    """What the account page shows those allowed: the URL to paste, where, and the rotation's state."""
    previous = None
    if account.previous_callback_token and account.previous_token_valid_until:
        if account.previous_token_valid_until > timezone.now():
            previous = account.previous_token_valid_until
    return {
        "pushes": callback_setup.pushes(account.vendor),
        "url": callback_setup.callback_url(account, request=request),
        "paste_where": callback_setup.paste_where(account.vendor),
        "base_configured": bool(settings.PUBLIC_BASE_URL),
        "previous_valid_until": previous,
    }


@admin.register(VendorAccount)
class VendorAccountAdmin(ModelAdmin):
    form = VendorAccountForm
    list_display = ("name", "vendor", "is_active", "health", "latest_balance_display", "rate_limit_per_second")
    list_filter = ("vendor", "is_active")
    search_fields = ("name", "api_id")
    readonly_fields = (
        "secret_on_file",
        "failures_in_a_row",
        "circuit_open_until_display",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
    )
    actions = ["check_balance_now", "rotate_callback_token"]
    fieldsets = (
        (None, {"fields": ("name", "vendor", "is_active", "base_url")}),
        (_("Credentials"), {"fields": ("api_id", "api_secret", "secret_on_file", "user_id", "options")}),
        (_("Sending"), {"fields": ("rate_limit_per_second", "pull_reports")}),
        (_("Money"), {"fields": ("low_balance_threshold", "price_per_unit")}),
        (
            _("Health"),
            {"fields": ("failures_in_a_row", "circuit_open_until_display", "last_error", "last_error_at")},
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).with_latest_balance()

    def get_fieldsets(self, request, obj=None):
        """A read-only viewer (finance) sees the masked secret only, never the field itself."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj) or obj is None:
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "api_secret"]}) for name, opts in fieldsets
        ]

    @display(description=_("secret on file"))
    def secret_on_file(self, obj):
        return obj.masked_secret or _("none")

    change_form_outer_before_template = "admin/vendors/vendoraccount/callback_url.html"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk and callback_setup.may_see_callback_url(request.user):
            context["vo_callback"] = callback_details(obj, request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @display(description=_("health"), label={health.value: level for health, level in HEALTH_LEVELS.items()})
    def health(self, obj):
        health = obj.health()
        return health.value, health.label

    @display(description=_("consecutive failures"))
    def failures_in_a_row(self, obj):
        return obj.consecutive_failures

    @display(description=_("circuit open until"))
    def circuit_open_until_display(self, obj):
        return obj.circuit_open_until if obj.circuit_is_open else self.get_empty_value_display()

    @display(description=_("balance"))
    def latest_balance_display(self, obj):
        if obj.latest_amount is None:
            return "—"
        return f"{obj.latest_amount.normalize():f} {obj.latest_unit}"

    @action(description=_("Check balance now"), permissions=["change"])
    def check_balance_now(self, request, queryset):
        for account in queryset:
            result = services.snapshot_balance(account)
            if result.error:
                self.message_user(
                    request, _("%(name)s: %(error)s") % {"name": account.name, "error": result.error}, messages.ERROR
                )
            else:
                snap = result.snapshot
                self.message_user(
                    request,
                    _("%(name)s: balance %(amount)s %(unit)s")
                    % {"name": account.name, "amount": snap.amount, "unit": snap.unit},
                )

    @action(description=_("Rotate callback token (old one valid 7 more days)"), permissions=["change"])
    def rotate_callback_token(self, request, queryset):
        if not callback_setup.may_see_callback_url(request.user):
            raise PermissionDenied
        for account in queryset:
            account.rotate_callback_token()
            self.message_user(
                request,
                format_html(
                    "{}<br><code>{}</code><br>{}",
                    _("New callback URL of “%(name)s”: paste it in the vendor's console now.") % {"name": account.name},
                    callback_setup.callback_url(account, request=request),
                    _("The old URL keeps working until %(when)s; after that the vendor's pushes to it are refused.")
                    % {
                        "when": formats.date_format(
                            timezone.localtime(account.previous_token_valid_until), "DATETIME_FORMAT"
                        )
                    },
                ),
                messages.WARNING,
            )


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ModelAdmin):
    list_display = ("account", "amount", "unit", "below_threshold", "taken_at")
    list_filter = ("account", "below_threshold", "unit")
    date_hierarchy = "taken_at"
    readonly_fields = ("account", "amount", "unit", "raw", "below_threshold", "taken_at")
    list_select_related = ("account",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # balance history is kept (even from superusers); removal is a retention job's
