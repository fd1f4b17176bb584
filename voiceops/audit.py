"""Audit trail of who did what: recorded in Django's admin log (visible under "Recent actions"
and in the admin's log-entry list), whether the action came from the admin or the API."""

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.utils import translation


def record(user, obj, message) -> None:
    """Log ``message`` against ``obj`` for ``user`` (nothing for anonymous or system actions).

    ``message`` is a lazy translation: the log is shared by everyone, so it is written in the
    interface's default language (the admin log keeps text, not message ids)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return
    with translation.override(settings.LANGUAGE_CODE):
        text = str(message)
    LogEntry.objects.log_actions(user.pk, [obj], CHANGE, change_message=text, single_object=True)
