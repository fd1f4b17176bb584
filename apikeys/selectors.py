"""Reads about API keys: what a key did, for its page in the admin."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError

from .models import ApiKey, KeyLogEntry

RECENT_ACTIONS = 50  # shown on the key's page; the rest are counted


@dataclass(frozen=True)
class KeyAction:
    """One thing the key did. ``object_exists`` is False once the row is gone (a deleted endpoint):
    the entry still names it by ``object_repr``."""

    action_time: datetime
    content_type: ContentType | None
    object_id: str
    object_repr: str
    message: str
    object_exists: bool


@dataclass(frozen=True)
class KeyActions:
    entries: list[KeyAction]
    total: int


def recent_actions(key: ApiKey, limit: int = RECENT_ACTIONS) -> KeyActions:
    """The key's latest ``limit`` actions, newest first, and how many it has in all."""
    log = KeyLogEntry.objects.filter(api_key=key)
    entries = list(log.select_related("content_type").order_by("-action_time", "-id")[:limit])
    existing = _existing_objects(entries)
    total = len(entries) if len(entries) < limit else log.count()
    return KeyActions(
        entries=[
            KeyAction(
                action_time=entry.action_time,
                content_type=entry.content_type,
                object_id=entry.object_id,
                object_repr=entry.object_repr,
                message=entry.change_message,
                object_exists=(entry.content_type_id, entry.object_id) in existing,
            )
            for entry in entries
        ],
        total=total,
    )


def _existing_objects(entries: list[KeyLogEntry]) -> set[tuple[int, str]]:
    """(content type id, object id) of the logged rows that still exist: one query per kind of row."""
    ids_by_type: dict[ContentType, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.content_type is not None:
            ids_by_type[entry.content_type].add(entry.object_id)
    existing = set()
    for content_type, object_ids in ids_by_type.items():
        model = content_type.model_class()
        if model is None:  # its app was removed
            continue
        pks = {}
        for object_id in object_ids:
            try:
                pks[model._meta.pk.to_python(object_id)] = object_id
            except ValidationError:
                continue
        for pk in model._base_manager.filter(pk__in=list(pks)).values_list("pk", flat=True):
            existing.add((content_type.pk, pks[pk]))
    return existing
