"""Single calls out: drains claim due attempts in batches and send each once, by account and product."""

import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from campaigns import single_dispatch, tasks
from campaigns.models import CallRecord, CallRoute, SingleCall
from tests.calls.helpers import integrator
from tests.conftest import wait_for
from tests.factories import make_account
from tests.fakes.emay import FakeEmay

pytestmark = pytest.mark.django_db


def accept(client, count, start=0, **extra) -> list[int]:
    """Accept ``count`` verify calls to different numbers, left queued (their wakes not run)."""
    ids = []
    for n in range(start, start + count):
        body = {"mobile": f"1380013{n:04d}", "product": "verify", "code": "1234", **extra}
        response = client.post("/api/calls/", body, format="json")
        assert response.status_code == 201, response.json()
        ids.append(response.json()["id"])
    return ids


def attempts(ids) -> list[CallRecord]:
    return list(CallRecord.objects.filter(single_call_id__in=ids).order_by("id"))


@pytest.fixture
def route():
    account = make_account()
    CallRoute.objects.create(product="verify", account=account)
    return account


def test_a_burst_of_calls_wakes_one_drain_until_it_ends(route, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False) as wakes:
        ids = accept(client, 3)
    assert single_dispatch.should_wake() is True  # the first wake publishes a drain
    assert [single_dispatch.should_wake() for _ in wakes] == [False, False, False]  # the rest need none
    summary = single_dispatch.drain()
    assert summary.submitted == 3 and not summary.more_due
    assert {a.state for a in attempts(ids)} == {"submitted"}
    assert single_dispatch.should_wake() is True  # a call committed after the drain ended wakes another


def test_a_call_accepted_while_a_drain_sends_is_sent_by_that_drain(
    route, django_capture_on_commit_callbacks, monkeypatch
):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        first = accept(client, 1)
    single_dispatch.should_wake()  # as the web does before publishing the drain
    seen, later = [], []
    send_batch = single_dispatch.send_batch

    def send_while_a_call_comes(calls, summary):
        if not later:
            seen.append(single_dispatch.should_wake())  # what the web asks on that call's commit
            with django_capture_on_commit_callbacks(execute=False):
                later.extend(accept(client, 1, start=1))
        send_batch(calls, summary)

    monkeypatch.setattr(single_dispatch, "send_batch", send_while_a_call_comes)
    summary = single_dispatch.drain()
    assert seen == [False]  # the drain held the flag during its send: the new call published nothing
    assert summary.submitted == 2  # the same drain claimed it after the send
    assert {a.state for a in attempts(first + later)} == {"submitted"}
    assert cache.get(single_dispatch.WAKE_KEY) is None


def test_a_drain_sends_every_due_call_once_by_account_and_product(django_capture_on_commit_callbacks):
    verify_account, notify_account = make_account(), make_account()
    CallRoute.objects.create(product="verify", account=verify_account)
    CallRoute.objects.create(product="notify", account=notify_account)
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        verify_ids = accept(client, single_dispatch.BATCH + 5)  # more than one batch
        notify = client.post(
            "/api/calls/", {"mobile": "13900139000", "product": "notify", "content": "您的订单已发货"}, format="json"
        )
    assert single_dispatch.drain().submitted == single_dispatch.BATCH + 6
    assert {a.state for a in attempts(verify_ids)} == {"submitted"}
    assert {a.account_id for a in attempts(verify_ids)} == {verify_account.pk}
    [notified] = attempts([notify.json()["id"]])
    assert notified.state == "submitted" and notified.account_id == notify_account.pk
    assert single_dispatch.drain().submitted == 0  # nothing is sent twice


def test_an_account_that_cannot_send_puts_its_calls_back_and_the_others_still_go(
    route, django_capture_on_commit_callbacks
):
    other = make_account()
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        blocked = accept(client, 2)
        sent = accept(client, 2, start=10, account=other.pk)
    route.circuit_open_until = timezone.now() + timedelta(minutes=1)
    route.save(update_fields=["circuit_open_until"])
    summary = single_dispatch.drain()
    assert (summary.submitted, summary.requeued) == (2, 2)
    assert {a.state for a in attempts(sent)} == {"submitted"}
    for attempt in attempts(blocked):
        assert attempt.state == "queued" and attempt.submitted_at is None
        assert attempt.not_before > route.circuit_open_until  # not before the circuit may close
        assert "circuit is open" in attempt.raw_message
    assert single_dispatch.drain().submitted == 0  # not due yet: nothing is sent


