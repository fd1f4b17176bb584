"""OpenAPI schema and the local Swagger UI; every documented GET answers without a server error."""

import json
import re
import uuid
from datetime import datetime

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone, translation
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from campaigns.frequency import Refusal
from campaigns.models import CallRecord, RecipientImport, SingleCall
from tests.api.helpers import client_for
from tests.factories import make_account, make_campaign
from webhooks.models import Endpoint

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
    "/api/templates/": {"get", "post"},
    "/api/templates/{id}/": {"get"},
    "/api/templates/{id}/submit/": {"post"},
    "/api/webhooks/": {"get", "post"},
    "/api/webhooks/{id}/": {"get", "put", "patch", "delete"},
    "/api/webhooks/{id}/rotate-secret/": {"post"},
    "/api/webhooks/{id}/resend-failed/": {"post"},
}


@pytest.fixture(autouse=True)
def _public_docs(request):
    """The schema read anonymously, as a public deployment serves it (``API_DOCS_PUBLIC``)."""
    request.getfixturevalue("settings").API_DOCS_PUBLIC = True


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
    assert set(schema["components"]["securitySchemes"]) == {"apiKeyAuth", "cookieAuth"}


def test_docs_page_uses_local_static_files_only(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    script = APIClient().get("/api/docs/?script=").content.decode()  # served apart: the CSP allows no inline script
    assert "/api/schema/" in script and "<script>" not in html
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
    endpoint = Endpoint.objects.create(name="CRM", url="https://crm.example.com/hooks", secret="whsec_AAAA")
    ids = {
        "/api/imports/": job.pk,
        "/api/vendor-accounts/": account.pk,
        "/api/campaigns/": campaign.pk,
        "/api/calls/": single.pk,
        "/api/templates/": campaign.template_id,
        "/api/webhooks/": endpoint.pk,
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
    assert checked == 13


# --------------------------------------------------------------------------- what a client generator needs
def _schema_in(language: str) -> dict:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT=OPENAPI_JSON, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return json.loads(response.content)


def _enums(schema: dict) -> dict:
    return {name: c["enum"] for name, c in schema["components"]["schemas"].items() if "enum" in c}


def test_names_and_enum_values_are_english_whatever_the_language(db):
    english, chinese, english_again = _schema_in("en"), _schema_in("zh-hans"), _schema_in("en")
    assert set(english["components"]["schemas"]) == set(chinese["components"]["schemas"])
    assert _enums(english) == _enums(chinese) == _enums(english_again)
    for name in english["components"]["schemas"]:
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), name
    ops = {o["operationId"] for p in chinese["paths"].values() for o in p.values()}
    assert all(re.fullmatch(r"[a-z0-9_]+", op) for op in ops)
    # descriptions may be translated
    assert "已接听" in chinese["components"]["schemas"]["OutcomeEnum"]["description"]


def _titles(node, where: str = "") -> set[tuple[str, str]]:
    """Every ``title`` in the schema, by where it is (generators name inline enums and models by it)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "title" and isinstance(value, str):
                found.add((where, value))
            found |= _titles(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found |= _titles(value, f"{where}/{index}")
    return found


def _parameters(schema: dict) -> set[tuple[str, str, str]]:
    return {
        (o["operationId"], p["in"], p["name"])
        for item in schema["paths"].values()
        for o in item.values()
        for p in o.get("parameters", ())
    }


def test_titles_and_parameters_a_generator_names_things_by_are_english_whatever_the_language(db):
    """openapi-python-client named the calls list's state filter ``CallsList状态`` from a Chinese title."""
    english, chinese = _schema_in("en"), _schema_in("zh-hans")
    assert _titles(english["paths"]) and _titles(english["components"])
    assert _titles(english) == _titles(chinese)
    assert all(title.isascii() for _where, title in _titles(chinese))
    assert _parameters(english) == _parameters(chinese)
    assert all(name.isascii() for _op, _in, name in _parameters(chinese))
    state = next(p for p in chinese["paths"]["/api/calls/"]["get"]["parameters"] if p["name"] == "state")
    assert "title" not in state["schema"]  # "State" is only the name again: the generator says CallsListState
    assert "已接听" in state["description"]  # descriptions still follow the language


def test_request_bodies_have_their_own_components_without_read_only_fields(schema):
    components = schema["components"]["schemas"]
    request = components["CampaignRequest"]
    assert not {"id", "state", "created_at", "launched_at", "completed_at"} & set(request["properties"])
    assert set(request["required"]) == {"name", "account"}
    assert {"id", "state", "created_at"} <= set(components["Campaign"]["required"])
    body = schema["paths"]["/api/campaigns/"]["post"]["requestBody"]
    assert body["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/CampaignRequest"}}}
    template = components["VoiceTemplateRequest"]
    assert set(template["properties"]) == {"account", "name", "content"}


