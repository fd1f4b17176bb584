"""Emay adapter against the fake Emay server over real sockets (《语音短信接口说明》)."""

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.fakes.emay import FakeEmay
from vendors.adapters.base import (
    RESULT_UNCERTAIN,
    CallbackRejected,
    NotSupported,
    OutboundCall,
    VendorError,
    VendorUnavailable,
)
from vendors.adapters.emay import (
    JOIN_ERRORS,
    OUTCOME_MAP,
    PER_CALL_CODES,
    RETRY_LATER_CODES,
    STATE_TEXT,
    VOICE_ERRORS,
    EmayAdapter,
)
from vendors.models import VendorAccount

BEIJING = ZoneInfo("Asia/Shanghai")
APP_ID, SECRET = "EUCP-EMY-TEST-00001", "Sk3y-0123456789a"
VOICE_SMS_OPTIONS = {"trigger_conditions": "3", "key_content": "1", "sms_content": "详情请看短信"}

# The document's own pull/push example (2.1.2.2 / 2.1.4.2), verbatim apart from the page breaks.
DOC_PUSH = """{
  "code": "SUCCESS",
  "data": [{
    "appId": "EUCP - EMY - DDDD - 3EEEE",
    "voiceId": "20170392833833891100",
    "customVoiceId": "1553885000011111",
    "state": " SUCCESS ",
    "message": "成功",
    "callingTime": "2017-03-15 12:00:00",
    "callingDuration": 68.02,
    "mobile": "18566666666"
  }, {
    "appId": "EUCP - EMY - DDDD - 3EEEE",
    "voiceId": "20170392833833891100",
    "customVoiceId": "1553885000011111",
    "state": " SUCCESS ",
    "message": "成功",
    "callingTime": "2017-03-15 12:00:00",
    "callingDuration": 68.02,
    "mobile": "18566666666"
  }]
}"""
# 2.4.2.2 (voice-SMS report example)
DOC_JOIN_REPORTS = [
    {
        "appId": "EUCP - EMY - DDDD - 3EEEE",
        "joinId": "20170392833833891100",
        "customJoinId": "1553885000011111",
        "state": " 4 ",
        "desc": "success",
        "mobile": "18566666666",
        "keyContent": "12",
        "voiceSign": "",
    },
    {
        "appId": "EUCP - EMY - DDDD - 3EEEE",
        "joinId": "20170392833833891100",
        "customJoinId": "1553885000011111",
        "state": " 2 ",
        "desc": "fail",
        "mobile": "18566666666",
        "keyContent": "12",
        "voiceSign": "",
    },
]


@pytest.fixture
def fake(start_fake):
    return start_fake(FakeEmay(APP_ID, SECRET))


def make_adapter(fake, *, api_id=APP_ID, secret=SECRET, **options):
    account = VendorAccount(
        vendor="emay",
        name="emay test",
        base_url=fake.url if fake else "http://127.0.0.1:9",
        api_id=api_id,
        api_secret=secret,
        options=options,
    )
    return EmayAdapter(account)


def _signed(**params):
    ts = datetime.now(BEIJING).strftime("%Y%m%d%H%M%S")
    sign = hashlib.md5(f"{APP_ID}{SECRET}{ts}".encode()).hexdigest()
    return {"appId": APP_ID, "timestamp": ts, "sign": sign, **params}


def calls(n, content="您的快递已到，请及时领取", start=0):
    return [OutboundCall(f"call-{start + i}", f"+86138{start + i:08d}", content) for i in range(n)]


