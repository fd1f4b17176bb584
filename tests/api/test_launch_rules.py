"""Launch rules live in the service and are the same in the API and the admin (issue 11):
a start time must be in the future, a scheduled campaign may be rescheduled, a running one
cannot be launched again (409 with the reason)."""

from datetime import time, timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from campaigns.models import Campaign
from tests.api.helpers import client_for, error_text
from tests.factories import make_campaign
from tests.test_admin_pages import login

pytestmark = pytest.mark.django_db


def launch(client, campaign, **body):
    return client.post(f"/api/campaigns/{campaign.pk}/launch/", body, format="json")


def test_a_start_time_in_the_past_is_refused_not_run_at_once():
    """As reported: the API launched a campaign "at" a past time immediately."""
    campaign = make_campaign(recipients=1)
    past = timezone.now() - timedelta(hours=1)
    response = launch(client_for("Marketing"), campaign, at=past.isoformat())
    assert response.status_code == 400
    assert "must be in the future" in error_text(response)
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"


def test_a_scheduled_campaign_is_rescheduled_by_a_new_time():
    """As reported: a second launch with a new `at` answered 200 but kept the old time."""
    campaign = make_campaign(recipients=1)
    client = client_for("Marketing")
    first, second = timezone.now() + timedelta(days=1), timezone.now() + timedelta(days=2)
    assert launch(client, campaign, at=first.isoformat()).status_code == 200
    response = launch(client, campaign, at=second.isoformat())
    assert response.status_code == 200
    assert parse_datetime(response.json()["scheduled_at"]) == second
    assert Campaign.objects.get(pk=campaign.pk).scheduled_at == second
    # without a time it starts now
    assert launch(client, campaign).json()["state"] in ("scheduled", "running")


def test_launching_a_running_campaign_is_a_409_with_the_reason():
    campaign = make_campaign(recipients=1)
    client = client_for("Marketing")
    assert launch(client, campaign).json()["state"] == "running"
    response = launch(client, campaign, at=(timezone.now() + timedelta(days=1)).isoformat())
    assert response.status_code == 409
    assert "already running" in error_text(response)
    assert launch(client, campaign).status_code == 409


def test_the_admin_follows_the_same_rules(client):
    login(client, "Marketing")
    campaign = make_campaign(recipients=1)
    act = f"/admin/campaigns/campaign/{campaign.pk}/act/"
    first = timezone.localtime() + timedelta(days=1)
    client.post(act + "schedule/", {"scheduled_at": first.strftime("%Y-%m-%dT%H:%M")})
    second = (first + timedelta(days=1)).replace(second=0, microsecond=0)
    page = client.post(act + "schedule/", {"scheduled_at": second.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    assert "is scheduled to start at" in page.content.decode()
    assert Campaign.objects.get(pk=campaign.pk).scheduled_at == second
    client.post(act + "launch/")
    campaign.refresh_from_db()
    assert campaign.state == "running"
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "vo-launch" not in page  # nothing to launch while it runs


def test_launching_outside_calling_hours_warns_when_calls_will_start(client):
    now = timezone.localtime()
    start = (now + timedelta(hours=2)).time().replace(minute=0, second=0, microsecond=0)
    end = (now + timedelta(hours=3)).time().replace(minute=0, second=0, microsecond=0)
    campaign = make_campaign(recipients=1, quiet_hours_start=start, quiet_hours_end=end)
    login(client, "Marketing")
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f"calls will start at {start:%H:%M}" in page  # the launch button asks before it goes
    assert "data-vo-calling-hours" in page  # the schedule form checks the chosen time
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/launch/", follow=True)
    assert f"calls will start at {start:%H:%M}" in response.content.decode()
    body = client_for("Marketing").get(f"/api/campaigns/{campaign.pk}/").json()
    assert timezone.localtime(parse_datetime(body["calls_start_at"])).strftime("%H:%M") == f"{start:%H:%M}"
    assert [r["code"] for r in body["not_dialling"]] == ["quiet_hours"]


def test_always_allowed_hours_give_no_warning(client):
    campaign = make_campaign(recipients=1, quiet_hours_start=time(0), quiet_hours_end=time(0))
    login(client, "Marketing")
    response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/launch/", follow=True)
    assert "calls will start at" not in response.content.decode()
