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

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from campaigns import services
from campaigns.models import CallRecord, Campaign, RecipientImport
from tests.factories import make_account, make_campaign

KNOWN_IDS: dict[str, list[int]] = {}  # resource → ids of real rows, filled per test by ``api_data``


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
def api_data(db):
    """Real rows for the generated requests to find, and the operator's token."""
    account = make_account(options={"seed": 3, "report_delay": [0, 0]})
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
    KNOWN_IDS.clear()
    KNOWN_IDS.update(
        {
            "campaigns": [draft.pk, running.pk, cancelled.pk],
            "imports": [job.pk],
            "vendor-accounts": [account.pk],
            "templates": [c.template_id for c in (draft, running, cancelled)],
        }
    )
    operator = User.objects.create_user("operator-api", password="pw-1234-long")
    operator.groups.add(Group.objects.get(name="Operators"))
    return {"token": Token.objects.create(user=operator).key}


@pytest.fixture
def api_schema(wsgi_app, api_data):
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    loaded = loaded.exclude(path_regex=r"^/api/callbacks/")

    @loaded.hook
    def flatmap_path_parameters(ctx, path_parameters):
        ids = KNOWN_IDS.get(_resource(ctx.operation.path))
        if not ids or not path_parameters or "id" not in path_parameters:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters), st.sampled_from(ids).map(lambda i: {**path_parameters, "id": i}))

    @loaded.hook
    def flatmap_body(ctx, body):
        if (
            ctx.operation.path != "/api/campaigns/"
            or ctx.operation.method.upper() != "POST"
            or not isinstance(body, dict)
        ):
            return st.just(body)
        real = st.fixed_dictionaries(
            {
                "account": st.sampled_from(KNOWN_IDS["vendor-accounts"]),
                "template": st.one_of(st.none(), st.sampled_from(KNOWN_IDS["templates"])),
            }
        )
        return st.one_of(st.just(body), real.map(lambda fields: {**body, **fields}))

    return loaded


MAX_EXAMPLES = 40  # per operation (valid and invalid data, every request media type): about 20 s in all


def test_no_operation_answers_a_server_error(api_schema, api_data):
    """Every operation, MAX_EXAMPLES generated requests each: valid and invalid data, every media type.

    (``schemathesis.pytest.from_fixture`` would give one test per operation, but schemathesis
    4.32.5 sets ``Function._nodeid``, which pytest 9 no longer has; so the operations are looped
    here and every failure is collected before the test fails.)
    """
    headers = {"Authorization": f"Token {api_data['token']}"}
    failures, calls = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        media_types = api_schema.get_request_payload_content_types(operation) or [None]
        cases = st.one_of(
            *[
                operation.as_strategy(mode, media_type=media_type)
                for media_type in media_types
                for mode in GenerationMode
            ]
        )

        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=cases)
        def check(case):
            nonlocal calls
            calls += 1
            with transaction.atomic():  # every example starts from the same rows
                response = case.call(headers=headers)
                transaction.set_rollback(True)
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert calls >= MAX_EXAMPLES * 10  # the run really exercised the API


def test_the_schema_run_reaches_every_operation(api_schema):
    """The run above covers the whole API: every documented path is in the loaded schema."""
    operations = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert ("POST", "/api/campaigns/{id}/recipients/") in operations
    assert ("GET", "/api/campaigns/{id}/calls/") in operations
    assert len(operations) >= 13
    assert not any(path.startswith("/api/callbacks/") for _method, path in operations)
    assert Campaign.objects.count() == 3
