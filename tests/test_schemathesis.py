"""schemathesis against the app's own OpenAPI schema: no operation answers a server error.

The schema is read from ``/api/schema/`` and every operation in it is called in-process through
the WSGI application, on the real PostgreSQL test database, as an operator with a token. Path ids
are drawn half the time from real rows (campaigns in several states, with recipients and calls, an
import, vendor accounts), and new campaigns half the time name a real account and template, so the
generated requests reach the views' real work and not only their 404s. The vendor callback path is
not in the schema (vendors, not API clients, call it) and is covered by tests/callbacks and
tests/badinput.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection

from apikeys.models import ApiKey
from apikeys.scopes import SCOPE_LABELS
from campaigns import services
from campaigns.models import CallRecord, CallRoute, Campaign, RecipientImport, SingleCall
from tests.factories import make_account, make_campaign

KNOWN_IDS: dict[str, list[int]] = {}
ACCOUNT_RATE = 10  # calls a second of the vendor account the generated campaigns name
CSV = "手机号,name,order\n13800138000,王先生,SO1\n".encode(
    "gb18030"
)  # resource → ids of real rows, filled per test by ``api_data``


def _resource(path: str) -> str:
    return path.strip("/").split("/")[1]  # /api/<resource>/{id}/…


@pytest.fixture(autouse=True)
def _public_docs(request):
    """The schema read anonymously, as a public deployment serves it (``API_DOCS_PUBLIC``)."""
    request.getfixturevalue("settings").API_DOCS_PUBLIC = True


@pytest.fixture
def wsgi_app():
    """Django's WSGI application, without closing the test's connection after each request.

    Django's own test client does the same: ``close_old_connections`` would close the connection
    that holds the test's transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_data(db, settings):
    """Real rows for the generated requests to find, and the operator's token."""
    settings.WEBHOOK_ALLOW_LOOPBACK = True  # valid generated endpoints point at this machine
    # Valid single calls all go to one number, many in a stateful sequence: the per-number limits
    # (tested in tests/calls) would answer a documented 429 to nearly all of them, so this test's
    # deployment has none; the daily cap stays, far above what a run places.
    settings.SINGLE_CALL_NUMBER_LIMITS = []
    settings.SINGLE_CALL_DAILY_CAP = 100_000
    account = make_account(options={"seed": 3, "report_delay": [0, 0]}, rate_limit_per_second=ACCOUNT_RATE)
    for product in ("verify", "notify", "voice_sms"):
        CallRoute.objects.create(product=product, account=account)
    draft = make_campaign(recipients=3, account=account)
    running = make_campaign(recipients=3, account=account)
    services.launch(running)
    cancelled = make_campaign(recipients=1, account=account)
    services.cancel(cancelled)
    CallRecord.objects.filter(campaign=running).update(state="failed", outcome="no_answer")
    job = RecipientImport.objects.create(
        campaign=draft,
        original_name="list.csv",
        state="done",
        size_bytes=10,
        rejected_rows=[[2, "12345", "not a valid China mobile or landline number"]],
    )
    single = SingleCall.objects.create(product="verify", mobile="+8613800138000", account=account, variables=["4821"])
    CallRecord.objects.create(single_call=single, mobile=single.mobile, custom_id=f"S{single.pk}A1")
    KNOWN_IDS.clear()
    KNOWN_IDS.update(
        {
            "campaigns": [draft.pk, running.pk, cancelled.pk],
            "imports": [job.pk],
            "vendor-accounts": [account.pk],
            "templates": [c.template_id for c in (draft, running, cancelled)],
            "calls": [single.pk],
        }
    )
    operator = User.objects.create_user("operator-api", password="pw-1234-long")
    operator.groups.add(Group.objects.get(name="Operators"))
    _key, secret = ApiKey.objects.create_key(name="schemathesis", scopes=list(SCOPE_LABELS))
    return {"token": secret}


