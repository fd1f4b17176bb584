"""Names the libraries compose in English, given in the reader's language.

``Permission.name`` is stored in English when the permission is created ("Can add campaign"),
group names are our role keys ("Operators"), django-celery-beat shows the stored task name, and
django-axes builds its records' names with f-strings. ``install()`` (from ``VoiceOpsConfig.ready``)
gives those models a ``__str__`` that reads from our catalogue; what is stored is unchanged.
"""

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

ROLE_LABELS = {"Operators": _("Operators"), "Marketing": _("Marketing"), "Finance": _("Finance")}
PERMISSION_ACTIONS = {"add": _("Can add"), "change": _("Can change"), "delete": _("Can delete"), "view": _("Can view")}


def role_label(name: str) -> str:
    return str(ROLE_LABELS.get(name, name))


def permission_label(permission) -> str:
    """ "活动 | 呼叫记录 | 可查看": app, model and action, each translated."""
    action, _sep, _model = permission.codename.partition("_")
    model = permission.content_type.model_class()
    if action in PERMISSION_ACTIONS and model is not None:
        name = f"{PERMISSION_ACTIONS[action]}{model._meta.verbose_name}"
    else:
        name = gettext(permission.name)
    return f"{permission.content_type} | {name}"


def _when(value) -> str:
    return date_format(localtime(value), "DATETIME_FORMAT") if value else "—"


def _periodic_task_str(task) -> str:
    from .periodic import system_task

    spec = system_task(task.name)
    label = spec.label if spec else task.name
    schedule = task.interval or task.crontab or task.solar or task.clocked
    return f"{label}: {schedule}" if schedule else str(label)


def install() -> None:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission
    from django.core.validators import ProhibitNullCharactersValidator
    from django_celery_beat.models import PeriodicTask

    apps.get_app_config("axes").verbose_name = _("Login protection")
    # Django's sentence says "null", which its zh_Hans catalogue renders as "empty string" (不允许是用空字符串):
    # every form and API field that refuses a NUL says which character, in either language.
    ProhibitNullCharactersValidator.message = _("Text may not contain the NUL character (\\0).")
    Permission.__str__ = permission_label
    Group.__str__ = lambda group: role_label(group.name)
    PeriodicTask.__str__ = _periodic_task_str
    AccessAttempt.__str__ = lambda a: gettext("Failed logins of %(username)s from %(ip)s, last at %(time)s") % {
        "username": a.username, "ip": a.ip_address, "time": _when(a.attempt_time)
    }  # fmt: skip
    AccessFailureLog.__str__ = lambda a: gettext("Failed login of %(username)s from %(ip)s at %(time)s") % {
        "username": a.username, "ip": a.ip_address, "time": _when(a.attempt_time)
    }  # fmt: skip
    AccessLog.__str__ = lambda a: gettext("Login of %(username)s at %(time)s") % {
        "username": a.username, "time": _when(a.attempt_time)
    }  # fmt: skip
