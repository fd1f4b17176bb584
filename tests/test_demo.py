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
