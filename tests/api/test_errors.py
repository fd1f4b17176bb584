"""Every /api/ URL answers JSON in the one error body: unknown URLs, a missing slash, wrong methods,
bad bodies, DEBUG or not (voiceops.api.errors, voiceops.middleware.ApiAwareCommonMiddleware)."""

import pytest
from rest_framework.test import APIClient

from apikeys.scopes import MANAGE_CAMPAIGNS, SEND_CALLS
from tests.api.helpers import client_for, error_text, errors, make_user
from tests.calls.helpers import integrator
from tests.factories import make_campaign


@pytest.fixture(params=[False, True], ids=["production", "debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def operator(db):
    return client_for("Operators")


def test_an_unknown_api_url_is_a_json_404_pointing_at_the_docs(operator, debug):
    for path in ("/api/nothing-here/", "/api/campaigns/1/nothing/", "/api/"):
        response = operator.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"
        assert errors(response)[0]["code"] == "not_found"
        assert "/api/docs/" in error_text(response)


@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_a_missing_trailing_slash_is_a_json_404_naming_the_right_url(operator, debug, method):
    campaign = make_campaign()
    path = f"/api/campaigns/{campaign.pk}/launch"
    response = getattr(operator, method)(path, {} if method == "get" else {"at": None}, format="json")
    assert response.status_code == 404  # not a redirect that loses the body, not DEBUG's RuntimeError
    assert response["Content-Type"] == "application/json"
    assert f"{path}/" in error_text(response)
    assert campaign.state == "draft"


def test_outside_the_api_a_missing_slash_still_redirects(db):
    assert APIClient().get("/admin").status_code == 301


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/campaigns/{id}/"), ("put", "/api/campaigns/{id}/"), ("get", "/api/campaigns/{id}/launch/")],
)
def test_a_wrong_method_is_a_json_405(operator, debug, method, path):
    campaign = make_campaign()
    response = getattr(operator, method)(path.format(id=campaign.pk), format="json")
    assert response.status_code == 405
    assert errors(response)[0]["code"] == "method_not_allowed"


def test_a_wrong_media_type_is_a_json_415_and_a_wrong_accept_a_406(operator, debug):
    response = operator.post("/api/campaigns/", "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert errors(response)[0]["code"] == "unsupported_media_type"
    response = operator.get("/api/campaigns/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert errors(response)[0]["code"] == "not_acceptable"


def test_an_unexpected_error_is_a_json_500_in_debug_too(operator, debug, monkeypatch):
    from campaigns import selectors

    def broken(campaign):
        raise RuntimeError("boom: an internal detail")

    monkeypatch.setattr(selectors, "campaign_stats", broken)
    client = client_for("Operators")
    client.raise_request_exception = False
    response = client.get(f"/api/campaigns/{make_campaign().pk}/stats/")
    assert response.status_code == 500
    assert errors(response)[0]["code"] == "error"
    assert "boom" not in response.content.decode()


def test_a_csrf_refusal_for_a_logged_in_browser_is_json(db):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(make_user("Operators"))
    response = client.post("/api/campaigns/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in error_text(response)


def test_messages_follow_the_language_but_codes_do_not(operator):
    response = operator.get("/api/nothing/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert errors(response)[0]["code"] == "not_found"
    assert "没有这个地址" in error_text(response)


@pytest.mark.parametrize("path", ["/api/campaigns/", "/api/calls/", "/api/campaigns/{id}/recipients/"])
def test_a_body_nested_too_deeply_is_a_json_400_not_a_crash(db, path):
    """Python's json recursion limit is a RecursionError, which DRF's parser does not catch."""
    client = integrator(scopes=(SEND_CALLS, MANAGE_CAMPAIGNS))
    path = path.format(id=make_campaign().pk)
    response = client.post(path, "[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert errors(response)[0]["code"] == "parse_error"
    assert "nested too deeply" in error_text(response)
    chinese = client.post(path, "[" * 100_000, content_type="application/json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "嵌套层数过深" in error_text(chinese)


@pytest.mark.parametrize(
    ("path", "english", "chinese"),
    [
        ("/api/campaigns/999999/", "campaign", "活动"),
        ("/api/campaigns/999999/calls/", "campaign", "活动"),
        ("/api/calls/999999/", "single call", "单次呼叫"),
        ("/api/imports/999999/", "recipient import", "导入"),
        ("/api/vendor-accounts/999999/", "vendor account", "供应商账户"),
        ("/api/templates/999999/", "voice template", "模板"),
        ("/api/webhooks/999999/", "webhook endpoint", "Webhook"),
    ],
)
def test_a_missing_object_is_named_with_its_id_in_the_callers_language(operator, path, english, chinese):
    response = operator.get(path, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and errors(response)[0]["code"] == "not_found"
    assert english in error_text(response).lower() and "999999" in error_text(response)
    chinese_text = error_text(operator.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans"))
    assert chinese in chinese_text and "999999" in chinese_text
