"""Applying reports: match each delivery report to its call and move the call to its final state.

Applying is a conditional UPDATE from an open state to a final one, so a repeated or late report
changes nothing and a final state never moves back. A report that matches no call is counted as
unmatched, for its event to be kept for reconciliation.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from vendors.adapters import PER_REQUEST, DeliveryReport, InboundReply, ParsedCallback, adapter_class
from vendors.adapters.base import e164_mobile
from vendors.models import VendorAccount

from ..database import is_postgresql
from ..database.bulk import ChangedCall, update_calls, update_calls_by_key
from ..lifecycle import queue_next_attempt
from ..models import CallbackEvent, CallRecord, Campaign, VoiceTemplate
from ..models import InboundReply as InboundReplyRow

logger = logging.getLogger(__name__)


APPLICABLE_STATES = CallRecord.reportable_states()


def shares_message_ids(vendor: str) -> bool:
    """Whether the vendor's message id names a whole request (reports then match on id + mobile)."""
    return adapter_class(vendor).message_ids == PER_REQUEST


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


def report_values(report: DeliveryReport, now) -> dict:
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
        values = report_values(report, now)
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
            (key, {**report_values(report, now), "vendor_message_id": (report.vendor_message_id or "")[:100]})
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
        updates.append((call.id, {**report_values(report, now), "vendor_message_id": report.vendor_message_id[:100]}))
    changed = update_calls(updates, from_states=(CallRecord.State.SUBMITTING,))
    if changed:
        logger.info("%s receipt(s) reconciled with calls whose submit got no answer", len(changed))
    return [picked[cid] for cid in changed]


def apply_reports(account: VendorAccount, reports: list[DeliveryReport]) -> tuple[int, int]:
    """Apply reports; returns (applied, unmatched). Idempotent and order-proof."""
    now = timezone.now()
    one_call_per_id = not shares_message_ids(account.vendor) or all(r.custom_id for r in reports)
    if is_postgresql() and one_call_per_id:
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


def apply_template_reviews(account: VendorAccount, parsed: ParsedCallback) -> int:
    changed = 0
    for review in parsed.template_reviews:
        changed += VoiceTemplate.objects.filter(account=account, vendor_template_id=review.template_id).update(
            review_state=VoiceTemplate.Review.APPROVED if review.approved else VoiceTemplate.Review.REJECTED,
            review_message=review.message[:2000],
        )
    return changed
