"""Who may do what over REST (campaigns/roles.py), token auth, and secrets never leaving the server."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign
from tests.api.helpers import client_for, errors
from tests.factories import make_account, make_campaign
from vendors.adapters import adapter_class
from vendors.models import BalanceSnapshot, VendorAccount

SECRET = "ihuyi-api-key-4f2a9cXY"
RECIPIENTS = {"recipients": [{"mobile": "13800138000", "variables": ["王", "SO1"]}]}


@pytest.fixture
def account(db):
    return VendorAccount.objects.create(
        vendor="ihuyi",
        name="main",
        base_url="http://127.0.0.1:1",
        api_id="C123",
        api_secret=SECRET,
        low_balance_threshold=Decimal("100"),
    )


@pytest.fixture
def campaign(db):
    return make_campaign(recipients=1)


def new_campaign_payload():
    return {"name": "api", "account": make_account().pk, "content": "【name】您好【order】"}


# ---- authentication
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/campaigns/"),
        ("post", "/api/campaigns/"),
        ("get", "/api/vendor-accounts/"),
        ("get", "/api/campaigns/{id}/"),
        ("get", "/api/campaigns/{id}/stats/"),
        ("get", "/api/campaigns/{id}/calls/"),
        ("post", "/api/campaigns/{id}/launch/"),
        ("post", "/api/campaigns/{id}/recipients/"),
    ],
)
def test_anonymous_requests_are_refused(campaign, method, path):
    response = getattr(APIClient(), method)(path.format(id=campaign.pk), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert errors(response)[0]["code"] == "not_authenticated"
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"


# ---- roles
def test_marketing_creates_fills_and_launches_and_sees_accounts_without_their_settings(campaign, account):
    client = client_for("Marketing")
    created = client.post("/api/campaigns/", new_campaign_payload(), format="json")
    assert created.status_code == 201
    pk = created.json()["id"]
    assert client.post(f"/api/campaigns/{pk}/recipients/", RECIPIENTS, format="json").status_code == 200
    assert client.post(f"/api/campaigns/{pk}/launch/").status_code == 200
    assert client.post(f"/api/campaigns/{pk}/pause/").status_code == 200
    assert client.get(f"/api/campaigns/{pk}/stats/").status_code == 200
    assert client.get(f"/api/campaigns/{pk}/calls/").status_code == 200
    assert client.get("/api/campaigns/").status_code == 200
    listing = client.get("/api/vendor-accounts/")
    detail = client.get(f"/api/vendor-accounts/{account.pk}/")
    for response in (listing, detail):
        assert response.status_code == 200
        text = response.content.decode()
        assert SECRET not in text and account.callback_token not in text and account.api_id not in text
    assert detail.json() == {
        "id": account.pk,
        "vendor": account.vendor,
        "name": account.name,
        "products": list(adapter_class("ihuyi").products),
        "is_active": True,
    }
    assert set(listing.json()["results"][0]) == {"id", "vendor", "name", "products", "is_active"}


def test_finance_reads_campaigns_and_stats_but_cannot_create_or_launch(campaign, account):
    client = client_for("Finance")
    assert client.get("/api/campaigns/").status_code == 200
    assert client.get(f"/api/campaigns/{campaign.pk}/").status_code == 200
    assert client.get(f"/api/campaigns/{campaign.pk}/stats/").status_code == 200
    assert client.get(f"/api/campaigns/{campaign.pk}/calls/").status_code == 200
    assert client.get("/api/vendor-accounts/").status_code == 200
    assert client.post("/api/campaigns/", new_campaign_payload(), format="json").status_code == 403
    for action in ("launch", "pause", "resume", "cancel", "retry-failed"):
        assert client.post(f"/api/campaigns/{campaign.pk}/{action}/").status_code == 403, action
    assert client.post(f"/api/campaigns/{campaign.pk}/recipients/", RECIPIENTS, format="json").status_code == 403
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"
    assert Campaign.objects.count() == 1


def test_a_user_in_no_group_may_do_nothing(campaign):
    client = client_for(None)
    assert client.get("/api/campaigns/").status_code == 403
    assert client.get(f"/api/campaigns/{campaign.pk}/stats/").status_code == 403
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/").status_code == 403
    assert client.get("/api/vendor-accounts/").status_code == 403


def test_operators_may_do_everything_here(campaign, account):
    client = client_for("Operators")
    assert client.get("/api/vendor-accounts/").status_code == 200
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/").status_code == 200
    assert client.post(f"/api/campaigns/{campaign.pk}/cancel/").status_code == 200


def test_the_api_is_read_only_where_it_should_be(campaign, account):
    client = client_for("Operators")
    assert client.delete(f"/api/campaigns/{campaign.pk}/").status_code == 405
    assert client.patch(f"/api/campaigns/{campaign.pk}/", {"name": "x"}, format="json").status_code == 405
    assert client.post("/api/vendor-accounts/", {"name": "x", "vendor": "ihuyi"}, format="json").status_code == 405
    assert client.put(f"/api/vendor-accounts/{account.pk}/", {"name": "x"}, format="json").status_code == 405


# ---- vendor accounts and secrets
def test_vendor_accounts_mask_the_secret_and_hide_the_callback_token(account):
    client = client_for("Finance")
    listing = client.get("/api/vendor-accounts/")
    detail = client.get(f"/api/vendor-accounts/{account.pk}/")
    for response in (listing, detail):
        text = response.content.decode()
        assert SECRET not in text
        assert account.callback_token not in text
        assert "callback_token" not in text and 'api_secret"' not in text
    body = detail.json()
    assert body["api_secret_masked"] == "••••••XY"
    assert {
        "id",
        "vendor",
        "name",
        "base_url",
        "api_id",
        "user_id",
        "is_active",
        "low_balance_threshold",
        "price_per_unit",
        "balance",
        "circuit_open",
        "last_error",
    } <= set(body)
    assert (body["vendor"], body["api_id"], body["balance"], body["low_balance"]) == ("ihuyi", "C123", None, None)


def test_no_response_anywhere_carries_the_secret(account, django_capture_on_commit_callbacks):
    campaign = make_campaign(
        recipients=2,
        account=VendorAccount.objects.create(
            vendor="simulator", name="sim", api_secret=SECRET, options={"seed": 1, "report_delay": [0, 0]}
        ),
    )
    client = client_for("Operators")
    responses = [
        client.get("/api/vendor-accounts/"),
        client.get(f"/api/vendor-accounts/{account.pk}/"),
        client.get("/api/campaigns/"),
        client.get(f"/api/campaigns/{campaign.pk}/"),
        client.post(f"/api/campaigns/{campaign.pk}/launch/"),
        client.get(f"/api/campaigns/{campaign.pk}/stats/"),
        client.get(f"/api/campaigns/{campaign.pk}/calls/"),
        client.get("/api/schema/"),
        client.get("/api/docs/"),
    ]
    for response in responses:
        assert response.status_code == 200, response.wsgi_request.path
        assert SECRET not in response.content.decode()
        text = response.content.decode()
        if response.wsgi_request.path.startswith("/api/vendor-accounts/"):
            # Operators get the callback URL (it holds the token) to paste at the vendor; nothing else carries it
            body = response.json()
            for item in body.get("results", [body]):
                text = text.replace(item.get("callback_url") or "\0", "")
        assert account.callback_token not in text


def test_latest_balance_and_circuit_status(account):
    old = timezone.now() - timedelta(hours=1)
    BalanceSnapshot.objects.create(account=account, amount=Decimal("500"), unit="CNY", taken_at=old)
    BalanceSnapshot.objects.create(account=account, amount=Decimal("42.5"), unit="CNY")
    VendorAccount.objects.filter(pk=account.pk).update(
        circuit_open_until=timezone.now() + timedelta(minutes=5), last_error="E403 bad key"
    )
    body = client_for("Finance").get(f"/api/vendor-accounts/{account.pk}/").json()
    assert body["balance"]["amount"] == "42.5000"
    assert body["balance"]["unit"] == "CNY"
    assert body["balance"]["taken_at"]
    assert body["low_balance"] is True
    assert (body["circuit_open"], body["last_error"]) == (True, "E403 bad key")


def test_vendor_account_list_costs_the_same_queries_for_any_number_of_accounts(account):
    client = client_for("Finance")

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/vendor-accounts/").status_code == 200
        return len(queries)

    one = count_queries()
    for i in range(5):
        other = make_account(name=f"more-{i}")
        BalanceSnapshot.objects.create(account=other, amount=Decimal(i), unit="calls")
    assert count_queries() == one
    assert len(client.get("/api/vendor-accounts/").json()["results"]) == 6
