"""Audit trail of who did what, from the admin or the API: a person's actions in Django's admin log
(under "Recent actions" and on a row's history page), an API key's in ``apikeys.KeyLogEntry``
(Django's log needs a person); a row's history page shows both, each naming its actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils import translation
from django.utils.translation import gettext as _

from apikeys.models import ApiKey, KeyLogEntry

__all__ = ["ADDITION", "CHANGE", "DELETION", "HistoryEntry", "actor_label", "history", "record"]


def record(actor, obj, message, *, flag: int = CHANGE) -> None:
    """Log ``message`` against ``obj`` for ``actor``: a person or an API key (nothing for anonymous
    or system actions).

    ``message`` is a lazy translation: the log is shared by everyone, so it is written in the
    interface's default language (the admin log keeps text, not message ids). ``flag`` is the admin
    log's kind of entry (``ADDITION``, ``CHANGE``, ``DELETION``): "Recent actions" shows its icon and
    links a deleted row nowhere. Log a deletion before the delete: the entry keeps the row's type,
    id and name once the row is gone (a key's entry too)."""
    if isinstance(actor, ApiKey):
        KeyLogEntry.objects.create(
            api_key=actor,
            content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            change_message=_in_default_language(message),
        )
        return
    if actor is None or not getattr(actor, "is_authenticated", False):
        return
    LogEntry.objects.log_actions(
        actor.pk, [obj], flag, change_message=_in_default_language(message), single_object=True
    )


def _in_default_language(message) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(message)


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a row's history: when, who (a person or "API key «name»"), what; read by the
    admin's history template as it reads a ``LogEntry``."""

    action_time: datetime
    actor: str
    message: str

    @property
    def user(self) -> _Actor:
        return _Actor(self.actor)

    def get_change_message(self) -> str:
        return self.message


@dataclass(frozen=True)
class _Actor:
    label: str

    def get_username(self) -> str:
        return self.label

    def get_full_name(self) -> str:
        return ""  # already in the label


def actor_label(user=None, key=None) -> str:
    """Who did something: a person by their username (and full name), a system by its API key's name."""
    if user is not None:
        full_name = user.get_full_name()
        return f"{user.get_username()} ({full_name})" if full_name else user.get_username()
    if key is not None:
        return _("API key «%(name)s»") % {"name": key.name}
    return "—"


def history(model, object_id: str) -> list[HistoryEntry]:
    """A row's audit trail, oldest first: the admin log's entries and its API keys' actions together."""
    content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
    people = LogEntry.objects.filter(content_type=content_type, object_id=object_id).select_related("user")
    keys = KeyLogEntry.objects.filter(content_type=content_type, object_id=object_id).select_related("api_key")
    entries = [HistoryEntry(e.action_time, actor_label(user=e.user), e.get_change_message()) for e in people]
    entries += [HistoryEntry(e.action_time, actor_label(key=e.api_key), e.change_message) for e in keys]
    return sorted(entries, key=lambda entry: entry.action_time)
