"""OpenAPI schema and the local Swagger UI; every documented GET answers without a server error."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from campaigns.models import CallRecord, RecipientImport, SingleCall
from tests.api.helpers import client_for
from tests.factories import make_account, make_campaign

OPENAPI_JSON = "application/vnd.oai.openapi+json"
EXPECTED_PATHS = {
    "/api/campaigns/": {"get", "post"},
    "/api/campaigns/{id}/": {"get"},
    "/api/campaigns/{id}/recipients/": {"post"},
    "/api/campaigns/{id}/launch/": {"post"},
    "/api/campaigns/{id}/pause/": {"post"},
    "/api/campaigns/{id}/resume/": {"post"},
    "/api/campaigns/{id}/cancel/": {"post"},
    "/api/campaigns/{id}/retry-failed/": {"post"},
    "/api/campaigns/{id}/stats/": {"get"},
    "/api/campaigns/{id}/calls/": {"get"},
    "/api/imports/{id}/": {"get"},
    "/api/calls/": {"get", "post"},
    "/api/calls/{id}/": {"get"},
    "/api/vendor-accounts/": {"get"},
    "/api/vendor-accounts/{id}/": {"get"},
}


@pytest.fixture
def schema(db):
    GENERATOR_STATS.reset()
    response = APIClient().get("/api/schema/", HTTP_ACCEPT=OPENAPI_JSON)
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_valid_openapi_with_every_path(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert {path: set(ops) for path, ops in schema["paths"].items()} == EXPECTED_PATHS
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache


def test_schema_documents_bodies_and_answers(schema):
    paths = schema["paths"]
    recipients = paths["/api/campaigns/{id}/recipients/"]["post"]
    assert set(recipients["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"200", "202", "400", "409"} <= set(recipients["responses"])
    for action in ("pause", "resume", "cancel", "retry-failed"):
        operation = paths[f"/api/campaigns/{{id}}/{action}/"]["post"]
        assert "requestBody" not in operation, action
        assert {"200", "409"} <= set(operation["responses"])
    launch = paths["/api/campaigns/{id}/launch/"]["post"]
    assert launch["requestBody"].get("required") is not True
    calls = paths["/api/campaigns/{id}/calls/"]["get"]
    assert {p["name"] for p in calls["parameters"]} >= {"state", "outcome", "mobile", "attempt", "cursor"}
    account = schema["components"]["schemas"]["VendorAccount"]["properties"]
    assert "api_secret_masked" in account and "api_secret" not in account and "callback_token" not in account
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_docs_page_uses_local_static_files_only(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    assert re.findall(r"https?://[^\s\"'<>]+", html) == []
    assets = re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset


def test_every_documented_get_answers_an_operator_without_a_server_error(schema):
    campaign = make_campaign(recipients=2)
    job = RecipientImport.objects.create(campaign=campaign, original_name="x.csv")
    account = make_account()
    single = SingleCall.objects.create(product="verify", mobile="+8613800138000", account=account, variables=["1234"])
    CallRecord.objects.create(single_call=single, mobile=single.mobile, custom_id="S1A1")
    ids = {
        "/api/imports/": job.pk,
        "/api/vendor-accounts/": account.pk,
        "/api/campaigns/": campaign.pk,
        "/api/calls/": single.pk,
    }
    operator = client_for("Operators")
    checked = 0
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        prefix = next(p for p in ids if path.startswith(p))
        concrete = path.replace("{id}", str(ids[prefix]))
        for query in ("", "?page_size=1", "?state=bogus"):
            response = operator.get(concrete + query)
            assert response.status_code < 500, (concrete + query, response.status_code)
            assert response["Content-Type"].startswith("application/json"), concrete
        assert operator.get(path.replace("{id}", "999999")).status_code in (200, 404)
        checked += 1
    assert checked == 9