# ---- signatures
def test_auth_signs_with_beijing_timestamp():
    adapter = make_adapter(None)
    params = adapter._auth()
    now = datetime.now(BEIJING)
    stamped = datetime.strptime(params["timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    assert abs(now - stamped) < timedelta(seconds=2)
    assert params["sign"] == hashlib.md5(f"{APP_ID}{SECRET}{params['timestamp']}".encode()).hexdigest()
    balance_sign = hashlib.md5(f"{APP_ID}{SECRET}".encode()).hexdigest()
    assert adapter._auth(timestamped=False) == {"appId": APP_ID, "sign": balance_sign}


def test_wrong_secret_is_refused_by_the_fake(fake):
    with pytest.raises(VendorError) as err:
        make_adapter(fake, secret="wrong-secret-000").send(calls(2))
    assert (err.value.code, err.value.message) == ("ERROR_SIGN", "签名错误")
    assert fake.submitted == []
    assert all(r.accepted for r in make_adapter(fake).send(calls(2)))


def test_wrong_app_id_and_skewed_clock(fake):
    with pytest.raises(VendorError) as err:
        make_adapter(fake, api_id="EUCP-EMY-OTHER").send(calls(1))
    assert err.value.code == "ERROR_APPID"
    fake.clock_skew = timedelta(minutes=2)
    with pytest.raises(VendorError) as err:
        make_adapter(fake).send(calls(1))
    assert (err.value.code, err.value.message) == ("ERROR_TIMESTAMP", "时间戳错误")


def test_fake_checks_signature_and_balance_signature_directly(fake):
    ts = datetime.now(BEIJING).strftime("%Y%m%d%H%M%S")
    base = {"appId": APP_ID, "timestamp": ts, "content": "hi", "mobiles": "13800000000"}
    good = hashlib.md5(f"{APP_ID}{SECRET}{ts}".encode()).hexdigest()
    assert requests.post(fake.url + "/voice/send", data={**base, "sign": "0" * 32}).json()["code"] == "ERROR_SIGN"
    assert requests.post(fake.url + "/voice/send", data={**base, "sign": good}).json()["code"] == "SUCCESS"
    # the balance signature has no timestamp: a timestamped one is refused
    answer = requests.post(fake.url + "/voice/getBalance", data={"appId": APP_ID, "sign": good}).json()
    assert answer == {"responseCode": "ERROR_SIGN"}


# ---- sending
@pytest.mark.parametrize(
    ("product", "path", "content_key", "ids_key"),
    [
        ("notify", "/voice/send", "content", "customVoiceIds"),
        ("marketing", "/voice/sendCTCode", "content", "customVoiceIds"),
        ("voice_sms", "/join/send", "voiceContent", "customJoinIds"),
    ],
)
def test_send_products(fake, product, path, content_key, ids_key):
    adapter = make_adapter(fake, **VOICE_SMS_OPTIONS)
    results = adapter.send(calls(3), product=product)
    assert [r.custom_id for r in results] == ["call-0", "call-1", "call-2"]
    assert all(r.accepted and r.vendor_message_id for r in results)
    assert [r.vendor_message_id for r in results] == [e["vendor_message_id"] for e in fake.submitted]
    request = fake.last
    assert request.path == path and request.method == "POST"
    assert request.form["mobiles"] == "13800000000,13800000001,13800000002"
    assert request.form[ids_key] == "call-0,call-1,call-2"
    assert request.form[content_key] == "您的快递已到，请及时领取"
    assert fake.submitted[1]["mobile"] == "+8613800000001" and fake.submitted[1]["custom_id"] == "call-1"


def test_verify_is_one_request_per_call_with_the_code(fake):
    batch = [
        OutboundCall("v-1", "+8613900000001", "张三，您的验证码是123456", ["张三", "123456"]),
        OutboundCall("v-2", "+8613900000002", "4321"),
    ]
    results = make_adapter(fake).send(batch, product="verify")
    assert all(r.accepted for r in results)
    verify_requests = [r for r in fake.requests if r.path == "/voice/sendVFCode"]
    assert [(r.form["mobile"], r.form["content"], r.form["customVoiceId"]) for r in verify_requests] == [
        ("13900000001", "123456", "v-1"),
        ("13900000002", "4321", "v-2"),
    ]
    assert "mobiles" not in verify_requests[0].form


def test_verify_code_of_five_digits_is_refused_per_call(fake):
    batch = [OutboundCall("v-1", "+8613900000001", "12345"), OutboundCall("v-2", "+8613900000002", "9876")]
    bad, good = make_adapter(fake).send(batch, product="verify")
    assert (bad.accepted, bad.error_code) == (False, "ERROR_VERIFICATION_CODE_CONTENT")
    assert bad.error_message == "短信语音验证码内容错误"
    assert good.accepted


def test_batches_split_at_500(fake):
    results = make_adapter(fake).send(calls(1201))
    sends = [r for r in fake.requests if r.path == "/voice/send"]
    assert [len(r.form["mobiles"].split(",")) for r in sends] == [500, 500, 201]
    assert len(results) == len(fake.submitted) == 1201 and all(r.accepted for r in results)
    assert len({r.vendor_message_id for r in results}) == 1201


def test_one_request_per_distinct_content_in_order(fake):
    batch = calls(2, "甲") + calls(2, "乙", start=2) + calls(1, "甲", start=4)
    results = make_adapter(fake).send(batch)
    assert [r.custom_id for r in results] == [c.custom_id for c in batch]
    assert [(r.form["content"], r.form["customVoiceIds"]) for r in fake.requests] == [
        ("甲", "call-0,call-1,call-4"),
        ("乙", "call-2,call-3"),
    ]
    by_custom = {e["custom_id"]: e["vendor_message_id"] for e in fake.submitted}
    assert all(r.vendor_message_id == by_custom[r.custom_id] for r in results)


def test_answer_matched_by_mobile_when_custom_ids_are_not_echoed(fake):
    fake.echo_custom_ids = False
    fake.omit_from_answer = {"13800000001"}
    results = make_adapter(fake).send(calls(3))
    assert [r.vendor_message_id for r in results] == [
        fake.submitted[0]["vendor_message_id"],
        None,
        fake.submitted[2]["vendor_message_id"],
    ]
    assert (results[1].accepted, results[1].error_code) == (False, RESULT_UNCERTAIN)


def test_bad_number_refused_locally_the_rest_sent(fake):
    batch = calls(2) + [
        OutboundCall("landline", "+861088886666", "您的快递已到，请及时领取"),
        OutboundCall("chicago", "+13125551234", "您的快递已到，请及时领取"),
    ]
    results = make_adapter(fake).send(batch)
    assert [r.accepted for r in results] == [True, True, False, False]
    assert {(r.error_code, r.error_message) for r in results[2:]} == {("ERROR_MOBILE_ERROR", "手机号码错误")}
    assert fake.last.form["mobiles"] == "13800000000,13800000001"


def test_long_content_refused_per_call(fake):
    results = make_adapter(fake).send(calls(2, "长" * 201))
    expected = (False, "ERROR_LONG_CONTENT", "语音内容过长")
    assert [(r.accepted, r.error_code, r.error_message) for r in results] == [expected] * 2
    assert make_adapter(fake).send(calls(1, "长" * 200))[0].accepted


def test_interactive_options_are_sent_and_limited_to_500(fake):
    adapter = make_adapter(fake, is_interactive=True, interactive_content="按1确认", acoustic_sign_content="请留言")
    assert adapter.send(calls(1), product="marketing")[0].accepted
    form = fake.last.form
    sent = (form["isInteractive"], form["interactiveContent"], form["acousticSignContent"])
    assert sent == ("1", "按1确认", "请留言")
    too_long = make_adapter(fake, is_interactive=True, interactive_content="互" * 400)
    assert too_long.send(calls(1, "长" * 150))[0].error_code == "ERROR_LONG_CONTENT"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "trigger_conditions"),
        ({"trigger_conditions": "5"}, "trigger_conditions"),
        ({"trigger_conditions": "3", "key_content": "a"}, "key_content"),
        ({"trigger_conditions": "4", "connect_time": 5}, "connect_time"),
        ({"trigger_conditions": "4", "connect_time": 61}, "connect_time"),
    ],
)
def test_voice_sms_options_the_vendor_would_refuse_are_refused_before_any_request(fake, options, named):
    with pytest.raises(VendorError) as err:
        make_adapter(fake, **options).send(calls(1), product="voice_sms")
    assert err.value.code == "bad_option" and named in err.value.message
    assert fake.requests == []