def test_after_a_failed_request_one_call_probes_the_vendor(route, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(client, 4)
    route.consecutive_failures = 1
    route.save(update_fields=["consecutive_failures"])
    summary = single_dispatch.drain()
    assert (summary.submitted, summary.requeued) == (1, 3)
    assert [a.state for a in attempts(ids)] == ["submitted", "queued", "queued", "queued"]
    CallRecord.objects.filter(state="queued").update(not_before=timezone.now())
    route.refresh_from_db()
    assert route.consecutive_failures == 0  # the probe went through: the rest go together
    assert single_dispatch.drain().submitted == 3


def test_calls_beyond_the_accounts_rate_wait_in_the_queue(route, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(client, 6)
    route.rate_limit_per_second = 1
    route.save(update_fields=["rate_limit_per_second"])
    summary = single_dispatch.drain()
    states = [a.state for a in attempts(ids)]
    # At 1/s a batch waits at most MAX_TOKEN_WAIT (2 s) for tokens: two or three go, in order.
    sent = summary.submitted
    assert 2 <= sent <= 3 and states == ["submitted"] * sent + ["queued"] * (6 - sent)
    assert all(a.not_before > timezone.now() and a.submitted_at is None for a in attempts(ids)[sent:])


def test_the_number_limits_at_claim_count_the_batch_in_the_order_accepted(
    route, settings, django_capture_on_commit_callbacks
):
    settings.SINGLE_CALL_NUMBER_LIMITS = [(60, 5)]
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(client, 1) + accept(client, 1) + accept(client, 1, start=1)  # two to one number
    settings.SINGLE_CALL_NUMBER_LIMITS = [(60, 1)]  # tightened before the worker claims them
    single_dispatch.drain()
    first, second, other_number = attempts(ids)
    assert first.state == "submitted" and other_number.state == "submitted"
    assert second.state == "submit_failed" and second.outcome == "rate_limited"
    assert "number:1/1min" in second.raw_message and second.vendor_message_id == ""


def test_the_beat_drains_what_no_wake_sent(route, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(client, 2)
    assert single_dispatch.due_ids() == []  # within the grace the woken drain is trusted
    CallRecord.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    assert len(single_dispatch.due_ids()) == 2
    tasks.tick()
    assert {a.state for a in attempts(ids)} == {"submitted"}


def test_a_drain_out_of_time_hands_over_to_a_new_task(route, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(client, single_dispatch.BATCH + 1)
    summary = single_dispatch.drain(budget_seconds=0)
    assert summary.more_due and summary.submitted == single_dispatch.BATCH
    tasks.send_due_single_calls.delay()  # the task goes on in a fresh one while calls are due
    assert {a.state for a in attempts(ids)} == {"submitted"}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_never_send_a_call_twice(start_fake):
    fake = start_fake(FakeEmay(auto_report=False))
    account = make_account("emay", base_url=fake.url, api_id=fake.app_id, api_secret=fake.secret_key, options={})
    CallRoute.objects.create(product="verify", account=account)
    assert single_dispatch.should_wake()  # a drain is pending: the calls accepted now publish none
    ids = accept(integrator(), 80)
    assert {a.state for a in attempts(ids)} == {"queued"}
    summaries = []

    def drain():
        try:
            summaries.append(single_dispatch.drain())
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(s.submitted for s in summaries) == 80
    assert {a.state for a in attempts(ids)} == {"submitted"}
    sent = [s["mobile"] for s in fake.submitted]
    assert len(sent) == len(set(sent)) == 80  # each number reached the vendor once


def lingering_drain(seconds: float) -> tuple[threading.Thread, list]:
    """A drain lingering ``seconds`` in a thread of its own, as on a worker; its summary lands in the list."""
    summaries = []

    def linger():
        try:
            summaries.append(single_dispatch.drain(linger_seconds=seconds))
        finally:
            connection.close()

    thread = threading.Thread(target=linger)
    thread.start()
    return thread, summaries


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_lingering_drain_holds_the_wake_and_sends_the_calls_that_come_meanwhile(route):
    thread, summaries = lingering_drain(seconds=2)
    assert wait_for(lambda: cache.get(single_dispatch.WAKE_KEY), timeout=5, interval=0.01)  # idle, holding it
    assert single_dispatch.should_wake() is False  # a call accepted now publishes no drain of its own
    ids = []
    for n in range(3):  # calls committed meanwhile (rows only: no wake of their own at all)
        call = SingleCall.objects.create(
            product="verify", mobile=f"+86138001380{n:02d}", account=route, variables=["1"]
        )
        CallRecord.objects.create(single_call=call, account=route, mobile=call.mobile, custom_id=f"S{call.pk}A1")
        ids.append(call.pk)
    thread.join()
    assert summaries[0].submitted == 3  # the lingering drain sent them all
    assert {a.state for a in attempts(ids)} == {"submitted"}
    assert cache.get(single_dispatch.WAKE_KEY) is None  # let go when it ended


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_lingering_drain_ends_when_a_newer_drain_takes_the_flag(route):
    thread, summaries = lingering_drain(seconds=30)
    assert wait_for(lambda: isinstance(cache.get(single_dispatch.WAKE_KEY), str), timeout=5, interval=0.01)
    cache.set(single_dispatch.WAKE_KEY, "a-newer-drain", 30)  # as a drain started by the beat does
    thread.join(timeout=5)
    assert not thread.is_alive()  # it did not linger on beside the newer one
    assert summaries[0].submitted == 0 and not summaries[0].more_due
    assert cache.get(single_dispatch.WAKE_KEY) == "a-newer-drain"  # and left the newer drain's flag alone


def test_a_per_call_task_of_an_earlier_release_drains_every_due_call(route, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(client, 2)
    first_attempt = attempts(ids)[0].pk
    assert tasks.send_single_call(first_attempt) == 2  # a message still in the broker after an upgrade
    assert {a.state for a in attempts(ids)} == {"submitted"}
