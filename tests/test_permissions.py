"""Groups give each role only what it needs (campaigns/roles.py, created by a data migration)."""

import pytest
from django.contrib.auth.models import Group, User

from vendors.models import VendorAccount

SECRET = "s3cret-value-XY"


@pytest.fixture
def account(db):
    return VendorAccount.objects.create(
        vendor="ihuyi", name="acc", base_url="http://127.0.0.1:1", api_id="C1", api_secret=SECRET
    )


def login_as(client, group: str):
    user = User.objects.create_user(f"{group.lower()}-user", password="pw-1234-long", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


def test_the_three_groups_exist(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"Operators", "Marketing", "Finance"}


def test_operators_cannot_manage_users(client, db):
    login_as(client, "Operators")
    assert client.get("/admin/auth/user/").status_code == 403
    assert client.get("/admin/campaigns/campaign/add/").status_code == 200


def test_marketing_cannot_open_a_vendor_account(client, account):
    login_as(client, "Marketing")
    response = client.get(f"/admin/vendors/vendoraccount/{account.pk}/change/")
    assert response.status_code in (302, 403)
    assert SECRET not in response.content.decode()
    assert client.get("/admin/campaigns/campaign/add/").status_code == 200


def test_finance_can_look_but_not_change(client, account):
    login_as(client, "Finance")
    page = client.get(f"/admin/vendors/vendoraccount/{account.pk}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    before = VendorAccount.objects.get(pk=account.pk).name
    # a complete form (an admin saving it gets a redirect: tests/test_secrets.py), so only the permission refuses it
    valid = {
        "name": "hijacked",
        "vendor": "ihuyi",
        "is_active": "on",
        "base_url": "http://127.0.0.1:1",
        "api_id": "C123",
        "api_secret": "",
        "user_id": "",
        "options": "{}",
        "rate_limit_per_second": 5,
        "low_balance_threshold": "0",
        "price_per_unit": "",
    }
    assert client.post(f"/admin/vendors/vendoraccount/{account.pk}/change/", valid).status_code == 403
    assert VendorAccount.objects.get(pk=account.pk).name == before
    assert client.get("/admin/campaigns/campaign/add/").status_code == 403
    assert client.get("/admin/vendors/vendoraccount/add/").status_code == 403