def test_one_body_type_per_operation_except_the_recipients_upload(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            media = set(operation.get("requestBody", {}).get("content", {}))
            if path == "/api/campaigns/{id}/recipients/":
                assert media == {"application/json", "multipart/form-data"}
            else:
                assert media <= {"application/json"}, (method, path, media)


def test_the_upload_is_a_binary_file(schema):
    upload = schema["paths"]["/api/campaigns/{id}/recipients/"]["post"]["requestBody"]["content"]
    file_schema = schema["components"]["schemas"]["RecipientFileRequest"]
    assert upload["multipart/form-data"]["schema"]["$ref"].endswith("/RecipientFileRequest")
    assert file_schema["properties"]["file"]["type"] == "string"
    assert file_schema["properties"]["file"]["format"] == "binary"
    assert file_schema["required"] == ["file"]


def test_every_error_status_has_the_one_error_body(schema):
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403", "405", "406", "500"} <= set(responses), (method, path)
            if "{id}" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "415"} <= set(responses), (method, path)
            for code, response in responses.items():
                if int(code) >= 400:
                    assert response.get("description"), (method, path, code)
                    assert list(response["content"]) == ["application/json"], (method, path, code)
                    assert response["content"]["application/json"]["schema"] == error_ref, (method, path, code)
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"type", "errors"}


def test_an_outcome_not_yet_known_is_null_not_an_empty_string(schema, db):
    outcome = schema["components"]["schemas"]["CallRecord"]["properties"]["outcome"]
    assert outcome["nullable"] is True
    assert {"$ref": "#/components/schemas/OutcomeEnum"} in outcome["oneOf"]
    assert "" not in schema["components"]["schemas"]["OutcomeEnum"]["enum"]
    campaign = make_campaign(recipients=1)
    from campaigns import services

    services.launch(campaign)
    rows = client_for("Operators").get(f"/api/campaigns/{campaign.pk}/calls/").json()["results"]
    assert rows and all(row["outcome"] is None for row in rows)


def test_times_carry_their_offset(schema, db):
    """Every date-time the API answers says its UTC offset (RFC 3339), so no client guesses the zone."""
    from campaigns import services

    campaign = make_campaign(recipients=2)
    services.launch(campaign)
    operator = client_for("Operators")
    answers = [
        operator.get(f"/api/campaigns/{campaign.pk}/").json(),
        *operator.get(f"/api/campaigns/{campaign.pk}/calls/").json()["results"],
        operator.get(f"/api/templates/{campaign.template_id}/").json(),
    ]
    stamps = [v for body in answers for k, v in body.items() if v and k.endswith(("_at", "_until"))]
    assert len(stamps) >= 5
    assert all(re.search(r"T\d\d:\d\d:\d\d(\.\d+)?(\+08:00|Z)$", stamp) for stamp in stamps), stamps


def test_descriptions_are_for_clients_not_engineers(schema):
    """No docstring of ours (notes for engineers) leaks into the schema."""
    import inspect

    from campaigns.api import serializers as api_serializers
    from campaigns.api import views as api_views
    from voiceops.api import errors as api_errors

    notes = set()
    for module in (api_views, api_serializers, api_errors):
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and obj.__doc__:
                notes.add(inspect.cleandoc(obj.__doc__).split("\n")[0][:60])
    text = json.dumps(schema, ensure_ascii=False)
    leaked = [note for note in notes if json.dumps(note, ensure_ascii=False)[1:-1] in text]
    assert not leaked
    assert "→" not in text and "cache" not in text.lower()


