"""Voice templates over the API: list, create, the variables they need, submit for the vendor's review."""

import pytest
from django.contrib.auth.models import Group, User

from campaigns.models import VoiceTemplate
from tests.api.helpers import client_for, error_text, errors, field_errors
from tests.factories import make_account
from tests.fakes.ihuyi import FakeIhuyi
from vendors.models import VendorAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing():
    return client_for("Marketing")


@pytest.fixture
def ihuyi(start_fake):
    fake = start_fake(FakeIhuyi("C100", "key-100"))
    account = VendorAccount.objects.create(
        vendor="ihuyi", name="ihuyi", base_url=fake.url, api_id="C100", api_secret="key-100"
    )
    return fake, account


def test_create_a_template_and_read_the_variables_it_needs(marketing):
    account = make_account()  # the simulator does not review templates: approved at once
    response = marketing.post(
        "/api/templates/",
        {"account": account.pk, "name": "发货", "content": "【name】您好，订单【order】已发货。"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["variables"] == ["name", "order"]
    assert body["review_state"] == "approved" and body["vendor_template_id"] == ""
    listed = marketing.get("/api/templates/", {"account": account.pk}).json()
    assert [t["id"] for t in listed["results"]] == [body["id"]]
    assert marketing.get(f"/api/templates/{body['id']}/").json()["variables"] == ["name", "order"]


def test_a_retried_create_makes_one_template(marketing):
    account = make_account()
    body = {"account": account.pk, "name": "发货", "content": "订单【order】已发货。"}
    first = marketing.post("/api/templates/", body, format="json", HTTP_IDEMPOTENCY_KEY="tpl-1")
    again = marketing.post("/api/templates/", body, format="json", HTTP_IDEMPOTENCY_KEY="tpl-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert VoiceTemplate.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "content": "y"}, "account"),
        ({"account": 999999, "name": "x", "content": "y"}, "account"),
        ({"name": "", "content": "y"}, "name"),
        ({"name": "x", "content": ""}, "content"),
    ],
)
def test_bad_templates_are_refused_field_by_field(marketing, payload, field):
    account = make_account()
    payload = {"account": account.pk, **payload} if "account" not in payload and field != "account" else payload
    response = marketing.post("/api/templates/", payload, format="json")
    assert response.status_code == 400
    assert field_errors(response, field)
    assert not VoiceTemplate.objects.exists()


def test_read_only_fields_in_a_request_change_nothing(marketing):
    account = make_account("ihuyi")
    response = marketing.post(
        "/api/templates/",
        {"account": account.pk, "name": "t", "content": "您好【变量】", "review_state": "approved", "variables": []},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["review_state"] == "draft"  # ihuyi reviews templates: not approved by the client


def test_submit_to_a_reviewing_vendor_then_refusals_say_why(marketing, ihuyi):
    fake, account = ihuyi
    template = VoiceTemplate.objects.create(account=account, name="code", content="您的验证码是【变量】")
    response = marketing.post(f"/api/templates/{template.pk}/submit/", {}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["review_state"] == "pending"
    assert response.json()["vendor_template_id"] in fake.templates

    again = marketing.post(f"/api/templates/{template.pk}/submit/", format="json")
    assert again.status_code == 409 and errors(again)[0]["code"] == "state"
    assert "already waiting" in error_text(again)

    twin = VoiceTemplate.objects.create(account=account, name="twin", content="您的验证码是【变量】")
    refused = marketing.post(f"/api/templates/{twin.pk}/submit/", format="json")
    assert refused.status_code == 422 and errors(refused)[0]["code"] == "vendor_refused"
    assert "模板己存在" in error_text(refused)
    twin.refresh_from_db()
    assert twin.review_state == "draft"


def test_an_unreachable_vendor_is_a_503_to_try_again(marketing, ihuyi):
    fake, account = ihuyi
    template = VoiceTemplate.objects.create(account=account, name="t", content="您好【变量】")
    fake.stop()
    marketing.raise_request_exception = False  # a 5xx is reported to Django's error signal (and logged)
    response = marketing.post(f"/api/templates/{template.pk}/submit/", format="json")
    assert response.status_code == 503 and errors(response)[0]["code"] == "vendor_unavailable"
    template.refresh_from_db()
    assert template.review_state == "draft"


def test_finance_reads_nothing_of_templates_and_cannot_submit():
    finance = client_for("Finance")
    template = VoiceTemplate.objects.create(account=make_account(), name="t", content="x")
    assert finance.get("/api/templates/").status_code == 403
    assert finance.post(f"/api/templates/{template.pk}/submit/", format="json").status_code == 403


def test_a_user_who_may_only_view_templates_cannot_submit(db):
    user = User.objects.create_user("viewer")
    user.user_permissions.add(*Group.objects.get(name="Marketing").permissions.filter(codename="view_voicetemplate"))
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    template = VoiceTemplate.objects.create(account=make_account(), name="t", content="x")
    assert client.get("/api/templates/").status_code == 200
    assert client.post(f"/api/templates/{template.pk}/submit/", format="json").status_code == 403


def test_a_template_body_with_a_number_for_its_name_or_a_fraction_for_its_account_is_refused():
    """What schemathesis found: ``{"name": -296710, "account": 1.9}`` made a template named "-296710" on account 1."""
    from apikeys.scopes import MANAGE_CAMPAIGNS
    from tests.apikeys.test_api_keys import key_client

    account = make_account()
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS)
    for body, field in (
        ({"name": -296710, "account": account.pk, "content": "您好"}, "name"),
        ({"name": "t", "account": account.pk + 0.9, "content": "您好"}, "account"),
        ({"name": "t", "account": str(account.pk), "content": "您好"}, "account"),
        ({"name": "t", "account": True, "content": "您好"}, "account"),
    ):
        response = client.post("/api/templates/", body, format="json")
        assert response.status_code == 400 and field_errors(response, field), (body, response.json())
    assert not VoiceTemplate.objects.exists()
