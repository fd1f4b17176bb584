"""Pulls: fetch what pull-only vendors hand out (reports, replies), store it raw, then apply it."""

from __future__ import annotations

import json
from dataclasses import asdict

from django.utils import timezone

from vendors.adapters import NotSupported, ParsedCallback, get_adapter
from vendors.models import VendorAccount

from ..models import CallbackEvent
from .events import apply_parsed, record_event, reports_to_json
from .reports import store_replies


def pull_replies(account: VendorAccount) -> int:
    """Pull-only vendors hand each reply out once: store the batch raw first, then keep each reply."""
    try:
        replies = get_adapter(account).fetch_replies()
    except NotSupported:
        return 0
    if not replies:
        return 0
    body = json.dumps([asdict(r) for r in replies], default=str, ensure_ascii=False).encode("utf-8")
    event = record_event(account, account.vendor, body, source="pull", query={"kind": "replies"})
    stored = store_replies(event, replies)
    CallbackEvent.objects.filter(pk=event.pk).update(state=CallbackEvent.State.APPLIED, processed_at=timezone.now())
    return stored


def pull_account(account: VendorAccount) -> int:
    """Fetch reports from a pull vendor, store them raw first (each is handed out once), then apply."""
    try:
        reports = get_adapter(account).fetch_reports()
    except NotSupported:
        return 0
    if not reports:
        return 0
    event = record_event(account, account.vendor, reports_to_json(reports), source="pull")
    apply_parsed(event, ParsedCallback(reports=reports))  # the reports in hand, not read back from the row
    return len(reports)
