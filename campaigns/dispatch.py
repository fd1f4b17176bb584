"""Dispatch: claim due calls, send them under the rate limits, record what the vendor said.

Rules kept here (docs/architecture.md, "A call's life"):
- rows are claimed queued → submitting by a conditional UPDATE of rows locked with
  ``SKIP LOCKED``, so two workers never take the same row;
- the vendor is called outside any transaction, and a sent row is never re-sent blindly: when
  the vendor may have received a request we could not read the answer of (read timeout, dropped
  connection), its rows stay ``submitting`` for reconciliation;
- one dispatcher per campaign at a time, by a lease claimed with a conditional UPDATE.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext

from vendors import ratelimit
from vendors import services as vendor_services
from vendors.adapters import NotSupported, OutboundCall, SubmitResult, VendorError, VendorUnavailable, get_adapter
from vendors.adapters.base import RESULT_NOT_SENT, RESULT_UNCERTAIN, unsent_code
from vendors.models import VendorAccount

from .database.bulk import update_calls
from .lifecycle import complete_if_done
from .models import CallRecord, Campaign, DoNotCallEntry, VoiceTemplate

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=45)  # renewed after every batch; a dead dispatcher blocks its campaign this long
SINGLE_CALL_THREADS = 16
UNAVAILABLE_BACKOFF = timedelta(seconds=30)  # the first wait of a call the vendor could not take
MAX_BACKOFF = timedelta(minutes=30)  # each later try waits twice as long, up to this
REQUEUE, UNCERTAIN = RESULT_NOT_SENT, RESULT_UNCERTAIN
# Codes meaning "the vendor may have the request": the call is reconciled, never re-sent blindly.
UNCERTAIN_CODES = (UNCERTAIN, "unavailable", "bad_response")
# raw_code of a call cancelled at dispatch because its number is on the list (the stable code); its
# raw_message is the reason in the words the import uses for the same number, translated.
DO_NOT_CALL = "do_not_call"


@dataclass
class DispatchSummary:
    submitted: int = 0
    rejected: int = 0
    requeued: int = 0
    uncertain: int = 0


def due_campaign_ids() -> list[int]:
    """Running campaigns with at least one call due now."""
    now = timezone.now()
    due = CallRecord.objects.filter(campaign=OuterRef("pk"), state=CallRecord.State.QUEUED, is_test=False).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )
    return list(Campaign.objects.filter(state=Campaign.State.RUNNING).filter(Exists(due)).values_list("id", flat=True))


def choose_account(campaign: Campaign) -> VendorAccount | None:
    """The primary account, or the fallback while the primary's circuit is open or it is inactive."""
    for account in (campaign.account, campaign.fallback_account):
        if account is not None and account.is_active and not account.circuit_is_open:
            return account
    return None


