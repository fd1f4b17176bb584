"""Helpers shared by the REST API tests (plain functions, real rows, no mocks)."""

from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from tests.factories import run_until_done  # noqa: F401  (the API tests import it from here)


def make_user(group: str | None, username: str | None = None) -> User:
    user = User.objects.create_user(
        username or f"{(group or 'nobody').lower()}-{User.objects.count() + 1}", password="pw-1234-long"
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def client_for(group: str | None) -> APIClient:
    """An API client logged in (session) as a new member of ``group`` (None: a user in no group)."""
    client = APIClient()
    client.force_login(make_user(group))
    return client
