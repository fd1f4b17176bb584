"""``/api/webhooks/`` with an API key: the secret is in the create and rotate answers only."""

import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from apikeys.scopes import MANAGE_CAMPAIGNS, MANAGE_WEBHOOKS, READ_STATISTICS, SEND_CALLS
from tests.api.helpers import client_for, field_errors
from tests.webhooks.test_delivery import answered_call, verifies
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    """An API client authenticated by an API key, as another system would be."""
    return key_client(MANAGE_WEBHOOKS)


def key_client(*scopes) -> APIClient:
    _key, secret = ApiKey.objects.create_key(name="crm", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


def test_managing_endpoints_takes_the_webhook_scope_not_the_calls_or_campaigns_ones(receiver):
    for scopes in [(SEND_CALLS,), (MANAGE_CAMPAIGNS,), (READ_STATISTICS,), (SEND_CALLS, MANAGE_CAMPAIGNS)]:
        client = key_client(*scopes)
        assert client.get("/api/webhooks/").status_code == 403, scopes
        refused = create(client, receiver())
        assert refused.status_code == 403 and "manage_webhooks" in refused.json()["errors"][0]["detail"]
    assert not Endpoint.objects.exists()
    assert create(key_client(MANAGE_WEBHOOKS), receiver()).status_code == 201


def create(client, receiver, **fields):
    body = {"name": "CRM", "url": receiver.url, "event_types": ["call.answered", "call.failed"], **fields}
    return client.post("/api/webhooks/", body, format="json")


def test_create_answers_the_secret_once(operator, receiver):
    hook = receiver()
    response = create(operator, hook)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["secret"].startswith("whsec_") and data["event_types"] == ["call.answered", "call.failed"]
    assert data["is_active"] is True
    endpoint = Endpoint.objects.get(pk=data["id"])
    assert endpoint.secret == data["secret"]
    listed = operator.get("/api/webhooks/").json()
    shown = operator.get(f"/api/webhooks/{data['id']}/").json()
    assert "secret" not in listed["results"][0] and "secret" not in shown
    assert data["secret"] not in str(listed) + str(shown)


def test_a_retried_create_makes_one_endpoint_and_never_stores_the_secret_in_the_clear(operator, receiver):
    from django.db import connection

    from idempotency.models import IdempotencyKey

    hook = receiver()
    body = {"name": "CRM", "url": hook.url, "event_types": ["call.answered"]}
    first = operator.post("/api/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    again = operator.post("/api/webhooks/", body, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and Endpoint.objects.count() == 1
    secret = first.json()["secret"]
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["secret"] != secret and secret[-2:] in again.json()["secret"]  # masked: shown once
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT response_body::text FROM {IdempotencyKey._meta.db_table}")
        (stored,) = cursor.fetchone()
    assert secret not in stored
    other = operator.post("/api/webhooks/", {**body, "name": "ERP"}, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    assert other.status_code == 422 and Endpoint.objects.count() == 1


def test_the_secret_is_stored_encrypted(operator, receiver):
    from django.db import connection

    data = create(operator, receiver()).json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_endpoint WHERE id = %s", [data["id"]])
        stored = cursor.fetchone()[0]
    assert stored.startswith("v1:") and data["secret"] not in stored


def test_rotate_answers_a_new_secret_and_until_when_the_old_one_works(operator, receiver):
    data = create(operator, receiver()).json()
    assert data["previous_secret_expires_at"] is None
    rotated = operator.post(f"/api/webhooks/{data['id']}/rotate-secret/").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != data["secret"]
    endpoint = Endpoint.objects.get(pk=data["id"])
    assert endpoint.secret == rotated["secret"] and endpoint.previous_secret == data["secret"]
    until = rotated["previous_secret_expires_at"]
    assert until.endswith("+08:00") and datetime.fromisoformat(until) == endpoint.previous_secret_expires_at
    assert datetime.fromisoformat(until) - timezone.now() > timedelta(hours=23)  # WEBHOOK_SECRET_GRACE_HOURS
    shown = timezone.localtime(endpoint.previous_secret_expires_at).isoformat(timespec="seconds")
    assert rotated["previous_secret_note"].startswith(f"The previous secret keeps working until {shown}")
    in_chinese = operator.post(f"/api/webhooks/{data['id']}/rotate-secret/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert "原密钥" in in_chinese["previous_secret_note"] and "+08:00" in in_chinese["previous_secret_note"]


def test_the_endpoint_shows_until_when_the_previous_secret_works_never_the_secret(operator, receiver):
    data = create(operator, receiver()).json()
    rotated = operator.post(f"/api/webhooks/{data['id']}/rotate-secret/").json()
    shown = operator.get(f"/api/webhooks/{data['id']}/").json()
    listed = operator.get("/api/webhooks/").json()["results"][0]
    assert shown["previous_secret_expires_at"] == listed["previous_secret_expires_at"]
    assert shown["previous_secret_expires_at"] == rotated["previous_secret_expires_at"]
    assert not {"secret", "previous_secret", "previous_secret_note"} & (set(shown) | set(listed))
    assert data["secret"] not in str(shown) + str(listed) and rotated["secret"] not in str(shown) + str(listed)
    Endpoint.objects.filter(pk=data["id"]).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    assert operator.get(f"/api/webhooks/{data['id']}/").json()["previous_secret_expires_at"] is None  # expired
    sent_back = operator.put(
        f"/api/webhooks/{data['id']}/",
        {**shown, "previous_secret_expires_at": "2099-01-01T00:00:00+08:00"},
        format="json",
    )
    assert sent_back.status_code == 200  # read-only: tolerated, not written
    assert Endpoint.objects.get(pk=data["id"]).previous_secret_valid_until() is None


def test_without_a_grace_period_the_rotate_answer_says_the_old_secret_stopped(operator, receiver, settings):
    settings.WEBHOOK_SECRET_GRACE_HOURS = 0
    data = create(operator, receiver()).json()
    rotated = operator.post(f"/api/webhooks/{data['id']}/rotate-secret/").json()
    assert rotated["previous_secret_expires_at"] is None
    assert rotated["previous_secret_note"].startswith("The previous secret no longer works")


@pytest.mark.django_db(transaction=True)
def test_two_rotations_at_once_both_succeed_and_both_secrets_verify(receiver):
    """Two systems rotate at the same moment: they take turns on the row, so the first one's secret is the
    second one's previous secret and keeps working for the grace period, instead of never working at all."""
    from webhooks import delivery

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL row locks make the second rotation wait for the first")
    hook = receiver()
    data = create(key_client(MANAGE_WEBHOOKS), hook).json()
    url = f"/api/webhooks/{data['id']}/rotate-secret/"
    clients = [key_client(MANAGE_WEBHOOKS) for _ in range(2)]
    answers = []

    def rotate(client):
        try:
            answers.append(client.post(url))
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate, args=(client,)) for client in clients]
    with transaction.atomic():
        Endpoint.objects.select_for_update().get(pk=data["id"])  # hold the row until both are waiting for it
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while waiting_for_a_lock() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=30)
    assert [a.status_code for a in answers] == [200, 200], [a.content for a in answers]
    secrets = [a.json()["secret"] for a in answers]
    assert len(set(secrets)) == 2 and data["secret"] not in secrets
    endpoint = Endpoint.objects.get(pk=data["id"])
    assert {endpoint.previous_secret, endpoint.secret} == set(secrets)
    answered_call()
    assert delivery.deliver_due() == 1
    (got,) = hook.received
    for secret in secrets:
        assert verifies(secret, got)
    assert not verifies(data["secret"], got)


def waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_update_and_delete(operator, receiver):
    data = create(operator, receiver()).json()
    url = f"/api/webhooks/{data['id']}/"
    changed = operator.patch(url, {"event_types": ["balance.low"], "is_active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["event_types"] == ["balance.low"]
    assert not Endpoint.objects.get(pk=data["id"]).is_active
    assert operator.delete(url).status_code == 204 and not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"url": "https://169.254.169.254/"}, "url", "metadata"),
        ({"url": "not a url"}, "url", "URL"),
        ({"event_types": []}, "event_types", ""),
        ({"event_types": ["call.ringing"]}, "event_types", "call.ringing"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_changes_nothing(operator, receiver, settings, fields, field, words):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    response = create(operator, receiver(), **fields)
    assert response.status_code == 400
    assert words in " ".join(field_errors(response, field))
    assert not Endpoint.objects.exists()


def test_a_loopback_url_is_refused_outside_debug(operator, receiver, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    response = create(operator, receiver())
    assert response.status_code == 400 and "loopback" in " ".join(field_errors(response, "url"))


def test_resend_failed(operator, receiver, endpoint_for):
    from webhooks.models import Event

    endpoint = endpoint_for(receiver())
    event = Event.objects.create(type="call.answered", object_id=1)
    Delivery.objects.create(event=event, endpoint=endpoint, state="failed", tries=11)
    response = operator.post(f"/api/webhooks/{endpoint.pk}/resend-failed/")
    assert response.json() == {"resent": 1}
    assert Delivery.objects.get().state == "pending"


@pytest.mark.parametrize("group", ["Marketing", "Finance", None])
def test_only_operators_manage_endpoints(receiver, group):
    client = client_for(group)
    assert client.get("/api/webhooks/").status_code == 403
    assert create(client, receiver()).status_code == 403
    assert not Endpoint.objects.exists()


def test_anonymous_is_refused():
    assert APIClient().get("/api/webhooks/").status_code in (401, 403)


def test_the_admin_says_which_key_or_person_added_an_endpoint(receiver, admin_client):
    key, secret = ApiKey.objects.create_key(name="order service", scopes=[MANAGE_WEBHOOKS])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    by_key = Endpoint.objects.get(pk=create(client, receiver()).json()["id"])
    assert by_key.created_by is None and by_key.created_by_key == key  # a key is not a person
    page = admin_client.get(f"/admin/webhooks/endpoint/{by_key.pk}/change/").content.decode()
    assert "API key «order service»" in page
    added = admin_client.post(
        "/admin/webhooks/endpoint/add/", {"name": "ERP", "url": receiver().url, "event_types": ["balance.low"]}
    )
    assert added.status_code == 200 and "whsec_" in added.content.decode()  # the secret, shown once
    by_person = Endpoint.objects.get(name="ERP")
    page = admin_client.get(f"/admin/webhooks/endpoint/{by_person.pk}/change/").content.decode()
    assert by_person.created_by.username == "admin" and "API key «" not in page
    with pytest.raises(ProtectedError):
        key.delete()  # revoked, never deleted: who added an endpoint stays known


def test_the_list_filter_refuses_what_is_not_a_boolean(operator, receiver):
    assert create(operator, receiver()).status_code == 201
    assert len(operator.get("/api/webhooks/", {"is_active": "false"}).json()["results"]) == 0
    for given in ("maybe", "", "1"):
        response = operator.get("/api/webhooks/", {"is_active": given})
        assert response.status_code == 400, given
        assert field_errors(response, "is_active"), response.json()
    response = operator.get("/api/webhooks/", {"active": "true"})
    assert response.status_code == 400 and "is_active" in field_errors(response, "active")[0]
