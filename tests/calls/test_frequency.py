"""Frequency limits: a number, a vendor's own per-number limits and an API key's day, refused with 429."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from campaigns import frequency, single_dispatch
from campaigns.models import CallRecord, CallRoute, SingleCall, VoiceTemplate
from tests.api.helpers import errors
from tests.calls.helpers import integrator
from tests.factories import make_account
from tests.fakes.ihuyi import FakeIhuyi

pytestmark = pytest.mark.django_db


@pytest.fixture
def route():
    account = make_account()
    CallRoute.objects.create(product="verify", account=account)
    return account


def verify(mobile="13800138000", **extra):
    return {"mobile": mobile, "product": "verify", "code": "1234", **extra}


def refusal(response) -> tuple[str, str, int]:
    """A 429 in the one error body: the limit's code, the sentence for people, Retry-After in seconds."""
    assert response.status_code == 429, response.json()
    [error] = errors(response)
    assert error["attr"] is None
    return error["code"], error["detail"], int(response["Retry-After"])


def test_a_second_call_to_a_number_within_the_minute_is_refused_and_says_when_it_frees(route):
    client = integrator()
    assert client.post("/api/calls/", verify(), format="json").status_code == 201
    code, detail, retry_after = refusal(client.post("/api/calls/", verify("+86 138-0013-8000"), format="json"))
    assert code == "number_limit" and 55 <= retry_after <= 60
    frees = timezone.localtime(timezone.now() + timedelta(seconds=retry_after))
    assert "At most 1 call per 1 minute may go" in detail and frees.strftime("%H:%M") in detail  # local time
    assert SingleCall.objects.count() == 1 and CallRecord.objects.count() == 1  # nothing created, nothing sent
    assert client.post("/api/calls/", verify("13800138001"), format="json").status_code == 201  # another number


def test_the_hour_window_counts_failed_calls_and_the_refusal_names_it(route, settings):
    client = integrator()
    first = client.post("/api/calls/", verify(), format="json").json()
    SingleCall.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(minutes=50))
    CallRecord.objects.filter(single_call_id=first["id"]).update(state="failed", outcome="no_answer")
    for minutes in (40, 30, 20, 10):
        call = SingleCall.objects.create(product="verify", mobile="+8613800138000", account=route)
        SingleCall.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    code, detail, retry_after = refusal(client.post("/api/calls/", verify(), format="json"))
    assert code == "number_limit" and "At most 5 calls per 1 hour" in detail
    assert 595 <= retry_after <= 600  # the oldest of the five leaves the hour in ten minutes


def test_windows_are_configurable(route, settings):
    settings.SINGLE_CALL_NUMBER_LIMITS = [(60, 2)]
    client = integrator()
    assert client.post("/api/calls/", verify(), format="json").status_code == 201
    assert client.post("/api/calls/", verify(), format="json").status_code == 201
    assert "At most 2 calls per 1 minute" in refusal(client.post("/api/calls/", verify(), format="json"))[1]


def test_the_daily_cap_is_per_api_key(route, settings):
    settings.SINGLE_CALL_DAILY_CAP = 2
    crm, shop = integrator("crm"), integrator("shop")
    assert crm.post("/api/calls/", verify("13800138001"), format="json").status_code == 201
    assert crm.post("/api/calls/", verify("13800138002"), format="json").status_code == 201
    code, detail, retry_after = refusal(crm.post("/api/calls/", verify("13800138003"), format="json"))
    frees = timezone.localtime(timezone.now()).date() + timedelta(days=1)
    assert code == "daily_cap" and "This API key has placed its 2 single calls for today" in detail
    assert f"{frees.isoformat()} 00:00:00+08:00" in detail  # local time, with its offset
    assert timezone.localtime(timezone.now() + timedelta(seconds=retry_after)).date() == frees
    assert shop.post("/api/calls/", verify("13800138003"), format="json").status_code == 201
    assert SingleCall.objects.count() == 3


def test_a_refused_call_uses_none_of_the_daily_cap(route, settings):
    settings.SINGLE_CALL_DAILY_CAP = 1
    client = integrator()
    assert client.post("/api/calls/", verify(), format="json").status_code == 201
    assert refusal(client.post("/api/calls/", verify(), format="json"))[0] == "number_limit"
    settings.SINGLE_CALL_DAILY_CAP = 2
    assert client.post("/api/calls/", verify("13800138009"), format="json").status_code == 201


