"""Single calls out: a worker drains every due single call in batches, by dispatch's one send path.

Accepting a call wakes a drain when its transaction commits (``should_wake``): a task is published
only if no drain is already pending (a flag in the shared cache), so a burst of calls costs one task
and one claim per batch instead of one of each per call. The drain holds the flag while it runs and
claims once more after letting go of it, so a call committed while the flag was held is seen by one of
its claims, and one committed after publishes a new drain. The beat's tick is the safety net for a
lost wake.

Each batch is claimed queued → submitting by one statement (``database.claim``; ``SKIP LOCKED``:
concurrent drains never take the same row), then checked per account (active, circuit, rate limit; whatever cannot go
now is put back, never sent) and per number (the windows again, counting the calls already dialled: one query
a batch), then sent and recorded by ``dispatch.send_and_record``, as campaign calls are.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from vendors import ratelimit
from vendors.adapters import OutboundCall
from vendors.models import VendorAccount

from . import frequency
from .database.claim import claim_due_single_calls
from .dispatch import UNAVAILABLE_BACKOFF, DispatchSummary, send_and_record
from .models import CallRecord

logger = logging.getLogger(__name__)

BATCH = 32  # attempts claimed per statement (and sent at once, 16 requests at a time)
DRAIN_SECONDS = 20.0  # a drain hands over to a new task after this, so no worker is held for long
LINGER_SECONDS = 1.0  # a worker's drain, idle, keeps looking this long before it ends
POLL_SECONDS = 0.02  # how often a lingering drain looks
MAX_TOKEN_WAIT = 2.0  # seconds a batch waits for its account's rate limit before calls go back
WAKE_KEY = "campaigns.single_calls.drain_pending"
WAKE_SECONDS = 5  # a wake whose task was lost frees itself after this
LEASE_SECONDS = 2  # a running drain renews the flag for this long (plus its linger) before each send
# The web wakes a drain for each call it commits; the beat picks up those still queued after this.
GRACE = timedelta(seconds=10)
TICK_BATCH = 1000


@dataclass
class DrainSummary(DispatchSummary):
    more_due: bool = False  # the drain stopped at its time budget with calls still due


def should_wake() -> bool:
    """True if the caller should publish a drain: none is pending (or the cache cannot tell)."""
    try:
        return bool(cache.add(WAKE_KEY, 1, WAKE_SECONDS))
    except Exception:  # no shared cache: a drain too many is harmless, a missed one is not
        logger.warning("single-call wake flag unavailable; publishing a drain", exc_info=True)
        return True


def wake_not_sent() -> None:
    """The drain could not be published: let the next accepted call try again."""
    _let_go()


def due_ids(now=None) -> list[int]:
    """Single-call attempts still queued past their grace, or due again: the beat's safety net."""
    now = now or timezone.now()
    due = CallRecord.objects.filter(state=CallRecord.State.QUEUED, campaign__isnull=True).filter(
        Q(not_before__isnull=True, created_at__lt=now - GRACE) | Q(not_before__lte=now)
    )
    return list(due.order_by("id").values_list("id", flat=True)[:TICK_BATCH])


def drain(budget_seconds: float = DRAIN_SECONDS, linger_seconds: float = 0.0) -> DrainSummary:
    """Claim and send due single calls, a batch at a time, until none is due or the budget is spent.

    The drain holds the wake flag (marked with its own token) while it runs, so calls committed
    meanwhile publish no drain of their own: it claims them itself, in bigger batches. Before each
    send it renews the flag for ``LEASE_SECONDS`` (and the linger) only: a send held up by a slow
    vendor lets a new drain start for the calls behind it. When a newer drain has taken the flag this
    one ends, so a steady stream of calls is sent by one drain, not by every drain it ever woke.
    With ``linger_seconds`` an idle drain keeps looking that long (every ``POLL_SECONDS``). It lets go
    of the flag before it ends and then claims once more: a caller that saw the flag held committed
    before it was let go, so that last claim sees its call.
    """
    token = uuid.uuid4().hex
    lease = LEASE_SECONDS + math.ceil(linger_seconds)  # a send, and the idle looking after it
    _hold(token, lease)  # the waker's flag (or, from the beat or a hand-over, a new one) is now this drain's
    holding = True
    summary = DrainSummary()
    now = time.monotonic()
    deadline, idle_until = now + budget_seconds, now + linger_seconds
    while True:
        if holding and _taken_over(token):
            return summary  # the newer drain claims whatever this one would have
        calls = claim_due(BATCH)
        if calls:
            if holding:
                _hold(token, lease)
            send_batch(calls, summary)
            idle_until = time.monotonic() + linger_seconds
        elif time.monotonic() >= idle_until:
            if not holding:
                return summary
            holding = _let_go(token)
            continue  # one more claim after letting go
        else:
            if not holding:
                if not should_wake():
                    return summary  # another drain was woken meanwhile: it goes on
                _hold(token, lease)
            holding = True
            time.sleep(POLL_SECONDS)
        if time.monotonic() >= deadline:
            if holding:
                _let_go(token)
            summary.more_due = True  # a fresh task goes on (it ends at once if nothing is due)
            return summary


