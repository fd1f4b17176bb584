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


def errors(response) -> list[dict]:
    """The errors of the API's one error body (``voiceops.api.errors``), checking its shape."""
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    assert body["type"] in ("validation_error", "client_error", "server_error")
    assert body["errors"] and all(set(e) == {"code", "detail", "attr"} for e in body["errors"]), body
    return body["errors"]


def error_text(response) -> str:
    """Every error message of an error answer, joined."""
    return " ".join(e["detail"] for e in errors(response))


def field_errors(response, attr: str) -> list[str]:
    """The messages about one field or its items (``attr`` dotted below it: ``retry_outcomes.0``)."""
    return [e["detail"] for e in errors(response) if e["attr"] == attr or (e["attr"] or "").startswith(attr + ".")]
