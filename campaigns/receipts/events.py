"""Callback events: store the raw event first, then parse and apply it, and re-process it after a fix.

The path is always: store the raw event (``CallbackEvent``) → parse with the account's adapter →
apply (``receipts.reports``). An event that cannot be parsed or applied is kept, marked with the
reason, for an operator to re-process.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from vendors.adapters import DeliveryReport, InboundReply, ParsedCallback, get_adapter
from vendors.models import VendorAccount

from ..database import single_receipt
from ..database.bulk import is_retryable, pause_before_retry
from ..models import CallbackEvent
from .reports import (
    APPLICABLE_STATES,
    apply_reports,
    apply_template_reviews,
    queue_retries,
    report_values,
    shares_message_ids,
    store_replies,
)

logger = logging.getLogger(__name__)


# A push or pull that loses a deadlock to a concurrent one (PostgreSQL picks a victim) is applied again.
APPLY_TRIES = 5


def record_event(
    account: VendorAccount | None,
    vendor: str,
    body: bytes,
    *,
    source: str = "push",
    headers=None,
    query=None,
    remote_addr=None,
) -> CallbackEvent:
    return CallbackEvent.objects.create(
        account=account,
        vendor=vendor,
        body=body,
        source=source,
        headers=headers or {},
        query=query or {},
        remote_addr=remote_addr,
    )


def reports_to_json(reports: list[DeliveryReport]) -> bytes:
    return json.dumps([asdict(r) for r in reports], default=str, ensure_ascii=False).encode("utf-8")


def reports_from_json(body: bytes) -> list[DeliveryReport]:
    items = json.loads(body.decode("utf-8"))
    for item in items:
        item["reported_at"] = parse_datetime(item["reported_at"]) if item.get("reported_at") else None
    return [DeliveryReport.from_dict(item) for item in items]


def replies_from_json(body: bytes) -> list[InboundReply]:
    items = json.loads(body.decode("utf-8"))
    for item in items:
        item["received_at"] = parse_datetime(item["received_at"]) if item.get("received_at") else None
    return [InboundReply(**item) for item in items]


def process_event(event_id: int) -> CallbackEvent:
    """Parse and apply one stored event. Safe to run again after a fix (applying is idempotent)."""
    event = CallbackEvent.objects.select_related("account").get(pk=event_id)
    try:
        if event.source == "pull" and event.query.get("kind") == "replies":
            parsed = ParsedCallback(replies=replies_from_json(bytes(event.body)))
        elif event.source == "pull":
            parsed = ParsedCallback(reports=reports_from_json(bytes(event.body)))
        else:
            parsed = get_adapter(event.account).read_callback(bytes(event.body), event.headers, event.query)
    except Exception as exc:
        return mark_failed(event, exc)
    return apply_parsed(event, parsed)


# An event still ``received`` this long after it came was left by a process that died mid-way.
STALLED_AFTER = timedelta(minutes=2)
STALLED_BATCH = 1000


def apply_stalled_events() -> int:
    """Apply events stored but never applied (the process died between storing and applying)."""
    cutoff = timezone.now() - STALLED_AFTER
    stalled = CallbackEvent.objects.filter(state=CallbackEvent.State.RECEIVED, received_at__lt=cutoff)
    ids = list(stalled.order_by("received_at").values_list("id", flat=True)[:STALLED_BATCH])
    for event_id in ids:
        process_event(event_id)
    if ids:
        logger.warning("%s callback event(s) were stored but not applied; applied them now", len(ids))
    return len(ids)


def apply_parsed(event: CallbackEvent, parsed: ParsedCallback) -> CallbackEvent:
    """Apply what one stored event says, and record how it went on the event."""
    for tries in range(APPLY_TRIES):
        try:
            with transaction.atomic():  # a savepoint when called inside the callback's transaction
                _applied, unmatched = apply_reports(event.account, parsed.reports)
                apply_template_reviews(event.account, parsed)
                store_replies(event, parsed.replies)
            break
        except Exception as exc:
            if isinstance(exc, DatabaseError) and is_retryable(exc) and tries < APPLY_TRIES - 1:
                logger.info("callback event %s lost a deadlock, applying it again", event.pk)
                pause_before_retry(tries)
                continue
            return mark_failed(event, exc)
    event.state = CallbackEvent.State.UNMATCHED if unmatched else CallbackEvent.State.APPLIED
    event.reports_count, event.processed_at, event.error = len(parsed.reports), timezone.now(), ""
    CallbackEvent.objects.filter(pk=event.pk).update(
        state=event.state, error="", reports_count=event.reports_count, processed_at=event.processed_at
    )
    return event


def store_and_apply(event: CallbackEvent, parsed: ParsedCallback) -> CallbackEvent:
    """Store a pushed event and apply it in one transaction (one commit on the hot path).

    The raw event and its effects commit together; if applying fails, the transaction rolls back
    and the raw event is stored on its own, marked failed, for re-processing after a fix. Either
    way the body is stored before the vendor is acknowledged. A push of one report takes the
    one-statement path of ``single_receipt`` first.
    """
    report = single_receipt.single_report(parsed, shares_message_ids(event.vendor))
    if report is not None:
        try:
            changed = single_receipt.store_and_apply(
                event,
                report,
                values=report_values(report, timezone.now()),
                from_states=APPLICABLE_STATES,
                queue_retries=queue_retries,
            )
        except DatabaseError:  # rolled back whole: the general path below stores and applies it
            logger.info("single receipt could not take the one-statement path", exc_info=True)
            event.pk = None
        else:
            return event if changed else apply_parsed(event, parsed)
    for tries in range(APPLY_TRIES):
        try:
            with transaction.atomic():
                event.state, event.reports_count, event.processed_at = (
                    CallbackEvent.State.APPLIED,
                    len(parsed.reports),
                    timezone.now(),
                )
                event.save(force_insert=True)
                _applied, unmatched = apply_reports(event.account, parsed.reports)
                apply_template_reviews(event.account, parsed)
                store_replies(event, parsed.replies)
                if unmatched:
                    event.state = CallbackEvent.State.UNMATCHED
                    CallbackEvent.objects.filter(pk=event.pk).update(state=event.state)
            return event
        except Exception as exc:
            event.pk = None  # the insert was rolled back with the rest
            if isinstance(exc, DatabaseError) and is_retryable(exc) and tries < APPLY_TRIES - 1:
                logger.info("callback push lost a deadlock, applying it again")
                pause_before_retry(tries)
                continue
            logger.exception("callback event could not be applied")
            return store_unapplied(event, CallbackEvent.State.FAILED, f"{type(exc).__name__}: {exc}")
    raise AssertionError("unreachable")


def store_unapplied(event: CallbackEvent, state: str, error: str) -> CallbackEvent:
    event.state, event.error, event.processed_at, event.reports_count = state, error[:2000], timezone.now(), 0
    event.save(force_insert=True)
    return event


def mark_failed(event: CallbackEvent, exc: Exception) -> CallbackEvent:
    """Keep the event, marked failed with the reason, for an operator to re-process after a fix."""
    logger.exception("callback event %s failed to apply", event.pk)
    event.state, event.error, event.processed_at = (
        CallbackEvent.State.FAILED,
        f"{type(exc).__name__}: {exc}"[:2000],
        timezone.now(),
    )
    CallbackEvent.objects.filter(pk=event.pk).update(
        state=event.state, error=event.error, processed_at=event.processed_at
    )
    return event
