"""POST /api/calls/ and its reads: what is accepted, refused, dispatched and shown."""

import pytest

from campaigns import services, tasks
from campaigns.models import CallCounter, CallRecord, CallRoute, SingleCall, VoiceTemplate
from campaigns.selectors import campaign_stats
from tests.api.helpers import error_text, errors, field_errors
from tests.calls.helpers import integrator
from tests.factories import make_account, make_campaign, run_until_done

pytestmark = pytest.mark.django_db

VERIFY = {"mobile": "138 0013 8000", "product": "verify", "code": "4821", "out_id": "order-77"}
CALL_FIELDS = {
    "id",
    "out_id",
    "mobile",
    "product",
    "account",
    "template",
    "state",
    "outcome",
    "raw_code",
    "raw_message",
    "talk_seconds",
    "billed_seconds",
    "key_pressed",
    "created_at",
    "submitted_at",
    "reported_at",
    "attempts",
}


@pytest.fixture
def account():
    account = make_account(options={"seed": 3, "report_delay": [0, 0], "answer_rate": 1.0}, pull_reports=True)
    CallRoute.objects.create(product="verify", account=account)
    return account


@pytest.fixture
def client():
    return integrator()


def test_a_verify_call_is_accepted_dispatched_at_once_and_reported(client, account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as sent:
        response = client.post("/api/calls/", VERIFY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == CALL_FIELDS
    assert body["mobile"] == "+8613800138000" and body["out_id"] == "order-77"
    assert body["product"] == "verify" and body["account"] == account.pk
    assert body["state"] == "queued" and body["created_at"]
    assert response["Location"] == f"/api/calls/{body['id']}/"
    assert len(sent) == 1, "the dispatch task is enqueued when the call commits"

    attempt = CallRecord.objects.get(single_call_id=body["id"])
    assert attempt.state == "submitted" and attempt.campaign_id is None and attempt.custom_id == f"S{body['id']}A1"

    tasks.pull_all()  # the simulator's receipt comes back through the common receipt path
    detail = client.get(f"/api/calls/{body['id']}/").json()
    assert detail["state"] == "answered" and detail["outcome"] == "answered"
    assert detail["submitted_at"] and detail["reported_at"] and detail["raw_code"]
    assert [a["attempt"] for a in detail["attempts"]] == [1]
    assert detail["attempts"][0]["state"] == "answered"

    listed = client.get("/api/calls/", {"out_id": "order-77"}).json()
    assert [c["id"] for c in listed["results"]] == [body["id"]]
    assert listed["results"][0]["state"] == "answered"
    assert client.get("/api/calls/", {"out_id": "other"}).json()["results"] == []
    assert client.get("/api/calls/", {"state": "answered"}).json()["results"][0]["id"] == body["id"]
    assert client.get("/api/calls/", {"state": "queued"}).json()["results"] == []
    assert client.get("/api/calls/", {"mobile": "13800138000"}).json()["results"][0]["id"] == body["id"]


def test_an_empty_out_id_finds_the_calls_placed_without_one_not_every_call(client, account):
    given = client.post("/api/calls/", VERIFY, format="json").json()
    without = client.post("/api/calls/", {**VERIFY, "mobile": "13800138001", "out_id": ""}, format="json").json()
    listed = client.get("/api/calls/?out_id=").json()["results"]
    assert [c["id"] for c in listed] == [without["id"]]  # never the call whose reference is order-77
    assert {c["id"] for c in client.get("/api/calls/").json()["results"]} == {given["id"], without["id"]}


def test_single_calls_are_in_no_campaign_statistics(client, account, django_capture_on_commit_callbacks):
    campaign = make_campaign(recipients=3, account=account)
    services.launch(campaign)
    campaign = run_until_done(campaign)
    before = campaign_stats(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/calls/", VERIFY, format="json").status_code == 201
    tasks.pull_all()
    assert SingleCall.objects.get().attempts.get().state == "answered"
    after = campaign_stats(campaign)
    assert after["total"] == before["total"] == 3 and after["by_state"] == before["by_state"]
    assert not CallCounter.objects.filter(campaign_id__isnull=True).exists()


def test_notify_with_a_template_and_its_variables(client, django_capture_on_commit_callbacks):
    account = make_account(options={"seed": 3, "report_delay": [0, 0]})
    template = VoiceTemplate.objects.create(
        account=account, name="t", content="您的订单【order】已发货", review_state="approved"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/calls/",
            {"mobile": "13800138001", "product": "notify", "template": template.pk, "variables": ["SO1"]},
            format="json",
        )
    assert response.status_code == 201, response.json()
    assert response.json()["account"] == account.pk  # the template's account
    assert response.json()["template"] == template.pk
    assert CallRecord.objects.get().state == "submitted"


def test_content_where_the_vendor_plays_free_text(client, django_capture_on_commit_callbacks):
    account = make_account()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/calls/",
            {
                "mobile": "13800138001",
                "product": "voice_sms",
                "content": "明天【time】停水",
                "variables": ["9点"],
                "account": account.pk,
            },
            format="json",
        )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"mobile": "12345"}, "mobile"),
        ({"mobile": "1.38001E+10"}, "mobile"),
        ({"code": "12"}, "code"),
        ({"code": "1234567"}, "code"),
        ({"code": "12a4"}, "code"),
        ({"code": ""}, "code"),
        ({"product": "marketing"}, "product"),
        ({"product": "fax"}, "product"),
        ({"out_id": "x" * 65}, "out_id"),
        ({"account": 999999}, "account"),
        ({"content": "您好"}, "product"),
        ({"variables": "abc"}, "variables"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_creates_nothing(client, account, change, field):
    response = client.post("/api/calls/", {**VERIFY, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert field_errors(response, field), response.json()
    assert not SingleCall.objects.exists() and not CallRecord.objects.exists()


def test_notify_mistakes_name_what_to_correct(client, account):
    ihuyi = make_account("ihuyi", base_url="http://127.0.0.1:9")
    other = make_account()
    template = VoiceTemplate.objects.create(
        account=other, name="t", content="订单【order】【name】", review_state="approved"
    )
    cases = [
        (
            {"product": "notify", "account": ihuyi.pk, "content": "任意文字"},
            "content",
        ),  # ihuyi plays filed templates only
        ({"product": "notify", "template": template.pk, "variables": ["1"]}, "variables"),
        ({"product": "notify", "template": template.pk, "variables": ["1", "2"], "account": account.pk}, "template"),
        ({"product": "notify", "account": account.pk}, "template"),  # neither template nor content
        ({"product": "notify", "template": template.pk, "variables": ["1", "2"], "code": "1234"}, "code"),
        ({"product": "notify", "content": "您好"}, "account"),  # no route for notify, no account
        ({"product": "verify", "code": "1234", "account": ihuyi.pk}, "product"),  # ihuyi has no verify
    ]
    for change, field in cases:
        response = client.post("/api/calls/", {"mobile": "13800138000", **change}, format="json")
        assert response.status_code == 400 and field_errors(response, field), (change, response.json())
    assert not SingleCall.objects.exists()


@pytest.mark.parametrize("template", [999999, 10**30])
def test_a_template_that_does_not_exist_is_named_as_such(client, account, template):
    """Not "give a template or content": the caller gave one, and it is the id that is wrong."""
    CallRoute.objects.create(product="notify", account=account)
    response = client.post(
        "/api/calls/", {"mobile": "13800138000", "product": "notify", "template": template}, format="json"
    )
    assert response.status_code == 400
    assert field_errors(response, "template") == [f"No template with id {template}."], response.json()
    assert not SingleCall.objects.exists()


def test_an_inactive_route_account_is_refused(client, account):
    account.is_active = False
    account.save()
    response = client.post("/api/calls/", VERIFY, format="json")
    assert response.status_code == 400 and "inactive" in field_errors(response, "account")[0]


def test_a_user_without_the_permission_cannot_place_calls(account):
    from tests.api.helpers import client_for

    response = client_for("Marketing").post("/api/calls/", VERIFY, format="json")
    assert response.status_code == 403
    assert not SingleCall.objects.exists()


def test_operators_read_single_calls(client, account, django_capture_on_commit_callbacks):
    from tests.api.helpers import client_for

    with django_capture_on_commit_callbacks(execute=True):
        call_id = client.post("/api/calls/", VERIFY, format="json").json()["id"]
    operator = client_for("Operators")
    assert operator.get(f"/api/calls/{call_id}/").status_code == 200
    assert operator.post("/api/calls/", VERIFY, format="json").status_code == 403
    assert client.get("/api/calls/999999/").status_code == 404


def test_a_single_call_without_a_receipt_expires_after_its_window(client, account, settings):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns import dispatch, lifecycle

    call_id = client.post("/api/calls/", VERIFY, format="json").json()["id"]
    attempt = CallRecord.objects.get(single_call_id=call_id)
    late = timezone.now() - timedelta(minutes=settings.SINGLE_CALL_REPORT_WINDOW_MINUTES + 1)
    CallRecord.objects.filter(pk=attempt.pk).update(state="submitted", submitted_at=late)
    assert lifecycle.expire_overdue() == 1
    assert client.get(f"/api/calls/{call_id}/").json()["state"] == "expired"
    # one stuck in submitting (the answer was lost) is flagged for an operator, never re-sent
    CallRecord.objects.filter(pk=attempt.pk).update(state="submitting")
    assert dispatch.reconcile_stuck() == 1
    attempt.refresh_from_db()
    assert attempt.state == "submit_failed" and attempt.outcome == "timeout"


@pytest.mark.parametrize(
    "query, status",
    [
        ({"created_after": "3858-05-11T14:20:24.0-22:43"}, 200),  # any offset: compared in UTC
        ({"created_before": "0001-01-01T00:00:00-10:00"}, 200),
        ({"created_after": "0001-01-01T00:00:00+10:00"}, 400),  # before year 1 in UTC
        ({"created_after": "yesterday"}, 400),
        ({"state": "bogus"}, 400),
    ],
)
def test_list_filters_refuse_what_they_cannot_read_and_never_fail(client, account, query, status):
    assert client.get("/api/calls/", query).status_code == status


@pytest.mark.parametrize(
    ("query", "attr", "words"),
    [
        ({"mobile": "abc"}, "mobile", "“abc” cannot be matched: not a phone number"),
        ({"mobile": "12345"}, "mobile", "not a valid China mobile or landline number"),
        ({"mobile": ""}, "mobile", "may not be empty"),
        ({"account": "abc"}, "account", "Enter a whole number."),
        ({"account": "1.5"}, "account", "Enter a whole number."),
        ({"created_after": "9999-12-31T23:59:59-23:59"}, "created_after", "Enter a valid date/time."),
        ({"id": "5"}, "id", "Unknown query parameter; this list filters by: account, created_after"),
        ({"call_id": "abc"}, "call_id", "Unknown query parameter"),
    ],
)
def test_a_filter_the_list_cannot_use_is_a_400_naming_it(client, account, query, attr, words):
    """Never an empty or unfiltered page that looks like an answer: the caller learns what to correct."""
    response = client.get("/api/calls/", query)
    assert response.status_code == 400
    [error] = errors(response)
    assert error["attr"] == attr and error["code"], error
    assert words in error["detail"], error


def test_a_number_filter_matches_any_spelling(client, account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_id = client.post("/api/calls/", VERIFY, format="json").json()["id"]
    for spelling in ("13800138000", "+86 138-0013-8000", "008613800138000"):
        assert [c["id"] for c in client.get("/api/calls/", {"mobile": spelling}).json()["results"]] == [call_id]
    assert client.get("/api/calls/", {"mobile": "13900139000"}).json()["results"] == []
    paging = client.get("/api/calls/", {"page_size": 1, "format": "json"})
    assert paging.status_code == 200, paging.json()  # pagination and format are not filters


def test_filter_refusals_are_translated(client, account):
    response = client.get("/api/calls/", {"mobile": "abc"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "不是电话号码" in field_errors(response, "mobile")[0]
    response = client.get("/api/calls/", {"id": "1"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "未知的查询参数" in field_errors(response, "id")[0]


def test_a_code_sent_as_a_number_is_refused_not_read_without_its_zeros(client, account):
    response = client.post("/api/calls/", {**VERIFY, "code": 4821}, format="json")
    assert response.status_code == 400
    assert field_errors(response, "code") == ["Send this as a string in quotes, not a number."]
    assert not SingleCall.objects.exists()


@pytest.mark.parametrize("code", [True, ["4821"], {"value": "4821"}])
def test_a_code_that_is_not_text_is_refused_as_such(client, account, code):
    response = client.post("/api/calls/", {**VERIFY, "code": code}, format="json")
    assert response.status_code == 400
    assert field_errors(response, "code") == ["Send this as a string in quotes."]  # not "not a number"
    assert not SingleCall.objects.exists()


def test_a_body_over_the_limit_is_a_413_that_gives_no_advice_about_recipient_files(client, account, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = client.post("/api/calls/", {**VERIFY, "content": "x" * 1_100_000}, format="json")
    assert response.status_code == 413 and errors(response)[0]["code"] == "payload_too_large"
    assert "1 MB" in error_text(response) and "CSV" not in error_text(response)
    assert not SingleCall.objects.exists()
