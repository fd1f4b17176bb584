"""API keys: stored hashed, shown once, scoped on every endpoint, expiring, revocable, last use kept."""

import re
from datetime import timedelta
from importlib import import_module

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import ProtectedError
from django.test import RequestFactory
from django.utils import timezone
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from apikeys.permissions import credential_id, required_scopes
from apikeys.scopes import MANAGE_CAMPAIGNS, MANAGE_WEBHOOKS, READ_STATISTICS, SCOPE_LABELS, SEND_CALLS
from campaigns.models import Campaign, RecipientImport
from tests.api.helpers import error_text, errors
from tests.factories import make_account, make_campaign

pytestmark = pytest.mark.django_db
ALL_SCOPES = list(SCOPE_LABELS)


def key_client(*scopes, **fields) -> tuple[APIClient, ApiKey, str]:
    key, secret = ApiKey.objects.create_key(name=fields.pop("name", "crm"), scopes=list(scopes), **fields)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client, key, secret


def test_the_key_is_stored_hashed_never_in_clear():
    _client, key, secret = key_client(MANAGE_CAMPAIGNS)
    prefix, _dot, rest = secret.partition(".")
    assert key.prefix == prefix and len(rest) >= 32
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM apikeys_apikey")
        stored = " ".join(str(v) for v in cursor.fetchone())
    assert rest not in stored and secret not in stored
    assert key.hashed_key.startswith("sha512$$")


def test_a_key_creates_and_launches_a_campaign_and_its_use_is_recorded():
    account = make_account()
    client, key, _secret = key_client(MANAGE_CAMPAIGNS, READ_STATISTICS)
    created = client.post("/api/campaigns/", {"name": "crm", "account": account.pk, "content": "您好"}, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    campaign = Campaign.objects.get(pk=pk)
    assert campaign.created_by is None and campaign.created_by_key == key  # a key is not a person
    added = client.post(f"/api/campaigns/{pk}/recipients/", {"recipients": [{"mobile": "13800138000"}]}, format="json")
    assert added.json()["accepted"] == 1
    assert client.post(f"/api/campaigns/{pk}/launch/").json()["state"] == "running"
    assert client.get(f"/api/campaigns/{pk}/stats/").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at and timezone.now() - key.last_used_at < timedelta(minutes=1)


def test_last_use_is_written_at_most_once_a_minute():
    client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    earlier = timezone.now() - timedelta(seconds=30)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=earlier)
    client.get("/api/campaigns/")
    key.refresh_from_db()
    assert key.last_used_at == earlier
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=earlier - timedelta(minutes=5))
    client.get("/api/campaigns/")
    key.refresh_from_db()
    assert key.last_used_at > earlier


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"expiry_date": timezone.now() - timedelta(seconds=1)}, "expired"),
        ({"revoked": True}, "revoked"),
    ],
)
def test_expired_and_revoked_keys_are_refused_with_the_reason(fields, needle):
    client, _key, _secret = key_client(*ALL_SCOPES, **fields)
    response = client.get("/api/campaigns/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert errors(response)[0]["code"] == "authentication_failed"
    assert needle in error_text(response)


@pytest.mark.parametrize("header", ["Api-Key nope", "Api-Key nope.nope", "Api-Key ", "api-key x.y"])
def test_a_wrong_key_is_refused_not_treated_as_anonymous(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/campaigns/")
    assert response.status_code == 401
    assert errors(response)[0]["code"] == "authentication_failed"


def test_bare_drf_tokens_are_gone():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/campaigns/").status_code == 401


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        (None, "No credentials: send the header “Authorization: Api-Key <key>”"),
        ("Token 0123456789abcdef", "does not take “Token” credentials: send the header “Authorization: Api-Key <key>”"),
        ("Bearer eyJhbGciOi", "does not take “Bearer” credentials"),
    ],
)
def test_a_request_without_a_usable_key_is_told_how_to_send_one(header, needle):
    """Not DRF's "credentials were not provided": a client sending Bearer believes it did."""
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post("/api/calls/", {"mobile": "13800138000", "product": "verify", "code": "4821"}, format="json")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Api-Key"
    assert errors(response)[0]["code"] == "not_authenticated"
    assert needle in error_text(response)
    chinese = client.get("/api/calls/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "Authorization: Api-Key <key>" in error_text(chinese) and "管理后台" in error_text(chinese)


def _endpoints():
    """(method, path, view instance with its action) for every API operation."""
    for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        if callback.cls.__module__.startswith("drf_spectacular"):
            continue  # the schema and its docs page: no data
        view = callback.cls(**getattr(callback, "initkwargs", {}))
        actions = getattr(callback, "actions", None)
        view.action = actions.get(method.lower()) if actions else None
        yield method, path, view


def test_every_operation_names_the_scopes_that_admit_a_key():
    endpoints = list(_endpoints())
    assert len(endpoints) >= 18
    for method, path, view in endpoints:
        scopes = required_scopes(view)
        assert scopes and set(scopes) <= set(SCOPE_LABELS), (method, path)


def test_every_operation_refuses_a_key_without_its_scope():
    campaign = make_campaign(recipients=1)
    checked = 0
    for method, path, view in _endpoints():
        others = [s for s in ALL_SCOPES if s not in required_scopes(view)]
        if not others:
            continue
        client, _key, _secret = key_client(*others, name=f"k{checked}")
        response = client.generic(method, re.sub(r"\{\w+\}", str(campaign.pk), path), "{}", "application/json")
        assert response.status_code == 403, (method, path, response.status_code)
        assert errors(response)[0]["code"] == "permission_denied"
        assert "scope" in error_text(response)
        checked += 1
    assert checked >= 15
    assert Campaign.objects.count() == 1 and Campaign.objects.get().state == "draft"


def test_scopes_split_sending_managing_and_reading():
    campaign = make_campaign(recipients=1)
    reader, _k, _s = key_client(READ_STATISTICS)
    assert reader.get(f"/api/campaigns/{campaign.pk}/stats/").status_code == 200
    assert reader.get(f"/api/campaigns/{campaign.pk}/calls/").status_code == 200
    assert reader.post(f"/api/campaigns/{campaign.pk}/launch/").status_code == 403
    assert reader.get("/api/templates/").status_code == 403
    sender, _k, _s = key_client(SEND_CALLS, name="app")
    assert sender.get("/api/templates/").status_code == 200
    assert sender.get("/api/vendor-accounts/").status_code == 200
    assert sender.get("/api/campaigns/").status_code == 403
    manager, _k, _s = key_client(MANAGE_CAMPAIGNS, name="ops")
    assert manager.get(f"/api/campaigns/{campaign.pk}/stats/").status_code == 403


def test_a_key_sees_vendor_accounts_without_their_settings():
    account = make_account(api_id="C-SECRET-ID")
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS)
    body = client.get(f"/api/vendor-accounts/{account.pk}/").json()
    assert set(body) == {"id", "vendor", "name", "products", "is_active"}


