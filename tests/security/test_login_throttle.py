"""Login throttling as the probe attacked it: nobody can keep someone else's account locked out.

Addresses are locked after repeated failures (the client address a trusted proxy reports); a
username is only slowed down. Operators unlock in the admin, anyone with a shell by a command.
"""

import time
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User
from django.core.management import call_command

PROXY = "10.0.0.1"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def admin_user(db):
    return User.objects.create_user("admin", password=PASSWORD, is_staff=True, is_superuser=True)


def login(client, username, password, address, forwarded_for=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded_for:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    client.logout()
    return client.post("/admin/login/", {"username": username, "password": password}, **extra)


def test_behind_the_proxy_a_stranger_cannot_lock_the_owner_out(client, admin_user, settings):
    """The probe: wrong passwords for `admin` through the reverse proxy (every client shares its
    address) locked the right password out. Now the proxy's X-Forwarded-For names each client."""
    settings.TRUSTED_PROXIES = [PROXY]
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        login(client, "admin", "wrong", PROXY, forwarded_for="203.0.113.9")
    response = login(client, "admin", PASSWORD, PROXY, forwarded_for="198.51.100.7")
    assert (response.status_code, response.get("Location")) == (302, "/admin/")
    assert login(client, "admin", PASSWORD, PROXY, forwarded_for="203.0.113.9").status_code == 429


def test_a_username_tried_from_many_addresses_is_slowed_never_locked(client, admin_user, settings):
    settings.LOGIN_SLOWDOWN_AFTER = 2
    settings.LOGIN_SLOWDOWN_MAX_SECONDS = 0.5
    for n in range(6):
        assert login(client, "admin", "wrong", f"203.0.113.{n + 1}").status_code == 200  # the form again
    started = time.monotonic()
    response = login(client, "admin", PASSWORD, "198.51.100.7")
    assert response.status_code == 302 and time.monotonic() - started >= 0.5
    started = time.monotonic()
    login(client, "admin", PASSWORD, "198.51.100.7")  # the success cleared the count: no wait
    assert time.monotonic() - started < 0.5


def test_an_address_with_too_many_failures_is_refused_and_told_the_truth(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for name in ("carol", "dave", "erin"):  # password spraying: one address, many usernames
        login(client, name, "wrong", "203.0.113.9")
    response = login(client, "admin", PASSWORD, "203.0.113.9")
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    text = response.content.decode()
    assert "15 minutes" in text and "from your address" in text and "operator unlocks" in text
    assert login(client, "admin", PASSWORD, "198.51.100.7").status_code == 302  # others are not affected


def test_forwarded_for_from_anyone_but_a_trusted_proxy_is_ignored(client, admin_user, settings):
    """Rotating X-Forwarded-For does not buy a direct client fresh attempts."""
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        login(client, "admin", "wrong", "203.0.113.9", forwarded_for=f"198.51.100.{n}")
    assert login(client, "admin", PASSWORD, "203.0.113.9", forwarded_for="198.51.100.77").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}


def test_an_operator_unlocks_an_address_in_the_admin(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        login(client, "admin", "wrong", "203.0.113.9")
    assert login(client, "admin", PASSWORD, "203.0.113.9").status_code == 429

    operator = User.objects.create_user("olivia", password="pw-olivia-12345", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operators"))
    client.force_login(operator)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "203.0.113.9" in listing.content.decode()
    attempt = AccessAttempt.objects.get(ip_address="203.0.113.9")
    response = client.post(
        "/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True
    )
    assert response.status_code == 200 and not AccessAttempt.objects.exists()
    assert login(client, "admin", PASSWORD, "203.0.113.9").status_code == 302


@pytest.mark.parametrize("group", ["Marketing", "Finance"])
def test_only_operators_unlock(client, db, group):
    user = User.objects.create_user(f"u-{group}", password="pw-long-enough-1", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    assert client.get("/admin/axes/accessattempt/").status_code == 403


def test_unlock_command(client, admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_SLOWDOWN_AFTER = 1
    settings.LOGIN_SLOWDOWN_MAX_SECONDS = 5
    for _ in range(3):
        login(client, "admin", "wrong", "203.0.113.9")
    out = StringIO()
    call_command("unlock_login", "--address", "203.0.113.9", stdout=out)
    assert "Removed 1 failed-login record" in out.getvalue()
    started = time.monotonic()
    assert login(client, "admin", PASSWORD, "203.0.113.9").status_code == 302
    assert time.monotonic() - started < 1  # the username's slow-down was cleared with it
