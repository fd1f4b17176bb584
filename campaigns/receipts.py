"""Receipts: every vendor report reaches its call record exactly once, whether pushed or pulled.

The path is always: store the raw event (``CallbackEvent``) → parse with the account's adapter →
apply. Applying is a conditional UPDATE from an open state to a final one, so a repeated or late
receipt changes nothing, and a final state never moves back. A report that matches no call is
kept (event state ``unmatched``) for reconciliation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from vendors.adapters import DeliveryReport, InboundReply, NotSupported, ParsedCallback, get_adapter
from vendors.adapters.base import e164_mobile
from vendors.models import VendorAccount

from . import single_receipt
from .bulk import ChangedCall, is_retryable, pause_before_retry, update_calls, update_calls_by_key
from .models import CallbackEvent, CallRecord, Campaign, VoiceTemplate
from .models import InboundReply as InboundReplyRow

logger = logging.getLogger(__name__)

APPLICABLE_STATES = ("submitting", "submitted", "expired")
# A push or pull that loses a deadlock to a concurrent one (PostgreSQL picks a victim) is applied again.
APPLY_TRIES = 5
# Vendors whose message id names a whole batch (reports match on message id + mobile).
SHARED_MESSAGE_IDS = ("sms10692", "fungo")


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


def _find_calls(account: VendorAccount, reports: list[DeliveryReport]) -> dict[int, CallRecord]:
    """Report index → call, by our custom id first, else by the vendor's message id (+ mobile)."""
    custom_ids = [r.custom_id for r in reports if r.custom_id]
    vendor_ids = [r.vendor_message_id for r in reports if r.vendor_message_id and not r.custom_id]
    by_custom, by_vendor = {}, {}
    fields = (
        "id",
        "state",
        "campaign_id",
        "recipient_id",
        "attempt",
        "custom_id",
        "vendor_message_id",
        "mobile",
        "is_test",
    )
    if custom_ids:
        by_custom = {c.custom_id: c for c in CallRecord.objects.filter(custom_id__in=custom_ids).only(*fields)}
    if vendor_ids:
        for call in CallRecord.objects.filter(account=account, vendor_message_id__in=vendor_ids).only(*fields):
            by_vendor.setdefault(call.vendor_message_id, []).append(call)
    found = {}
    for index, report in enumerate(reports):
        if report.custom_id and report.custom_id in by_custom:
            found[index] = by_custom[report.custom_id]
            continue
        candidates = by_vendor.get(report.vendor_message_id) or []
        if report.mobile and len(candidates) > 1:
            candidates = [c for c in candidates if c.mobile == report.mobile]
        if candidates:
            found[index] = candidates[0]
    return found


def _values(report: DeliveryReport, now) -> dict:
    """What a report writes on its call record."""
    return {
        "state": CallRecord.State.ANSWERED if report.answered else CallRecord.State.FAILED,
        "outcome": report.outcome,
        "raw_code": report.raw_code[:100],
        "raw_message": report.raw_message[:2000],
        "talk_seconds": report.talk_seconds,
        "billed_seconds": report.billed_seconds,
        "billed_units": report.billed_units,
        "key_pressed": (report.key_pressed or "")[:20],
        "reported_at": report.reported_at or now,
    }


def _apply_by_lookup(account, reports, now) -> tuple[list[tuple[CallRecord, DeliveryReport]], int]:
    """Find the calls first, then one conditional UPDATE (any database)."""
    calls = _find_calls(account, reports)
    rows, reported = [], {}
    for index, report in enumerate(reports):
        call = calls.get(index)
        if call is None or call.id in reported:  # the same receipt twice in one push counts once
            continue
        reported[call.id] = (call, report)
        values = _values(report, now)
        values["vendor_message_id"] = call.vendor_message_id or (report.vendor_message_id or "")[:100]
        rows.append((call.id, values))
    changed = update_calls(rows, from_states=APPLICABLE_STATES)
    rescued = _apply_to_unanswered_submits(account, [r for i, r in enumerate(reports) if i not in calls], now)
    return [reported[cid] for cid in changed] + rescued, len(reports) - len(calls) - len(rescued)


