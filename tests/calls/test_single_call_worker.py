"""A verify call on a real Celery worker: accepted, dialled at once, its receipt back, GET shows the end."""

import time

import pytest

from campaigns import tasks
from campaigns.models import CallRoute
from tests.calls.helpers import integrator
from tests.conftest import wait_for
from tests.factories import make_account
from tests.fakes.emay import FakeEmay

pytestmark = pytest.mark.worker


def test_a_verify_call_reaches_the_vendor_at_once_and_its_receipt_comes_back(worker, start_fake):
    fake = start_fake(FakeEmay())
    account = make_account(
        "emay", base_url=fake.url, api_id=fake.app_id, api_secret=fake.secret_key, pull_reports=True, options={}
    )
    CallRoute.objects.create(product="verify", account=account)
    worker(queues="dispatch,reports")
    client = integrator()

    posted_at = time.monotonic()
    response = client.post(
        "/api/calls/",
        {"mobile": "13800138000", "product": "verify", "code": "482193", "out_id": "login-42"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="login-42",
    )
    assert response.status_code == 201, response.json()
    call_id = response.json()["id"]
    # Dialled by the task enqueued on commit, not by a beat tick (none runs in this test).
    assert wait_for(lambda: fake.submitted, timeout=30, interval=0.05)
    assert time.monotonic() - posted_at < 10
    assert [(s["mobile"], s["product"]) for s in fake.submitted] == [("+8613800138000", "verify")]
    assert fake.submitted[0]["content"] == "482193"

    def final():
        tasks.pull_all.apply_async(queue="reports")
        return client.get(f"/api/calls/{call_id}/").json()["state"] in ("answered", "failed")

    assert wait_for(final, timeout=60, interval=1.0)
    call = client.get("/api/calls/", {"out_id": "login-42"}).json()["results"][0]
    assert call["id"] == call_id and call["state"] == "answered" and call["outcome"] == "answered"
    assert call["raw_code"] and call["reported_at"] and call["submitted_at"]
    assert call["attempts"][0]["vendor_message_id"]

    # The same request again (a client retrying after a timeout) dials nothing more.
    again = client.post(
        "/api/calls/",
        {"mobile": "13800138000", "product": "verify", "code": "482193", "out_id": "login-42"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="login-42",
    )
    assert again.status_code == 201 and again.json()["id"] == call_id
    time.sleep(1)
    assert len(fake.submitted) == 1