def test_created_objects_link_to_their_operations(schema):
    created = schema["paths"]["/api/campaigns/"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in created.values()} >= {
        "campaigns_retrieve",
        "campaigns_recipients_create",
        "campaigns_launch_create",
        "campaigns_stats_retrieve",
        "campaigns_calls_list",
    }
    assert all(link["parameters"] == {"id": "$response.body#/id"} for link in created.values())
    upload = schema["paths"]["/api/campaigns/{id}/recipients/"]["post"]["responses"]["202"]["links"]
    assert list(upload.values()) == [
        {"operationId": "imports_retrieve", "parameters": {"id": "$response.body#/import"}}
    ]
    template = schema["paths"]["/api/templates/"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in template.values()} == {"templates_retrieve", "templates_submit_create"}


def test_a_single_call_documents_its_limits_and_idempotency_answers_in_the_one_error_body(schema):
    responses = schema["paths"]["/api/calls/"]["post"]["responses"]
    assert {"201", "400", "409", "422", "429"} <= set(responses)
    assert responses["429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    example = responses["429"]["content"]["application/json"]["examples"]["NumberLimit"]["value"]
    assert example["errors"][0]["code"] == "number_limit"
    header = next(p for p in schema["paths"]["/api/calls/"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    assert (header["schema"]["minLength"], header["schema"]["maxLength"]) == (1, 255)


def test_the_429_of_a_single_call_lists_only_its_own_limits_not_the_generic_throttled(schema):
    responses = schema["paths"]["/api/calls/"]["post"]["responses"]
    examples = responses["429"]["content"]["application/json"]["examples"]
    assert set(examples) == {"NumberLimit", "VendorLimit", "DailyCap"}
    codes = {name: example["value"]["errors"][0]["code"] for name, example in examples.items()}
    assert codes == {"NumberLimit": "number_limit", "VendorLimit": "vendor_number_limit", "DailyCap": "daily_cap"}
    # Where an operation gives no example of its own, the library's generic one stays.
    assert "MethodNotAllowed" in responses["405"]["content"]["application/json"]["examples"]


@pytest.mark.parametrize(
    ("name", "limit", "window", "most", "frees"),
    [
        ("NumberLimit", "number", 60, 1, "2026-11-11 09:01:00"),
        ("VendorLimit", "vendor", 60, 3, "2026-11-11 09:01:00"),
        ("DailyCap", "daily_cap", 86400, 10000, "2026-11-12 00:00:00"),
    ],
)
def test_the_429_examples_say_what_a_refusal_says(schema, name, limit, window, most, frees):
    examples = schema["paths"]["/api/calls/"]["post"]["responses"]["429"]["content"]["application/json"]["examples"]
    frees_at = timezone.make_aware(datetime.fromisoformat(frees))
    with translation.override("en"):
        assert examples[name]["value"]["errors"][0]["detail"] == Refusal(limit, window, most, frees_at).message()


def test_every_operation_taking_an_idempotency_key_documents_its_409_and_422(schema):
    taking = [
        (method, path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    ]
    assert len(taking) >= 8  # calls, campaigns, recipients, launch and the other campaign actions
    for method, path, operation in taking:
        assert {"409", "422"} <= set(operation["responses"]), (method, path)


def test_the_docs_tell_a_developer_how_to_receive_and_verify_webhooks(schema):
    """A developer with only /api/docs/ must learn the headers, the body and every event type there:
    the deliveries are no operation of the schema. Checked against what delivery really sends."""
    from webhooks.delivery import headers_for
    from webhooks.events import EVENT_TYPES
    from webhooks.models import Event

    text = schema["info"]["description"]
    signed = headers_for(Event(uid=uuid.uuid4(), body="{}"), ["whsec_" + "A" * 44], 1)
    assert {name for name in signed if name.startswith("webhook-")} <= {n for n in signed if f"`{n}`" in text}
    assert all(f"`{event_type}`" in text for event_type in EVENT_TYPES)
    assert "standardwebhooks" in text and "Standard Webhooks" in text and "whsec_" in text
    assert "Authorization: Api-Key <key>" in text and "Idempotency-Key" in text


def test_every_post_that_creates_something_takes_an_idempotency_key(schema):
    """A retried request after a timeout never creates twice: every POST answering 201 takes the key."""
    creating = [
        (path, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method == "post" and "201" in operation["responses"]
    ]
    assert {path for path, _operation in creating} >= {"/api/calls/", "/api/campaigns/", "/api/templates/"}
    for path, operation in creating:
        assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])), path