def test_credential_id_names_the_key_or_the_user():
    _client, key, secret = key_client(SEND_CALLS)
    request = RequestFactory().get("/api/campaigns/")
    request.auth, request.user = key, None
    assert credential_id(request) == f"key:{key.prefix}"
    user = User.objects.create_user("u1")
    request.auth, request.user = None, user
    assert credential_id(request) == f"user:{user.pk}"
    request.user = type("Anon", (), {"is_authenticated": False})()
    assert credential_id(request) is None


def test_existing_keys_that_could_manage_webhooks_keep_that_under_the_new_scope():
    migration = import_module("apikeys.migrations.0003_manage_webhooks_scope")
    before = {
        "calls": [SEND_CALLS],
        "campaigns": [MANAGE_CAMPAIGNS, READ_STATISTICS],
        "statistics": [READ_STATISTICS],
    }
    for name, scopes in before.items():
        ApiKey.objects.create_key(name=name, scopes=scopes)
    state = MigrationExecutor(connection).loader.project_state(("apikeys", "0003_manage_webhooks_scope"))
    migration.give_manage_webhooks(state.apps, None)
    after = dict(ApiKey.objects.values_list("name", "scopes"))
    assert after == {
        "calls": [SEND_CALLS, MANAGE_WEBHOOKS],
        "campaigns": [MANAGE_CAMPAIGNS, READ_STATISTICS, MANAGE_WEBHOOKS],
        "statistics": [READ_STATISTICS],  # it could not manage endpoints before either
    }


# --------------------------------------------------------------------------- admin
@pytest.fixture
def operator_admin(client):
    user = User.objects.create_user("op", password="pw-1234-long", is_staff=True)
    user.groups.add(Group.objects.get(name="Operators"))
    client.force_login(user)
    return client


