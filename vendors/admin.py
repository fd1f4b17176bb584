"""Admin for vendor accounts: secrets are write-only, health and balance at a glance."""

import json
from decimal import Decimal
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminTextareaWidget

from voiceops.admin_base import ModelAdmin, WritesWhatTheOperatorChanged, local_time

from . import callback_setup, services
from .adapters import ADAPTERS, adapter_class
from .adapters.options import Option
from .models import HEALTH_LEVELS, BalanceSnapshot, VendorAccount


class NewSecretField(forms.CharField):
    """A secret typed in, never shown back: left empty it is unchanged (the stored one is kept), so it
    is neither written nor in the history's "Changed …"."""

    def has_changed(self, initial, data):
        return bool(data) and super().has_changed(initial, data)


class VendorAccountForm(forms.ModelForm):
    """The secret is typed in, never shown back: an empty field keeps the stored one, unless the
    account now sends it somewhere else or differently (then it must be typed again)."""

    api_secret = NewSecretField(
        label=_("secret"),
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Stored encrypted. Leave empty to keep the current secret."),
    )

    class Meta:
        model = VendorAccount
        widgets = {"callback_allowed_ips": UnfoldAdminTextareaWidget(attrs={"rows": 3})}
        fields = (
            "name",
            "vendor",
            "is_active",
            "base_url",
            "allow_plain_http",
            "api_id",
            "api_secret",
            "user_id",
            "options",
            "rate_limit_per_second",
            "pull_reports",
            "low_balance_threshold",
            "price_per_unit",
            "callback_allowed_ips",
            "callback_rate_limit",
        )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and not cleaned.get("api_secret"):
            stored = VendorAccount.objects.get(pk=self.instance.pk)
            moved = self._secret_destination_changes(cleaned, stored) if stored.api_secret else []
            if moved:
                self.add_error(
                    "api_secret",
                    _(
                        "Type the secret again: %(changes)s changed, and the stored secret is not sent to a new "
                        "destination."
                    )
                    % {"changes": ", ".join(str(name) for name in moved)},
                )
            else:
                cleaned["api_secret"] = stored.api_secret
        return cleaned

    def _secret_destination_changes(self, cleaned, stored: VendorAccount) -> list:
        """The changed fields or options that decide where, or how openly, the secret goes."""
        changes = [
            self.fields[name].label
            for name in ("vendor", "base_url", "allow_plain_http")
            if name in cleaned and cleaned[name] != getattr(stored, name)
        ]
        vendor = cleaned.get("vendor") or stored.vendor
        adapter = adapter_class(vendor) if vendor in ADAPTERS else None
        new_options, old_options = cleaned.get("options") or {}, stored.options or {}
        for key in getattr(adapter, "secret_options", ()):
            if isinstance(new_options, dict) and new_options.get(key) != old_options.get(key):
                changes.append(f"options.{key}")
        return changes


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
class VendorAccountAdmin(WritesWhatTheOperatorChanged, ModelAdmin):
    form = VendorAccountForm
    list_display = ("name", "vendor", "is_active", "health", "latest_balance_display", "rate_limit_per_second")
    list_filter = ("vendor", "is_active")
    search_fields = ("name", "api_id")
    readonly_fields = (
        "secret_on_file",
        "option_reference",
        "failures_in_a_row",
        "circuit_open_until_display",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
    )
    actions = ["check_balance_now", "rotate_callback_token"]
    fieldsets = (
        (None, {"fields": ("name", "vendor", "is_active", "base_url", "allow_plain_http")}),
        (
            _("Credentials"),
            {"fields": ("api_id", "api_secret", "secret_on_file", "user_id", "options", "option_reference")},
        ),
        (_("Sending"), {"fields": ("rate_limit_per_second", "pull_reports")}),
        (
            _("Receipts pushed by the vendor"),
            {"fields": ("callback_allowed_ips", "callback_rate_limit")},
        ),
        (_("Money"), {"fields": ("low_balance_threshold", "price_per_unit")}),
        (
            _("Health"),
            {"fields": ("failures_in_a_row", "circuit_open_until_display", "last_error", "last_error_at")},
        ),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).with_latest_balance()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        documented = adapter_class(obj.vendor).documented_hosts if obj.vendor in ADAPTERS else ()
        host = urlsplit(obj.base_url).hostname if obj.base_url else None
        if host and documented and host not in documented:
            self.message_user(
                request,
                _("%(name)s sends its credentials to %(host)s; the vendor's document names %(documented)s.")
                % {"name": obj.name, "host": host, "documented": ", ".join(documented)},
                messages.WARNING,
            )

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

    @display(description=_("options this vendor takes"))
    def option_reference(self, obj):
        """Each declared option key and what it takes (every vendor's before one is chosen)."""
        vendors = [obj.vendor] if obj is not None and obj.vendor in ADAPTERS else list(ADAPTERS)
        rows = [
            (ADAPTERS[vendor][1] if len(vendors) > 1 and n == 0 else "", key, describe_option(spec))
            for vendor in vendors
            for n, (key, spec) in enumerate(adapter_class(vendor).option_specs.items())
        ]
        cell = '<td style="padding: 2px 16px 2px 0; vertical-align: top">'
        return format_html(
            '<table class="text-sm">{}</table>',
            format_html_join("", f"<tr>{cell}{{}}</td>{cell}<code>{{}}</code></td>{cell}{{}}</td></tr>", rows),
        )

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
        return local_time(obj.circuit_open_until) if obj.circuit_is_open else self.get_empty_value_display()

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
            services.rotate_callback_token(account)
            self.message_user(
                request,
                format_html(
                    "{}<br><code>{}</code><br>{}",
                    _("New callback URL of “%(name)s”: paste it in the vendor's console now.") % {"name": account.name},
                    callback_setup.callback_url(account, request=request),
                    _("The old URL keeps working until %(when)s; after that the vendor's pushes to it are refused.")
                    % {"when": local_time(account.previous_token_valid_until)},
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


def _code(*values) -> str:
    return format_html_join(", ", "<code>{}</code>", ((value,) for value in values))


def _fill(template, **parts) -> str:
    """A translated template with HTML parts (values in <code>, as typed), escaped once."""
    return mark_safe(conditional_escape(str(template)) % {k: conditional_escape(v) for k, v in parts.items()})


def describe_option(spec: Option) -> str:
    """What an option takes, in words, for the people who type it; literal values shown as code."""
    low, high = _code(spec.low), _code(spec.high)
    if spec.choices:
        text = _fill(_("one of: %(choices)s"), choices=_code(*spec.choices))
    elif spec.kind is bool:
        text = _fill(_("%(true)s or %(false)s"), true=_code("true"), false=_code("false"))
    elif spec.kind is int:
        text = _fill(_("a whole number from %(low)s to %(high)s"), low=low, high=high)
    elif spec.kind is Decimal:
        text = _fill(_("a number from %(low)s to %(high)s"), low=low, high=high)
    elif spec.kind == "pair":
        text = _fill(_("[low, high], numbers from %(low)s to %(high)s"), low=low, high=high)
    elif spec.kind == "weights":
        text = _fill(_("weights by outcome (%(names)s)"), names=_code(*spec.allowed))
    else:
        text = conditional_escape(spec.hint or _("text"))
    parts = [text]
    if spec.default not in (None, ""):
        default = spec.default
        shown = json.dumps(default) if isinstance(default, (bool, tuple, list)) else str(default)
        parts.append(_fill(_("default %(value)s"), value=_code(shown)))
    if spec.required_for:
        parts.append(_fill(_("required for %(products)s"), products=_code(*spec.required_for)))
    return mark_safe("; ".join(parts))
