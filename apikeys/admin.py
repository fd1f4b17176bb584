"""API keys in the admin: operators create one per integrating system, see it once, revoke it."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework_api_key.models import APIKey
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget

from voiceops.admin_base import ModelAdmin, WritesWhatTheOperatorChanged

from . import selectors, services
from .models import ApiKey
from .scopes import SCOPE_CHOICES

# The library's own key model is not used (ours adds scopes and last use): keep it out of the admin.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=SCOPE_CHOICES,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("Give a system only what it needs."),
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes", "expiry_date")

    def clean_expiry_date(self):
        expiry = self.cleaned_data.get("expiry_date")
        if expiry and expiry <= timezone.now() and "expiry_date" in self.changed_data:
            raise forms.ValidationError(_("The expiry must be in the future."))
        return expiry


@admin.register(ApiKey)
class ApiKeyAdmin(WritesWhatTheOperatorChanged, ModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "prefix", "scope_list", "status", "expiry_date", "last_used_at", "created")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix")
    actions = ["revoke"]
    change_form_outer_after_template = "admin/apikeys/apikey/key_log.html"

    def get_readonly_fields(self, request, obj=None):
        fields = ("prefix", "created", "created_by", "last_used_at", "revoked")
        if obj is not None and obj.revoked:
            fields += ("name", "scopes", "expiry_date")
        return fields

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scopes", "expiry_date")
        return ("name", "prefix", "scopes", "expiry_date", "revoked", "last_used_at", "created", "created_by")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # keys are revoked, not deleted: their use stays traceable
        return actions

    @display(description=_("scopes"))
    def scope_list(self, obj):
        """One scope a line: the labels have commas of their own, in either language."""
        return format_html_join(mark_safe("<br>"), "{}", ((label,) for label in obj.scope_labels()))

    @display(description=_("status"), label={"active": "success", "revoked": "danger", "expired": "warning"})
    def status(self, obj):
        if obj.revoked:
            return "revoked", _("Revoked")
        if obj.has_expired:
            return "expired", _("Expired")
        return "active", _("Active")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        obj.created_by = request.user
        key = ApiKey.objects.assign_key(obj)
        obj.save()
        messages.warning(
            request,
            _("The API key for “%(name)s” is %(key)s — copy it now: it is stored hashed and will not be shown again.")
            % {"name": obj.name, "key": key},
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            key_log = selectors.recent_actions(obj)
            context["vo_key_log"] = {
                "rows": [{"entry": entry, "url": self._object_url(request, entry)} for entry in key_log.entries],
                "shown": len(key_log.entries),
                "total": key_log.total,
                "calls_url": self._calls_url(request, obj),
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _calls_url(self, request, key) -> str | None:
        """The single calls this key placed (the calls list filtered by it), for a viewer who may see calls;
        they are not audit entries, there may be millions."""
        if not request.user.has_perm("campaigns.view_singlecall"):
            return None
        url = reverse("admin:campaigns_singlecall_changelist", current_app=self.admin_site.name)
        return f"{url}?created_by_key__id__exact={key.pk}"

    def _object_url(self, request, entry) -> str | None:
        """The change page of the row the key acted on, if the row still exists and this viewer may open it."""
        if not entry.object_exists:
            return None
        model = entry.content_type.model_class()
        model_admin = self.admin_site._registry.get(model)
        if model_admin is None or not model_admin.has_view_or_change_permission(request):
            return None
        opts = model._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[quote(entry.object_id)],
            current_app=self.admin_site.name,
        )

    @action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        """Asks first, listing the keys and when each was last used: a revoked key cannot come back."""
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Revoke these API keys?"),
                "opts": self.model._meta,
                "keys": queryset.order_by("name"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/apikeys/apikey/revoke_confirmation.html", context)
        count = services.revoke(queryset, actor=request.user)
        self.message_user(
            request,
            ngettext("%(count)d key was revoked.", "%(count)d keys were revoked.", count) % {"count": count},
            messages.SUCCESS,
        )
        return None
