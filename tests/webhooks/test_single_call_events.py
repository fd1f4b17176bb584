"""A single call's events carry the call as GET /api/calls/{id}/ shows it: its id is the one to GET."""

import pytest

from campaigns import tasks
from campaigns.models import CallRecord, CallRoute
from tests.calls.helpers import integrator
from tests.factories import make_account
from webhooks import delivery, payloads
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    account = make_account(options={"seed": 3, "report_delay": [0, 0], "answer_rate": 1.0}, pull_reports=True)
    CallRoute.objects.create(product="verify", account=account)
    return account


def test_an_answered_single_call_is_delivered_with_its_out_id_and_the_call_as_the_api_shows_it(
    account, receiver, endpoint_for, django_capture_on_commit_callbacks
):
    hook = receiver()
    endpoint_for(hook)
    client = integrator()
    body = {"mobile": "13800138000", "product": "verify", "code": "4821", "out_id": "login-8a1f"}
    with django_capture_on_commit_callbacks(execute=True):
        call_id = client.post("/api/calls/", body, format="json").json()["id"]
    tasks.pull_all()  # the simulator's receipt: submitted → answered, written by the trigger's event
    (event,) = Event.objects.filter(type="call.answered")
    attempt = CallRecord.objects.get(single_call_id=call_id)
    assert event.object_id == attempt.pk and event.snapshot["single_call_id"] == call_id

    assert delivery.deliver_due() == 1
    (got,) = hook.received
    assert got.verified, got.error
    data = got.json["data"]
    shown = client.get(f"/api/calls/{call_id}/").json()
    assert data["id"] == call_id and data["state"] == "answered" and data["campaign"] is None
    assert data["out_id"] == "login-8a1f"
    assert {k: v for k, v in data.items() if k not in ("campaign", "attempt")} == shown
    assert data["attempt"]["id"] == attempt.pk and data["attempt"]["state"] == "answered"
    assert payloads.event_data(event) == data  # one event, one body, built one at a time or in bulk


def test_the_event_tells_the_call_as_it_was_then_not_as_it_became(account, receiver, endpoint_for):
    endpoint_for(receiver())
    client = integrator()
    call_id = client.post("/api/calls/", {"mobile": "13800138000", "product": "verify", "code": "4821"}, format="json")
    call_id = call_id.json()["id"]
    attempt = CallRecord.objects.get(single_call_id=call_id)
    attempt.move_to("submitting")
    attempt.move_to("submitted")
    attempt.move_to("failed", outcome="busy")
    (event,) = Event.objects.filter(type="call.failed")
    CallRecord.objects.filter(pk=attempt.pk).update(raw_message="changed later")  # not a state change
    second = CallRecord.objects.create(
        single_call_id=call_id, mobile=attempt.mobile, custom_id=f"S{call_id}A2", attempt=2, state="answered"
    )
    data = payloads.event_data(event)
    assert data["out_id"] == "" == client.get(f"/api/calls/{call_id}/").json()["out_id"]  # none given: as GET says
    assert data["id"] == call_id and data["attempt"]["id"] == attempt.pk
    assert data["state"] == "failed" and data["outcome"] == "busy"
    assert [a["id"] for a in data["attempts"]] == [attempt.pk]
    assert second.pk not in [a["id"] for a in data["attempts"]]


def test_a_campaign_call_is_its_attempt_with_its_campaign():
    data = payloads.call_event_data(CallRecord(id=5, campaign_id=7), {"id": 5, "state": "answered"})
    assert data == {"id": 5, "state": "answered", "campaign": 7, "out_id": None}
