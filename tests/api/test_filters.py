"""Query parameters an operation does not take are refused on every operation, not only on lists."""

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from campaigns.models import CallRoute, SingleCall
from tests.api.helpers import errors, field_errors
from tests.calls.helpers import integrator
from tests.factories import make_account

pytestmark = pytest.mark.django_db

VERIFY = {"mobile": "138 0013 8000", "product": "verify", "code": "4821", "out_id": "order-77"}


@pytest.fixture
def account():
    account = make_account(options={"seed": 3, "report_delay": [0, 0], "answer_rate": 1.0})
    CallRoute.objects.create(product="verify", account=account)
    return account


def test_a_post_with_an_unknown_parameter_places_no_call(account):
    """``?dry_run=1`` was ignored: the caller believed it a trial and a real call was placed."""
    response = integrator().post("/api/calls/?dry_run=1", VERIFY, format="json")
    assert response.status_code == 400
    [error] = errors(response)
    assert error["attr"] == "dry_run" and "Unknown query parameter; this operation takes none." in error["detail"]
    assert not SingleCall.objects.exists()


def test_a_single_object_with_an_unknown_parameter_is_refused(account):
    client = integrator()
    call_id = client.post("/api/calls/", VERIFY, format="json").json()["id"]
    assert client.get(f"/api/calls/{call_id}/").status_code == 200
    assert client.get(f"/api/calls/{call_id}/", {"format": "json"}).status_code == 200  # DRF's own
    response = client.get(f"/api/calls/{call_id}/", {"foo": "1"})
    assert response.status_code == 400
    assert field_errors(response, "foo")
    chinese = client.get(f"/api/calls/{call_id}/", {"foo": "1"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "未知的查询参数" in field_errors(chinese, "foo")[0]


def test_every_operation_refuses_a_parameter_it_does_not_take(settings):
    """Every operation but the lists (their filters), as a superuser, before it looks for the object."""
    settings.API_DOCS_PUBLIC = True
    schema = json.loads(APIClient().get("/api/schema/", {"format": "json"}).content)
    client = APIClient()
    client.force_login(User.objects.create_superuser("root", password="pw-1234-long"))
    checked = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if any(p["in"] == "query" for p in operation.get("parameters", ())):
                continue
            url = path.replace("{id}", "999999") + "?not_a_parameter=1"
            response = getattr(client, method)(url, {}, format="json")
            assert response.status_code == 400, (method, path, response.content)
            assert [e["attr"] for e in errors(response)] == ["not_a_parameter"], (method, path)
            checked += 1
    assert checked == 23
    assert not SingleCall.objects.exists()


def test_an_unauthenticated_request_is_told_so_first():
    response = APIClient().post("/api/calls/?dry_run=1", VERIFY, format="json")
    assert response.status_code == 401