def _hold(token: str, seconds: int) -> None:
    try:
        cache.set(WAKE_KEY, token, seconds)
    except Exception:  # no shared cache: every accepted call publishes a drain (should_wake), none is missed
        logger.warning("single-call wake flag not set", exc_info=True)


def _taken_over(token: str) -> bool:
    """True if another drain has since marked the flag as its own (a web wake's plain 1 is not one)."""
    try:
        holder = cache.get(WAKE_KEY)
    except Exception:
        return False
    return isinstance(holder, str) and holder != token


def _let_go(token: str | None = None) -> bool:
    """Clear the flag, unless ``token`` is given and another drain holds it now."""
    try:
        if token is None or not _taken_over(token):
            cache.delete(WAKE_KEY)
    except Exception:
        logger.warning("single-call wake flag not cleared; new calls wait for the next drain", exc_info=True)
    return False


def claim_due(limit: int) -> list[CallRecord]:
    """queued → submitting for up to ``limit`` due attempts; returns only the rows this drain won."""
    now = timezone.now()
    ids = claim_due_single_calls(limit, now)
    if not ids:
        return []
    return list(
        CallRecord.objects.filter(id__in=ids, state=CallRecord.State.SUBMITTING, submitted_at=now)
        .select_related("single_call__template", "single_call__account")
        .order_by("id")
    )


def send_batch(calls: list[CallRecord], summary: DispatchSummary) -> None:
    """Send claimed attempts: by account, those its state and rate allow, within the number limits."""
    by_account: dict[int, list[CallRecord]] = defaultdict(list)
    for call in calls:
        by_account[call.single_call.account_id].append(call)
    for group in by_account.values():
        account = group[0].single_call.account
        sendable = _admitted_by_account(account, group, summary)
        sendable = _within_number_limits(sendable, summary)
        by_product: dict[str, list[CallRecord]] = defaultdict(list)
        for call in sendable:
            by_product[call.single_call.product].append(call)
        for product, same in by_product.items():
            send_and_record(account, product, same, _outbound, summary)


def _admitted_by_account(account: VendorAccount, calls: list[CallRecord], summary: DispatchSummary) -> list:
    """The calls the account may send now; the others go back to the queue, not sent."""
    now = timezone.now()
    if not account.is_active or account.circuit_is_open:
        # The beat tries again when the circuit may have closed (never fails over on its own).
        _put_back(
            calls,
            max(account.circuit_open_until or now, now) + UNAVAILABLE_BACKOFF,
            "not sent: the vendor account is inactive or its circuit is open",
            summary,
        )
        return []
    # After failed requests (and when a circuit half-opens) one call probes the vendor.
    wanted = 1 if account.consecutive_failures else len(calls)
    granted = _take_tokens(account, wanted)
    if granted < len(calls):
        _put_back(calls[granted:], timezone.now() + timedelta(seconds=1), "", summary)
    return calls[:granted]


def _take_tokens(account: VendorAccount, wanted: int) -> int:
    """Up to ``wanted`` tokens of the account's shared rate limit, waiting up to ``MAX_TOKEN_WAIT``."""
    deadline = time.monotonic() + MAX_TOKEN_WAIT
    got = 0
    while True:
        granted, wait = ratelimit.take(f"account:{account.pk}", wanted - got, account.rate_limit_per_second)
        got += granted
        if got >= wanted or time.monotonic() + wait > deadline:
            return got
        time.sleep(wait)


def _within_number_limits(calls: list[CallRecord], summary: DispatchSummary) -> list[CallRecord]:
    """The per-number windows again at claim, in the order the calls were accepted.

    Others count if they were dialled; of this batch, those allowed before this one count too (as if
    claimed one by one). One query for the batch's numbers.
    """
    windows = settings.SINGLE_CALL_NUMBER_LIMITS
    if not windows or not calls:
        return calls
    now = timezone.now()
    dialled = frequency.dialled_single_calls(
        {c.mobile for c in calls}, now, exclude_calls={c.single_call_id for c in calls}
    )
    allowed = []
    for call in calls:
        refusal = frequency.first_refusal("number", windows, dialled[call.mobile], now)
        if refusal is None:
            allowed.append(call)
            dialled[call.mobile].append(call.single_call.created_at)
            continue
        call.move_to(
            CallRecord.State.SUBMIT_FAILED,
            outcome="rate_limited",
            raw_code="voiceops:frequency_limit",
            raw_message=f"not sent: {refusal.window_name} reached for this number"[:500],
            reported_at=now,
        )
        summary.rejected += 1
    return allowed


def _put_back(calls: list[CallRecord], not_before, message: str, summary: DispatchSummary) -> None:
    fields = {"not_before": not_before, "submitted_at": None}
    if message:
        fields["raw_message"] = message
    summary.requeued += CallRecord.transition(
        CallRecord.objects.filter(id__in=[c.id for c in calls]), CallRecord.State.QUEUED, **fields
    )


def _outbound(calls: list[CallRecord]) -> list[OutboundCall]:
    return [
        OutboundCall(c.custom_id, c.mobile, c.single_call.outbound_text(), list(c.single_call.variables)) for c in calls
    ]
