"""fungo 企信通 adapter against FakeFungo over real sockets (《语音验证码平台接口说明（HTTP）》)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from tests.fakes.fungo import FakeFungo
from vendors.adapters.base import (
    CallbackRejected,
    NotSupported,
    OutboundCall,
    VendorError,
    VendorUnavailable,
)
from vendors.adapters.fungo import (
    BALANCE_ERRORS,
    REQUEST_FAILURES,
    STATUS_MESSAGES,
    FungoAdapter,
    billed_units,
)
from vendors.models import VendorAccount


@pytest.fixture
def fake(start_fake):
    return start_fake(FakeFungo())


@pytest.fixture(scope="module")
def shared_fake():
    """One server for the stateless tables (stopping a server costs 0.5 s of poll interval)."""
    server = FakeFungo().start()
    yield server
    server.stop()


def adapter_for(fake, *, api_id="fungo-cp", api_secret="fungo-pass", **options):
    opts = {"app_id": fake.app_id, "template_id": "1001", **options}
    account = VendorAccount(
        vendor="fungo", name="fungo test", base_url=fake.url, api_id=api_id, api_secret=api_secret, options=opts
    )
    return FungoAdapter(account)


def call(n: int, content: str = "您的订单已发货", variables=None) -> OutboundCall:
    return OutboundCall(f"c-{n}", f"+86138{n:08d}", content, list(variables or []))


# ---- submit
def test_verify_sends_each_code_with_credentials(fake):
    adapter = adapter_for(fake)
    results = adapter.send([call(1, "1234"), call(2, "", ["567890"])], product="verify")

    assert [r.accepted for r in results] == [True, True]
    assert [r.custom_id for r in results] == ["c-1", "c-2"]
    first, second = fake.requests
    assert first.method == "GET" and first.path == "/Recv_center"
    assert first.query == {
        "CpName": "fungo-cp",
        "CpPassword": "fungo-pass",
        "DesMobile": "13800000001",
        "Content": "【语音验证码】1234",  # the document's format line: the label is part of Content
    }
    assert second.query["Content"] == "【语音验证码】567890"
    assert results[0].vendor_message_id == results[0].batch_id == fake.submitted[0]["vendor_message_id"]
    assert len(results[0].vendor_message_id) == 32
    assert [s["mobile"] for s in fake.submitted] == ["+8613800000001", "+8613800000002"]


def test_template_notify_batches_same_content_up_to_200(fake):
    adapter = adapter_for(fake, ext_code="8888")
    calls = [call(n, variables=["张三"]) for n in range(450)]
    results = adapter.send(calls, product="notify")

    assert all(r.accepted for r in results) and len(results) == 450
    assert [len(r.query["DesMobile"].split(",")) for r in fake.requests] == [200, 200, 50]
    assert {r.query["Content"] for r in fake.requests} == {f"【语音通知】{fake.app_id}|1001|张三"}
    assert {r.query["ExtCode"] for r in fake.requests} == {"8888"}
    assert fake.requests[0].query["DesMobile"].startswith("13800000000,13800000001,")
    assert len({r.vendor_message_id for r in results}) == 3
    assert [r.custom_id for r in results] == [c.custom_id for c in calls]


def test_distinct_contents_and_repeated_numbers_go_in_separate_requests(fake):
    adapter = adapter_for(fake)
    calls = [call(1, variables=["A"]), call(2, variables=["B"]), call(3, variables=["A"]), call(1, variables=["A"])]
    results = adapter.send(calls, product="notify")

    assert [r.query["Content"].rsplit("|", 1)[1] for r in fake.requests] == ["A", "B", "A"]
    assert [r.query["DesMobile"] for r in fake.requests] == ["13800000001,13800000003", "13800000002", "13800000001"]
    assert results[0].vendor_message_id == results[2].vendor_message_id != results[3].vendor_message_id
    assert "ExtCode" not in fake.requests[0].query


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"content_format": "tts"}, "【语音通知】{app}|1001|123"),
        ({"content_format": "keypress", "template_id": "1002"}, "【语音通知按键】{app}|1002|123"),
        (
            {"content_format": "recording", "template_id": "1003", "recording_file": "notice.wav"},
            "【语音通知文件】{app}|1003|notice.wav",
        ),
        ({"content_format": "recording"}, "【语音通知文件】{app}|1001|hello.vox"),
        ({"content_format": "template", "content_labels": False}, "{app}|1001|123"),
        ({"content_format": "keypress", "content_labels": False}, "{app}|1001|123"),
        ({"content_format": "recording", "content_labels": "false"}, "{app}|1001|hello.vox"),
    ],
)
def test_content_formats(shared_fake, options, expected):
    fake = shared_fake
    adapter = adapter_for(fake, **options)
    [result] = adapter.send([call(1, "hello.vox", ["123"])], product="notify")
    assert result.accepted
    assert fake.last.query["Content"] == expected.format(app=fake.app_id)


def test_labels_are_sent_by_default_and_can_be_left_out(fake):
    adapter_for(fake).send([call(1, "4321")], product="verify")
    assert fake.last.query["Content"] == "【语音验证码】4321"
    adapter_for(fake, content_labels=False).send([call(1, "4321")], product="verify")
    assert fake.last.query["Content"] == "4321"
    adapter_for(fake).send([call(2)], product="notify")  # a template without its variable
    assert fake.last.query["Content"] == f"【语音通知】{fake.app_id}|1001|"
    assert len(fake.submitted) == 3


@pytest.mark.parametrize(
    ("product", "the_call", "code"),
    [
        ("verify", call(1, "12"), "invalid_code"),
        ("verify", call(1, "1234567"), "invalid_code"),
        ("verify", call(1, "12a4"), "invalid_code"),
        ("notify", call(1, variables=["a", "b"]), "invalid_variables"),
        ("notify", call(1, variables=["a|b"]), "invalid_variables"),
        ("notify", OutboundCall("c-1", "+86138,0001", "x", []), "invalid_mobile"),
    ],
)
def test_local_refusals_are_not_sent(shared_fake, product, the_call, code):
    before = len(shared_fake.requests)
    [result] = adapter_for(shared_fake).send([the_call], product=product)
    assert (result.accepted, result.error_code) == (False, code)
    assert result.error_message
    assert len(shared_fake.requests) == before


def test_notify_needs_template_and_unknown_format_is_bad_option(fake):
    with pytest.raises(VendorError) as err:
        adapter_for(fake, template_id="").send([call(1)], product="notify")
    assert err.value.code == "bad_option" and "template_id" in err.value.message
    with pytest.raises(VendorError) as err:
        adapter_for(fake, content_format="video").send([call(1)], product="notify")
    assert err.value.code == "bad_option" and '"video"' in err.value.message  # names what to correct
    assert fake.requests == []
    with pytest.raises(NotSupported):
        adapter_for(fake).send([call(1)], product="marketing")
    with pytest.raises(NotSupported):
        adapter_for(fake).send([call(1, "1234")], product="verify", send_at=timezone.now() + timedelta(hours=1))
    assert fake.requests == []


def test_wrong_credentials_are_refused_by_the_fake(fake):
    with pytest.raises(VendorError) as err:
        adapter_for(fake, api_secret="wrong").send([call(1, "1234")], product="verify")
    assert (err.value.code, err.value.message) == ("-1000", "用户账号不存在")
    assert fake.submitted == []


@pytest.mark.parametrize("code", sorted(c for c in STATUS_MESSAGES if c != "0"))
def test_every_submit_code(shared_fake, code):
    fake = shared_fake
    fake.next_codes.append(code)
    adapter = adapter_for(fake)
    calls = [call(1, variables=["x"]), call(2, variables=["x"])]
    if code in REQUEST_FAILURES:
        with pytest.raises(VendorError) as err:
            adapter.send(calls, product="notify")
        assert (err.value.code, err.value.message) == (code, STATUS_MESSAGES[code])
    else:
        results = adapter.send(calls, product="notify")
        assert [(r.accepted, r.error_code, r.error_message) for r in results] == [
            (False, code, STATUS_MESSAGES[code])
        ] * 2
        assert adapter.map_outcome(results[0].error_code) == OUTCOMES[code]


def test_unlisted_submit_code_raises(fake):
    fake.next_codes.append("-4242")
    with pytest.raises(VendorError) as err:
        adapter_for(fake).send([call(1, "1234")], product="verify")
    assert err.value.code == "-4242"


def test_fake_enforces_its_limits(fake):
    adapter = adapter_for(fake)
    adapter.batch_size = 201  # defeat the adapter's own split: the fake must refuse
    with pytest.raises(VendorError) as err:
        adapter.send([call(n, variables=["x"]) for n in range(201)], product="notify")
    assert err.value.code == "-1007"
    fake.blacklist.add("13800000005")
    [result] = adapter_for(fake).send([call(5, "1234")], product="verify")
    assert (result.accepted, result.error_code, result.error_message) == (False, "-1012", "黑名单")
    [result] = adapter_for(fake, template_id="9999").send([call(6)], product="notify")
    assert result.error_code == "-1021"
    with pytest.raises(VendorError) as err:
        adapter_for(fake, app_id="not-our-app").send([call(6)], product="notify")
    assert err.value.code == "-1008"
    with pytest.raises(VendorError) as err:
        adapter_for(fake, ext_code="ab").send([call(6, "1234")], product="verify")
    assert err.value.code == "-1014"
    fake.accounts["fungo-cp"].balance = 15
    with pytest.raises(VendorError) as err:
        adapter_for(fake).send([call(7, variables=["y"]), call(8, variables=["y"])], product="notify")
    assert (err.value.code, err.value.message) == ("-1011", "余额不足")


@pytest.mark.parametrize("fault", ["500", "timeout", "drop"])
def test_transport_failures_are_unavailable(shared_fake, fault):
    fake = shared_fake
    fake.inject(fault)
    with pytest.raises(VendorUnavailable):
        adapter_for(fake).send([call(1, "1234")], product="verify")


def test_garbage_answers_are_bad_response(fake):
    fake.inject("garbage", "garbage")
    with pytest.raises(VendorError) as err:
        adapter_for(fake).send([call(1, "1234")], product="verify")
    assert err.value.code == "bad_response" and err.value.message.startswith("<html>")
    with pytest.raises(VendorError) as err:
        adapter_for(fake).balance()
    assert err.value.code == "bad_response"
    fake.next_codes.append("0")  # success without smsid
    with pytest.raises(VendorError) as err:
        adapter_for(fake).send([call(1, "1234")], product="verify")
    assert err.value.code == "bad_response"


# ---- balance
@pytest.mark.parametrize(("fen", "yuan"), [(123457, Decimal("1234.57")), (1, Decimal("0.01")), (100, Decimal("1"))])
def test_balance_in_fen_is_exact_cny(start_fake, fen, yuan):
    fake = start_fake(FakeFungo(balance=fen))
    balance = adapter_for(fake).balance()
    assert (balance.amount, balance.unit, balance.raw) == (yuan, "CNY", str(fen))
    assert isinstance(balance.amount, Decimal)
    assert fake.last.path == "/QueryBlance" and fake.last.query == {"CpName": "fungo-cp", "CpPassword": "fungo-pass"}


def test_sub_account_balance_is_a_count(start_fake):
    fake = start_fake(FakeFungo(balance=37, sub_account=True))
    balance = adapter_for(fake, sub_account=True).balance()
    assert (balance.amount, balance.unit) == (Decimal(37), "calls")
    adapter_for(fake, sub_account=True).send([call(n, variables=["x"]) for n in range(37)], product="notify")
    with pytest.raises(VendorError) as err:
        adapter_for(fake).send([call(99, "1234")], product="verify")
    assert err.value.code == "-1006"


def test_balance_once_a_minute_per_account(fake):
    now = [1000.0]
    fake.clock = lambda: now[0]
    fake.add_account("other", "pw", balance=500)
    adapter = adapter_for(fake)
    assert adapter.balance().amount == Decimal("10000")
    with pytest.raises(VendorError) as err:
        adapter.balance()
    assert (err.value.code, err.value.message) == ("-2", "1分钟之内只能查询一次余额")
    assert adapter_for(fake, api_id="other", api_secret="pw").balance().amount == Decimal("5")
    now[0] += 60
    assert adapter.balance().unit == "CNY"


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda f: None, "-1"),
        (lambda f: f.add_account("fungo-cp", "fungo-pass", state="not_opened", balance=5), "-3"),
        (lambda f: f.add_account("fungo-cp", "fungo-pass", balance=0), "-99"),
    ],
)
def test_balance_error_codes_from_the_fake(fake, setup, code):
    setup(fake)
    secret = "bad" if code == "-1" else "fungo-pass"
    with pytest.raises(VendorError) as err:
        adapter_for(fake, api_secret=secret).balance()
    assert (err.value.code, err.value.message) == (code, BALANCE_ERRORS[code])


@pytest.mark.parametrize("raw", ["–1", "–2", "–3", "-99", "-1\r\n"])
def test_balance_codes_as_printed_in_the_document(shared_fake, raw):
    fake = shared_fake
    fake.next_balance_answers.append(raw)
    with pytest.raises(VendorError) as err:
        adapter_for(fake).balance()
    code = raw.strip().replace("–", "-")
    assert (err.value.code, err.value.message) == (code, BALANCE_ERRORS[code])


# ---- outcomes and billing
OUTCOMES = {
    "0": "answered",
    "-1000": "vendor_error",
    "-1003": "vendor_error",
    "-1004": "vendor_error",
    "-1005": "vendor_error",
    "-1006": "insufficient_balance",
    "-1007": "vendor_error",
    "-1008": "vendor_error",
    "-1009": "content_rejected",
    "-1010": "invalid_number",
    "-1011": "insufficient_balance",
    "-1012": "blacklisted",
    "-1013": "content_rejected",
    "-1014": "vendor_error",
    "-1015": "content_rejected",
    "-1016": "content_rejected",
    "-1017": "rate_limited",
    "-1018": "vendor_error",
    "-1019": "rate_limited",
    "-1020": "vendor_error",
    "-1021": "content_rejected",
    "-1022": "vendor_error",
    "-1025": "content_rejected",
    "-1026": "content_rejected",
    "-1027": "vendor_error",
    "-1050": "content_rejected",
    "-1051": "content_rejected",
    "-2001": "vendor_error",
    "-1099": "vendor_error",
    "9992": "unreachable",
    "9993": "vendor_error",
    "9994": "invalid_number",
    "9995": "unknown",
    "9996": "vendor_error",
    "9997": "barred",
    "9998": "unreachable",
    "-9999": "rate_limited",
    "-9990": "timeout",
    "-111": "rate_limited",
}


def test_the_whole_status_table_is_mapped():
    assert set(OUTCOMES) == set(STATUS_MESSAGES)


@pytest.mark.parametrize(("code", "outcome"), sorted(OUTCOMES.items()))
def test_outcome_mapping(code, outcome):
    adapter = FungoAdapter(VendorAccount(vendor="fungo", name="x", options={}))
    assert adapter.map_outcome(code) == outcome
    assert adapter.map_outcome(f" {code} ") == outcome
    assert adapter.map_outcome("12345") == "unknown"


@pytest.mark.parametrize(("talk", "units"), [(None, None), (0, 0), (1, 1), (12, 1), (13, 2), (60, 5), (61, 6)])
def test_billed_units_are_started_12_second_units(talk, units):
    assert billed_units(talk) == units


# ---- pushes
def test_status_push_from_the_fake_matches_submitted_calls(fake):
    adapter = adapter_for(fake)
    adapter.send([call(1, variables=["x"]), call(2, variables=["x"]), call(3, "5678")], product="notify")
    statuses = {"+8613800000001": "0", "+8613800000002": "9998", "+8613800000003": "-1012"}
    body, headers, query = fake.push_body(status=statuses)
    parsed = adapter.read_callback(body, headers, query)

    assert (parsed.ack_status, parsed.ack_body) == (200, "success")
    by_mobile = {r.mobile: r for r in parsed.reports}
    assert set(by_mobile) == set(statuses)
    first = by_mobile["+8613800000001"]
    assert (first.outcome, first.answered, first.raw_code, first.raw_message) == (
        "answered",
        True,
        "0",
        "消息被发送到目的地",
    )
    assert first.vendor_message_id == first.batch_id == fake.submitted[0]["vendor_message_id"]
    assert (first.custom_id, first.talk_seconds, first.billed_seconds, first.billed_units, first.reported_at) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert by_mobile["+8613800000002"].outcome == "unreachable" and not by_mobile["+8613800000002"].answered
    assert by_mobile["+8613800000003"].outcome == "blacklisted"


def test_status_push_in_query_padded_and_intermediate():
    adapter = FungoAdapter(VendorAccount(vendor="fungo", name="x", options={}))
    args = "E7254F86ED07C231CDC7657D0F9BC420,13800138000, 0 ;E7254F86ED07C231CDC7657D0F9BC420,13900139000,9995;"
    parsed = adapter.read_callback(b"", {}, {"args": args})
    assert [(r.mobile, r.raw_code, r.outcome) for r in parsed.reports] == [("+8613800138000", "0", "answered")]
    encoded = urlencode({"args": "K1,13800138000,9997;K1,13800138001,-9990;"}).encode()
    parsed = adapter.read_callback(encoded, {"content-type": "application/x-www-form-urlencoded"}, {})
    assert [(r.vendor_message_id, r.outcome) for r in parsed.reports] == [("K1", "barred"), ("K1", "timeout")]


@pytest.mark.parametrize(
    ("body", "query"),
    [(b"", {}), (b"hello=world", {}), (b"args=garbage;also-garbage", {}), (b"\xff\xfe", {}), (b"args=%FF,1,0", {})],
)
def test_unreadable_pushes_are_rejected(body, query):
    adapter = FungoAdapter(VendorAccount(vendor="fungo", name="x", options={}))
    with pytest.raises(CallbackRejected):
        adapter.read_callback(body, {}, query)


def test_inbound_reply_push_as_in_the_document(fake):
    adapter = adapter_for(fake)
    query = {"userMoblie": "15900003423", "content": "测试", "cpMoblie": "10691234"}
    parsed = adapter.read_callback(b"", {}, query)
    assert parsed.reports == [] and (parsed.ack_status, parsed.ack_body) == (200, "success")
    [reply] = parsed.replies
    assert (reply.mobile, reply.content, reply.received_at) == ("+8615900003423", "测试", None)
    assert "cpMoblie=10691234" in reply.raw
    # the document's example URL, percent-encoded, posted as a form body
    body = b"userMoblie=15900003423&content=%E6%B5%8B%E8%AF%95&cpMoblie=10691234"
    assert adapter.read_callback(body, {}, {}).replies[0].content == "测试"
    # a key press of a key-press notification arrives the same way
    [key] = adapter.read_callback(*fake.reply_body("+8613800000001", "1")).replies
    assert (key.mobile, key.content) == ("+8613800000001", "1")
