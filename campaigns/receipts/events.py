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
from django.utils.translation import gettext

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
        elif event.source == "pull" or event.query.get("kind") == KEPT_REPORTS:
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
            if len(parsed.reports) > 1:
                return apply_one_by_one(event, parsed, exc)
            return mark_failed(event, exc)
    event.state = CallbackEvent.State.UNMATCHED if unmatched else CallbackEvent.State.APPLIED
    event.reports_count, event.processed_at, event.error = len(parsed.reports), timezone.now(), ""
    CallbackEvent.objects.filter(pk=event.pk).update(
        state=event.state, error="", reports_count=event.reports_count, processed_at=event.processed_at
    )
    return event


# ``query["kind"]`` of an event holding reports split off a batch (our JSON, like a pull's body).
KEPT_REPORTS = "kept_reports"


def apply_one_by_one(event: CallbackEvent, parsed: ParsedCallback, batch_error: Exception) -> CallbackEvent:
    """A batch that failed whole is applied report by report, so one bad report stops no other.

    Each report is applied in its own savepoint. Those that still fail are kept together in a new
    event (state ``failed``, each report's error listed), re-processable from the admin after a
    fix; the batch's own event records what was applied and where the rest went.
    """
    logger.warning("callback event %s failed as a batch (%s); applying its reports one by one", event.pk, batch_error)
    unmatched, failed = 0, []
    for report in parsed.reports:
        try:
            with transaction.atomic():
                unmatched += apply_reports(event.account, [report])[1]
        except Exception as exc:
            logger.exception("report %s of callback event %s could not be applied", report.custom_id, event.pk)
            failed.append((report, exc))
    other_error = ""
    try:
        with transaction.atomic():
            apply_template_reviews(event.account, parsed)
            store_replies(event, parsed.replies)
    except Exception as exc:
        logger.exception("reviews or replies of callback event %s could not be applied", event.pk)
        other_error = f"{type(exc).__name__}: {exc}"
    if len(failed) == len(parsed.reports) and not other_error:  # nothing applied: the event itself stays failed
        return mark_failed(event, failed[0][1])
    notes = []
    if failed:
        kept = keep_failed_reports(event, failed)
        notes.append(
            gettext("%(failed)d of %(total)d reports could not be applied; they are kept in event #%(event)d.")
            % {"failed": len(failed), "total": len(parsed.reports), "event": kept.pk}
        )
    if other_error:
        notes.append(other_error)
    event.state = (
        CallbackEvent.State.FAILED
        if other_error
        else CallbackEvent.State.UNMATCHED
        if unmatched
        else CallbackEvent.State.APPLIED
    )
    event.reports_count, event.processed_at, event.error = len(parsed.reports), timezone.now(), " ".join(notes)
    CallbackEvent.objects.filter(pk=event.pk).update(
        state=event.state, error=event.error, reports_count=event.reports_count, processed_at=event.processed_at
    )
    return event


def keep_failed_reports(event: CallbackEvent, failed: list[tuple[DeliveryReport, Exception]]) -> CallbackEvent:
    """The reports that could not be applied, as one failed event of their own (re-processable)."""
    errors = "\n".join(
        f"{report.custom_id or report.vendor_message_id} {report.mobile}: {type(exc).__name__}: {exc}"
        for report, exc in failed
    )
    return CallbackEvent.objects.create(
        vendor=event.vendor,
        account=event.account,
        source=event.source,
        received_at=event.received_at,
        remote_addr=event.remote_addr,
        query={"kind": KEPT_REPORTS, "from_event": event.pk},
        body=reports_to_json([report for report, _exc in failed]),
        state=CallbackEvent.State.FAILED,
        error=errors[:2000],
        reports_count=len(failed),
        processed_at=timezone.now(),
    )


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
            if len(parsed.reports) > 1:  # stored on its own, then each report applied alone
                return apply_one_by_one(store_unapplied(event, CallbackEvent.State.RECEIVED, ""), parsed, exc)
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
