"""Audit trail of who did what: recorded in Django's admin log (visible under "Recent actions"
and in the admin's log-entry list), whether the action came from the admin or the API."""

from django.contrib.admin.models import CHANGE, LogEntry


def record(user, obj, message: str) -> None:
    """Log ``message`` against ``obj`` for ``user`` (nothing for anonymous or system actions)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return
    LogEntry.objects.log_actions(user.pk, [obj], CHANGE, change_message=message, single_object=True)
