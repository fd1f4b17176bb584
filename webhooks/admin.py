"""Admin for webhook endpoints and their deliveries (Operators).

The signing secret is shown once, on the page that follows creating an endpoint or rotating its
secret, and never stored anywhere but encrypted; after a rotation the page says until when the
replaced secret keeps signing, and so does the endpoint's page (the time, never the secret). Every
try of every delivery is visible; failed deliveries are resent one by one, a selection at a time,
or all of an endpoint's at once.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import TabularInline
from unfold.decorators import action, display

from voiceops.admin_base import ModelAdmin, WritesWhatTheOperatorChanged, creator_label, local_time

from . import services
from .events import EVENT_TYPE_CHOICES, EVENT_TYPES
from .models import Delivery, DeliveryAttempt, Endpoint, all_event_types


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EVENT_TYPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        initial=all_event_types,
    )

    class Meta:
        model = Endpoint
        fields = ("name", "url", "event_types", "is_active")

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            services.validate_url(url)
        except DjangoValidationError as exc:
            raise forms.ValidationError(exc.message_dict["url"]) from exc
        return url

    def clean_event_types(self):
        return list(dict.fromkeys(self.cleaned_data["event_types"]))


@admin.register(Endpoint)
class EndpointAdmin(WritesWhatTheOperatorChanged, ModelAdmin):
    form = EndpointForm
    list_display = ("name", "url", "state_badge", "events_display", "failed_count", "last_success_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url")
    readonly_fields = (
        "secret_hint",
        "previous_secret_state",
        "failing_since",
        "last_success_at",
        "disabled_at",
        "disabled_reason",
        "deliveries_link",
        "created_at",
        "creator",
    )
    actions = ["resend_failed_of_selected"]
    actions_detail = ["rotate_secret_view", "resend_failed_view"]

    def get_fieldsets(self, request, obj=None):
        main = (None, {"fields": ("name", "url", "event_types", "is_active")})
        if obj is None:
            return (main,)
        previous = ("previous_secret_state",) if obj.previous_secret_valid_until() else ()
        health = (
            _("Deliveries"),
            {
                "fields": (
                    "secret_hint",
                    *previous,
                    "deliveries_link",
                    "last_success_at",
                    "failing_since",
                    "disabled_at",
                    "disabled_reason",
                    "created_at",
                    "creator",
                )
            },
        )
        return (main, health)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                failed=Count("deliveries", filter=Q(deliveries__state=Delivery.State.FAILED)),
                pending=Count("deliveries", filter=Q(deliveries__state=Delivery.State.PENDING)),
            )
        )

    # ---- saving shows the secret once
    def save_model(self, request, obj, form, change):
        if not change:
            request.webhook_secret = obj.new_secret()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and obj.is_active:
            obj.clear_failure_record()

    def response_add(self, request, obj, post_url_continue=None):
        return self._secret_page(request, obj, request.webhook_secret, created=True)

    def _secret_page(self, request, endpoint, secret, created):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Signing secret of %(name)s") % {"name": endpoint.name},
            "endpoint": endpoint,
            "secret": secret,
            "created": created,
            "change_url": reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]),
        }
        response = TemplateResponse(request, "admin/webhooks/endpoint/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    # ---- list
    @display(description=_("state"), label={"active": "success", "off": "danger", "failing": "warning"})
    def state_badge(self, obj):
        if not obj.is_active:
            return "off", _("off")
        return ("failing", _("failing")) if obj.failing_since else ("active", _("active"))

    @display(description=_("events"))
    def events_display(self, obj):
        types = obj.event_types or []
        return _("all") if set(types) >= set(EVENT_TYPES) else ", ".join(types)

    @display(description=_("failed deliveries"), ordering="failed")
    def failed_count(self, obj):
        if not obj.failed:
            return 0
        url = reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={obj.pk}&state__exact=failed"
        return format_html('<a href="{}">{}</a>', url, obj.failed)

    @display(description=_("created by"))
    def creator(self, obj):
        return creator_label(obj)

    @display(description=_("signing secret"))
    def secret_hint(self, obj):
        return _("Shown only once, when created or rotated. Use “Rotate secret” above for a new one.")

    @display(description=_("previous secret"))
    def previous_secret_state(self, obj):
        until = obj.previous_secret_valid_until()
        if until is None:
            return _("none: only the current secret signs deliveries")
        return _("valid until %(when)s: every delivery is signed with it too, beside the current secret") % {
            "when": local_time(until)
        }

    @display(description=_("deliveries"))
    def deliveries_link(self, obj):
        url = reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{}</a>',
            url,
            _("%(pending)s pending, %(failed)s failed — see all") % {"pending": obj.pending, "failed": obj.failed},
        )

    # ---- actions
    @action(description=_("Resend failed deliveries"), permissions=["resend"])
    def resend_failed_of_selected(self, request, queryset):
        counts = [(services.resend_failed(endpoint, actor=request.user), endpoint) for endpoint in queryset]
        tell_resent(
            self,
            request,
            sent=sum(count for count, endpoint in counts if endpoint.is_active),
            waiting=sum(count for count, endpoint in counts if not endpoint.is_active),
        )

    def has_resend_permission(self, request, obj=None):
        return request.user.has_perms(["webhooks.change_endpoint", "webhooks.change_delivery"])

    @action(description=_("Rotate secret"), url_path="rotate-secret", permissions=["change"], icon="key")
    def rotate_secret_view(self, request, object_id):
        endpoint = get_object_or_404(Endpoint, pk=object_id)
        if request.method != "POST":
            return confirm_page(
                self,
                request,
                endpoint,
                _("Rotate the signing secret of %(name)s?") % {"name": endpoint.name},
                rotation_text(),
                _("Rotate secret"),
            )
        secret = services.rotate_secret(endpoint, actor=request.user)
        tell_previous_secret(self, request, endpoint)
        return self._secret_page(request, endpoint, secret, created=False)

    @action(description=_("Resend failed deliveries"), url_path="resend-failed", permissions=["resend"], icon="send")
    def resend_failed_view(self, request, object_id):
        endpoint = get_object_or_404(Endpoint, pk=object_id)
        failed = services.failed_deliveries(endpoint).count()
        if request.method != "POST":
            text = ngettext(
                "%(count)d delivery failed (out of retries, or waiting for the next one); it is tried again now, "
                "with a new round of retries.",
                "%(count)d deliveries failed (out of retries, or waiting for the next one); they are tried again "
                "now, with a new round of retries.",
                failed,
            ) % {"count": failed}
            if not endpoint.is_active:
                text = ENDPOINT_OFF % {"text": text}
            return confirm_page(
                self,
                request,
                endpoint,
                _("Resend the failed deliveries of %(name)s?") % {"name": endpoint.name},
                text,
                _("Resend failed deliveries"),
            )
        count = services.resend_failed(endpoint, actor=request.user)
        tell_resent(self, request, **({"sent": count} if endpoint.is_active else {"waiting": count}))
        return HttpResponseRedirect(reverse("admin:webhooks_endpoint_change", args=[endpoint.pk]))


def rotation_text() -> str:
    """What rotating does, said before it is done: how long the current secret keeps working."""
    hours = services.secret_grace().total_seconds() / 3600
    if not hours:
        return _(
            "A new secret signs every delivery from now on and the current one stops working at once: the "
            "receiver refuses deliveries until it is given the new one. The new secret is shown once, on the next "
            "page."
        )
    return ngettext(
        "A new secret signs every delivery from now on. The current one keeps signing them too for "
        "%(hours)s hour, so the receiver verifies them meanwhile: give it the new secret within that time. "
        "The new secret is shown once, on the next page.",
        "A new secret signs every delivery from now on. The current one keeps signing them too for "
        "%(hours)s hours, so the receiver verifies them meanwhile: give it the new secret within that time. "
        "The new secret is shown once, on the next page.",
        1 if hours == 1 else 2,  # 0.5 hours, 1 hour, 24 hours
    ) % {"hours": f"{hours:g}"}


def tell_previous_secret(model_admin, request, endpoint) -> None:
    """After a rotation: until when the replaced secret keeps working (in local time), or that it does not."""
    until = endpoint.previous_secret_valid_until()
    if until is None:
        model_admin.message_user(
            request,
            _("The previous secret no longer works: give the receiving system the new one now."),
            messages.WARNING,
        )
        return
    model_admin.message_user(
        request,
        _(
            "The previous secret keeps working until %(when)s: until then every delivery is signed with both. "
            "Give the receiving system the new secret before that time."
        )
        % {"when": local_time(until)},
        messages.WARNING,
    )


def confirm_page(model_admin, request, obj, title, text, button):
    """What a button will do, asked first: the action itself is only ever a POST from this page."""
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": title,
        "text": text,
        "button": button,
        "object": obj,
        "change_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
    }
    return TemplateResponse(request, "admin/webhooks/confirm.html", context)


ENDPOINT_OFF = _("%(text)s The endpoint is off: nothing is sent until it is switched on.")


def tell_resent(model_admin, request, *, sent: int = 0, waiting: int = 0) -> None:
    """Say what a resend did: sent within seconds, or waiting because its endpoint is off."""
    if sent or not waiting:
        model_admin.message_user(
            request,
            ngettext(
                "%(count)d delivery will be tried again within seconds.",
                "%(count)d deliveries will be tried again within seconds.",
                sent,
            )
            % {"count": sent},
        )
    if waiting:
        model_admin.message_user(
            request,
            ngettext(
                "%(count)d delivery is queued again but its endpoint is off: switch the endpoint on to have it sent.",
                "%(count)d deliveries are queued again but their endpoint is off: switch it on to have them sent.",
                waiting,
            )
            % {"count": waiting},
            messages.WARNING,
        )


class AttemptInline(TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "status_code", "latency_ms", "error", "response_head")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    show_title = False
    ordering = ("-attempted_at", "-id")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(ModelAdmin):
    list_display = (
        "event_type",
        "webhook_id",
        "endpoint",
        "state_badge",
        "tries",
        "last_status",
        "next_try",
        "created_at",
    )
    list_filter = ("state", "endpoint", "event__type")
    search_fields = ("event__uid",)
    list_select_related = ("event", "endpoint")
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["resend_selected"]
    actions_detail = ["resend_one"]
    fields = (
        "endpoint",
        "event_type",
        "webhook_id",
        "state",
        "tries",
        "next_try",
        "last_status",
        "last_error",
        "delivered_at",
        "created_at",
        "payload",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Nothing here is edited: the one thing to do is resend (the button at the top, its own
        # permission). A saved page would write the delivery back as read, over the delivery loop's.
        return False

    def has_resend_permission(self, request, obj=None):
        return request.user.has_perm("webhooks.change_delivery")

    def get_search_results(self, request, queryset, search_term):
        # "evt_<hex>" as the receiver logged it finds its delivery
        return super().get_search_results(request, queryset, search_term.strip().removeprefix("evt_"))

    @display(description=_("event"), ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @display(description=_("event id (webhook-id)"))
    def webhook_id(self, obj):
        return format_html("<code>{}</code>", obj.event.webhook_id)

    @display(description=_("state"), label={"pending": "info", "delivered": "success", "failed": "danger"})
    def state_badge(self, obj):
        return obj.state, obj.get_state_display()

    @display(description=_("next try"), ordering="next_attempt_at")
    def next_try(self, obj):
        return local_time(obj.next_attempt_at) if obj.state == Delivery.State.PENDING else "—"

    @display(description=_("body"))
    def payload(self, obj):
        return format_html(
            "<pre style='white-space: pre-wrap'>{}</pre>", obj.event.body or _("(built on the first try)")
        )

    @action(description=_("Resend selected deliveries"), permissions=["resend"])
    def resend_selected(self, request, queryset):
        waiting = queryset.filter(endpoint__is_active=False).count()
        count = services.resend(queryset, actor=request.user)
        tell_resent(self, request, sent=count - waiting, waiting=waiting)

    @action(description=_("Resend"), url_path="resend", permissions=["resend"], icon="send")
    def resend_one(self, request, object_id):
        delivery = get_object_or_404(Delivery.objects.select_related("event", "endpoint"), pk=object_id)
        if request.method != "POST":
            text = _("The %(type)s event is posted to %(url)s again now, with a new round of retries if it fails.") % {
                "type": delivery.event.type,
                "url": delivery.endpoint.url,
            }
            if not delivery.endpoint.is_active:
                text = ENDPOINT_OFF % {"text": text}
            return confirm_page(self, request, delivery, _("Resend this delivery?"), text, _("Resend"))
        count = services.resend(Delivery.objects.filter(pk=object_id), actor=request.user)
        tell_resent(self, request, **({"sent": count} if delivery.endpoint.is_active else {"waiting": count}))
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[object_id]))
