"""A vendor down, slow, failing or answering garbage: nothing lost, nothing dialled twice.

Dispatch runs in this process against real PostgreSQL and fake vendors on loopback (real HTTP,
1 s read timeout from tests/settings.py). What each fault must leave behind:

- connection refused / HTTP 500: the vendor surely has nothing → the calls go back to the queue,
  each retry later than the last (``not_before`` grows), the reason on the row and the account;
- read timeout / dropped connection / an answer we cannot read: the vendor may have the call →
  the row stays ``submitting`` for reconciliation (a receipt by custom id, or an operator) and is
  never sent again;
- after consecutive failures the account's circuit opens (dispatch stops using it, the fallback
  account takes over where there is one), a half-open probe that fails opens it again, and the
  first success closes it.
"""

from collections import Counter
from datetime import timedelta

from django.utils import timezone

from campaigns import dispatch, lifecycle, services
from campaigns.models import CallRecord, Campaign
from campaigns.receipts import pulls
from tests.conftest import wait_for
from tests.drills.helpers import TEXT, closed_port_url, dialled, emay_account, ihuyi_account
from tests.factories import make_campaign
from tests.fakes.base import Reply
from tests.fakes.emay import FakeEmay
from tests.fakes.ihuyi import FakeIhuyi
from vendors.models import VendorAccount
from vendors.services import CIRCUIT_FAILURES

BATCH = dispatch.SINGLE_CALL_THREADS  # one-number vendors are sent this many at a time


def states(campaign) -> Counter:
    return Counter(CallRecord.objects.filter(campaign=campaign).values_list("state", flat=True))


def half_open(account) -> None:
    """The circuit's open period is over (the test does not wait two minutes)."""
    VendorAccount.objects.filter(pk=account.pk).update(circuit_open_until=timezone.now() - timedelta(seconds=1))


def backoff_elapsed(campaign) -> None:
    CallRecord.objects.filter(campaign=campaign, state="queued").update(
        not_before=timezone.now() - timedelta(seconds=1)
    )


def test_vendor_down_requeues_with_growing_backoff_then_the_circuit_closes_on_success(db, start_fake):
    fake = start_fake(FakeIhuyi())
    account = ihuyi_account(fake, base_url=closed_port_url())
    campaign = make_campaign(recipients=20, account=account, content=TEXT)
    services.launch(campaign)

    started = timezone.now()
    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    assert (summary.submitted, summary.requeued, summary.uncertain) == (0, BATCH, 0)
    assert states(campaign) == {"queued": 20}, "refused connections must requeue: nothing lost, nothing stuck"
    account.refresh_from_db()
    assert account.circuit_is_open, "16 refused connections in a row open the circuit"
    assert "unreachable" in account.last_error and account.last_error_at >= started
    tried = list(CallRecord.objects.filter(campaign=campaign).exclude(raw_message=""))
    assert len(tried) == BATCH
    for call in tried:  # the operator sees why, and when it will be tried again
        assert "unreachable" in call.raw_message and "try 1" in call.raw_message
        assert call.not_before >= started + dispatch.UNAVAILABLE_BACKOFF - timedelta(seconds=1)
        assert call.submitted_at is None
    first_wait = max(c.not_before for c in tried) - started

    # While the circuit is open nothing goes to the vendor, even once the backoff is over.
    backoff_elapsed(campaign)
    assert dispatch.dispatch_campaign(campaign.pk, budget_seconds=2).requeued == 0
    assert states(campaign) == {"queued": 20}

    # Half-open, still down: one probe, which fails: the circuit opens again, that call waits longer.
    half_open(account)
    probe_started = timezone.now()
    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=2)
    assert (summary.submitted, summary.requeued) == (0, 1), "a half-open circuit is probed with one call"
    account.refresh_from_db()
    assert account.circuit_is_open
    probe = CallRecord.objects.get(campaign=campaign, raw_message__contains="try 2")
    assert probe.not_before - probe_started > first_wait, "retries back off: the next try is further away"
    assert states(campaign) == {"queued": 20}

    # The vendor is back: the half-open probe succeeds, the circuit closes, everything goes once.
    VendorAccount.objects.filter(pk=account.pk).update(base_url=fake.url)
    half_open(account)
    backoff_elapsed(campaign)
    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=10)
    assert summary.submitted == 20
    account.refresh_from_db()
    assert (account.consecutive_failures, account.circuit_open_until) == (0, None)
    assert states(campaign) == {"submitted": 20}
    assert not CallRecord.objects.filter(campaign=campaign).exclude(raw_message="").exists()  # no stale "not sent"
    counts = dialled(fake)
    assert len(counts) == 20 and set(counts.values()) == {1}


