"""Tell each role why nothing is moving (issue 11): the reasons a campaign is not dialling, on its
page, on each role's home page and in the API; an import that accepted nothing is a failure with
its first reasons inline; every rejection reason the README lists is produced."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from campaigns import services
from campaigns.models import CallRecord, Campaign, DoNotCallEntry, RecipientImport, VoiceTemplate
from tests.api.helpers import client_for
from tests.factories import make_account, make_campaign
from tests.test_admin_pages import login
from vendors.models import BalanceSnapshot, VendorAccount

pytestmark = pytest.mark.django_db


def reasons_on(client, campaign) -> str:
    return client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()


def test_an_open_circuit_says_since_when_the_last_error_and_until_when(client):
    campaign = make_campaign(recipients=2)
    services.launch(campaign)
    until = timezone.now() + timedelta(minutes=3)
    VendorAccount.objects.filter(pk=campaign.account_id).update(
        circuit_open_until=until, last_error="[4085] 同一手机号每日发送次数超限", consecutive_failures=5
    )
    for group in ("Operators", "Marketing", "Finance"):
        client.logout()
        login(client, group, name=f"u-{group}")
        page = reasons_on(client, campaign)
        assert 'id="vo-not-dialling"' in page, group
        assert "stopped answering" in page and "[4085] 同一手机号每日发送次数超限" in page
        assert timezone.localtime(until).strftime("%H:%M") in page
        home = client.get("/admin/").content.decode()
        assert "stopped answering" in home, group  # each role's home page, for its running campaigns
    body = client_for("Marketing").get(f"/api/campaigns/{campaign.pk}/").json()
    assert [r["code"] for r in body["not_dialling"]] == ["circuit_open"]


def test_a_fallback_account_is_named_while_the_primary_is_down(client):
    fallback = make_account()
    campaign = make_campaign(recipients=1, fallback_account=fallback)
    services.launch(campaign)
    VendorAccount.objects.filter(pk=campaign.account_id).update(is_active=False)
    login(client, "Marketing")
    page = reasons_on(client, campaign)
    assert "is not active" in page and f"fallback account “{fallback.name}”" in page


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        (lambda c: services.pause(c), "paused", "Paused: no calls go out"),
        (
            lambda c: BalanceSnapshot.objects.create(account=c.account, amount=Decimal("0"), unit="CNY"),
            "balance_exhausted",
            "has no balance left (0 CNY",
        ),
        (
            lambda c: CallRecord.objects.filter(campaign=c).update(not_before=timezone.now() + timedelta(hours=1)),
            "retries_waiting",
            "Waiting for retries",
        ),
    ],
)
def test_each_reason(client, setup, code, words):
    campaign = make_campaign(recipients=1)
    services.launch(campaign)
    setup(campaign)
    campaign.refresh_from_db()
    login(client, "Marketing")
    assert words in reasons_on(client, campaign)
    body = client_for("Marketing").get(f"/api/campaigns/{campaign.pk}/").json()
    assert code in [r["code"] for r in body["not_dialling"]]


def test_scheduled_and_awaiting_review(client, start_fake):
    from tests.fakes.ihuyi import FakeIhuyi

    fake = start_fake(FakeIhuyi("C1", "k1"))
    account = VendorAccount.objects.create(vendor="ihuyi", name="ih", base_url=fake.url, api_id="C1", api_secret="k1")
    campaign = make_campaign(
        recipients=1, account=account, content="您的验证码是【code】", variables=lambda i: ["1234"]
    )
    at = timezone.now() + timedelta(days=1)
    services.launch(campaign, at=at)
    VoiceTemplate.objects.filter(pk=campaign.template_id).update(review_state="pending")
    login(client, "Marketing")
    page = reasons_on(client, campaign)
    assert "Scheduled: calls start at" in page and "is not approved by the vendor yet" in page


def test_a_running_campaign_that_can_call_shows_no_reason(client):
    campaign = make_campaign(recipients=1)
    services.launch(campaign)
    login(client, "Marketing")
    assert 'id="vo-not-dialling"' not in reasons_on(client, campaign)


# --------------------------------------------------------------------------- imports that took nothing
def test_a_file_import_that_accepted_nothing_is_a_failure_with_its_first_reasons(
    client, django_capture_on_commit_callbacks
):
    campaign = make_campaign()
    login(client, "Marketing")
    body = "手机号,name,order\nhello,王,SO1\n1.38001E+10,李,SO2\n13800138001-123,张,SO3\n".encode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/campaigns/campaign/{campaign.pk}/upload/", {"file": SimpleUploadedFile("l.csv", body)})
    job = RecipientImport.objects.get()
    assert job.state == "failed"
    page = reasons_on(client, campaign)
    assert "No recipient was accepted: all 3 rows were rejected" in page
    assert "line 2 “hello”: not a phone number" in page
    assert "line 3 “1.38001E+10”: written in scientific notation" in page
    assert "line 4 “13800138001-123”: has an extension" in page
    assert f"/imports/{job.pk}/rejected.csv" in page  # the full list is still downloadable
    progress = client.get(f"/admin/campaigns/campaign/{campaign.pk}/imports/{job.pk}/progress.json").json()
    assert progress["failed"] and "No recipient was accepted" in progress["error"]
    api = client_for("Marketing").get(f"/api/imports/{job.pk}/").json()
    assert api["state"] == "failed" and "No recipient was accepted" in api["error"]


def test_a_json_import_that_accepted_nothing_is_a_422():
    campaign = make_campaign()
    response = client_for("Marketing").post(
        f"/api/campaigns/{campaign.pk}/recipients/",
        {"recipients": [{"mobile": "hello", "variables": ["王", "SO1"]}]},
        format="json",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["code"] == "nothing_accepted" and body["accepted"] == 0
    assert "No recipient was accepted" in body["errors"][0]["detail"]
    assert body["rejected"] == [[1, "hello", "not a phone number"]]


# --------------------------------------------------------------------------- every reason the README lists
@pytest.mark.parametrize(
    ("mobile", "variables", "reason"),
    [
        ("13800138001-123", ["王", "SO1"], "has an extension, which cannot be dialled"),  # as reported
        ("010-12345678转8", ["王", "SO1"], "has an extension, which cannot be dialled"),
        ("13800138000 ext 12", ["王", "SO1"], "has an extension, which cannot be dialled"),
        ("1.38001E+10", ["王", "SO1"], "written in scientific notation by a spreadsheet"),
        ("hello", ["王", "SO1"], "not a phone number"),
        ("12345", ["王", "SO1"], "not a valid China mobile or landline number"),
        ("+1 202 555 0143", ["王", "SO1"], "not a China number"),
        ("", ["王", "SO1"], "empty number"),
        ("13700137000", ["王", "SO1"], "on the do-not-call list"),
        ("13600136000", ["王", "SO1"], "duplicate number"),
        ("13500135000", ["王"], "needs 2 variable(s)"),
    ],
)
def test_every_rejection_reason_the_readme_lists_is_produced(mobile, variables, reason):
    DoNotCallEntry.objects.create(mobile="13700137000")
    campaign = make_campaign(recipients=0)
    services.add_recipients(campaign, [{"mobile": "13600136000", "variables": ["王", "SO0"]}])
    result = services.add_recipients(campaign, [{"mobile": mobile, "variables": variables}])
    assert result.accepted == 0
    assert result.rejected[0][2].startswith(reason), result.rejected
    assert Campaign.objects.get(pk=campaign.pk).recipient_count == 1


def test_a_campaign_scheduled_inside_calling_hours_is_not_said_to_be_outside_them():
    """Found trying the API: scheduled for 10:00 with hours 09:00–18:00, it said "calls resume at 09:00"."""
    from datetime import time

    campaign = make_campaign(recipients=1, quiet_hours_start=time(9), quiet_hours_end=time(18))
    day = timezone.localtime() + timedelta(days=2)
    services.launch(campaign, at=day.replace(hour=10, minute=0, second=0, microsecond=0))
    body = client_for("Marketing").get(f"/api/campaigns/{campaign.pk}/").json()
    assert [r["code"] for r in body["not_dialling"]] == ["scheduled"]
    services.launch(campaign, at=day.replace(hour=20, minute=0, second=0, microsecond=0))
    body = client_for("Marketing").get(f"/api/campaigns/{campaign.pk}/").json()
    assert [r["code"] for r in body["not_dialling"]] == ["scheduled", "quiet_hours"]
    assert "09:00" in body["not_dialling"][1]["message"]
