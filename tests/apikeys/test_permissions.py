"""A key asking for a method the view does not have is told 405, as a person is, never a scope 403."""

import pytest
from rest_framework.test import APIClient

from apikeys.scopes import MANAGE_CAMPAIGNS, MANAGE_WEBHOOKS, READ_STATISTICS, SEND_CALLS
from campaigns.models import Campaign
from tests.api.helpers import client_for, errors
from tests.apikeys.test_api_keys import key_client
from tests.factories import make_campaign

pytestmark = pytest.mark.django_db

EVERY_SCOPE = (MANAGE_CAMPAIGNS, MANAGE_WEBHOOKS, READ_STATISTICS, SEND_CALLS)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/calls/1/"),
        ("patch", "/api/calls/1/"),
        ("delete", "/api/calls/1/"),
        ("delete", "/api/campaigns/{campaign}/"),
        ("put", "/api/templates/1/"),
        ("delete", "/api/calls/"),
    ],
)
def test_a_method_the_view_does_not_have_is_a_405_for_a_key(method, path):
    campaign = make_campaign(recipients=1)
    url = path.format(campaign=campaign.pk)
    for client in (key_client(*EVERY_SCOPE)[0], key_client(SEND_CALLS, name="app")[0], client_for("Operators")):
        response = client.generic(method.upper(), url, "{}", "application/json")
        assert response.status_code == 405, (method, path, response.content)
        [error] = errors(response)
        assert error["code"] == "method_not_allowed" and error["attr"] is None
        assert method.upper() in error["detail"]
    assert Campaign.objects.get().state == "draft"


def test_options_answers_the_metadata_not_a_403():
    client, _key, _secret = key_client(SEND_CALLS)
    response = client.options("/api/calls/")
    assert response.status_code == 200, response.content
    assert response.json()["name"]
    assert "POST" in response["Allow"]


def test_a_key_without_the_scope_is_still_refused_what_the_view_has():
    client, _key, _secret = key_client(READ_STATISTICS)
    response = client.post("/api/calls/", {}, format="json")
    assert response.status_code == 403
    assert errors(response)[0]["code"] == "permission_denied"


def test_anonymous_is_asked_to_authenticate_whatever_the_method():
    assert APIClient().put("/api/calls/1/", {}, format="json").status_code == 401
