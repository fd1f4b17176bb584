"""The library models' admin pages in our look and language: users, groups, the beat schedule and
locked-out login addresses.

django-axes's own admin pages are turned off (``AXES_ENABLE_ADMIN = False``): ours show what an
operator needs (which address, which username was tried, how often, whether it is locked), never
the form data, and unlock with the ``delete`` permission Operators hold.
"""

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_celery_beat.admin import PeriodicTaskAdmin as BasePeriodicTaskAdmin
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
    SolarSchedule,
)
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from . import login_throttle
from .admin_base import ModelAdmin, local_time
from .library_i18n import role_label
from .periodic import system_task

# Permissions of models nobody manages by hand (counters, buckets, sessions, …) only add noise.
PERMISSION_APPS = ("vendors", "campaigns", "django_celery_beat", "auth", "axes")
HIDDEN_PERMISSION_MODELS = (
    "callcounter",
    "ratebucket",
    "simulatedcall",
    "periodictasks",
    "solarschedule",
    "clockedschedule",
    "crontabschedule",
    "periodictasktrack",
    "accessattemptexpiration",
)


def assignable_permissions():
    return (
        Permission.objects.filter(content_type__app_label__in=PERMISSION_APPS)
        .exclude(content_type__model__in=HIDDEN_PERMISSION_MODELS)
        .select_related("content_type")
    )


class WithoutJoinRows:
    """The delete page lists what goes with the object, not the rows of its many-to-many tables."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        joins = [m for m in (User.groups.through, User.user_permissions.through, Group.permissions.through)]
        prefixes = tuple(f"{capfirst(m._meta.verbose_name)}: " for m in joins)
        for model in joins:
            counts.pop(model._meta.verbose_name_plural, None)

        def prune(items):
            return [
                prune(i) if isinstance(i, list) else i
                for i in items
                if isinstance(i, list) or not str(i).startswith(prefixes)
            ]

        return prune(deleted), counts, perms_needed, protected


class PermissionsField:
    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in ("permissions", "user_permissions"):
            kwargs["queryset"] = assignable_permissions()
        return super().formfield_for_manytomany(db_field, request, **kwargs)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(WithoutJoinRows, PermissionsField, BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    list_display = ("username", "email", "roles", "is_active", "is_superuser", "last_login")

    @display(description=_("roles"))
    def roles(self, obj):
        return "、".join(role_label(g.name) for g in obj.groups.all()) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")


@admin.register(Group)
class GroupAdmin(WithoutJoinRows, PermissionsField, BaseGroupAdmin, ModelAdmin):
    list_display = ("role",)

    @display(description=_("name"), ordering="name")
    def role(self, obj):
        return role_label(obj.name)


# ---- beat schedule
for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule):
    admin.site.unregister(model)  # our schedule uses intervals only; the others are re-registered below


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BasePeriodicTaskAdmin, ModelAdmin):
    """Only a superuser may disable or delete a task that keeps the system running."""

    change_form_template = None
    date_hierarchy = None
    list_display = ("label", "enabled", "interval", "last_run_at")
    list_filter = ("enabled",)
    actions = ("enable_tasks", "disable_tasks")
    fieldsets = (
        (None, {"fields": ("name", "purpose", "task", "enabled", "description")}),
        (_("Schedule"), {"fields": ("interval", "start_time", "last_run_at", "one_off")}),
        (_("Execution Options"), {"fields": ("queue", "expires", "expire_seconds")}),
    )

    system_fieldsets = (
        (None, {"fields": ("label", "purpose", "task_code", "enabled", "description")}),
        (_("Schedule"), {"fields": ("interval", "start_time", "last_run_at", "one_off")}),
        (_("Execution Options"), {"fields": ("queue_code", "expires", "expire_seconds")}),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = ["last_run_at", "purpose", "label", "task_code", "queue_code"]
        if obj is not None and system_task(obj.name) and not request.user.is_superuser:
            fields.append("enabled")
        return fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # a new task: the stock form, which needs its task picker
            return ((None, {"fields": ("name", "regtask", "task", "enabled", "description")}),
                    (_("Schedule"), {"fields": ("interval", "start_time", "one_off")}))  # fmt: skip
        return self.system_fieldsets if system_task(obj.name) else self.fieldsets

    @display(description=_("task"))
    def task_code(self, obj):
        return format_html("<code>{}</code>", obj.task)

    @display(description=_("queue"))
    def queue_code(self, obj):
        return format_html("<code>{}</code>", obj.queue) if obj.queue else "—"

    @display(description=_("name"), ordering="name")
    def label(self, obj):
        spec = system_task(obj.name)
        return spec.label if spec else obj.name

    @display(description=_("what it does"))
    def purpose(self, obj):
        spec = system_task(obj.name)
        return spec.purpose if spec else (obj.description or "—")

    def has_delete_permission(self, request, obj=None):
        if obj is not None and system_task(obj.name) and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def _protected(self, request, queryset):
        """The tasks of ``queryset`` this user may not disable or delete, with a message."""
        if request.user.is_superuser:
            return queryset.none()
        protected = queryset.filter(name__in=[t.name for t in queryset if system_task(t.name)])
        if protected:
            self.message_user(
                request,
                _("Only a superuser may disable or delete a task that keeps the system running: %(names)s")
                % {"names": "、".join(str(self.label(t)) for t in protected)},
                messages.WARNING,
            )
        return protected

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset.exclude(pk__in=self._protected(request, queryset)))

    def disable_tasks(self, request, queryset):
        return super().disable_tasks(request, queryset.exclude(pk__in=self._protected(request, queryset)))

    disable_tasks.short_description = BasePeriodicTaskAdmin.disable_tasks.short_description

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        PeriodicTasks.update_changed()


@admin.register(IntervalSchedule)
class IntervalScheduleAdmin(ModelAdmin):
    pass


# --------------------------------------------------------------------------- locked-out logins
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
        return local_time(obj.attempt_time)

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
