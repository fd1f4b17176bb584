"""Endpoint changes made with an API key are in the audit trail, named by the key."""

import pytest
from django.contrib.admin.models import ADDITION, DELETION, LogEntry

from apikeys.models import ApiKey, KeyLogEntry
from apikeys.scopes import MANAGE_WEBHOOKS
from tests.webhooks.test_api import create, key_client
from voiceops import audit
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


def test_every_endpoint_write_of_a_key_is_recorded_with_the_key(receiver, admin_client):
    client = key_client(MANAGE_WEBHOOKS)
    key = ApiKey.objects.get()
    assert create(client, receiver()).status_code == 201
    endpoint = Endpoint.objects.get()
    base = f"/api/webhooks/{endpoint.pk}/"
    assert client.patch(base, {"name": "CRM production"}, format="json").status_code == 200
    assert (
        client.put(
            base, {"name": "CRM", "url": endpoint.url, "event_types": ["call.failed"]}, format="json"
        ).status_code
        == 200
    )
    assert client.post(f"{base}rotate-secret/").status_code == 200
    assert client.post(f"{base}resend-failed/").status_code == 200
    trail = KeyLogEntry.objects.filter(object_id=str(endpoint.pk)).order_by("id")
    assert [(entry.api_key_id, entry.change_message) for entry in trail] == [
        (key.pk, "Webhook endpoint created"),
        (key.pk, "Webhook endpoint changed"),
        (key.pk, "Webhook endpoint changed"),
        (key.pk, "Webhook signing secret rotated"),
        (key.pk, "Resent 0 failed webhook deliveries"),
    ]
    assert not LogEntry.objects.exists()
    page = admin_client.get(f"/admin/webhooks/endpoint/{endpoint.pk}/history/")
    assert page.content.decode().count("API key «crm»") == 5


def test_an_endpoints_history_is_written_in_the_interface_language(receiver, admin_client, admin_user, settings):
    from webhooks import services

    settings.LANGUAGE_CODE = "zh-hans"
    endpoint, _secret = services.create_endpoint(
        name="CRM", url=receiver().url, event_types=["call.failed"], actor=admin_user
    )
    services.update_endpoint(endpoint, name="CRM production", actor=admin_user)
    services.rotate_secret(endpoint, actor=admin_user)
    services.resend_failed(endpoint, actor=admin_user)
    page = admin_client.get(
        f"/admin/webhooks/endpoint/{endpoint.pk}/history/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    for chinese in ("已创建 Webhook 端点", "已修改 Webhook 端点", "已轮换 Webhook 签名密钥", "已重发 0 条失败的推送"):
        assert chinese in page
    assert "Webhook endpoint" not in page and "Resent" not in page


def test_an_endpoint_a_key_deletes_stays_in_its_trail_by_name(receiver, admin_client):
    client = key_client(MANAGE_WEBHOOKS)
    key = ApiKey.objects.get()
    assert create(client, receiver(), name="CRM production").status_code == 201
    endpoint = Endpoint.objects.get()
    assert client.delete(f"/api/webhooks/{endpoint.pk}/").status_code == 204
    assert not Endpoint.objects.exists()
    trail = KeyLogEntry.objects.filter(object_id=str(endpoint.pk)).order_by("id")
    assert [(e.api_key_id, e.content_type.model_class(), e.object_repr, e.change_message) for e in trail] == [
        (key.pk, Endpoint, "CRM production", "Webhook endpoint created"),
        (key.pk, Endpoint, "CRM production", "Webhook endpoint deleted"),
    ]
    history = audit.history(Endpoint, str(endpoint.pk))
    assert [(h.actor, h.message) for h in history] == [
        ("API key «crm»", "Webhook endpoint created"),
        ("API key «crm»", "Webhook endpoint deleted"),
    ]
    page = admin_client.get(f"/admin/apikeys/apikey/{key.pk}/change/").content.decode()
    assert "CRM production" in page and "(deleted)" in page
    assert f"/admin/webhooks/endpoint/{endpoint.pk}/change/" not in page  # nothing to link to


def test_a_person_deleting_an_endpoint_over_the_api_is_logged_as_a_deletion(receiver, admin_user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(admin_user)
    assert create(client, receiver()).status_code == 201
    endpoint = Endpoint.objects.get()
    assert client.delete(f"/api/webhooks/{endpoint.pk}/").status_code == 204
    trail = LogEntry.objects.filter(object_id=str(endpoint.pk)).order_by("id")
    assert [(e.action_flag, e.object_repr, e.change_message) for e in trail] == [
        (ADDITION, "CRM", "Webhook endpoint created"),
        (DELETION, "CRM", "Webhook endpoint deleted"),
    ]


def test_deleting_in_the_admin_is_logged_once_by_the_admin_itself(receiver, admin_client, endpoint_for):
    endpoint = endpoint_for(receiver())
    response = admin_client.post(f"/admin/webhooks/endpoint/{endpoint.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert list(LogEntry.objects.filter(object_id=str(endpoint.pk)).values_list("action_flag", flat=True)) == [DELETION]
