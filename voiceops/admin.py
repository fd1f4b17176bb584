"""Locked-out addresses in the admin, with an unlock an Operator can use.

django-axes's own admin pages are turned off (``AXES_ENABLE_ADMIN = False``): these show what an
operator needs (which address, which username was tried, how often, whether it is locked) in the
admin's style, never the form data, and unlock with the ``delete`` permission Operators hold.
"""

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.decorators import action, display

from . import login_throttle
from .admin_base import ModelAdmin


@admin.register(AccessAttempt)
class LoginAttemptAdmin(ModelAdmin):
    list_display = ("address", "tried_username", "failures", "locked", "last_attempt")
    search_fields = ("ip_address", "username")
    ordering = ("-attempt_time",)
    fields = ("ip_address", "username", "failures_since_start", "attempt_time", "user_agent", "path_info")
    readonly_fields = fields
    actions = ["unlock"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("client address"), ordering="ip_address")
    def address(self, obj):
        return obj.ip_address

    @display(description=_("username tried"), ordering="username")
    def tried_username(self, obj):
        return obj.username

    @display(description=_("failed logins"), ordering="failures_since_start")
    def failures(self, obj):
        return obj.failures_since_start

    @display(description=_("last attempt"), ordering="attempt_time")
    def last_attempt(self, obj):
        return obj.attempt_time

    @display(description=_("locked out"), boolean=True)
    def locked(self, obj):
        return obj.failures_since_start >= settings.AXES_FAILURE_LIMIT

    @action(description=_("Unlock: forget these failed logins"), permissions=["delete"])
    def unlock(self, request, queryset):
        usernames = set(queryset.values_list("username", flat=True))
        count, _deleted = queryset.delete()
        for username in usernames:
            if username:
                login_throttle.clear(username)
        self.message_user(
            request,
            ngettext(
                "Unlocked: %(count)d failed-login record removed.",
                "Unlocked: %(count)d failed-login records removed.",
                count,
            )
            % {"count": count},
        )