@pytest.fixture
def api_schema(wsgi_app, api_data):
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    loaded = loaded.exclude(path_regex=r"^/api/callbacks/")

    @loaded.hook
    def flatmap_case(ctx, case):
        """Valid data (positive mode) names real rows and a real file, which a schema cannot say.

        Half the valid requests name a real row in the path; a campaign needs an existing account
        and a template of that account (or content); a template needs an existing account; an
        upload needs a CSV; a start time lies between the years 2000 and 2100 (the API refuses
        others); the upload is sent with a body (its schema marks it optional only because of a
        client generator's bug: voiceops.api.schema.multi_body_not_required); a number filter is a
        real number. Invalid data is left as drawn.
        """
        if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
            return st.just(case)
        case = _made_valid(case)
        ids = KNOWN_IDS.get(_resource(case.operation.path))
        if not ids or "id" not in (case.path_parameters or {}):
            return st.just(case)
        return st.one_of(st.just(case), st.sampled_from(ids).map(lambda i: _with_id(case, i)))

    return loaded


def _with_id(case, pk):
    case.path_parameters = {**case.path_parameters, "id": pk}
    return case


def _made_valid(case):
    method, path = case.operation.method.upper(), case.operation.path
    body = dict(case.body) if isinstance(case.body, dict) else case.body
    if method == "POST" and path == "/api/campaigns/" and isinstance(body, dict):
        body.update(account=KNOWN_IDS["vendor-accounts"][0], fallback_account=None)
        if isinstance(body.get("rate_limit_per_second"), int):  # bounded by the account's own rate
            body["rate_limit_per_second"] = max(1, min(body["rate_limit_per_second"], ACCOUNT_RATE))
        body["template"] = KNOWN_IDS["templates"][0] if not str(body.get("content") or "").strip() else None
    elif method == "POST" and path == "/api/calls/" and isinstance(body, dict):
        body = _valid_single_call(body)
    elif method == "POST" and path == "/api/templates/" and isinstance(body, dict):
        body["account"] = KNOWN_IDS["vendor-accounts"][0]
    elif path.startswith("/api/webhooks/") and method in ("POST", "PUT", "PATCH") and isinstance(body, dict):
        body.update(url="http://127.0.0.1:9/hooks")  # a receiver's address (nothing is sent in this test)
        if method != "PATCH" or "event_types" in body:
            body["event_types"] = body.get("event_types") or ["call.answered"]
    elif path.endswith("/recipients/") and case.media_type == "multipart/form-data":
        body = {"file": CSV}
    elif path.endswith("/recipients/") and not isinstance(body, dict):
        body = {"recipients": [{"mobile": "13800138000"}]}
    elif path.endswith("/recipients/") and isinstance(body.get("recipients"), list) and body["recipients"]:
        # One real number among the drawn ones: a list of which nothing is accepted answers 422 (documented).
        real = {"mobile": "13912345678", "variables": ["王先生", "SO1"]}  # in no campaign yet; fills 【name】【order】
        body["recipients"] = [real, *body["recipients"][1:]]
    if isinstance(case.query, dict) and "mobile" in case.query:
        case.query = {**case.query, "mobile": "13800138000"}  # a number filter is refused unless it is a number
    if isinstance(body, dict):
        for name in ("at", "scheduled_at"):
            if body.get(name) is not None:
                body[name] = (timezone.now() + timedelta(days=1)).isoformat()
    case.body = body
    return case


def _valid_single_call(body: dict) -> dict:
    """A real number, and what the product needs: a code, or a template with its variables, or free text."""
    body.update(mobile="13800138000", account=None, template=None, variables=[])
    if body.get("product") == "verify":
        body.update(code="4821", content="")
    else:
        body["code"] = ""
        if not str(body.get("content") or "").strip():
            body["content"] = "您的订单已发货"
    return body


def _not_applicable(case) -> list:
    """The negative-data check where it cannot apply.

    A multipart form has no types to violate once serialized (every part is bytes), so "invalid"
    forms are valid ones; and a case schemathesis could not make invalid (the schema's own
    example, a draw with no mutation left) is labelled "Positive test case" in negative mode.
    """
    meta = case.meta
    unchanged = meta is not None and meta.phase.data.description in ("Positive test case", "Default positive test case")
    if (
        case.media_type == "multipart/form-data"
        or unchanged
        or (meta is not None and not meta.generation.mode.is_negative)
    ):
        return [negative_data_rejection]
    return []