def test_read_timeouts_leave_calls_for_reconciliation_and_never_resend_them(db, start_fake):
    fake = start_fake(FakeIhuyi())
    account = ihuyi_account(fake)
    campaign = make_campaign(recipients=20, account=account, content=TEXT, report_window_minutes=60)
    services.launch(campaign)
    fake.inject(*["timeout"] * BATCH)  # answers after 3 s; the client gives up after 1 s

    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    assert (summary.submitted, summary.requeued, summary.uncertain) == (0, 0, BATCH)
    account.refresh_from_db()
    assert account.circuit_is_open and "timed out" in account.last_error
    stuck = CallRecord.objects.filter(campaign=campaign, state="submitting")
    assert stuck.count() == BATCH
    assert all(
        m.startswith("awaiting reconciliation") and "timed out" in m
        for m in stuck.values_list("raw_message", flat=True)
    )
    stuck_ids = set(stuck.values_list("id", flat=True))

    half_open(account)
    for _ in range(3):  # later dispatch runs never pick the uncertain rows again
        dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    assert states(campaign) == {"submitted": 20 - BATCH, "submitting": BATCH}
    assert len(fake.requests) == 20, "each call was requested once: the timed-out ones were not re-sent"
    assert (
        set(CallRecord.objects.filter(campaign=campaign, state="submitting").values_list("id", flat=True)) == stuck_ids
    )

    # Not reconciled before the report window ends: kept; after it, flagged for an operator, not re-sent.
    assert dispatch.reconcile_stuck(older_than=timedelta(0)) == 0
    Campaign.objects.filter(pk=campaign.pk).update(report_window_minutes=0)
    assert dispatch.reconcile_stuck(older_than=timedelta(0)) == BATCH
    flagged = CallRecord.objects.filter(id__in=stuck_ids)
    assert set(flagged.values_list("state", "outcome")) == {("submit_failed", "timeout")}
    assert all("not re-sent" in m for m in flagged.values_list("raw_message", flat=True))
    assert len(fake.requests) == 20


def test_slow_vendor_that_accepted_is_reconciled_by_its_receipt(db, start_fake):
    """The vendor took the batch but answered after our read timeout: its receipts finish the rows."""
    fake = start_fake(FakeEmay())
    account = emay_account(fake, pull_reports=True)
    campaign = make_campaign(recipients=40, account=account, content=TEXT)
    services.launch(campaign)
    fake.delay = 1.5

    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=3)
    assert summary.uncertain == 40 and summary.submitted == 0
    assert wait_for(lambda: len(fake.submitted) == 40, timeout=5)  # the vendor took them all, late
    assert states(campaign) == {"submitting": 40}

    fake.delay = 0
    VendorAccount.objects.filter(pk=account.pk).update(circuit_open_until=None, consecutive_failures=0)
    dispatch.dispatch_campaign(campaign.pk, budget_seconds=3)
    assert len(fake.submitted) == 40, "rows awaiting reconciliation are never re-sent"
    assert pulls.pull_account(account) == 40
    assert states(campaign) == {"answered": 40}
    assert lifecycle.complete_if_done(campaign.pk)
    assert set(dialled(fake).values()) == {1}


def test_ihuyi_call_accepted_after_our_timeout_is_reconciled_by_its_pushed_receipt(db, client, start_fake):
    """ihuyi has no custom id: the receipt of a call whose submit answer we never read names only the
    vendor's voiceid and the number; it is matched to the one unanswered submit for that number."""
    fake = start_fake(FakeIhuyi())
    account = ihuyi_account(fake)
    campaign = make_campaign(recipients=BATCH, account=account, content=TEXT)
    services.launch(campaign)
    fake.delay = 1.5  # accepted, but answered after the 1 s read timeout

    assert dispatch.dispatch_campaign(campaign.pk, budget_seconds=3).uncertain == BATCH
    assert wait_for(lambda: len(fake.submitted) == BATCH, timeout=5)
    fake.delay = 0
    url = f"/api/callbacks/ihuyi/{account.callback_token}/"
    for entry in fake.submitted * 2:  # every receipt twice
        body, _headers, _query = fake.push_body(entry["vendor_message_id"], "2", talktime=12)
        response = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
        assert response.content == b"success"
    calls = CallRecord.objects.filter(campaign=campaign)
    assert states(campaign) == {"answered": BATCH}
    assert {(c.mobile, c.vendor_message_id) for c in calls} == {
        ("+86" + e["mobile"], e["vendor_message_id"]) for e in fake.submitted
    }
    assert set(calls.values_list("talk_seconds", flat=True)) == {12}
    assert len(fake.requests) == BATCH  # never re-sent


