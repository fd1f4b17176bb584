"""Operators see single calls in the admin (list, filters, search, attempts); finance sees their spend."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import ProtectedError
from django.utils import timezone

from campaigns import tasks
from campaigns.models import CallRecord, CallRoute, SingleCall
from reporting.selectors import finance
from tests.calls.helpers import integrator
from tests.factories import make_account
from tests.test_admin_pages import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(django_capture_on_commit_callbacks):
    account = make_account(
        name="路由账户", options={"seed": 3, "report_delay": [0, 0], "answer_rate": 1.0}, pull_reports=True
    )
    account.price_per_unit = Decimal("0.10")
    account.save()
    CallRoute.objects.create(product="verify", account=account)
    client = integrator()
    ids = []
    with django_capture_on_commit_callbacks(execute=True):
        for n, out_id in enumerate(["order-1", "order-2"]):
            body = {"mobile": f"1380013800{n}", "product": "verify", "code": "482193", "out_id": out_id}
            ids.append(client.post("/api/calls/", body, format="json").json()["id"])
    tasks.pull_all()
    CallRecord.objects.filter(single_call_id=ids[1]).update(state="submitted", outcome="")  # still waiting
    return ids


def test_operators_list_filter_and_search_single_calls(client, calls):
    login(client, "Operators")
    page = client.get("/admin/campaigns/singlecall/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "order-1" in text and "order-2" in text
    answered = client.get("/admin/campaigns/singlecall/", {"state": "answered"}).content.decode()
    assert "order-1" in answered and "order-2" not in answered
    found = client.get("/admin/campaigns/singlecall/", {"q": "order-2"}).content.decode()
    assert "order-2" in found and "order-1" not in found
    by_number = client.get("/admin/campaigns/singlecall/", {"q": "138 0013 8000"}).content.decode()
    assert "order-1" in by_number and "order-2" not in by_number


def test_operators_find_a_call_by_the_id_the_api_answered(client, calls):
    """A developer reports "call 57"; the operator types 57 into the search."""
    login(client, "Operators")
    found = client.get("/admin/campaigns/singlecall/", {"q": str(calls[1])}).content.decode()
    assert "order-2" in found and "order-1" not in found
    attempt = CallRecord.objects.get(single_call_id=calls[1])
    found = client.get("/admin/campaigns/callrecord/", {"q": str(attempt.pk)}).content.decode()
    assert "+8613800138001" in found and "+8613800138000" not in found
    assert client.get("/admin/campaigns/singlecall/", {"q": "9" * 30}).status_code == 200  # beyond any id


def test_a_search_for_a_wrong_number_says_why_it_matches_nothing(client, calls):
    login(client, "Operators")
    page = client.get("/admin/campaigns/singlecall/", {"q": "1380013800"}).content.decode()  # a digit short
    assert "Nothing matches “1380013800”. As a number it cannot be called: not a valid China mobile" in page
    page = client.get("/admin/campaigns/callrecord/", {"q": "hello"}).content.decode()
    assert "As a number it cannot be called: not a phone number" in page
    page = client.get("/admin/campaigns/singlecall/", {"q": "order-1"}).content.decode()
    assert "Nothing matches" not in page  # a reference that matches is no number, and that is fine
    page = client.get("/admin/campaigns/singlecall/", {"q": "hello"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "没有与“hello”匹配的记录" in page.content.decode()


def test_the_call_page_shows_attempts_and_never_the_code(client, calls):
    login(client, "Operators")
    page = client.get(f"/admin/campaigns/singlecall/{calls[0]}/change/").content.decode()
    assert "482193" not in page and "••••" in page
    attempt = CallRecord.objects.get(single_call_id=calls[0])
    assert f"/admin/campaigns/callrecord/{attempt.pk}/change/" in page
    record_page = client.get(f"/admin/campaigns/callrecord/{attempt.pk}/change/")
    assert record_page.status_code == 200 and "482193" not in record_page.content.decode()


def test_a_call_placed_with_an_api_key_names_the_key_in_the_list_and_on_its_page(client, calls):
    call = SingleCall.objects.select_related("created_by_key").get(pk=calls[0])
    assert call.created_by is None and call.created_by_key.name == "crm-1"  # integrator()'s key
    login(client, "Operators")
    assert client.get("/admin/campaigns/singlecall/").content.decode().count("API key «crm-1»") == 2
    assert "API key «crm-1»" in client.get(f"/admin/campaigns/singlecall/{calls[0]}/change/").content.decode()


def test_a_key_that_placed_calls_cannot_be_deleted(calls):
    key = SingleCall.objects.get(pk=calls[0]).created_by_key
    with pytest.raises(ProtectedError):
        key.delete()  # keys are revoked, not deleted: who placed a call stays known


def test_marketing_does_not_see_single_calls(client, calls):
    login(client, "Marketing")
    assert client.get("/admin/campaigns/singlecall/").status_code == 403


def test_operators_set_the_route_and_it_is_validated(client, calls):
    login(client, "Operators")
    ihuyi = make_account("ihuyi", name="ihuyi-1")
    response = client.post("/admin/campaigns/callroute/add/", {"product": "verify", "account": ihuyi.pk}, follow=True)
    assert "cannot send" in response.content.decode()
    assert CallRoute.objects.count() == 1
    response = client.post("/admin/campaigns/callroute/add/", {"product": "notify", "account": ihuyi.pk})
    assert response.status_code == 302 and CallRoute.objects.get(product="notify").account == ihuyi


def test_finance_counts_single_calls_spend_apart_from_campaigns(calls):
    CallRecord.objects.update(billed_units=2, state="answered")
    today = timezone.localdate()
    data = finance.spend(finance.Period(today - timedelta(days=1), today))
    rows = {str(r["name"]): r for r in data["campaigns"]}
    assert rows["Single calls (API)"]["calls"] == 2 and rows["Single calls (API)"]["cost"] == Decimal("0.40")


def test_no_one_deletes_a_placed_call(admin_client, calls):
    page = admin_client.get(f"/admin/campaigns/singlecall/{calls[0]}/change/").content.decode()
    assert "/delete/" not in page
    assert admin_client.post(f"/admin/campaigns/singlecall/{calls[0]}/delete/", {"post": "yes"}).status_code == 403


def test_finance_follows_the_single_calls_spend_link(client, calls):
    login(client, "Finance")
    assert client.get("/admin/campaigns/singlecall/").status_code == 200
    assert client.get("/admin/campaigns/callroute/").status_code == 403  # routes are the operators'
