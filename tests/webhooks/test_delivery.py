"""Deliveries: signed per Standard Webhooks (checked by the ``standardwebhooks`` library in the receiver),
at least once, retried with growing backoff, every try kept, failing endpoints switched off."""

import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from campaigns.models import CallRecord
from tests.factories import make_campaign
from voiceops import crypto
from webhooks import delivery, services, signing
from webhooks.models import Delivery, DeliveryAttempt, Endpoint

pytestmark = pytest.mark.django_db


def answered_call(n=1):
    campaign = make_campaign(recipients=n)
    from campaigns import services as campaign_services

    campaign_services.launch(campaign)
    calls = list(CallRecord.objects.filter(campaign=campaign).order_by("id"))
    for call in calls:
        CallRecord.objects.filter(pk=call.pk).update(state="submitted", submitted_at=timezone.now())
        call.state = "submitted"
        call.move_to("answered", outcome="answered", talk_seconds=11, reported_at=timezone.now())
    return campaign, calls


def make_due():
    Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())


def test_a_delivery_is_signed_so_the_standardwebhooks_library_verifies_it(receiver, endpoint_for):
    hook = receiver()
    endpoint = endpoint_for(hook)
    campaign, (call,) = answered_call()
    assert delivery.deliver_due() == 1
    (got,) = hook.received
    assert got.verified, got.error
    assert got.headers["webhook-id"].startswith("evt_") and got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    body = got.json
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "call.answered"
    assert body["data"]["id"] == call.pk and body["data"]["campaign"] == campaign.pk
    assert body["data"]["state"] == "answered" and body["data"]["talk_seconds"] == 11
    assert "+08:00" in body["timestamp"] or body["timestamp"].endswith(("+00:00", "Z"))
    d = Delivery.objects.get()
    assert (d.state, d.tries, d.last_status, d.endpoint) == ("delivered", 1, 204, endpoint)
    assert Endpoint.objects.get().last_success_at is not None


def test_a_wrong_secret_fails_the_librarys_check(receiver, endpoint_for):
    """The receiver's check can fail: a secret that was never the endpoint's is refused."""
    hook = receiver()
    endpoint_for(hook)
    hook.secret = signing.new_secret()
    answered_call()
    delivery.deliver_due()
    assert not hook.received[0].verified and "signature" in hook.received[0].error.lower()


def verifies(secret: str, received) -> bool:
    """Does the ``standardwebhooks`` library, given this secret, accept the delivery as received?"""
    try:
        Webhook(secret).verify(received.body, received.headers)
    except WebhookVerificationError:
        return False
    return True


def expire_previous_secret(endpoint) -> None:
    """The grace period is over: the clock moved in the database, not mocked."""
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))


def test_after_a_rotation_the_old_secret_verifies_until_its_grace_period_ends(receiver, endpoint_for):
    hook = receiver()  # the receiver is not updated yet: it holds the old secret
    endpoint = endpoint_for(hook)
    old = hook.secret
    new = services.rotate_secret(endpoint)
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.secret == new and saved.previous_secret == old
    grace_ends = saved.previous_secret_expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < grace_ends <= timedelta(hours=24)  # WEBHOOK_SECRET_GRACE_HOURS

    answered_call()
    assert delivery.deliver_due() == 1
    (during,) = hook.received
    assert during.verified, during.error  # the old secret, by the library
    assert verifies(new, during) and not verifies(signing.new_secret(), during)
    stamp = datetime.fromtimestamp(int(during.headers["webhook-timestamp"]), UTC)
    body, message_id = during.body.decode(), during.headers["webhook-id"]
    assert during.headers["webhook-signature"].split(" ") == [  # the new secret's signature first
        Webhook(new).sign(message_id, stamp, body),
        Webhook(old).sign(message_id, stamp, body),
    ]

    expire_previous_secret(endpoint)
    answered_call()
    assert delivery.deliver_due() == 1
    after = hook.received[1]
    assert not after.verified and "signature" in after.error.lower()  # the old secret no longer works
    assert verifies(new, after) and len(after.headers["webhook-signature"].split(" ")) == 1
    cleared = Endpoint.objects.get(pk=endpoint.pk)  # and is no longer kept
    assert (cleared.previous_secret, cleared.previous_secret_expires_at, cleared.secret) == (None, None, new)


def test_an_expired_previous_secret_never_signs_even_while_still_stored(receiver, endpoint_for):
    """Which secrets sign is decided when signing: one whose expiry has passed is not used, cleared or not."""
    hook = receiver()
    endpoint = endpoint_for(hook)
    old = hook.secret
    new = services.rotate_secret(endpoint)
    expire_previous_secret(endpoint)
    answered_call()
    pending = Delivery.objects.select_related("event", "endpoint").get()
    assert pending.endpoint.previous_secret == old  # still stored: nothing has cleared it
    delivery.ensure_bodies([pending.event])
    assert delivery.post(pending).ok
    (got,) = hook.received
    assert not got.verified and verifies(new, got)


