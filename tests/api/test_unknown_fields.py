"""A body field the API does not know is refused by name, and nothing is created (voiceops.api.serializers).

A developer who misspells ``out_id`` must learn it from the answer, not from a call placed without
their reference; a field a newer client sends must not seem to work.
"""

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apikeys.models import ApiKey
from apikeys.scopes import MANAGE_CAMPAIGNS, MANAGE_WEBHOOKS, SEND_CALLS
from campaigns.models import CallRoute, Campaign, Recipient, SingleCall, VoiceTemplate
from tests.api.helpers import errors, field_errors
from tests.factories import make_account, make_campaign
from webhooks.models import Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    _key, secret = ApiKey.objects.create_key(name="crm", scopes=[SEND_CALLS, MANAGE_CAMPAIGNS, MANAGE_WEBHOOKS])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


@pytest.fixture
def account():
    account = make_account()
    CallRoute.objects.create(product="verify", account=account)
    return account


def test_a_misspelt_field_places_no_call_and_names_the_field(client, account):
    body = {"mobile": "13800138000", "product": "verify", "code": "4821", "outId": "order-77"}
    response = client.post("/api/calls/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 400
    [message] = field_errors(response, "outId")
    assert message.startswith("Unknown field") and "out_id" in message, message
    assert not SingleCall.objects.exists()


def test_an_unknown_field_is_said_together_with_what_else_is_wrong(client, account):
    response = client.post("/api/calls/", {"phone": "13800138000", "product": "verify", "code": "4821"}, format="json")
    assert response.status_code == 400
    assert {e["attr"] for e in errors(response)} == {"phone", "mobile"}  # mobile: required


def test_the_unknown_field_message_is_translated(client, account):
    body = {"mobile": "13800138000", "product": "verify", "code": "4821", "callback": "x"}
    response = client.post("/api/calls/", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "未知字段" in field_errors(response, "callback")[0]


def test_every_kind_of_body_refuses_unknown_fields(client, account):
    campaign = make_campaign(account=account)
    template = VoiceTemplate.objects.create(account=account, name="t", content="您好", review_state="approved")
    cases = [
        ("post", "/api/campaigns/", {"name": "x", "account": account.pk, "content": "您好", "colour": "red"}),
        ("post", f"/api/campaigns/{campaign.pk}/launch/", {"at": None, "when": "now"}),
        ("post", f"/api/campaigns/{campaign.pk}/recipients/", {"recipients": [{"mobile": "13800138000"}], "x": 1}),
        ("post", "/api/templates/", {"account": account.pk, "name": "t2", "content": "您好", "lang": "zh"}),
        ("post", f"/api/templates/{template.pk}/submit/", {"resubmit": True, "force": True}),
        ("post", "/api/webhooks/", {"name": "n", "url": "http://127.0.0.1:9/", "event_types": ["call.failed"], "x": 1}),
    ]
    templates = VoiceTemplate.objects.count()
    for method, path, body in cases:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 400, (path, response.json())
        unknown = [e for e in errors(response) if e["detail"].startswith("Unknown field")]
        assert unknown, (path, response.json())
    assert Campaign.objects.count() == 1 and Campaign.objects.get().name == campaign.name
    assert not Recipient.objects.filter(campaign=campaign).exists()
    assert VoiceTemplate.objects.count() == templates and not Endpoint.objects.exists()


def test_a_recipient_row_with_an_unknown_field_names_its_line(client, account):
    campaign = make_campaign(account=account)
    rows = [{"mobile": "13800138000", "variables": []}, {"mobile": "13800138001", "name": "王"}]
    response = client.post(f"/api/campaigns/{campaign.pk}/recipients/", {"recipients": rows}, format="json")
    assert response.status_code == 400
    assert "line 2: unknown field “name”" in field_errors(response, "recipients")[0]
    assert not Recipient.objects.filter(campaign=campaign).exists()


def test_fields_the_answer_shows_may_be_sent_back(client, settings):
    """Read, change, send back: the read-only fields of the answer are not "unknown"."""
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    body = {"name": "crm", "url": "http://127.0.0.1:9/", "event_types": ["call.failed"]}
    endpoint = client.post("/api/webhooks/", body, format="json").json()
    shown = client.get(f"/api/webhooks/{endpoint['id']}/").json()
    response = client.put(f"/api/webhooks/{endpoint['id']}/", {**shown, "name": "crm 2"}, format="json")
    assert response.status_code == 200, response.json()
    assert Endpoint.objects.get().name == "crm 2"
    response = client.patch(f"/api/webhooks/{endpoint['id']}/", {"secret": "whsec_mine"}, format="json")
    assert response.status_code == 400 and field_errors(response, "secret")


def test_the_schema_says_request_bodies_take_no_other_fields():
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    for name in (
        "SingleCallRequest",
        "CampaignRequest",
        "PatchedEndpointRequest",
        "RecipientRowRequest",
        "RecipientFileRequest",
    ):
        assert components[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in components["SingleCall"]  # answers may grow new fields