@pytest.mark.parametrize("code", ["ERROR_TRIGGERCONDITIONS", "ERROR_KEYCONTENT", "ERROR_CONNECTTIME"])
def test_voice_sms_option_errors_from_the_vendor(fake, code):
    fake.force(code)
    with pytest.raises(VendorError) as err:
        make_adapter(fake, trigger_conditions="3", key_content="1").send(calls(1), product="voice_sms")
    assert (err.value.code, err.value.message) == (code, JOIN_ERRORS[code])


def test_voice_sms_options_are_sent(fake):
    adapter = make_adapter(
        fake,
        trigger_conditions=4,
        connect_time=10,
        sms_content="回复TD退订",
        is_acoustic_sign=True,
        acoustic_sign_content="请留言",
    )
    assert adapter.send(calls(1), product="voice_sms")[0].accepted
    form = fake.last.form
    expected = {
        "triggerConditions": "4",
        "connectTime": "10",
        "smsContent": "回复TD退订",
        "isAcousticSign": "1",
        "isInteractive": "0",
    }
    assert {k: form[k] for k in expected} == expected
    assert "keyContent" not in form


def test_no_balance_is_a_request_error(start_fake):
    fake = start_fake(FakeEmay(APP_ID, SECRET, balance=2, join_balance=0))
    with pytest.raises(VendorError) as err:
        make_adapter(fake).send(calls(3))
    assert (err.value.code, err.value.message) == ("ERROR_NEEDMORE_BALANCE", "余额不足")
    with pytest.raises(VendorError) as err:
        make_adapter(fake, **VOICE_SMS_OPTIONS).send(calls(1), product="voice_sms")
    assert err.value.code == "ERROR_NEEDMORE_BLANCE"


