"""Push vendors can be set up: operators see each account's full callback URL (issue 11).

As reported: the account page said the token was shown to superusers through the API, and the
API did not show it, so nobody could give ihuyi, Emay or fungo the address to push to.
"""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from tests.api.helpers import client_for
from tests.test_admin_pages import login
from vendors.models import VendorAccount

pytestmark = pytest.mark.django_db

BASE = "https://voice.example.com"


@pytest.fixture
def ihuyi():
    return VendorAccount.objects.create(vendor="ihuyi", name="互亿", base_url="http://127.0.0.1:1", api_secret="k")


@override_settings(PUBLIC_BASE_URL=BASE)
def test_an_operator_sees_the_full_url_a_copy_button_and_where_to_paste_it(client, ihuyi):
    login(client, "Operators")
    page = client.get(f"/admin/vendors/vendoraccount/{ihuyi.pk}/change/").content.decode()
    url = f"{BASE}/api/callbacks/ihuyi/{ihuyi.callback_token}/"
    assert f'id="vo-callback-url">{url}<' in page
    assert 'data-vo-copy="vo-callback-url"' in page
    assert "回执推送地址" in page  # what to paste where, in ihuyi's console
    assert "PUBLIC_BASE_URL is not set" not in page


def test_without_a_public_base_url_it_says_so(client, ihuyi):
    login(client, "Operators")
    page = client.get(f"/admin/vendors/vendoraccount/{ihuyi.pk}/change/").content.decode()
    assert f"http://testserver/api/callbacks/ihuyi/{ihuyi.callback_token}/" in page
    assert "PUBLIC_BASE_URL is not set" in page


@override_settings(PUBLIC_BASE_URL=BASE)
@pytest.mark.parametrize("vendor", ["emay", "fungo"])
def test_each_push_vendor_has_its_line(client, vendor):
    account = VendorAccount.objects.create(vendor=vendor, name=vendor, base_url="http://127.0.0.1:1", api_secret="k")
    login(client, "Operators")
    page = client.get(f"/admin/vendors/vendoraccount/{account.pk}/change/").content.decode()
    assert f"{BASE}/api/callbacks/{vendor}/{account.callback_token}/" in page
    assert {"emay": "push_mode", "fungo": "推送状态报告"}[vendor] in page


def test_a_pull_only_vendor_needs_no_url(client):
    account = VendorAccount.objects.create(vendor="sms10692", name="s", base_url="http://127.0.0.1:1", api_secret="k")
    login(client, "Operators")
    page = client.get(f"/admin/vendors/vendoraccount/{account.pk}/change/").content.decode()
    assert account.callback_token not in page and "does not push" in page


@override_settings(PUBLIC_BASE_URL=BASE)
def test_finance_never_sees_it(client, ihuyi):
    login(client, "Finance")
    page = client.get(f"/admin/vendors/vendoraccount/{ihuyi.pk}/change/").content.decode()
    assert ihuyi.callback_token not in page and 'id="vo-callback"' not in page
    body = client_for("Finance").get(f"/api/vendor-accounts/{ihuyi.pk}/").json()
    assert body["callback_url"] is None and body["callback_setup"] is None
    assert ihuyi.callback_token not in str(body)
    assert client_for("Marketing").get(f"/api/vendor-accounts/{ihuyi.pk}/").status_code == 403


@override_settings(PUBLIC_BASE_URL=BASE)
def test_the_api_gives_it_to_the_same_people(ihuyi):
    body = client_for("Operators").get(f"/api/vendor-accounts/{ihuyi.pk}/").json()
    assert body["callback_url"] == f"{BASE}/api/callbacks/ihuyi/{ihuyi.callback_token}/"
    assert "回执推送地址" in body["callback_setup"]
    assert body["previous_callback_url_valid_until"] is None


@override_settings(PUBLIC_BASE_URL=BASE)
def test_rotating_shows_the_new_url_once_and_how_long_the_old_one_works(client, ihuyi):
    old_token = ihuyi.callback_token
    login(client, "Operators")
    response = client.post(
        "/admin/vendors/vendoraccount/",
        {"action": "rotate_callback_token", "_selected_action": [ihuyi.pk]},
        follow=True,
    )
    ihuyi.refresh_from_db()
    page = response.content.decode()
    assert ihuyi.callback_token != old_token
    assert f"{BASE}/api/callbacks/ihuyi/{ihuyi.callback_token}/" in page
    until = timezone.localtime(ihuyi.previous_token_valid_until)
    assert until - timezone.localtime() > timedelta(days=6)
    assert "The old URL keeps working until" in page
    again = client.get("/admin/vendors/vendoraccount/").content.decode()
    assert ihuyi.callback_token not in again  # the message is shown once
    account_page = client.get(f"/admin/vendors/vendoraccount/{ihuyi.pk}/change/").content.decode()
    assert "the previous URL keeps working until" in account_page
    body = client_for("Operators").get(f"/api/vendor-accounts/{ihuyi.pk}/").json()
    assert body["previous_callback_url_valid_until"] is not None
    assert ihuyi.token_matches(old_token)  # the vendor's pushes to the old URL still count meanwhile