def _apply_in_one_statement(account, reports, now) -> tuple[list[tuple[CallRecord, DeliveryReport]], int]:
    """PostgreSQL: find and update in the same statement per key kind (the receipt hot path).

    Only when fewer calls changed than reports came (a replay, or a report for an unknown call)
    does a second query tell the two apart, for the unmatched count.
    """
    by_custom = {r.custom_id: r for r in reports if r.custom_id}
    by_vendor = {r.vendor_message_id: r for r in reports if not r.custom_id and r.vendor_message_id}
    changed = []
    for column, keyed, extra in (
        ("custom_id", by_custom, ""),
        ("vendor_message_id", by_vendor, " AND t.account_id = %s"),
    ):
        if not keyed:
            continue
        rows = [
            (key, {**_values(report, now), "vendor_message_id": (report.vendor_message_id or "")[:100]})
            for key, report in keyed.items()
        ]
        for key, call in update_calls_by_key(
            column,
            rows,
            from_states=APPLICABLE_STATES,
            extra_where=extra,
            extra_params=[account.pk] if extra else [],
        ):
            changed.append((call, keyed[key]))
    unmatched = 0
    keyless = sum(1 for r in reports if not r.custom_id and not r.vendor_message_id)
    if len(changed) + keyless < len(by_custom) + len(by_vendor):
        done = {report.custom_id or report.vendor_message_id for _c, report in changed}
        missing = [
            r for r in [*by_custom.values(), *by_vendor.values()] if (r.custom_id or r.vendor_message_id) not in done
        ]
        found = _find_calls(account, missing)
        rescued = _apply_to_unanswered_submits(account, [r for i, r in enumerate(missing) if i not in found], now)
        changed += rescued
        unmatched = len(missing) - len(found) - len(rescued)
    return changed, unmatched + keyless


# A receipt is not taken for a submit made after it (beyond this much clock difference).
CLOCK_SLACK = timedelta(minutes=5)


def _apply_to_unanswered_submits(account, reports, now) -> list[tuple[CallRecord, DeliveryReport]]:
    """Reconcile receipts the vendor names only by its own message id with calls whose submit got no answer.

    A submit that timed out (or whose connection dropped) leaves its row ``submitting`` with no
    vendor message id; at vendors without a custom id (ihuyi, fungo, …) the receipt for it names
    only the vendor's id and the number. It is taken for that row when the account has exactly one
    such row for that number, submitted before the receipt's time; otherwise it stays unmatched.
    """
    wanted: dict[str, DeliveryReport] = {}
    for report in reports:
        if report.custom_id or not report.vendor_message_id or not report.mobile:
            continue
        mobile = e164_mobile(report.mobile) or report.mobile
        seen = wanted.get(mobile, report)
        # the same receipt twice is one; receipts of two calls to one number are ambiguous
        wanted[mobile] = report if seen is not None and seen.vendor_message_id == report.vendor_message_id else None
    wanted = {m: r for m, r in wanted.items() if r is not None}
    if not wanted:
        return []
    rows: dict[str, list[CallRecord]] = {}
    fields = ("id", "state", "campaign_id", "recipient_id", "attempt", "mobile", "is_test", "submitted_at")
    for call in CallRecord.objects.filter(
        account=account, state=CallRecord.State.SUBMITTING, vendor_message_id="", mobile__in=list(wanted)
    ).only(*fields):
        rows.setdefault(call.mobile, []).append(call)
    updates, picked = [], {}
    for mobile, calls in rows.items():
        report = wanted[mobile]
        if len(calls) != 1:
            continue
        call = calls[0]
        if report.reported_at and call.submitted_at and call.submitted_at > report.reported_at + CLOCK_SLACK:
            continue
        picked[call.id] = (call, report)
        updates.append((call.id, {**_values(report, now), "vendor_message_id": report.vendor_message_id[:100]}))
    changed = update_calls(updates, from_states=(CallRecord.State.SUBMITTING,))
    if changed:
        logger.info("%s receipt(s) reconciled with calls whose submit got no answer", len(changed))
    return [picked[cid] for cid in changed]


def apply_reports(account: VendorAccount, reports: list[DeliveryReport]) -> tuple[int, int]:
    """Apply reports; returns (applied, unmatched). Idempotent and order-proof."""
    now = timezone.now()
    one_call_per_id = account.vendor not in SHARED_MESSAGE_IDS or all(r.custom_id for r in reports)
    if connection.vendor == "postgresql" and one_call_per_id:
        changed, unmatched = _apply_in_one_statement(account, reports, now)
    else:
        changed, unmatched = _apply_by_lookup(account, reports, now)
    queue_retries(changed)
    return len(changed), unmatched