ALL_CODES = sorted(
    ({("voice", c) for c in VOICE_ERRORS} | {("join", c) for c in JOIN_ERRORS})
    - {("voice", "SUCCESS"), ("join", "SUCCESS")}
)


@pytest.mark.parametrize(("line", "code"), ALL_CODES)
def test_every_interface_code(fake, line, code):
    product = "voice_sms" if line == "join" else "notify"
    table = JOIN_ERRORS if line == "join" else VOICE_ERRORS
    fake.force(code)
    adapter = make_adapter(fake, **VOICE_SMS_OPTIONS)
    if code in RETRY_LATER_CODES:
        with pytest.raises(VendorUnavailable, match=code):
            adapter.send(calls(2), product=product)
    elif code in PER_CALL_CODES:
        results = adapter.send(calls(2), product=product)
        assert [(r.accepted, r.error_code, r.error_message) for r in results] == [(False, code, table[code])] * 2
        assert adapter.map_outcome(code) in ("invalid_number", "content_rejected", "vendor_error")
    else:
        with pytest.raises(VendorError) as err:
            adapter.send(calls(2), product=product)
        assert (err.value.code, err.value.message) == (code, table[code])


def test_scheduled_send_and_unknown_product_not_supported(fake):
    adapter = make_adapter(fake)
    with pytest.raises(NotSupported):
        adapter.send(calls(1), send_at=datetime.now(BEIJING) + timedelta(hours=1))
    with pytest.raises(NotSupported):
        adapter.send(calls(1), product="fax")
    assert fake.requests == []
    assert adapter.send(calls(1), send_at=datetime.now(BEIJING))[0].accepted


