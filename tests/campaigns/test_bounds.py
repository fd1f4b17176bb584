"""Every numeric and time setting of a campaign and an account has bounds a person would accept,
enforced on the model: the admin, the API and ``save`` refuse the same values, naming the bound."""

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import Campaign
from tests.api.helpers import client_for
from tests.factories import make_account, make_campaign
from tests.test_admin_pages import login
from vendors.models import VendorAccount

pytestmark = pytest.mark.django_db

HUGE = 9223372036854775807


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("retry_delay_minutes", HUGE, "at most 10080 minutes (7 days)"),
        ("retry_delay_minutes", 10081, "at most 10080 minutes (7 days)"),
        ("report_window_minutes", 10081, "at most 10080 minutes (7 days)"),
        ("report_window_minutes", 0, "at least 1 minute"),
        ("rate_limit_per_second", 10001, "at most 10000 calls a second"),
        ("max_attempts", 11, "at most 10 attempts"),
        ("max_attempts", 0, "at least 1 attempt"),
    ],
)
def test_the_api_refuses_an_out_of_range_setting_naming_the_bound(field, value, words):
    """As reported: retry_delay_minutes = 2**63-1 was accepted and later stopped every campaign's receipts."""
    account = make_account()
    response = client_for("Marketing").post(
        "/api/campaigns/", {"name": "c", "account": account.pk, "content": "您好", field: value}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert words in " ".join(response.json()[field]).lower()
    assert not Campaign.objects.exists()


def test_a_campaign_may_not_be_faster_than_its_account():
    account = make_account(rate_limit_per_second=20)
    response = client_for("Marketing").post(
        "/api/campaigns/",
        {"name": "c", "account": account.pk, "content": "您好", "rate_limit_per_second": 50},
        format="json",
    )
    assert response.status_code == 400
    assert "At most 20 calls a second" in str(response.json())


def test_the_admin_refuses_an_out_of_range_setting_naming_the_bound(client):
    login(client, "Operators")
    account = make_account()
    response = client.post(
        "/admin/campaigns/campaign/add/",
        {
            "name": "c",
            "account": account.pk,
            "product": "notify",
            "content": "您好",
            "quiet_hours_start": "08:00",
            "quiet_hours_end": "21:00",
            "rate_limit_per_second": 10,
            "max_attempts": 2,
            "retry_delay_minutes": HUGE,
            "retry_outcomes": "[]",
            "report_window_minutes": 1440,
        },
    )
    assert response.status_code == 200
    assert "At most 10080 minutes (7 days)." in response.content.decode()
    assert not Campaign.objects.exists()


def test_save_refuses_it_too():
    with pytest.raises(ValidationError, match="7 days"):
        make_campaign(retry_delay_minutes=HUGE)
    with pytest.raises(ValidationError, match="At most 10000 calls a second"):
        make_account(rate_limit_per_second=50000)
    account = make_account()
    account.callback_rate_limit = 0
    with pytest.raises(ValidationError, match="At least 1 request a second"):
        account.save()
    account.refresh_from_db()
    account.low_balance_threshold = -5
    with pytest.raises(ValidationError, match="0 or more"):
        account.save()
    assert VendorAccount.objects.get(pk=account.pk).low_balance_threshold == 0


def test_the_migration_brings_stored_values_into_bounds():
    from importlib import import_module

    from django.apps import apps

    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(retry_delay_minutes=HUGE // 2**33, rate_limit_per_second=10**6)
    import_module("campaigns.migrations.0007_normalize_do_not_call_clamp_settings").clamp_campaign_settings(apps, None)
    campaign.refresh_from_db()
    assert (campaign.retry_delay_minutes, campaign.rate_limit_per_second) == (10080, 10_000)


def test_numbers_given_as_text_are_compared_as_numbers():
    """Found when `make run` loaded its demo: a threshold given as "100" made save() raise TypeError."""
    account = make_account(low_balance_threshold="100", callback_rate_limit="50")
    assert VendorAccount.objects.get(pk=account.pk).callback_rate_limit == 50
    with pytest.raises(ValidationError, match="At most 10000 calls a second"):
        make_account(rate_limit_per_second="10001")