def queue_retries(changed: list[tuple[CallRecord | ChangedCall, DeliveryReport]]) -> None:
    """The next attempt for each call a report just failed with an outcome its campaign retries."""
    # Single calls (no campaign) get no automatic retry: the caller decides whether to place another.
    retry_candidates = [
        (call, report.outcome)
        for call, report in changed
        if not report.answered and not call.is_test and call.campaign_id is not None
    ]
    if not retry_candidates:
        return
    campaigns = Campaign.objects.in_bulk({c.campaign_id for c, _o in retry_candidates})
    for call, outcome in retry_candidates:
        campaign = campaigns[call.campaign_id]
        if outcome in campaign.retryable_outcomes:
            queue_next_attempt(call, delay_minutes=campaign.retry_delay_minutes, campaign=campaign)


def queue_next_attempt(
    call: CallRecord, *, delay_minutes: int, campaign: Campaign | None = None, force: bool = False
) -> bool:
    """A new queued row for the recipient's next attempt (unique per attempt: never two)."""
    campaign = campaign or call.campaign
    if not force and call.attempt >= campaign.max_attempts:
        return False
    if campaign.state in (Campaign.State.CANCELLED,):
        return False
    attempt = call.attempt + 1
    with transaction.atomic():
        _obj, created = CallRecord.objects.get_or_create(
            recipient_id=call.recipient_id,
            attempt=attempt,
            defaults={
                "campaign_id": call.campaign_id,
                "mobile": call.mobile,
                "custom_id": f"R{call.recipient_id}A{attempt}",
                "not_before": timezone.now() + timedelta(minutes=delay_minutes),
            },
        )
    return created


def reports_to_json(reports: list[DeliveryReport]) -> bytes:
    return json.dumps([asdict(r) for r in reports], default=str, ensure_ascii=False).encode("utf-8")


def reports_from_json(body: bytes) -> list[DeliveryReport]:
    items = json.loads(body.decode("utf-8"))
    for item in items:
        item["reported_at"] = parse_datetime(item["reported_at"]) if item.get("reported_at") else None
    return [DeliveryReport(**item) for item in items]


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
            parsed = get_adapter(event.account).parse_callback(bytes(event.body), event.headers, event.query)
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
    report = single_receipt.single_report(parsed, event.vendor, SHARED_MESSAGE_IDS)
    if report is not None:
        try:
            changed = single_receipt.store_and_apply(
                event,
                report,
                values=_values(report, timezone.now()),
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


def store_replies(event: CallbackEvent, replies: list[InboundReply]) -> int:
    """Keep each reply once, linked to the latest call to that number on the account."""
    stored = 0
    for reply in replies:
        mobile = e164_mobile(reply.mobile) or reply.mobile
        call = (
            CallRecord.objects.filter(account=event.account, mobile=mobile)
            .order_by("-submitted_at", "-id")
            .only("id")
            .first()
        )
        _obj, created = InboundReplyRow.objects.get_or_create(
            event=event,
            mobile=mobile,
            content=reply.content[:2000],
            received_at=reply.received_at or event.received_at,
            defaults={"account": event.account, "call": call},
        )
        stored += created
    return stored


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


def apply_template_reviews(account: VendorAccount, parsed: ParsedCallback) -> int:
    changed = 0
    for review in parsed.template_reviews:
        changed += VoiceTemplate.objects.filter(account=account, vendor_template_id=review.template_id).update(
            review_state=VoiceTemplate.Review.APPROVED if review.approved else VoiceTemplate.Review.REJECTED,
            review_message=review.message[:2000],
        )
    return changed


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


def expire_overdue() -> int:
    """Submitted calls with no receipt within their campaign's report window become ``expired``."""
    now = timezone.now()
    expired = 0
    for campaign in (
        Campaign.objects.filter(calls__state=CallRecord.State.SUBMITTED).distinct().only("id", "report_window_minutes")
    ):
        cutoff = now - timedelta(minutes=campaign.report_window_minutes)
        expired += (
            CallRecord.objects.filter(campaign=campaign, state=CallRecord.State.SUBMITTED)
            .filter(Q(submitted_at__lt=cutoff))
            .update(state=CallRecord.State.EXPIRED, outcome="timeout", reported_at=now)
        )
    single_cutoff = now - timedelta(minutes=settings.SINGLE_CALL_REPORT_WINDOW_MINUTES)
    expired += CallRecord.objects.filter(
        campaign__isnull=True, state=CallRecord.State.SUBMITTED, submitted_at__lt=single_cutoff
    ).update(state=CallRecord.State.EXPIRED, outcome="timeout", reported_at=now)
    return expired