# ---- transport faults
OPERATIONS = {
    "send": lambda a: a.send(calls(2)),
    "balance": lambda a: a.balance(),
    "fetch_reports": lambda a: a.fetch_reports(),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("fault", ["500", "timeout", "drop"])
def test_transport_faults_are_unavailable(fake, operation, fault):
    fake.inject(fault)
    with pytest.raises(VendorUnavailable):
        OPERATIONS[operation](make_adapter(fake, line="voice"))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_garbage_is_bad_response(fake, operation):
    fake.inject("garbage")
    with pytest.raises(VendorError) as err:
        OPERATIONS[operation](make_adapter(fake, line="voice"))
    assert err.value.code == "bad_response" and err.value.message.startswith("<html><body><h1>502")


# ---- balance
@pytest.mark.parametrize("as_string", [False, True])
def test_voice_balance_is_exact_decimal(start_fake, as_string):
    fake = start_fake(FakeEmay(APP_ID, SECRET, balance="1234.56"))
    fake.balance_as_string = as_string
    balance = make_adapter(fake).balance()
    assert balance.amount == Decimal("1234.56") and str(balance.amount) == "1234.56"
    assert balance.unit == "calls" and "SUCCESS" in balance.raw
    request = fake.last
    assert request.path == "/voice/getBalance" and "timestamp" not in request.form
    assert request.form["sign"] == hashlib.md5(f"{APP_ID}{SECRET}".encode()).hexdigest()


def test_join_balance_and_unit_option(start_fake):
    fake = start_fake(FakeEmay(APP_ID, SECRET, join_balance="88"))
    balance = make_adapter(fake, line="join", balance_unit="CNY").balance()
    assert (balance.amount, balance.unit, fake.last.path) == (Decimal("88"), "CNY", "/join/getBalance")


def test_balance_errors(fake):
    with pytest.raises(VendorError) as err:
        make_adapter(fake, secret="wrong-secret-000").balance()
    assert err.value.code == "ERROR_SIGN"
    fake.lines = {"voice"}
    with pytest.raises(VendorError) as err:
        make_adapter(fake, line="join").balance()
    assert (err.value.code, err.value.message) == ("ERROR_MESSAGE_TYPE", "服务号类型不匹配")
    with pytest.raises(VendorError):
        make_adapter(fake, line="sms").balance()


# ---- pull reports
def test_pull_hands_out_each_report_once_matched_by_custom_id(fake):
    fake.states["13800000001"] = "FAIL_CALL"
    adapter = make_adapter(fake, line="voice")
    sent = adapter.send(calls(3))
    reports = adapter.fetch_reports()
    assert fake.last.path == "/voice/getReport" and fake.last.form["number"] == "1000"
    assert [(r.custom_id, r.vendor_message_id, r.mobile) for r in reports] == [
        (s.custom_id, s.vendor_message_id, s.mobile) for s in sent
    ]
    assert [(r.outcome, r.raw_code) for r in reports] == [
        ("answered", "SUCCESS"),
        ("no_answer", "FAIL_CALL"),
        ("answered", "SUCCESS"),
    ]
    assert reports[0].talk_seconds == 68 and reports[0].reported_at.tzinfo is not None
    assert adapter.fetch_reports() == []


def test_pull_limit_is_capped_at_1000(fake):
    adapter = make_adapter(fake, line="voice")
    adapter.fetch_reports(limit=5000)
    assert fake.last.form["number"] == "1000"
    adapter.fetch_reports(limit=7)
    assert fake.last.form["number"] == "7"
    over = requests.post(fake.url + "/voice/getReport", data=_signed(number="1001"))
    assert over.json() == {"code": "ERROR_PARAMS"}


def test_without_line_option_both_lines_are_pulled(fake):
    adapter = make_adapter(fake, **VOICE_SMS_OPTIONS)
    adapter.send(calls(2))
    adapter.send(calls(1, start=5), product="voice_sms")
    reports = adapter.fetch_reports()
    assert [r.path for r in fake.requests[-2:]] == ["/voice/getReport", "/join/getReport"]
    assert [(r.custom_id, r.raw_code, r.outcome) for r in reports] == [
        ("call-0", "SUCCESS", "answered"),
        ("call-1", "SUCCESS", "answered"),
        ("call-5", "4", "answered"),
    ]
    assert reports[2].reported_at is None and reports[2].raw_message == "success"
    adapter.fetch_reports(limit=3)
    assert [r.form["number"] for r in fake.requests[-2:]] == ["3", "3"]


def test_without_line_option_a_line_of_another_type_is_skipped(fake):
    fake.lines = {"join"}
    fake.queue_report("join", joinId="j1", customJoinId="c1", state=" 3 ", desc="timeout", mobile="13800000000")
    reports = make_adapter(fake).fetch_reports()
    assert [(r.custom_id, r.outcome) for r in reports] == [("c1", "timeout")]
    fake.lines = set()
    with pytest.raises(VendorError) as err:
        make_adapter(fake).fetch_reports()
    assert err.value.code == "ERROR_MESSAGE_TYPE"


def test_reports_already_handed_out_are_not_lost_when_the_other_line_fails(fake):
    adapter = make_adapter(fake)
    adapter.send(calls(2))
    fake.force(None, "HTTP_500")
    assert [r.custom_id for r in adapter.fetch_reports()] == ["call-0", "call-1"]
    fake.inject("timeout")
    with pytest.raises(VendorUnavailable):  # nothing handed out yet: the failure is raised
        adapter.fetch_reports()


DOC_STATES = [
    "SUCCESS",
    "FAIL_CALL",
    "FAIL_ERROR_VOICE",
    "FAIL_UNKNOWN",
    "TIMEOUT",
    "FAIL_NEEDMORE_BALANCE",
    "FAIL_MOBILE",
    "FAIL_BLACKDICTIONARY",
    "FAIL_AUDITINGFAIL",
    "FAIL_APPID",
]
EXPECTED = {
    "SUCCESS": "answered",
    "FAIL_CALL": "no_answer",
    "FAIL_ERROR_VOICE": "vendor_error",
    "FAIL_UNKNOWN": "unknown",
    "TIMEOUT": "timeout",
    "FAIL_NEEDMORE_BALANCE": "insufficient_balance",
    "FAIL_MOBILE": "invalid_number",
    "FAIL_BLACKDICTIONARY": "content_rejected",
    "FAIL_AUDITINGFAIL": "content_rejected",
    "FAIL_APPID": "vendor_error",
    "4": "answered",
    "3": "timeout",
    "2": "no_answer",
}


def test_outcome_table_is_complete():
    assert set(STATE_TEXT) == set(DOC_STATES) | {"4", "3", "2"}
    assert set(OUTCOME_MAP) == set(STATE_TEXT) | PER_CALL_CODES | RETRY_LATER_CODES
    number_codes = {c for c in PER_CALL_CODES if OUTCOME_MAP[c] == "invalid_number"}
    assert number_codes == {"ERROR_MOBILE_EMPTY", "ERROR_MOBILE_ERROR"}
    assert EmayAdapter(VendorAccount()).map_outcome(" SOMETHING_NEW ") == "unknown"


@pytest.mark.parametrize("state", DOC_STATES)
def test_voice_state_mapping(fake, state):
    fake.queue_report(
        "voice",
        voiceId="v1",
        customVoiceId="c1",
        state=f" {state} ",
        message=STATE_TEXT[state],
        callingTime="2017-03-15 12:00:00",
        callingDuration=0,
        mobile="18566666666",
    )
    (report,) = make_adapter(fake, line="voice").fetch_reports()
    assert (report.outcome, report.raw_code, report.raw_message) == (EXPECTED[state], state, STATE_TEXT[state])
    assert report.answered is (state == "SUCCESS")
    assert report.reported_at == datetime(2017, 3, 15, 12, 0, tzinfo=BEIJING)


@pytest.mark.parametrize("state", ["4", "3", "2"])
def test_voice_sms_state_mapping(fake, state):
    fake.queue_report("join", joinId="j1", customJoinId="c1", state=f" {state} ", mobile="18566666666", keyContent="1")
    (report,) = make_adapter(fake, line="join").fetch_reports()
    assert (report.outcome, report.raw_code, report.key_pressed) == (EXPECTED[state], state, "1")
    assert report.answered is (state == "4")


# ---- pushes
def test_document_push_example_plain():
    adapter = make_adapter(None, api_id="EUCP-EMY-DDDD-3EEEE")
    parsed = adapter.read_callback(DOC_PUSH.encode(), {"appId": "EUCP-EMY-DDDD-3EEEE"}, {})
    assert (parsed.ack_status, parsed.ack_body) == (200, "SUCCESS")
    first = parsed.reports[0]
    assert len(parsed.reports) == 2
    assert first.vendor_message_id == "20170392833833891100"
    assert (first.custom_id, first.mobile) == ("1553885000011111", "+8618566666666")
    assert (first.outcome, first.answered, first.raw_code, first.raw_message) == ("answered", True, "SUCCESS", "成功")
    assert first.talk_seconds == 68 and first.reported_at == datetime(2017, 3, 15, 12, tzinfo=BEIJING)


def test_plain_push_as_form_field_reports(fake):
    entry = {"custom_id": "call-9", "wire_mobile": "13800000009", "vendor_message_id": "v9", "line": "voice"}
    body, headers, query = fake.push_body([fake.report_for(entry, "FAIL_MOBILE")], form=True)
    parsed = make_adapter(fake).read_callback(body, {k.lower(): v for k, v in headers.items()}, query)
    assert [(r.custom_id, r.outcome, r.mobile) for r in parsed.reports] == [
        ("call-9", "invalid_number", "+8613800000009")
    ]


def test_voice_sms_push_items_are_read():
    body = ('{"code":"SUCCESS","data":' + json.dumps(DOC_JOIN_REPORTS) + "}").encode()
    parsed = make_adapter(None).read_callback(body, {"appId": APP_ID}, {})
    assert [(r.vendor_message_id, r.outcome, r.key_pressed) for r in parsed.reports] == [
        ("20170392833833891100", "answered", "12"),
        ("20170392833833891100", "no_answer", "12"),
    ]


def test_encrypted_push_round_trips_after_a_send(fake):
    adapter = make_adapter(fake, push_mode="encrypted")
    sent = adapter.send(calls(2))
    items = [fake.report_for(fake.submitted[0], "SUCCESS", key="5"), fake.report_for(fake.submitted[1], "TIMEOUT")]
    body, headers, query = fake.push_body(items, encrypted=True)
    assert not body.lstrip().startswith(b"{") and len(body) % 16 == 0
    parsed = adapter.read_callback(body, headers, query)
    assert [(r.custom_id, r.vendor_message_id, r.outcome, r.key_pressed) for r in parsed.reports] == [
        (sent[0].custom_id, sent[0].vendor_message_id, "answered", "5"),
        (sent[1].custom_id, sent[1].vendor_message_id, "timeout", None),
    ]


def test_encrypted_push_with_another_key_is_rejected(fake):
    adapter = make_adapter(fake, push_mode="encrypted")
    item = fake.report_for({"custom_id": "c", "wire_mobile": "13800000000", "vendor_message_id": "v", "line": "voice"})
    body, headers, query = fake.push_body([item], encrypted=True, secret_key="another-key-0000")
    with pytest.raises(CallbackRejected):
        adapter.read_callback(body, headers, query)
    plain, headers, query = fake.push_body([item])
    with pytest.raises(CallbackRejected):  # encrypted mode never accepts an unauthenticated plain body
        adapter.read_callback(plain, headers, query)


@pytest.mark.parametrize("headers", [{}, {"appId": "EUCP-EMY-OTHER"}, {"appId": ""}], ids=["missing", "other", "empty"])
def test_push_with_wrong_app_id_header_is_rejected(fake, headers):
    body, _headers, query = fake.push_body([])
    with pytest.raises(CallbackRejected):
        make_adapter(fake).read_callback(body, headers, query)


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b"\xff\xfe\x00garbage", b'{"code": "SUCCESS", "data": [', b"a=b", b""]
)
def test_unreadable_plain_push_is_rejected(body):
    with pytest.raises(CallbackRejected):
        make_adapter(None).read_callback(body, {"AppId": APP_ID}, {})