def test_http_500_opens_the_circuit_and_the_fallback_takes_every_call_once(db, start_fake):
    primary_fake, fallback_fake = start_fake(FakeIhuyi()), start_fake(FakeEmay(auto_report=False))
    primary, fallback = ihuyi_account(primary_fake), emay_account(fallback_fake)
    campaign = make_campaign(recipients=60, account=primary, fallback_account=fallback, content=TEXT)
    services.launch(campaign)
    primary_fake.inject(*["500"] * BATCH)

    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    primary.refresh_from_db()
    assert primary.circuit_is_open and "HTTP 500" in primary.last_error
    assert (summary.requeued, summary.submitted) == (BATCH, 60 - BATCH), "the fallback takes over at once"
    requeued = CallRecord.objects.filter(campaign=campaign, state="queued")
    assert requeued.count() == BATCH and all("HTTP 500" in m for m in requeued.values_list("raw_message", flat=True))

    backoff_elapsed(campaign)  # the primary's circuit is still open: the fallback sends the rest
    dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    assert states(campaign) == {"submitted": 60}
    assert not primary_fake.submitted
    counts = dialled(primary_fake, fallback_fake)
    assert len(counts) == 60 and set(counts.values()) == {1}
    assert CallRecord.objects.filter(campaign=campaign, account=fallback).count() == 60


def test_garbage_answers_are_never_resent_and_the_operator_sees_them(db, start_fake):
    fake = start_fake(FakeIhuyi())
    account = ihuyi_account(fake)
    campaign = make_campaign(recipients=20, account=account, content=TEXT)
    services.launch(campaign)
    fake.inject(*["garbage"] * BATCH)  # an HTML "502 Bad Gateway" page with status 200

    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    assert (summary.uncertain, summary.requeued, summary.submitted) == (BATCH, 0, 0)
    account.refresh_from_db()
    # the account says what went wrong without quoting the answer (the call records keep it raw)
    assert account.circuit_is_open and account.last_error.startswith("[bad_response]")
    assert "Bad Gateway" not in account.last_error
    stuck = CallRecord.objects.filter(campaign=campaign, state="submitting")
    assert stuck.count() == BATCH
    assert all(
        "awaiting reconciliation" in m and "502 Bad Gateway" in m for m in stuck.values_list("raw_message", flat=True)
    )
    half_open(account)
    dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    assert states(campaign) == {"submitted": 20 - BATCH, "submitting": BATCH}
    assert len(fake.requests) == 20


class AcceptsThenGarbles(FakeEmay):
    """Takes the calls, then a proxy in front of it mangles the answer."""

    garble = 0

    def handle(self, request):
        reply = super().handle(request)
        if self.garble and request.path == "/voice/send":
            self.garble -= 1
            return Reply('{"code":"SUCCESS","data":', 200, "application/json")  # truncated
        return reply


def test_an_unreadable_answer_to_an_accepted_batch_is_reconciled_not_redialled(db, start_fake):
    fake = start_fake(AcceptsThenGarbles())
    account = emay_account(fake, pull_reports=True)
    campaign = make_campaign(recipients=30, account=account, content=TEXT)
    services.launch(campaign)
    fake.garble = 1

    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=3)
    assert summary.uncertain == 30
    account.refresh_from_db()
    assert "bad_response" in account.last_error
    for _ in range(2):
        half_open(account)
        backoff_elapsed(campaign)
        dispatch.dispatch_campaign(campaign.pk, budget_seconds=3)
    assert len(fake.submitted) == 30, "the vendor took them once; an unreadable answer must not cause a second dial"
    assert pulls.pull_account(account) == 30
    assert states(campaign) == {"answered": 30}
    assert set(dialled(fake).values()) == {1}


def test_dropped_connections_are_uncertain_and_refusals_count_toward_the_circuit(db, start_fake):
    fake = start_fake(FakeIhuyi())
    account = ihuyi_account(fake)
    campaign = make_campaign(recipients=40, account=account, content=TEXT)
    services.launch(campaign)
    fake.inject(*["drop"] * 4)  # 4 of the first 16 requests: the others are accepted

    summary = dispatch.dispatch_campaign(campaign.pk, budget_seconds=5)
    assert (summary.submitted, summary.uncertain) == (36, 4)
    account.refresh_from_db()
    assert account.consecutive_failures == 0 and not account.circuit_is_open  # the accepted ones count as success
    dropped = CallRecord.objects.filter(campaign=campaign, state="submitting").values_list("raw_message", flat=True)
    assert all(m.startswith("awaiting reconciliation") and "unreachable" in m for m in dropped)
    assert len(fake.requests) == 40 and len(fake.submitted) == 36

    # Fewer failures than the threshold leave the circuit closed; reaching it opens it.
    other = make_campaign(account=account, content=TEXT)
    services.add_recipients(other, [{"mobile": f"1390013{i:04d}"} for i in range(CIRCUIT_FAILURES - 1)])
    services.launch(other)
    fake.inject(*["500"] * (CIRCUIT_FAILURES - 1))
    dispatch.dispatch_campaign(other.pk, budget_seconds=3)
    account.refresh_from_db()
    assert account.consecutive_failures == CIRCUIT_FAILURES - 1 and not account.circuit_is_open