def test_without_a_grace_period_the_old_secret_stops_at_once(receiver, endpoint_for, settings):
    settings.WEBHOOK_SECRET_GRACE_HOURS = 0
    hook = receiver()
    endpoint = endpoint_for(hook)
    new = services.rotate_secret(endpoint)
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert (saved.previous_secret, saved.previous_secret_expires_at) == (None, None)
    answered_call()
    delivery.deliver_due()
    (got,) = hook.received
    assert not got.verified and verifies(new, got)


def test_two_rotations_in_a_row_leave_the_last_two_secrets_verifying(receiver, endpoint_for):
    """Each from a copy of the endpoint read before both (two operators, two API calls): none is lost."""
    hook = receiver()
    endpoint = endpoint_for(hook)
    original = hook.secret
    first_copy, second_copy = Endpoint.objects.get(pk=endpoint.pk), Endpoint.objects.get(pk=endpoint.pk)
    first = services.rotate_secret(first_copy)
    second = services.rotate_secret(second_copy)
    answered_call()
    assert delivery.deliver_due() == 1
    (got,) = hook.received
    assert verifies(first, got) and verifies(second, got)  # the caller given the first one is not left out
    assert not verifies(original, got)  # two rotations ago
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert (saved.secret, saved.previous_secret) == (second, first)


def test_rotating_the_encryption_key_keeps_endpoints_signing_with_their_secret(receiver, endpoint_for, settings):
    """``rotate_secrets`` re-encrypts signing secrets too, the previous one as well: with the old key gone,
    deliveries still sign with both."""
    hook = receiver()
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    endpoint = endpoint_for(hook)  # its secrets are encrypted with the old key
    previous = hook.secret
    hook.secret = services.rotate_secret(endpoint)
    settings.FIELD_ENCRYPTION_KEYS = [crypto.generate_key(), old_key]
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Re-encrypted 2 of 2" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key is gone
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert (saved.secret, saved.previous_secret) == (hook.secret, previous)
    answered_call()
    assert delivery.deliver_due() == 1
    assert hook.received[0].verified, hook.received[0].error
    assert verifies(previous, hook.received[0])


def test_failures_are_retried_with_growing_gaps_and_the_event_id_stays_the_same(receiver, endpoint_for):
    hook = receiver(statuses=[500, 503, 429])
    endpoint_for(hook)
    answered_call()
    gaps = []
    for _ in range(3):
        before = timezone.now()
        delivery.deliver_due()
        d = Delivery.objects.get()
        gaps.append((d.next_attempt_at - before).total_seconds())
        make_due()
    assert delivery.deliver_due() == 1
    assert gaps[0] < gaps[1] < gaps[2]  # 5 s, 30 s, 120 s (±10 %)
    assert 4 <= gaps[0] <= 6 and 100 <= gaps[2] <= 135
    assert len({r.headers["webhook-id"] for r in hook.received}) == 1
    assert all(r.verified for r in hook.received) and len(hook.received) == 4
    d = Delivery.objects.get()
    assert (d.state, d.tries) == ("delivered", 4)
    attempts = list(DeliveryAttempt.objects.filter(delivery=d).order_by("attempted_at", "id"))
    assert [a.status_code for a in attempts] == [500, 503, 429, 204]
    assert attempts[0].response_head == "ok" and all(a.latency_ms >= 0 for a in attempts)


def test_the_retry_schedule_spans_more_than_a_day_then_the_delivery_fails(settings):
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    assert sum(schedule) >= 24 * 3600 and schedule == sorted(schedule)
    assert delivery.retry_gap(len(schedule) + 1) is None


