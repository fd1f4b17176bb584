"""What a system does with an API key is in the audit trail, named by its key, beside what people do."""

import pytest
from django.contrib.admin.models import LogEntry
from django.db.models import ProtectedError

from apikeys.models import KeyLogEntry
from apikeys.scopes import MANAGE_CAMPAIGNS
from campaigns.models import Campaign
from tests.apikeys.test_api_keys import key_client
from tests.factories import make_campaign

pytestmark = pytest.mark.django_db


def key_trail(obj) -> list[tuple[str, str]]:
    entries = KeyLogEntry.objects.filter(object_id=str(obj.pk)).order_by("id")
    return [(entry.api_key.name, entry.change_message) for entry in entries]


def test_every_campaign_action_of_a_key_is_recorded_with_the_key():
    client, key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    campaign = make_campaign(recipients=2)
    for action in ("launch", "pause", "resume", "retry-failed", "cancel"):
        response = client.post(f"/api/campaigns/{campaign.pk}/{action}/", format="json")
        assert response.status_code == 200, (action, response.json())
    assert key_trail(campaign) == [
        ("crm", "Launched"),
        ("crm", "Paused"),
        ("crm", "Resumed"),
        ("crm", "Retry failed calls (0)"),
        ("crm", "Cancelled (2 queued calls)"),
    ]
    assert set(KeyLogEntry.objects.values_list("api_key", flat=True)) == {key.pk}
    assert not LogEntry.objects.exists()  # no person did anything


def test_a_scheduled_start_by_a_key_is_recorded_too():
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    campaign = make_campaign(recipients=1)
    response = client.post(f"/api/campaigns/{campaign.pk}/launch/", {"at": "2099-01-01T09:00:00+08:00"}, format="json")
    assert response.status_code == 200, response.json()
    assert key_trail(campaign) == [("crm", "Scheduled")]


def test_the_history_page_names_the_key_and_the_person_in_order(admin_client):
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS, name="order service")
    campaign = make_campaign(recipients=2)
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/", format="json").status_code == 200
    assert admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/pause/").status_code == 302
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/history/")
    assert page.status_code == 200
    rows = [(entry.user.get_username(), entry.get_change_message()) for entry in page.context["action_list"]]
    assert rows == [("API key «order service»", "Launched"), ("admin", "Paused")]
    assert "API key «order service»" in page.content.decode()


def test_the_history_page_is_in_chinese_for_a_key(admin_client):
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    campaign = make_campaign(recipients=1)
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/", format="json").status_code == 200
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/history/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "API 密钥“crm”" in page.content.decode()


def test_a_key_that_acted_cannot_be_deleted():
    client, key, _secret = key_client(MANAGE_CAMPAIGNS)
    campaign = make_campaign(recipients=1)
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/", format="json").status_code == 200
    with pytest.raises(ProtectedError):
        key.delete()
    assert Campaign.objects.get(pk=campaign.pk).state == "running"