MAX_EXAMPLES = 40  # per operation (valid and invalid data, every request media type): about 20 s in all


def test_no_operation_answers_a_server_error(api_schema, api_data):
    """Every operation, MAX_EXAMPLES generated requests each: valid and invalid data, every media type.

    (``schemathesis.pytest.from_fixture`` would give one test per operation, but schemathesis
    4.32.5 sets ``Function._nodeid``, which pytest 9 no longer has; so the operations are looped
    here and every failure is collected before the test fails.)
    """
    headers = {"Authorization": f"Api-Key {api_data['token']}"}
    failures, calls, answered = [], 0, set()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        media_types = api_schema.get_request_payload_content_types(operation) or [None]
        cases = st.one_of(
            *[
                operation.as_strategy(mode, media_type=media_type)
                for media_type in media_types
                for mode in GenerationMode
                if mode == GenerationMode.POSITIVE or media_type != "multipart/form-data"  # see below
            ]
        )

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same requests every run: a failure here is the code's, not the draw's
        )
        @given(case=cases)
        def check(case):
            nonlocal calls
            calls += 1
            with transaction.atomic():  # every example starts from the same rows
                response = case.call(headers=headers)
                transaction.set_rollback(True)
            answered.add((case.operation.method.upper(), case.operation.path, response.status_code))
            case.validate_response(response, headers=headers, excluded_checks=_not_applicable(case))

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert calls >= MAX_EXAMPLES * 10  # the run really exercised the API
    # Valid requests did their real work: a single call placed, read back, listed.
    assert {("POST", "/api/calls/", 201), ("GET", "/api/calls/{id}/", 200), ("GET", "/api/calls/", 200)} <= answered


def test_the_schema_run_reaches_every_operation(api_schema):
    """The run above covers the whole API: every documented path is in the loaded schema."""
    operations = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert ("POST", "/api/campaigns/{id}/recipients/") in operations
    assert ("GET", "/api/campaigns/{id}/calls/") in operations
    assert len(operations) >= 13
    assert not any(path.startswith("/api/callbacks/") for _method, path in operations)
    assert Campaign.objects.count() == 3


def test_stateful_sequences_follow_the_schema_links(api_schema, api_data):
    """Sequences built from the schema's OpenAPI links (create → read, launch, upload → import…),
    every response checked with all of schemathesis' checks, stateful ones included."""
    headers = {"Authorization": f"Api-Key {api_data['token']}"}
    links = {
        (operation.ok().method.upper(), operation.ok().path)
        for operation in api_schema.get_all_operations()
        if any("links" in response for response in operation.ok().definition.raw["responses"].values())
    }
    assert {
        ("POST", "/api/campaigns/"),
        ("POST", "/api/templates/"),
        ("POST", "/api/campaigns/{id}/recipients/"),
    } <= links

    steps = []

    class Machine(api_schema.as_state_machine()):
        def setup(self):
            # Every sequence starts from the same rows, as hypothesis expects when it replays one.
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def before_call(self, case):
            # A client sends a new Idempotency-Key with each new request, as the schema asks ("any
            # unique string"); drawn keys repeat within a sequence and would replay or answer 422.
            # (Replays and 422 are tested in tests/calls/test_idempotency.py.)
            if case.headers and "Idempotency-Key" in case.headers:
                case.headers["Idempotency-Key"] = uuid.uuid4().hex
            super().before_call(case)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            # As in the test above: the key is ours, given explicitly (not generated auth).
            case.validate_response(
                response,
                headers=headers,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
                excluded_checks=_not_applicable(case),
            )

        def after_call(self, response, case):
            super().after_call(response, case)
            steps.append((case.operation.method.upper(), case.operation.path, response.status_code))

    with transaction.atomic():
        Machine.run(
            settings=settings(
                max_examples=30,
                stateful_step_count=6,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            )
        )
        transaction.set_rollback(True)
    followed = {(m, p) for m, p, status in steps if "{id}" in p and status < 300}
    assert len(steps) >= 30 and followed  # links were followed to real objects