def test_after_the_last_try_the_delivery_is_failed_and_not_tried_again(receiver, endpoint_for, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [1, 1]
    hook = receiver(statuses=[500] * 10)
    endpoint_for(hook)
    answered_call()
    for _ in range(4):
        delivery.deliver_due()
        make_due()
    assert len(hook.received) == 3
    d = Delivery.objects.get()
    assert (d.state, d.tries, d.last_status) == ("failed", 3, 500)


def test_timeouts_and_refused_connections_are_retried(receiver, endpoint_for, settings):
    settings.WEBHOOK_READ_TIMEOUT = 0.3
    hook = receiver()
    endpoint = endpoint_for(hook)
    hook.stop()  # nobody listens any more
    answered_call()
    delivery.deliver_due()
    d = Delivery.objects.get()
    assert d.state == "pending" and d.last_status is None and "Connection" in d.last_error
    assert Endpoint.objects.get(pk=endpoint.pk).failing_since is not None


def test_a_slow_receiver_times_out(receiver, endpoint_for, settings):
    import socket
    import threading

    settings.WEBHOOK_READ_TIMEOUT = 0.3
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    hook = receiver()
    endpoint = endpoint_for(hook)
    Endpoint.objects.filter(pk=endpoint.pk).update(url=f"http://127.0.0.1:{server.getsockname()[1]}/")
    answered_call()
    started = time.monotonic()
    delivery.deliver_due()
    assert time.monotonic() - started < 3
    assert Delivery.objects.get().last_error == "timed out"
    server.close()


def test_redirects_are_not_followed(receiver, endpoint_for):
    target = receiver()
    hook = receiver(statuses=[302], headers_out={"Location": target.url})
    endpoint_for(hook)
    answered_call()
    delivery.deliver_due()
    assert target.received == []
    d = Delivery.objects.get()
    assert d.state == "pending" and d.last_status == 302 and "not followed" in d.last_error


def test_only_the_head_of_a_large_answer_is_read_and_kept(receiver, endpoint_for):
    hook = receiver(statuses=[500], response_body=b"x" * 200_000)
    endpoint_for(hook)
    answered_call()
    delivery.deliver_due()
    (attempt,) = DeliveryAttempt.objects.all()
    assert attempt.status_code == 500 and len(attempt.response_head) == delivery.RESPONSE_HEAD_BYTES


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_ends(receiver, endpoint_for):
    endpoint_for(receiver())
    answered_call(3)
    first = delivery.claim_due()
    assert len(first) == 3 and delivery.claim_due() == []
    # the worker that claimed them died: once the lease is over they are due again
    Delivery.objects.filter(pk__in=first).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert sorted(delivery.claim_due()) == sorted(first)


def test_deliveries_to_a_switched_off_endpoint_wait(receiver, endpoint_for):
    hook = receiver()
    endpoint = endpoint_for(hook)
    answered_call()
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    assert delivery.deliver_due() == 0 and hook.received == []
    services.update_endpoint(Endpoint.objects.get(pk=endpoint.pk), is_active=True)
    assert delivery.deliver_due() == 1 and len(hook.received) == 1


def test_resending_the_failed_deliveries_of_an_endpoint(receiver, endpoint_for, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [1]
    hook = receiver(statuses=[500, 500, 500, 500])
    endpoint = endpoint_for(hook)
    answered_call(2)
    delivery.deliver_due()
    make_due()
    delivery.deliver_due()
    assert set(Delivery.objects.values_list("state", flat=True)) == {"failed"}
    assert services.resend_failed(endpoint) == 2
    assert delivery.deliver_due() == 2
    assert set(Delivery.objects.values_list("state", "tries")) == {("delivered", 1)}
    assert len({r.headers["webhook-id"] for r in hook.received}) == 2  # the same two events, again


def test_resending_failed_deliveries_takes_those_waiting_for_a_retry_too(receiver, endpoint_for):
    """The receiver was down for an hour and is fixed: its deliveries wait up to hours for their next
    try on the schedule; the operator's resend sends them now, not only those out of retries."""
    hook = receiver(statuses=[500, 500, 204, 204])
    endpoint = endpoint_for(hook)
    answered_call(2)
    delivery.deliver_due()
    assert set(Delivery.objects.values_list("state", "tries")) == {("pending", 1)}
    assert delivery.deliver_due() == 0  # not due before its backoff
    assert services.resend_failed(endpoint) == 2
    assert delivery.deliver_due() == 2
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}
    answered_call(1)  # a new delivery, never tried: nothing to resend, it goes on its own
    assert services.resend_failed(endpoint) == 0


def test_an_endpoint_failing_for_days_is_switched_off_and_operators_are_emailed(receiver, endpoint_for, make_operator):
    make_operator()
    hook = receiver(statuses=[500])
    endpoint = endpoint_for(hook, name="ERP")
    answered_call()
    delivery.deliver_due()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.is_active
    assert services.disable_failing_endpoints() == 0  # failing for minutes only
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=6))
    assert services.disable_failing_endpoints() == 1
    assert services.disable_failing_endpoints() == 0  # told once
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"] and "ERP" in message.subject and endpoint.url in message.body


def test_a_success_clears_the_failure_record(receiver, endpoint_for):
    hook = receiver(statuses=[500])
    endpoint = endpoint_for(hook)
    answered_call()
    delivery.deliver_due()
    make_due()
    delivery.deliver_due()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.last_success_at is not None


def test_old_finished_events_are_purged_and_pending_ones_kept(receiver, endpoint_for):
    from webhooks.models import Event

    hook = receiver(statuses=[204, 500])
    endpoint_for(hook)
    answered_call(2)
    delivery.deliver_due()
    Event.objects.update(created_at=timezone.now() - timedelta(days=40))
    assert services.purge_old_events() == 1
    assert Event.objects.count() == 1 and Delivery.objects.get().state == "pending"


def test_a_dead_endpoint_does_not_hold_the_batch(receiver, endpoint_for):
    """After a few tries without an answer, its other deliveries in the batch wait their backoff unsent."""
    alive, dead = receiver(), receiver()
    endpoint_for(alive, name="alive")
    gone = endpoint_for(dead, name="gone")
    dead.stop()
    answered_call(6)
    assert len(delivery.send_claimed(delivery.claim_due(), pool=None)) == 12  # one after the other: exact counts
    assert len(alive.received) == 6
    gone_deliveries = Delivery.objects.filter(endpoint=gone)
    assert set(gone_deliveries.values_list("state", "tries")) == {("pending", 1)}
    errors = [a.error for a in DeliveryAttempt.objects.filter(delivery__endpoint=gone)]
    assert sum(e.startswith("not sent") for e in errors) == 6 - delivery.Unreachable.LIMIT
