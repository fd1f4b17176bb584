"""`manage.py demo` gives a new user something to look at, and can be run again."""

import re
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from campaigns.models import Campaign, Recipient
from vendors.models import VendorAccount


def run_demo() -> str:
    out = StringIO()
    call_command("demo", recipients=120, stdout=out)
    return out.getvalue()


def test_demo_twice_is_idempotent_and_prints_a_working_login(db):
    first = run_demo()
    second = run_demo()
    assert VendorAccount.objects.filter(vendor="simulator").count() == 1
    assert Campaign.objects.count() == 1
    assert Recipient.objects.count() == 120
    passwords = [re.search(r"password (\S+)", text).group(1) for text in (first, second)]
    assert passwords[0] != passwords[1]  # generated each time, never a fixed default
    admin = get_user_model().objects.get(username="admin")
    assert admin.check_password(passwords[1]) and not admin.check_password(passwords[0])
    assert admin.is_superuser and admin.is_staff


def test_a_first_single_call_after_the_demo_needs_no_route_set_up(db):
    """Found trying the API as a newcomer: POST /api/calls/ without `account` was refused (no route)."""
    from rest_framework.test import APIClient

    from apikeys.models import ApiKey
    from apikeys.scopes import SEND_CALLS

    run_demo()
    _key, secret = ApiKey.objects.create_key(name="newcomer", scopes=[SEND_CALLS])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    response = client.post(
        "/api/calls/", {"mobile": "138 0013 8000", "product": "verify", "code": "1234"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["account"] == VendorAccount.objects.get(vendor="simulator").pk
