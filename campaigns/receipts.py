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

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from vendors.adapters import DeliveryReport, InboundReply, NotSupported, ParsedCallback, get_adapter
from vendors.adapters.base import e164_mobile
from vendors.models import VendorAccount

from .models import CallbackEvent, CallRecord, Campaign, VoiceTemplate
from .models import InboundReply as InboundReplyRow

logger = logging.getLogger(__name__)

APPLICABLE_STATES = ("submitting", "submitted", "expired")


def record_event(account: VendorAccount | None, vendor: str, body: bytes, *, source: str = "push", headers=None, query=None, remote_addr=None) -> CallbackEvent:
    return CallbackEvent.objects.create(
        account=account, vendor=vendor, body=body, source=source, headers=headers or {}, query=query or {}, remote_addr=remote_addr,
    )


def _find_calls(account: VendorAccount, reports: list[DeliveryReport]) -> dict[int, CallRecord]:
    """Report index → call, by our custom id first, else by the vendor's message id (+ mobile)."""
    custom_ids = [r.custom_id for r in reports if r.custom_id]
    vendor_ids = [r.vendor_message_id for r in reports if r.vendor_message_id and not r.custom_id]
    by_custom, by_vendor = {}, {}
    fields = ("id", "state", "campaign_id", "recipient_id", "attempt", "custom_id", "vendor_message_id", "mobile", "is_test")
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


def apply_reports(account: VendorAccount, reports: list[DeliveryReport]) -> tuple[int, int]:
    """Apply reports; returns (applied, unmatched). Idempotent and order-proof."""
    calls = _find_calls(account, reports)
    applied = 0
    retry_candidates = []
    now = timezone.now()
    for index, report in enumerate(reports):
        call = calls.get(index)
        if call is None:
            continue
        state = CallRecord.State.ANSWERED if report.answered else CallRecord.State.FAILED
        changed = CallRecord.objects.filter(id=call.id, state__in=APPLICABLE_STATES).update(
            state=state,
            outcome=report.outcome,
            raw_code=report.raw_code[:100],
            raw_message=report.raw_message[:2000],
            talk_seconds=report.talk_seconds,
            billed_seconds=report.billed_seconds,
            billed_units=report.billed_units,
            key_pressed=(report.key_pressed or "")[:20],
            reported_at=report.reported_at or now,
            **({"vendor_message_id": report.vendor_message_id[:100]} if report.vendor_message_id and not call.vendor_message_id else {}),
        )
        if changed:
            applied += 1
            if not report.answered and not call.is_test:
                retry_candidates.append((call, report.outcome))
    if retry_candidates:
        campaigns = Campaign.objects.in_bulk({c.campaign_id for c, _o in retry_candidates})
        for call, outcome in retry_candidates:
            campaign = campaigns[call.campaign_id]
            if outcome in campaign.retryable_outcomes:
                queue_next_attempt(call, delay_minutes=campaign.retry_delay_minutes, campaign=campaign)
    return applied, len(reports) - len(calls)


def queue_next_attempt(call: CallRecord, *, delay_minutes: int, campaign: Campaign | None = None, force: bool = False) -> bool:
    """A new queued row for the recipient's next attempt (unique per attempt: never two)."""
    campaign = campaign or call.campaign
    if not force and call.attempt >= campaign.max_attempts:
        return False
    if campaign.state in (Campaign.State.CANCELLED,):
        return False
    attempt = call.attempt + 1
    with transaction.atomic():
        _obj, created = CallRecord.objects.get_or_create(
            recipient_id=call.recipient_id, attempt=attempt,
            defaults={
                "campaign_id": call.campaign_id, "mobile": call.mobile, "custom_id": f"R{call.recipient_id}A{attempt}",
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
        return _failed(event, exc)
    return apply_parsed(event, parsed)


def apply_parsed(event: CallbackEvent, parsed: ParsedCallback) -> CallbackEvent:
    """Apply what one stored event says, and record how it went on the event."""
    try:
        _applied, unmatched = apply_reports(event.account, parsed.reports)
        apply_template_reviews(event.account, parsed)
        store_replies(event, parsed.replies)
    except Exception as exc:
        return _failed(event, exc)
    event.state = CallbackEvent.State.UNMATCHED if unmatched else CallbackEvent.State.APPLIED
    event.reports_count, event.processed_at, event.error = len(parsed.reports), timezone.now(), ""
    CallbackEvent.objects.filter(pk=event.pk).update(
        state=event.state, error="", reports_count=event.reports_count, processed_at=event.processed_at
    )
    return event


def _failed(event: CallbackEvent, exc: Exception) -> CallbackEvent:
    """Keep the event, marked failed with the reason, for an operator to re-process after a fix."""
    logger.exception("callback event %s failed to apply", event.pk)
    event.state, event.error, event.processed_at = CallbackEvent.State.FAILED, f"{type(exc).__name__}: {exc}"[:2000], timezone.now()
    CallbackEvent.objects.filter(pk=event.pk).update(state=event.state, error=event.error, processed_at=event.processed_at)
    return event


def store_replies(event: CallbackEvent, replies: list[InboundReply]) -> int:
    """Keep each reply once, linked to the latest call to that number on the account."""
    stored = 0
    for reply in replies:
        mobile = e164_mobile(reply.mobile) or reply.mobile
        call = (
            CallRecord.objects.filter(account=event.account, mobile=mobile)
            .order_by("-submitted_at", "-id").only("id").first()
        )
        _obj, created = InboundReplyRow.objects.get_or_create(
            event=event, mobile=mobile, content=reply.content[:2000], received_at=reply.received_at or event.received_at,
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
    process_event(event.pk)
    return len(reports)


def expire_overdue() -> int:
    """Submitted calls with no receipt within their campaign's report window become ``expired``."""
    now = timezone.now()
    expired = 0
    for campaign in Campaign.objects.filter(calls__state=CallRecord.State.SUBMITTED).distinct().only("id", "report_window_minutes"):
        cutoff = now - timedelta(minutes=campaign.report_window_minutes)
        expired += CallRecord.objects.filter(campaign=campaign, state=CallRecord.State.SUBMITTED).filter(
            Q(submitted_at__lt=cutoff)
        ).update(state=CallRecord.State.EXPIRED, outcome="timeout", reported_at=now)
    return expired
