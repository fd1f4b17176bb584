"""The one-statement path for a push of one receipt (campaigns/database/single_receipt.py).

Real calls go to a strict fake ihuyi (one receipt per push, matched by voiceid) or Emay (matched by
our custom id); what the vendor pushes is posted to the callback view. Each test checks the call,
the stored event and the statistics, and that the prepared statement is what did the work.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import selectors, tasks
from campaigns.models import CallbackEvent, CallRecord
from tests.callbacks.helpers import dispatched, push
from tests.factories import make_account
from tests.fakes.emay import FakeEmay


def prepared_runs(match: str) -> int:
    """How many times this connection ran its prepared receipt statement that matches calls on ``match`` first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements"
            " WHERE statement LIKE 'WITH upd AS (UPDATE campaigns_callrecord%%' AND statement LIKE %s",
            [f"%WHERE {match} = $%"],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgresql
def test_answered_receipts_commit_in_one_prepared_statement_each(client, transactional_db, ihuyi, monkeypatch):
    """Outside any transaction, on a persistent connection (as in production): one statement each, prepared once."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()  # the next connection lives across requests
    fake, account = ihuyi
    campaign = dispatched(account, recipients=3)
    assert not connection.in_atomic_block
    before = prepared_runs("account_id")
    for entry in fake.submitted:
        response = push(client, account, *fake.push_body(entry["vendor_message_id"], "2", talktime=12))
        assert (response.status_code, response.content) == (200, b"success")
    assert prepared_runs("account_id") == before + 3
    calls = CallRecord.objects.filter(campaign=campaign)
    assert (
        sorted(calls.values_list("state", "outcome", "talk_seconds", "raw_code"))
        == [("answered", "answered", 12, "2")] * 3
    )
    events = CallbackEvent.objects.filter(account=account)
    assert sorted(events.values_list("state", "reports_count")) == [("applied", 1)] * 3
    assert all(e.processed_at and bytes(e.body).startswith(b"code=2") and e.headers for e in events)
    assert selectors.campaign_stats(campaign)["by_state"] == {"answered": 3}


def test_a_failed_receipt_queues_one_next_attempt_however_often_it_comes(client, ihuyi):
    fake, account = ihuyi
    campaign = dispatched(account, recipients=1, max_attempts=2)
    voiceid = fake.submitted[0]["vendor_message_id"]
    for _ in range(3):  # ihuyi retries until it reads "success"
        assert push(client, account, *fake.push_body(voiceid, "-6")).content == b"success"
    first = CallRecord.objects.get(vendor_message_id=voiceid)
    assert (first.state, first.outcome, first.raw_message) == ("failed", "no_answer", "无人接听")
    retry = CallRecord.objects.get(campaign=campaign, attempt=2)
    assert (retry.state, retry.recipient_id, retry.not_before is not None) == ("queued", first.recipient_id, True)
    assert (
        list(CallbackEvent.objects.values_list("state", flat=True)) == ["applied"] * 3
    )  # replays: applied, not unmatched
    assert selectors.campaign_stats(campaign)["by_state"] == {"failed": 1, "queued": 1}


def test_a_failed_receipt_on_the_last_attempt_queues_nothing(client, ihuyi):
    fake, account = ihuyi
    campaign = dispatched(account, recipients=1, max_attempts=1)
    push(client, account, *fake.push_body(fake.submitted[0]["vendor_message_id"], "-6"))
    assert list(CallRecord.objects.filter(campaign=campaign).values_list("attempt", "state")) == [(1, "failed")]


def test_a_receipt_for_a_submit_that_got_no_answer_is_reconciled(client, ihuyi):
    """The submit timed out (row ``submitting``, no voiceid): the statement changes nothing, the general path
    finds it."""
    fake, account = ihuyi
    dispatched(account, recipients=1)
    voiceid = fake.submitted[0]["vendor_message_id"]
    CallRecord.objects.update(state="submitting", vendor_message_id="")
    assert push(client, account, *fake.push_body(voiceid, "2")).content == b"success"
    call = CallRecord.objects.get()
    assert (call.state, call.vendor_message_id) == ("answered", voiceid)
    assert CallbackEvent.objects.get().state == CallbackEvent.State.APPLIED


@pytest.mark.postgresql
def test_an_emay_push_of_one_report_matches_by_custom_id(client, db, start_fake):
    fake = start_fake(FakeEmay(auto_report=False))
    account = make_account("emay", base_url=fake.url, api_id=fake.app_id, api_secret=fake.secret_key)
    campaign = dispatched(account, recipients=2, content="您的快递已到。")
    before = prepared_runs("custom_id")
    first, second = fake.submitted
    assert push(client, account, *fake.push_body([fake.report_for(first)])).status_code == 200
    assert prepared_runs("custom_id") == before + 1
    assert CallRecord.objects.get(custom_id=first["custom_id"]).state == "answered"
    assert CallRecord.objects.get(custom_id=second["custom_id"]).state == "submitted"
    assert selectors.campaign_stats(campaign)["by_state"] == {"answered": 1, "submitted": 1}


@pytest.mark.postgresql
def test_prepared_statements_can_be_turned_off(client, ihuyi, settings):
    """Behind a pooler that cannot keep prepared statements the same statement runs unprepared."""
    settings.RECEIPT_PREPARED_STATEMENTS = False
    fake, account = ihuyi
    dispatched(account, recipients=1)
    before = prepared_runs("account_id")
    push(client, account, *fake.push_body(fake.submitted[0]["vendor_message_id"], "2"))
    assert prepared_runs("account_id") == before
    assert CallRecord.objects.get().state == "answered"
    assert CallbackEvent.objects.get().state == CallbackEvent.State.APPLIED


@pytest.mark.parametrize("code", ["2", "-6"])
def test_a_receipt_for_a_final_call_changes_nothing(client, ihuyi, code):
    """A late receipt after the call is final (answered here) is stored, acknowledged and changes nothing."""
    fake, account = ihuyi
    campaign = dispatched(account, recipients=1)
    voiceid = fake.submitted[0]["vendor_message_id"]
    push(client, account, *fake.push_body(voiceid, "2", talktime=40))
    assert push(client, account, *fake.push_body(voiceid, code, talktime=1)).content == b"success"
    call = CallRecord.objects.get(campaign=campaign)
    assert (call.state, call.talk_seconds) == ("answered", 40)
    assert CallRecord.objects.filter(campaign=campaign).count() == 1
    assert CallbackEvent.objects.count() == 2


def test_an_event_a_dead_process_left_unapplied_is_applied_by_the_beat(ihuyi):
    """The statement stored the event ``received`` and the process died before applying it."""
    fake, account = ihuyi
    dispatched(account, recipients=2)
    first, second = (entry["vendor_message_id"] for entry in fake.submitted)
    stale, fresh = (
        CallbackEvent.objects.create(account=account, vendor="ihuyi", body=fake.push_body(voiceid, "2")[0])
        for voiceid in (first, second)
    )
    CallbackEvent.objects.filter(pk=stale.pk).update(received_at=timezone.now() - timedelta(minutes=3))
    assert tasks.apply_stalled_events() == 1
    assert CallRecord.objects.get(vendor_message_id=first).state == "answered"
    assert CallRecord.objects.get(vendor_message_id=second).state == "submitted"  # may still be on its way
    assert dict(CallbackEvent.objects.values_list("pk", "state")) == {stale.pk: "applied", fresh.pk: "received"}
    assert tasks.apply_stalled_events() == 0