def claim(campaign: Campaign, account: VendorAccount, limit: int) -> list[CallRecord]:
    """queued → submitting for up to ``limit`` due rows; returns only the rows this call won."""
    now = timezone.now()
    with transaction.atomic():
        due = (
            CallRecord.objects.filter(campaign=campaign, state=CallRecord.State.QUEUED, is_test=False)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .order_by("id")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        rows = list(due.values_list("id", "mobile")[:limit])
        if not rows:
            return []
        ids = cancel_do_not_call(rows)
        if not ids:
            return []
        CallRecord.transition(
            CallRecord.objects.filter(id__in=ids), CallRecord.State.SUBMITTING, account=account, submitted_at=now
        )
    return list(
        CallRecord.objects.filter(id__in=ids, state=CallRecord.State.SUBMITTING, submitted_at=now)
        .select_related("recipient")
        .only("id", "mobile", "custom_id", "attempt", "submit_tries", "recipient__variables")
    )


def cancel_do_not_call(rows: list[tuple[int, str]]) -> list[int]:
    """The do-not-call list checked again as calls go out: an entry added after the import still
    blocks the call (cancelled, never dialled). Returns the ids that may be sent."""
    blocked = set(DoNotCallEntry.objects.filter(mobile__in={m for _id, m in rows}).values_list("mobile", flat=True))
    if not blocked:
        return [cid for cid, _m in rows]
    CallRecord.objects.filter(
        id__in=[cid for cid, mobile in rows if mobile in blocked], state=CallRecord.State.QUEUED
    ).update(state=CallRecord.State.CANCELLED, raw_code=DO_NOT_CALL, raw_message=gettext("on the do-not-call list"))
    return [cid for cid, mobile in rows if mobile not in blocked]


def outbound(campaign: Campaign, calls: list[CallRecord]) -> list[OutboundCall]:
    text = campaign.message_text
    template = VoiceTemplate(content=text)
    return [
        OutboundCall(c.custom_id, c.mobile, template.render(c.recipient.variables), list(c.recipient.variables))
        for c in calls
    ]


def send(adapter, product: str, calls: list[OutboundCall]) -> list[SubmitResult]:
    """Send through the adapter; calls that each take a request of their own are sent concurrently
    (one-number-a-request vendors, and products such as Emay's verification codes)."""
    alone = adapter.batch_size == 1 or all(adapter.request_key(c, product) is None for c in calls)
    if not alone or len(calls) == 1:
        return adapter.send(calls, product=product)
    with ThreadPoolExecutor(max_workers=min(SINGLE_CALL_THREADS, len(calls))) as pool:
        futures = [pool.submit(adapter.send, [c], product=product) for c in calls]
        results = []
        for call, future in zip(calls, futures, strict=True):
            try:
                results.extend(future.result())
            except (VendorError, VendorUnavailable, NotSupported) as exc:
                results.append(_failure_result(call, exc))
            except Exception as exc:  # an adapter bug after the request may have gone: reconcile, keep the others
                logger.exception("%s: sending one call failed unexpectedly", adapter.code)
                results.append(_failure_result(call, exc))
        return results


def _failure_result(call: OutboundCall, exc: Exception) -> SubmitResult:
    """A failed request as a per-call result, so the other calls of a batch still count.

    Only when the vendor surely does not have the call (connection refused, HTTP 5xx, a refusal
    it answered in words) is it queued again; an answer we could not read (``bad_response``: the
    vendor may have taken the call and answered in a way we do not understand), a read timeout,
    a dropped connection or an unexpected error leave it for reconciliation.
    """
    if isinstance(exc, (VendorError, VendorUnavailable)):
        code = unsent_code(exc)
    elif isinstance(exc, NotSupported):
        code = REQUEUE
    else:
        code = UNCERTAIN
    text = f"[{exc.code}] {exc.message}" if isinstance(exc, VendorError) else str(exc) or type(exc).__name__
    return SubmitResult(call.custom_id, call.mobile, False, error_code=code, error_message=text[:500])


def requeue_delay(tries: int) -> timedelta:
    """How long a call the vendor could not take waits before its ``tries``-th retry (30 s, 1 min, 2 min, …)."""
    return min(UNAVAILABLE_BACKOFF * 2 ** min(tries - 1, 16), MAX_BACKOFF)


def record_results(adapter, calls: list[CallRecord], results: list[SubmitResult], summary: DispatchSummary) -> None:
    """Write what the vendor said per call: submitted, refused (with the vendor's own code), or back to the queue."""
    by_custom = {r.custom_id: r for r in results}
    accepted, rejected, requeue, uncertain = [], [], [], []
    for call in calls:
        result = by_custom.get(call.custom_id)
        if result is None:
            uncertain.append((call.id, "no result from adapter"))
        elif result.accepted:
            accepted.append((call.id, result.vendor_message_id or "", result.batch_id or ""))
        elif result.error_code in UNCERTAIN_CODES:
            # the vendor may have the request (adapters say so with these codes): reconcile, never re-send
            uncertain.append((call.id, result.error_message or ""))
        elif result.error_code == REQUEUE:
            requeue.append((call.id, result.error_message or ""))
        elif adapter.map_outcome(result.error_code or "") == "rate_limited":  # not dialled: try again later
            requeue.append((call.id, result.error_message or ""))
        else:
            outcome = adapter.map_outcome(result.error_code or "")
            rejected.append(
                (
                    call.id,
                    outcome if outcome != "unknown" else "vendor_error",
                    result.error_code or "",
                    result.error_message or "",
                )
            )
    now = timezone.now()
    # Each write names only its new state; a receipt may already have finished a row: leave it.
    update_calls(
        [
            (cid, {"state": "submitted", "vendor_message_id": vmid, "batch_id": bid, "raw_message": ""})
            for cid, vmid, bid in accepted
        ],
        from_states=CallRecord.sources(CallRecord.State.SUBMITTED),
    )
    update_calls(
        [
            (
                cid,
                {
                    "state": "submit_failed",
                    "outcome": outcome,
                    "raw_code": code[:100],
                    "raw_message": msg,
                    "reported_at": now,
                },
            )
            for cid, outcome, code, msg in rejected
        ],
        from_states=CallRecord.sources(CallRecord.State.SUBMIT_FAILED),
    )
    if requeue:
        # Back to the queue, each try of a call waiting twice as long as its last.
        tries_before = {call.id: call.submit_tries for call in calls}
        rows = []
        for cid, msg in requeue:
            tries = tries_before[cid] + 1
            delay = requeue_delay(tries)
            rows.append(
                (
                    cid,
                    {
                        "state": "queued",
                        "not_before": now + delay,
                        "submitted_at": None,
                        "submit_tries": tries,
                        "raw_message": f"not sent (try {tries}, next in {int(delay.total_seconds())} s): {msg}"[:500],
                    },
                )
            )
        update_calls(rows, from_states=CallRecord.sources(CallRecord.State.QUEUED))
    update_calls(
        [(cid, {"raw_message": f"awaiting reconciliation: {msg}"[:500]}) for cid, msg in uncertain],
        from_states=(CallRecord.State.SUBMITTING,),  # a note, no move
    )
    summary.submitted += len(accepted)
    summary.rejected += len(rejected)
    summary.requeued += len(requeue)
    summary.uncertain += len(uncertain)


def hold_over_number_limits(
    adapter, account: VendorAccount, calls: list[CallRecord], summary: DispatchSummary
) -> list[CallRecord]:
    """Calls that would break the vendor's per-number limits go back to the queue until they may go.

    One query per batch counts each number's recent submits on this account.
    """
    if not adapter.per_number_limits or not calls:
        return calls
    now = timezone.now()
    longest = max(window for window, _n in adapter.per_number_limits)
    recent = (
        CallRecord.objects.filter(
            account=account,
            mobile__in=[c.mobile for c in calls],
            submitted_at__gt=now - timedelta(seconds=longest),
        )
        .exclude(id__in=[c.id for c in calls])
        .exclude(state=CallRecord.State.QUEUED)
    )
    times: dict[str, list] = {}
    for mobile, submitted_at in recent.values_list("mobile", "submitted_at"):
        times.setdefault(mobile, []).append(submitted_at)
    allowed = []
    for call in calls:
        wait = 0
        for window, most in adapter.per_number_limits:
            inside = sorted(t for t in times.get(call.mobile, []) if t > now - timedelta(seconds=window))
            if len(inside) >= most:
                wait = max(wait, (inside[len(inside) - most] + timedelta(seconds=window) - now).total_seconds())
        if wait > 0:
            CallRecord.transition(
                CallRecord.objects.filter(id=call.id),
                CallRecord.State.QUEUED,
                submitted_at=None,
                not_before=now + timedelta(seconds=wait + 1),
            )
            summary.requeued += 1
        else:
            allowed.append(call)
            times.setdefault(call.mobile, []).append(now)
    return allowed


def send_claimed(campaign: Campaign, account: VendorAccount, calls: list[CallRecord], summary: DispatchSummary) -> None:
    send_and_record(account, campaign.product, calls, lambda kept: outbound(campaign, kept), summary)


def send_and_record(account: VendorAccount, product: str, calls: list[CallRecord], build, summary) -> None:
    """The one send path of claimed rows, campaign or single: vendor limits, send, record what it said.

    ``build(calls)`` turns the rows still to send into ``OutboundCall``s.
    """
    adapter = get_adapter(account)
    calls = hold_over_number_limits(adapter, account, calls, summary)
    if not calls:
        return
    try:
        results = send(adapter, product, build(calls))
    except (VendorUnavailable, VendorError, NotSupported) as exc:  # the whole request failed
        results = [_failure_result(OutboundCall(c.custom_id, c.mobile, ""), exc) for c in calls]
        vendor_services.record_failure(account, results[0].error_message or "")
    except Exception as exc:  # an adapter bug: the request may have gone; reconcile, and say why
        logger.exception("%s: sending %s calls failed unexpectedly", adapter.code, len(calls))
        results = [_failure_result(OutboundCall(c.custom_id, c.mobile, ""), exc) for c in calls]
        vendor_services.record_failure(account, f"{type(exc).__name__}: {exc}")
    else:
        failed_requests = [r for r in results if r.error_code in (REQUEUE, UNCERTAIN)]
        if any(r.accepted for r in results):
            vendor_services.record_success(account)
        elif failed_requests:  # one-number-a-request vendors: each failed call was a failed request
            vendor_services.record_failure(
                account, failed_requests[0].error_message or "", failures=len(failed_requests)
            )
    record_results(adapter, calls, results, summary)


def dispatch_campaign(campaign_id: int, budget_seconds: float = 50.0) -> DispatchSummary:
    """Send a campaign's due calls for up to ``budget_seconds``, holding the campaign's lease."""
    summary = DispatchSummary()
    now = timezone.now()
    if (
        not Campaign.objects.filter(pk=campaign_id, state=Campaign.State.RUNNING)
        .filter(Q(dispatch_lease_until__isnull=True) | Q(dispatch_lease_until__lt=now))
        .update(dispatch_lease_until=now + LEASE)
    ):
        return summary
    deadline = time.monotonic() + budget_seconds
    try:
        while time.monotonic() < deadline:
            campaign = Campaign.objects.select_related("account", "fallback_account", "template").get(pk=campaign_id)
            if campaign.state != Campaign.State.RUNNING or not campaign.in_calling_hours():
                break
            account = choose_account(campaign)
            if account is None:
                break
            adapter_batch = max(get_adapter(account).batch_size, SINGLE_CALL_THREADS)
            rate = min(campaign.rate_limit_per_second, account.rate_limit_per_second)
            # After failed requests (and when a circuit half-opens) one call probes the vendor: a
            # vendor that is still slow then leaves one call to reconcile, not a whole batch.
            wanted = 1 if account.consecutive_failures else min(adapter_batch, rate)
            granted, wait = ratelimit.take(f"account:{account.pk}", wanted, account.rate_limit_per_second)
            if granted and campaign.rate_limit_per_second < account.rate_limit_per_second:
                granted, wait = ratelimit.take(f"campaign:{campaign.pk}", granted, campaign.rate_limit_per_second)
            if not granted:
                time.sleep(min(wait, 1.0))
                continue
            calls = claim(campaign, account, granted)
            if not calls:
                break
            send_claimed(campaign, account, calls, summary)
            Campaign.objects.filter(pk=campaign_id).update(dispatch_lease_until=timezone.now() + LEASE)
    finally:
        Campaign.objects.filter(pk=campaign_id).update(dispatch_lease_until=None)
    complete_if_done(campaign_id)
    return summary


def send_test_call(call_id: int) -> DispatchSummary:
    """Send one staff test call now (claimed queued → submitting like any other row)."""
    summary = DispatchSummary()
    call = CallRecord.objects.select_related("campaign__template", "campaign__account", "account", "recipient").get(
        pk=call_id
    )
    if not call.is_test or not CallRecord.transition(
        CallRecord.objects.filter(pk=call_id), CallRecord.State.SUBMITTING, submitted_at=timezone.now()
    ):
        return summary
    send_claimed(call.campaign, call.account, [call], summary)
    return summary


def reconcile_stuck(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Rows left in ``submitting`` (worker killed, answer lost) are never re-sent blindly.

    A receipt matched by custom id finishes them through the normal receipt path. Those still
    without one after the campaign's report window are marked submit_failed/timeout with a note
    for an operator, who can decide to retry them.
    """
    now = timezone.now()
    flagged = 0
    stuck = CallRecord.objects.filter(
        state=CallRecord.State.SUBMITTING, submitted_at__lt=now - older_than
    ).select_related("campaign")
    for call in stuck.iterator():
        window = call.campaign.report_window_minutes if call.campaign_id else settings.SINGLE_CALL_REPORT_WINDOW_MINUTES
        if call.submitted_at > now - timedelta(minutes=window):
            continue
        flagged += CallRecord.transition(
            CallRecord.objects.filter(id=call.id),
            CallRecord.State.SUBMIT_FAILED,
            outcome="timeout",
            reported_at=now,
            raw_message=gettext(
                "no answer from the vendor at submit and no receipt since; not re-sent"
                " — check with the vendor, then retry if needed"
            ),
        )
    return flagged
