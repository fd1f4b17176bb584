"""Idempotency-Key: a retried POST replays the first answer and creates (and dials) nothing more."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import CallRecord, CallRoute, Campaign, Recipient, SingleCall
from idempotency.models import IdempotencyKey
from idempotency.services import delete_expired
from tests.api.helpers import client_for, errors
from tests.calls.helpers import integrator
from tests.factories import make_account, make_campaign

VERIFY = {"mobile": "13800138000", "product": "verify", "code": "1234", "out_id": "o-1"}


@pytest.fixture
def route(db):
    account = make_account()
    CallRoute.objects.create(product="verify", account=account)
    return account


def post(client, body, key, path="/api/calls/", **extra):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def test_the_same_key_and_body_replay_the_first_answer_and_dial_once(route, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=True) as first_tasks:
        first = post(client, VERIFY, "k-1")
    with django_capture_on_commit_callbacks(execute=True) as second_tasks:
        again = post(client, {"out_id": "o-1", "code": "1234", "product": "verify", "mobile": "13800138000"}, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert len(first_tasks) == 1 and second_tasks == []
    assert SingleCall.objects.count() == 1 and CallRecord.objects.get().state == "submitted"


def test_the_same_key_with_another_body_is_refused_with_the_reason(route):
    client = integrator()
    assert post(client, VERIFY, "k-2").status_code == 201
    refused = post(client, {**VERIFY, "code": "9999"}, "k-2")
    assert refused.status_code == 422
    [error] = errors(refused)
    assert "different request" in error["detail"] and error["code"] == "idempotency_key_reused"
    assert post(client, {"name": "x"}, "k-2", path="/api/campaigns/").status_code in (403, 422)
    assert SingleCall.objects.count() == 1


def test_keys_are_scoped_per_credential(route):
    assert post(integrator("crm"), VERIFY, "shared").status_code == 201
    other = post(integrator("shop"), {**VERIFY, "mobile": "13800138001"}, "shared")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert SingleCall.objects.count() == 2


def test_a_refused_request_keeps_no_key_so_a_corrected_retry_goes_through(route):
    client = integrator()
    assert post(client, {**VERIFY, "code": "12"}, "k-3").status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(client, VERIFY, "k-3").status_code == 201
    limited = post(client, VERIFY, "k-4")
    assert limited.status_code == 429 and not IdempotencyKey.objects.filter(key="k-4").exists()


def test_a_bad_key_is_refused(route):
    client = integrator()
    assert post(client, VERIFY, "x" * 256).status_code == 400
    assert not SingleCall.objects.exists()


def test_campaign_create_upload_and_launch_replay(db, django_capture_on_commit_callbacks):
    marketing = client_for("Marketing")
    account = make_account()
    body = {"name": "春季", "account": account.pk, "product": "notify", "content": "您好【name】"}
    created = post(marketing, body, "c-1", path="/api/campaigns/")
    assert created.status_code == 201
    assert post(marketing, body, "c-1", path="/api/campaigns/").json() == created.json()
    assert Campaign.objects.count() == 1
    url = f"/api/campaigns/{created.json()['id']}/"
    rows = {"recipients": [{"mobile": "13800138000", "variables": ["王"]}]}
    added = post(marketing, rows, "r-1", path=url + "recipients/")
    assert added.status_code == 200 and added.json()["accepted"] == 1
    replay = post(marketing, rows, "r-1", path=url + "recipients/")
    assert replay.json() == added.json() and replay["Idempotent-Replayed"] == "true"
    assert Recipient.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=False):
        launched = post(marketing, {}, "l-1", path=url + "launch/")
        assert launched.status_code == 200
        assert post(marketing, {}, "l-1", path=url + "launch/").json() == launched.json()  # not a 409
    assert CallRecord.objects.count() == 1


def test_a_file_upload_replays_and_another_file_is_refused(db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    marketing = client_for("Marketing")
    campaign = make_campaign()
    url = f"/api/campaigns/{campaign.pk}/recipients/"

    def upload(content: bytes):
        return marketing.post(
            url, {"file": SimpleUploadedFile("a.csv", content)}, format="multipart", HTTP_IDEMPOTENCY_KEY="f-1"
        )

    first = upload("13800138000,王,SO1\n".encode())
    assert first.status_code == 202
    assert upload("13800138000,王,SO1\n".encode()).json() == first.json()
    assert campaign.imports.count() == 1
    assert upload("13800138001,李,SO2\n".encode()).status_code == 422


def test_keys_expire_after_a_day_and_a_beat_task_deletes_them(route, settings):
    client = integrator()
    assert post(client, VERIFY, "old").status_code == 201
    IdempotencyKey.objects.update(
        created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS, minutes=1)
    )
    assert delete_expired() == 1 and not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_create_one_call(route):
    """Two requests with one key at once: the second waits for the first and replays it."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL makes the second insert wait on the first")
    client = integrator()
    token = client._credentials["HTTP_AUTHORIZATION"]
    barrier, answers = threading.Barrier(4), []

    def send():
        from rest_framework.test import APIClient

        own = APIClient()
        own.credentials(HTTP_AUTHORIZATION=token)
        barrier.wait()
        answers.append(post(own, VERIFY, "race"))
        connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(1 for a in answers if "Idempotent-Replayed" in a) == 3
    assert SingleCall.objects.count() == 1 and CallRecord.objects.count() == 1
