"""What a system does with an API key is in the audit trail, named by its key, beside what people do."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import ProtectedError

from apikeys.models import KeyLogEntry
from apikeys.scopes import MANAGE_CAMPAIGNS
from campaigns.models import Campaign, RecipientImport, VoiceTemplate
from tests.api.helpers import client_for
from tests.apikeys.test_api_keys import key_client
from tests.factories import make_account, make_campaign
from tests.fakes.ihuyi import FakeIhuyi

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


# ---- creating campaigns and templates, adding recipients
def test_a_campaign_a_key_creates_and_fills_is_recorded_with_the_key(django_capture_on_commit_callbacks):
    client, key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    account = make_account()
    created = client.post(
        "/api/campaigns/", {"name": "spring", "account": account.pk, "content": "您好【name】"}, format="json"
    )
    assert created.status_code == 201, created.json()
    campaign = Campaign.objects.get(pk=created.json()["id"])
    assert campaign.created_by_key == key
    url = f"/api/campaigns/{campaign.pk}/recipients/"
    with django_capture_on_commit_callbacks(execute=True):  # the import runs (eager Celery)
        upload = SimpleUploadedFile("名单.csv", "13800138000,王\n13800138001,李\n".encode())
        uploaded = client.post(url, {"file": upload}, format="multipart")
    assert uploaded.status_code == 202, uploaded.json()
    assert RecipientImport.objects.get().state == RecipientImport.State.DONE
    listed = client.post(
        url, {"recipients": [{"mobile": "13900139000", "variables": ["赵"]}, {"mobile": "12"}]}, format="json"
    )
    assert listed.json()["accepted"] == 1
    assert key_trail(campaign) == [
        ("crm", "Campaign created"),
        ("crm", "Recipients uploaded: 名单.csv"),  # and nothing more when the import finished
        ("crm", "Recipients added: 1 of 2 rows"),
    ]
    assert not LogEntry.objects.exists()


def test_a_list_that_adds_nobody_leaves_no_entry():
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS)
    campaign = make_campaign()
    refused = client.post(
        f"/api/campaigns/{campaign.pk}/recipients/", {"recipients": [{"mobile": "12"}]}, format="json"
    )
    assert refused.status_code == 422
    assert key_trail(campaign) == []


def test_a_person_creating_a_campaign_over_the_api_is_in_the_admin_log_as_an_addition():
    client = client_for("Marketing")
    created = client.post(
        "/api/campaigns/", {"name": "spring", "account": make_account().pk, "content": "您好"}, format="json"
    )
    assert created.status_code == 201, created.json()
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.action_flag, entry.change_message) == (
        str(created.json()["id"]),
        ADDITION,
        "Campaign created",
    )
    assert entry.user.groups.filter(name="Marketing").exists()
    assert not KeyLogEntry.objects.exists()


def test_a_file_uploaded_in_the_admin_is_logged_once_for_the_person(admin_client, admin_user):
    campaign = make_campaign()
    upload = SimpleUploadedFile("list.csv", b"13800138000,Wang,SO1\n")
    response = admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/upload/", {"file": upload})
    assert response.status_code == 302
    trail = LogEntry.objects.filter(object_id=str(campaign.pk)).values_list("user", "change_message")
    assert list(trail) == [(admin_user.pk, "Recipients uploaded: list.csv")]


def test_a_template_a_key_creates_and_submits_is_recorded_with_the_key(start_fake):
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    fake = start_fake(FakeIhuyi("C100", "key-100"))
    account = make_account("ihuyi", base_url=fake.url, api_id="C100", api_secret="key-100")
    created = client.post(
        "/api/templates/", {"account": account.pk, "name": "code", "content": "验证码【变量】"}, format="json"
    )
    assert created.status_code == 201, created.json()
    template = VoiceTemplate.objects.get(pk=created.json()["id"])
    submitted = client.post(f"/api/templates/{template.pk}/submit/", format="json")
    assert submitted.status_code == 200, submitted.json()
    refused = client.post(f"/api/templates/{template.pk}/submit/", format="json")  # already waiting: nothing done
    assert refused.status_code == 409
    template.refresh_from_db()
    assert key_trail(template) == [
        ("crm", "Voice template created"),
        ("crm", f"Submitted to the vendor for review (template id {template.vendor_template_id})"),
    ]


def test_a_template_of_a_vendor_without_review_is_created_and_approved_in_one_entry():
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    created = client.post(
        "/api/templates/", {"account": make_account().pk, "name": "t", "content": "您好"}, format="json"
    )
    assert created.json()["review_state"] == "approved"
    submitted = client.post(f"/api/templates/{created.json()['id']}/submit/", format="json")
    assert submitted.status_code == 200  # already approved: nothing changed, nothing more logged
    assert key_trail(VoiceTemplate.objects.get()) == [("crm", "Voice template created")]


def test_a_template_submitted_from_the_admin_is_logged_for_the_person(admin_client, admin_user, start_fake):
    fake = start_fake(FakeIhuyi("C100", "key-100"))
    account = make_account("ihuyi", base_url=fake.url, api_id="C100", api_secret="key-100")
    template = VoiceTemplate.objects.create(account=account, name="code", content="验证码【变量】")
    response = admin_client.post(f"/admin/campaigns/voicetemplate/{template.pk}/vendor/submit/")
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.review_state == "pending"
    trail = LogEntry.objects.filter(object_id=str(template.pk)).values_list("user", "change_message")
    assert list(trail) == [
        (admin_user.pk, f"Submitted to the vendor for review (template id {template.vendor_template_id})")
    ]


def test_a_retry_that_fails_halfway_leaves_neither_new_attempts_nor_an_entry(monkeypatch):
    from campaigns import services
    from campaigns.models import CallRecord

    client, _key, _secret = key_client(MANAGE_CAMPAIGNS, name="crm")
    campaign = make_campaign(recipients=2)
    for recipient in campaign.recipients.all():  # each called once, and failed
        CallRecord.objects.create(
            campaign=campaign,
            recipient=recipient,
            attempt=1,
            mobile=recipient.mobile,
            custom_id=f"R{recipient.pk}A1",
            state="failed",
            outcome="no_answer",
        )
    Campaign.objects.filter(pk=campaign.pk).update(state="completed")

    def reopening_fails(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "_move", reopening_fails)
    client.raise_request_exception = False
    response = client.post(f"/api/campaigns/{campaign.pk}/retry-failed/", format="json")
    assert response.status_code == 500
    assert CallRecord.objects.filter(campaign=campaign).count() == 2  # no second attempt left behind
    assert key_trail(campaign) == []  # and no entry claiming a retry that did not happen
    monkeypatch.undo()
    assert client.post(f"/api/campaigns/{campaign.pk}/retry-failed/", format="json").status_code == 200
    assert key_trail(campaign) == [("crm", "Retry failed calls (2)")]
    assert CallRecord.objects.filter(campaign=campaign).count() == 4