def test_truncated_encrypted_push_is_rejected(fake):
    body, headers, query = fake.push_body([], encrypted=True)
    with pytest.raises(CallbackRejected):
        make_adapter(fake, push_mode="encrypted").read_callback(body[:-3], headers, query)


# ---- fake strictness seen directly
@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/voice/send", {"content": "x", "mobiles": ",".join(["13800000000"] * 501)}, "ERROR_MOBILE_NUMBER"),
        (
            "/voice/send",
            {"content": "x", "mobiles": "13800000000,13800000001", "customVoiceIds": "a"},
            "ERROR_CUSTOM_VOICE_ID_NUMBER",
        ),
        (
            "/voice/send",
            {"content": "x", "mobiles": "13800000000", "customVoiceIds": "a" * 65},
            "ERROR_CUSTOM_VOICE_ID",
        ),
        ("/voice/send", {"content": "", "mobiles": "13800000000"}, "ERROR_CONTENT_EMPTY"),
        ("/voice/send", {"content": "x"}, "ERROR_MOBILE_EMPTY"),
        ("/voice/sendVFCode", {"content": "1234", "mobiles": "13800000000"}, "ERROR_MOBILE_EMPTY"),
        (
            "/join/send",
            {
                "voiceContent": "x",
                "mobiles": "13800000000",
                "triggerConditions": "3",
                "keyContent": "1",
                "customJoinIds": "a,b",
            },
            "ERROR_CUSTOM_JOIN_ID_NUMBER",
        ),
        (
            "/join/send",
            {
                "voiceContent": "x",
                "mobiles": "13800000000",
                "triggerConditions": "4",
                "connectTime": "9",
                "isInteractive": "2",
            },
            "ERROR_ISINTERACTIVE",
        ),
        (
            "/join/send",
            {
                "voiceContent": "x",
                "mobiles": "13800000000",
                "triggerConditions": "4",
                "connectTime": "9",
                "isAcousticSign": "x",
            },
            "ERROR_ISACOUSTICSIGN",
        ),
    ],
)
def test_fake_refuses_malformed_requests(fake, path, params, code):
    assert requests.post(fake.url + path, data=_signed(**params)).json() == {"code": code}
    assert fake.submitted == []