def test_the_vendors_own_per_number_limits_refuse_before_sending(
    settings, start_fake, django_capture_on_commit_callbacks
):
    settings.SINGLE_CALL_NUMBER_LIMITS = []  # only ihuyi's own: 1/s, 3/min, 10/day per number
    fake = start_fake(FakeIhuyi())
    fake.enforce_number_limits = False  # the test moves time in the database, not on the fake's clock
    account = make_account("ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey)
    template = VoiceTemplate.objects.create(
        account=account, name="t", content="您的订单【order】已发货", review_state="approved"
    )
    client = integrator()
    body = {"mobile": "13800138000", "product": "notify", "template": template.pk, "variables": ["SO1"]}
    answers = []
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            answers.append(client.post("/api/calls/", body, format="json"))
        CallRecord.objects.update(submitted_at=timezone.now() - timedelta(seconds=2 * (4 - n)))  # 1/s kept
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    code, detail, _retry_after = refusal(answers[3])
    assert code == "vendor_number_limit" and "The vendor allows at most 3 calls per 1 minute" in detail
    assert len(fake.submitted) == 3


def test_the_limit_is_checked_again_at_claim_and_nothing_is_sent(route, settings, django_capture_on_commit_callbacks):
    client = integrator()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = client.post("/api/calls/", verify(), format="json").json()
    # Another call to the number went out meanwhile (accepted under a looser setting, say).
    other = SingleCall.objects.create(product="verify", mobile="+8613800138000", account=route, variables=["1"])
    CallRecord.objects.create(
        single_call=other, mobile=other.mobile, custom_id="other", state="submitted", submitted_at=timezone.now()
    )
    queued[0]()
    attempt = CallRecord.objects.get(single_call_id=first["id"])
    assert attempt.state == "submit_failed" and attempt.outcome == "rate_limited"
    assert "number:1/1min" in attempt.raw_message
    assert attempt.vendor_message_id == ""  # never reached the vendor


@pytest.mark.parametrize(
    ("limit", "most", "window", "words"),
    [
        ("number", 1, 60, "At most 1 call per 1 minute may go to one number"),
        ("number", 5, 3600, "At most 5 calls per 1 hour may go to one number"),
        ("vendor", 1, 1, "The vendor allows at most 1 call per 1 second to one number"),
        ("vendor", 3, 60, "The vendor allows at most 3 calls per 1 minute to one number"),
        ("daily_cap", 1, 86400, "This API key has placed its 1 single call for today"),
        ("daily_cap", 2, 86400, "This API key has placed its 2 single calls for today"),
    ],
)
def test_a_refusal_says_call_or_calls_by_the_count(limit, most, window, words):
    assert words in frequency.Refusal(limit, window, most, timezone.now()).message()


@pytest.mark.parametrize(
    ("limit", "words"),
    [
        ("number", "同一号码每 1 分钟 最多 1 次呼叫"),
        ("vendor", "供应商规定同一号码每 1 分钟 最多 1 次呼叫"),
        ("daily_cap", "已发起 1 通"),
    ],
)
def test_a_refusal_is_in_chinese_in_one_form(limit, words):
    with translation.override("zh-hans"):
        assert words in frequency.Refusal(limit, 60, 1, timezone.now()).message()


def test_first_refusal_picks_the_window_that_frees_last():
    now = timezone.now()
    moments = [now - timedelta(seconds=s) for s in (10, 100, 200)]
    refusal = frequency.first_refusal("number", [(60, 1), (3600, 3)], moments, now)
    assert (refusal.window_seconds, refusal.most) == (3600, 3)
    assert refusal.frees_at == moments[2] + timedelta(hours=1)
    assert frequency.first_refusal("number", [(60, 2)], moments, now) is None


def test_the_beat_sends_single_calls_the_web_could_not_enqueue(route, django_capture_on_commit_callbacks):
    from campaigns import tasks

    client = integrator()
    with django_capture_on_commit_callbacks(execute=False):  # the broker was down: the task was lost
        call_id = client.post("/api/calls/", verify(), format="json").json()["id"]
    assert single_dispatch.due_ids() == []  # within its grace the woken drain is trusted
    CallRecord.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    tasks.tick()
    assert CallRecord.objects.get(single_call_id=call_id).state == "submitted"
    tasks.tick()  # a second tick or a late task sends nothing more
    assert single_dispatch.drain().submitted == 0


def test_a_broker_that_cannot_take_the_task_does_not_fail_the_accepted_call(
    route, settings, django_capture_on_commit_callbacks
):
    from voiceops.celery import app

    old = app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_connection_max_retries
    app.conf.update(broker_url="redis://127.0.0.1:9/0", task_always_eager=False, broker_connection_max_retries=0)
    app._pool = None
    app.amqp._producer_pool = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = integrator().post("/api/calls/", verify(), format="json")
    finally:
        app.conf.update(broker_url=old[0], task_always_eager=old[1], broker_connection_max_retries=old[2])
        app._pool = None
        app.amqp._producer_pool = None
    assert response.status_code == 201
    assert CallRecord.objects.get().state == "queued"  # the tick's safety net will send it


def test_a_mistyped_window_setting_is_a_clear_error_at_start():
    from tests.test_settings import run_django

    code = "import django; django.setup(); from django.conf import settings; print(settings.SINGLE_CALL_NUMBER_LIMITS)"
    keys = {"SECRET_KEY": "s" * 50, "FIELD_ENCRYPTION_KEYS": "YmVuY2gta2V5LTMyLWJ5dGVzLWxvbmctMTIzNDU2Nzg"}
    good = run_django(code, SINGLE_CALL_NUMBER_LIMITS="30:1,3600:4", **keys)
    assert good.returncode == 0 and "[(30, 1), (3600, 4)]" in good.stdout
    bad = run_django(code, SINGLE_CALL_NUMBER_LIMITS="60:1,1h:5", **keys)
    assert bad.returncode != 0 and "'1h:5' is not seconds:calls" in bad.stderr