def test_an_operator_creates_a_key_in_the_admin_and_sees_it_once(operator_admin):
    response = operator_admin.post(
        "/admin/apikeys/apikey/add/",
        {"name": "order service", "scopes": [SEND_CALLS, READ_STATISTICS], "expiry_date_0": "", "expiry_date_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get()
    assert key.name == "order service" and key.scopes == [SEND_CALLS, READ_STATISTICS]
    shown = [str(m) for m in response.context["messages"]]
    secret = next(word for m in shown for word in m.split() if word.startswith(key.prefix + "."))
    assert ApiKey.objects.get_from_key(secret) == key
    again = operator_admin.get(f"/admin/apikeys/apikey/{key.pk}/change/")
    assert again.status_code == 200 and secret not in again.content.decode()
    listing = operator_admin.get("/admin/apikeys/apikey/")
    assert secret not in listing.content.decode() and key.prefix in listing.content.decode()


def test_a_key_needs_a_scope_and_a_future_expiry(operator_admin):
    response = operator_admin.post(
        "/admin/apikeys/apikey/add/",
        {"name": "x", "scopes": [], "expiry_date_0": "2020-01-01", "expiry_date_1": "00:00:00"},
    )
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"scopes", "expiry_date"}
    assert not ApiKey.objects.exists()


def test_an_operator_revokes_keys_and_they_stop_working_at_once(operator_admin):
    client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    assert client.get("/api/campaigns/").status_code == 200
    chosen = {"action": "revoke", "_selected_action": [key.pk]}
    asked = operator_admin.post("/admin/apikeys/apikey/", chosen, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert asked.status_code == 200 and "vo-revoke-confirmation" in asked.content.decode()
    assert key.name in asked.content.decode() and "吊销" in asked.content.decode()
    assert not ApiKey.objects.get(pk=key.pk).revoked  # nothing happens before the operator confirms
    assert client.get("/api/campaigns/").status_code == 200
    response = operator_admin.post("/admin/apikeys/apikey/", {**chosen, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert ApiKey.objects.get(pk=key.pk).revoked
    assert client.get("/api/campaigns/").status_code == 401
    history = operator_admin.get(f"/admin/apikeys/apikey/{key.pk}/history/").content.decode()
    assert "Revoked" in history or "已吊销" in history  # who revoked it, and when


def test_the_admin_says_which_key_or_person_created_a_campaign(operator_admin):
    account = make_account()
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS, name="order service")
    by_key = client.post("/api/campaigns/", {"name": "by-key", "account": account.pk, "content": "您好"}, format="json")
    by_person = make_campaign(account=account, created_by=User.objects.get(username="op"))
    listing = operator_admin.get("/admin/campaigns/campaign/").content.decode()
    assert "API key «order service»" in listing and ">op<" in listing
    page = operator_admin.get(f"/admin/campaigns/campaign/{by_key.json()['id']}/change/").content.decode()
    assert "API key «order service»" in page
    assert "API key «" not in operator_admin.get(f"/admin/campaigns/campaign/{by_person.pk}/change/").content.decode()


def test_a_file_uploaded_with_a_key_names_the_key_wherever_the_admin_shows_the_import(
    operator_admin, django_capture_on_commit_callbacks
):
    campaign = make_campaign(content="您好")
    client, key, _secret = key_client(MANAGE_CAMPAIGNS, name="order service")
    with django_capture_on_commit_callbacks(execute=True):  # the import runs (eager Celery in tests)
        uploaded = client.post(
            f"/api/campaigns/{campaign.pk}/recipients/",
            {"file": SimpleUploadedFile("list.csv", b"13800138000\n")},
            format="multipart",
        )
    assert uploaded.status_code == 202, uploaded.json()
    job = RecipientImport.objects.get(pk=uploaded.json()["import"])
    assert job.state == "done" and job.created_by is None and job.created_by_key == key  # kept by the import
    assert "API key «order service»" in operator_admin.get("/admin/campaigns/recipientimport/").content.decode()
    page = operator_admin.get(f"/admin/campaigns/recipientimport/{job.pk}/change/").content.decode()
    assert "API key «order service»" in page
    dashboard = operator_admin.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "uploaded by API key «order service»" in dashboard
    with pytest.raises(ProtectedError):
        key.delete()  # revoked, never deleted: who uploaded a list stays known


def test_a_file_uploaded_by_a_person_names_the_person(operator_admin):
    campaign = make_campaign(content="您好")
    response = operator_admin.post(
        f"/admin/campaigns/campaign/{campaign.pk}/upload/", {"file": SimpleUploadedFile("list.csv", b"13800138000\n")}
    )
    assert response.status_code == 302
    job = RecipientImport.objects.get(campaign=campaign)
    assert job.created_by.username == "op" and job.created_by_key is None
    listing = operator_admin.get("/admin/campaigns/recipientimport/").content.decode()
    assert ">op<" in listing and "API key «" not in listing


def test_marketing_and_finance_cannot_manage_keys(client):
    for group in ("Marketing", "Finance"):
        user = User.objects.create_user(group, password="pw-1234-long", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        assert client.get("/admin/apikeys/apikey/add/").status_code == 403