def test_fake_refuses_get_and_unknown_paths(fake):
    assert requests.get(fake.url + "/voice/send", params=_signed(content="x", mobiles="13800000000")).status_code == 405
    assert requests.post(fake.url + "/voice/sendSms", data=_signed()).status_code == 404


# ------------------------------------------------------------------ authentication apart from parsing
def test_verify_callback_authenticates_and_decrypts_then_parse_callback_reads(fake):
    adapter = make_adapter(fake, push_mode="encrypted")
    item = fake.report_for({"custom_id": "c", "wire_mobile": "13800000000", "vendor_message_id": "v", "line": "voice"})
    body, headers, query = fake.push_body([item], encrypted=True)
    plain = adapter.verify_callback(body, headers, query)  # the appId header, then the key
    assert plain.startswith(b"{") and b'"SUCCESS"' in plain
    [report] = adapter.parse_callback(plain, headers, query).reports  # reads; proves nothing itself
    assert (report.custom_id, report.vendor_message_id) == ("c", "v")
    assert adapter.read_callback(body, headers, query) == adapter.parse_callback(plain, headers, query)
    with pytest.raises(CallbackRejected, match="appId"):
        adapter.verify_callback(body, {"appId": "EUCP-EMY-OTHER"}, query)
    with pytest.raises(CallbackRejected, match="push_mode"):  # a stored option it cannot use: rejected, not a 500
        make_adapter(fake, push_mode="aes").verify_callback(body, headers, query)
