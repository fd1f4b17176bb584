"""sms10692 adapter against its fake over real sockets (《客户接口说明》)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.fakes.base import Reply
from tests.fakes.sms10692 import FakeSms10692
from vendors.adapters.base import NotSupported, OutboundCall, VendorError, VendorUnavailable
from vendors.adapters.sms10692 import (
    KEYWORD_MESSAGES,
    OVERAGE_MESSAGES,
    PULL_ERRORS,
    SEND_MESSAGES,
    SEND_PER_CALL,
    Sms10692Adapter,
    make_sign,
)
from vendors.models import VendorAccount

BEIJING = ZoneInfo("Asia/Shanghai")
CHINESE = "您好，您的验证码是1234，五分钟内有效。【测试】"

DOC_REPORTS = """<?xml version="1.0" encoding="utf-8" ?>
<returnsms>
<statusbox>
<mobile>15023239810</mobile>
<taskid>1212</taskid>
<status> 10 </status>
<receivetime>2011-12-02 22:12:11</receivetime>
<errorcode>DELIVRD</errorcode>
<extno>01</extno>
</statusbox>
<statusbox>
<mobile>15023239811</mobile>
<taskid>1212</taskid>
<status>20</status>
<receivetime>2011-12-02 22:12:11</receivetime>
<errorcode>2</errorcode>
<extno></extno>
</statusbox>
</returnsms>"""

DOC_REPLIES = """<?xml version="1.0" encoding="utf-8" ?>
<returnsms>
<callbox>
<mobile>15023239810</mobile>
<taskid>1212</taskid>
<content>你好，我不需要</content>
<receivetime>2011-12-02 22:12:11</receivetime>
<extno>01</extno>
</callbox>
<callbox>
<mobile>15023239811</mobile>
<taskid>1212</taskid>
<content>你好，本次活动路线是怎么的</content>
<receivetime>2011-12-02 22:12:11</receivetime>
<extno>01</extno>
</callbox>
</returnsms>"""


@pytest.fixture
def fake(start_fake):
    return start_fake(FakeSms10692())


def make_adapter(fake, *, secret="mima", user_id="12", **options):
    account = VendorAccount(
        vendor="sms10692",
        name="sms10692 test",
        base_url=fake.url,
        api_id="test",
        api_secret=secret,
        user_id=user_id,
        options=options,
    )
    return Sms10692Adapter(account)


def calls(n, content=CHINESE, start=0):
    return [OutboundCall(f"call-{i}", f"+86138{i:08d}", content) for i in range(start, start + n)]


def xml(body, encoding="utf-8"):
    return Reply(body.encode(encoding), 200, "text/xml")


def form_of(request, encoding="utf-8"):
    return {
        k: v[-1] for k, v in parse_qs(request.body.decode("ascii"), keep_blank_values=True, encoding=encoding).items()
    }


# ---- signature
def test_sign_matches_the_documents_example():
    assert make_sign("test", "mima", "20120701231212") == "5cc68982f55ac74348e3d819f868fbe1"


def test_auth_parameters_are_userid_beijing_timestamp_and_sign_only(fake):
    make_adapter(fake).balance()
    form = form_of(fake.last)
    assert set(form) == {"action", "userid", "timestamp", "sign"}
    assert form["userid"] == "12"
    sent = datetime.strptime(form["timestamp"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    assert abs(datetime.now(BEIJING) - sent) < timedelta(seconds=5)
    assert form["sign"] == make_sign("test", "mima", form["timestamp"])


@pytest.mark.parametrize("overrides", [{"secret": "wrong"}, {"user_id": "13"}])
def test_fake_rejects_a_wrong_signature_or_userid(fake, overrides):
    with pytest.raises(VendorError) as exc:
        make_adapter(fake, **overrides).send(calls(2))
    assert exc.value.code == "用户名或密码错误"
    assert exc.value.message == "表示用户名或密码错误"
    assert fake.submitted == []


def test_fake_rejects_a_stale_timestamp_and_accepts_a_fresh_one(fake):
    def post(timestamp):
        sign = make_sign("test", "mima", timestamp)
        form = {"action": "overage", "userid": "12", "timestamp": timestamp, "sign": sign}
        return requests.post(fake.url + "/v2sms.aspx", data=form, timeout=5).text

    stale = (datetime.now(BEIJING) - timedelta(minutes=10)).strftime("%Y%m%d%H%M%S")
    assert "<message>用户名或密码错误</message>" in post(stale)
    assert "<returnstatus>Sucess</returnstatus>" in post(datetime.now(BEIJING).strftime("%Y%m%d%H%M%S"))


def test_fake_serves_post_only(fake):
    assert requests.get(fake.url + "/v2sms.aspx?action=overage", timeout=5).status_code == 405


# ---- send
@pytest.mark.parametrize(("encoding", "path"), [("utf-8", "/v2sms.aspx"), ("gbk", "/v2smsGBK.aspx")])
def test_chinese_content_arrives_intact_through_both_endpoints(fake, encoding, path):
    results = make_adapter(fake, encoding=encoding).send(calls(3))

    request = fake.last
    assert (request.method, request.path) == ("POST", path)
    charset = "gbk" if encoding == "gbk" else "utf-8"
    assert f"charset={charset}" in request.headers["content-type"]
    assert quote(CHINESE.encode(charset)).encode() in request.body.replace(b"+", b"%20")
    form = form_of(request, charset)
    assert form["action"] == "send"
    assert form["mobile"] == "13800000000,13800000001,13800000002"
    assert (form["sendTime"], form["extno"]) == ("", "")
    assert [s["content"] for s in fake.submitted] == [CHINESE] * 3
    assert [s["mobile"] for s in fake.submitted] == ["13800000000", "13800000001", "13800000002"]
    assert {s["endpoint"] for s in fake.submitted} == {path}
    task_id = fake.submitted[0]["vendor_message_id"]
    assert [(r.custom_id, r.mobile, r.accepted, r.vendor_message_id, r.batch_id) for r in results] == [
        (f"call-{i}", f"+86138{i:08d}", True, task_id, task_id) for i in range(3)
    ]


def test_gbk_body_is_not_utf8(fake):
    make_adapter(fake, encoding="gbk").send(calls(1, content="您好"))
    assert b"%C4%FA%BA%C3" in fake.last.body  # 您好 in GBK
    assert b"%E6%82%A8" not in fake.last.body  # 您 in UTF-8


@pytest.mark.parametrize(
    ("value", "path"), [(None, "/v2sms.aspx"), ("UTF8", "/v2sms.aspx"), ("GB2312", "/v2smsGBK.aspx")]
)
def test_encoding_option_aliases(fake, value, path):
    options = {} if value is None else {"encoding": value}
    make_adapter(fake, **options).balance()
    assert fake.last.path == path


def test_unknown_encoding_option_is_refused_before_any_request(fake):
    with pytest.raises(VendorError) as exc:
        make_adapter(fake, encoding="big5").send(calls(1))
    assert exc.value.code == "bad_option"
    assert fake.requests == []


def test_text_gbk_cannot_encode_is_refused_locally(fake):
    results = make_adapter(fake, encoding="gbk").send(calls(2, content="验证码 1234 😀"))
    assert [(r.accepted, r.error_code) for r in results] == [(False, "unencodable")] * 2
    assert fake.requests == []
    assert all(r.accepted for r in make_adapter(fake).send(calls(1, content="验证码 1234 😀")))


@pytest.mark.parametrize(
    ("send_at", "expected"),
    [
        (datetime(2024, 5, 1, 1, 8, 10, tzinfo=UTC), "2024-05-01 09:08:10"),
        (datetime(2024, 5, 1, 9, 8, 10), "2024-05-01 09:08:10"),  # naive: already Beijing time
    ],
)
def test_scheduled_send_time_is_beijing_time_in_the_documents_format(fake, send_at, expected):
    make_adapter(fake).send(calls(1), send_at=send_at)
    assert form_of(fake.last)["sendTime"] == expected
    assert fake.submitted[0]["send_time"] == expected


def test_ext_no_option_is_sent_as_extno(fake):
    make_adapter(fake, ext_no="0123456789").send(calls(1))
    assert fake.submitted[0]["extno"] == "0123456789"


@pytest.mark.parametrize("ext_no", ["12a", "12345678901", "１２"])
def test_invalid_ext_no_is_refused_before_any_request(fake, ext_no):
    with pytest.raises(VendorError) as exc:
        make_adapter(fake, ext_no=ext_no).send(calls(1))
    assert exc.value.code == "bad_option"
    assert fake.requests == []


def test_batches_split_at_1000_numbers(fake):
    batch = calls(2501, content="通知")
    results = make_adapter(fake).send(batch)
    sizes = [len(form_of(r)["mobile"].split(",")) for r in fake.requests]
    assert sizes == [1000, 1000, 501]
    assert [r.custom_id for r in results] == [c.custom_id for c in batch]
    assert all(r.accepted for r in results)
    assert len({r.vendor_message_id for r in results}) == 3
    assert results[999].vendor_message_id != results[1000].vendor_message_id
    assert len(fake.submitted) == 2501


def test_fake_refuses_more_numbers_than_the_batch_size(fake):
    class Oversized(Sms10692Adapter):
        batch_size = 1001

    adapter = Oversized(make_adapter(fake).account)
    with pytest.raises(VendorError) as exc:
        adapter.send(calls(1001))
    assert exc.value.code == "其他错误"


def test_one_request_per_content_and_no_number_twice_in_a_request(fake):
    batch = [
        OutboundCall("a", "+8613800000001", "甲"),
        OutboundCall("b", "+8613800000002", "乙"),
        OutboundCall("c", "+8613800000003", "甲"),
        OutboundCall("d", "+8613800000001", "甲"),
    ]
    results = make_adapter(fake).send(batch)
    sent = [(form_of(r)["content"], form_of(r)["mobile"]) for r in fake.requests]
    assert sent == [("甲", "13800000001,13800000003"), ("乙", "13800000002"), ("甲", "13800000001")]
    assert [r.custom_id for r in results] == ["a", "b", "c", "d"]
    ids = [r.vendor_message_id for r in results]
    assert ids[0] == ids[2] and len({ids[0], ids[1], ids[3]}) == 3


@pytest.mark.parametrize("message", [m for m in SEND_MESSAGES if m != "ok"])
def test_every_documented_send_error(fake, message):
    fake.send_message = message
    adapter = make_adapter(fake)
    if message in SEND_PER_CALL:
        results = adapter.send(calls(2))
        assert [(r.accepted, r.error_code, r.error_message) for r in results] == [
            (False, message, SEND_MESSAGES[message])
        ] * 2
    else:
        with pytest.raises(VendorError) as exc:
            adapter.send(calls(2))
        assert (exc.value.code, exc.value.message) == (message, SEND_MESSAGES[message])


def test_forbidden_word_refuses_the_calls_with_the_words(fake):
    results = make_adapter(fake, encoding="gbk").send(calls(2, content="欢迎来赌博"))
    assert [(r.accepted, r.error_code) for r in results] == [(False, "包含非法字符")] * 2
    assert "赌博" in results[0].error_message
    assert fake.submitted == []


def test_sql_characters_refuse_the_calls(fake):
    results = make_adapter(fake).send(calls(1, content="it's"))
    assert (results[0].accepted, results[0].error_code) == (False, "发送内容包含sql注入字符")


def test_insufficient_balance_fails_the_request(fake):
    fake.points = Decimal(2)
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).send(calls(3))
    assert exc.value.code == "对不起，您当前要发送的量大于您当前余额"


def test_empty_credentials_fail_the_request(fake):
    with pytest.raises(VendorError) as exc:
        make_adapter(fake, user_id="").send(calls(1))
    assert exc.value.code == "用户名或密码不能为空"


def test_undocumented_failure_message_fails_the_request(fake):
    fake.send_message = "通道维护中"
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).send(calls(1))
    assert (exc.value.code, exc.value.message) == ("通道维护中", "通道维护中")


def test_partial_success_keeps_every_call_accepted_and_missing_task_id_is_none(fake):
    fake.scripted.append(
        xml(
            "<returnsms><returnstatus>Success</returnstatus><message>ok</message><remainpoint>9"
            "</remainpoint><taskID> 77 </taskID><successCounts>1</successCounts></returnsms>"
        )
    )
    fake.scripted.append(xml("<returnsms><returnstatus>Sucess</returnstatus><message>ok</message></returnsms>"))
    adapter = make_adapter(fake)
    assert [(r.accepted, r.vendor_message_id) for r in adapter.send(calls(2))] == [(True, "77")] * 2
    assert [(r.accepted, r.vendor_message_id) for r in adapter.send(calls(1))] == [(True, None)]


# ---- balance
@pytest.mark.parametrize("spelling", ["Sucess", "Success"])
def test_balance_reads_both_spellings(fake, spelling):
    fake.overage_spelling = spelling
    fake.points = Decimal("1234.5")
    balance = make_adapter(fake).balance()
    assert balance.amount == Decimal("1234.5") and isinstance(balance.amount, Decimal)
    assert balance.unit == "points"
    assert "<payinfo>预付费</payinfo>" in balance.raw
    assert form_of(fake.last)["action"] == "overage"


def test_balance_through_the_gbk_endpoint(fake):
    assert make_adapter(fake, encoding="gbk").balance().amount == Decimal(100000)
    assert fake.last.path == "/v2smsGBK.aspx"


@pytest.mark.parametrize("message", [m for m in OVERAGE_MESSAGES if m])
def test_every_documented_balance_error(fake, message):
    fake.overage_message = message
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).balance()
    assert (exc.value.code, exc.value.message) == (message, OVERAGE_MESSAGES[message])


def test_balance_with_wrong_password(fake):
    with pytest.raises(VendorError, match="用户名或密码错误"):
        make_adapter(fake, secret="nope").balance()


@pytest.mark.parametrize("overage", ["n/a", "NaN", ""])
def test_balance_that_is_not_a_number_is_a_bad_response(fake, overage):
    fake.scripted.append(xml(f"<returnsms><returnstatus>Sucess</returnstatus><overage>{overage}</overage></returnsms>"))
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).balance()
    assert exc.value.code == "bad_response"


# ---- keywords
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_check_keywords(fake, encoding):
    adapter = make_adapter(fake, encoding=encoding)
    clean = adapter.check_keywords("您好，明天上午开会")
    assert (clean.ok, clean.keywords) == (True, [])
    assert "没有包含屏蔽词" in clean.raw
    dirty = adapter.check_keywords("可以代开发票")
    assert (dirty.ok, dirty.keywords) == (False, [])
    assert form_of(fake.last, "gbk" if encoding == "gbk" else "utf-8")["action"] == "checkkeyword"


def test_check_keywords_reads_words_after_the_colon(fake):
    fake.keyword_message = "包含非法字符：赌博，发票"
    assert make_adapter(fake).check_keywords("x").keywords == ["赌博", "发票"]


@pytest.mark.parametrize("message", [m for m in KEYWORD_MESSAGES if m.startswith("用户名")])
def test_every_documented_keyword_error(fake, message):
    fake.keyword_message = message
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).check_keywords("内容")
    assert (exc.value.code, exc.value.message) == (message, KEYWORD_MESSAGES[message])


# ---- status reports
def test_reports_are_pulled_once_and_matched_by_taskid_and_mobile(fake):
    fake.report_for["13800000001"] = ("20", "UNDELIV")
    adapter = make_adapter(fake)
    results = adapter.send(calls(3))
    reports = adapter.fetch_reports()
    assert fake.last.path == "/v2statusApi.aspx"
    assert form_of(fake.last)["action"] == "query"
    assert [(r.vendor_message_id, r.batch_id, r.mobile) for r in reports] == [
        (s.vendor_message_id, s.batch_id, s.mobile) for s in results
    ]
    assert [(r.outcome, r.answered, r.raw_code, r.raw_message) for r in reports] == [
        ("answered", True, "10", "DELIVRD"),
        ("unreachable", False, "20", "UNDELIV"),
        ("answered", True, "10", "DELIVRD"),
    ]
    assert all(r.custom_id is None and r.reported_at.utcoffset() == timedelta(hours=8) for r in reports)
    assert adapter.fetch_reports() == []


def test_report_limit_is_sent_as_status_num(fake):
    adapter = make_adapter(fake)
    adapter.send(calls(3))
    assert len(adapter.fetch_reports(limit=2)) == 2
    assert form_of(fake.last)["statusNum"] == "2"
    assert len(adapter.fetch_reports()) == 1
    assert "statusNum" not in form_of(fake.last)


def test_reports_from_the_documents_example(fake):
    fake.scripted.append(xml(DOC_REPORTS))
    first, second = make_adapter(fake).fetch_reports()
    assert (first.mobile, first.vendor_message_id, first.outcome, first.raw_code, first.raw_message) == (
        "+8615023239810",
        "1212",
        "answered",
        "10",
        "DELIVRD",
    )
    assert first.reported_at == datetime(2011, 12, 2, 22, 12, 11, tzinfo=BEIJING)
    assert (second.mobile, second.outcome, second.answered, second.raw_message) == (
        "+8615023239811",
        "unreachable",
        False,
        "2",
    )


@pytest.mark.parametrize(
    ("code", "outcome"), [*Sms10692Adapter.outcome_map.items(), (" 10 ", "answered"), ("30", "unknown")]
)
def test_outcome_mapping(code, outcome):
    assert Sms10692Adapter.map_outcome(Sms10692Adapter.__new__(Sms10692Adapter), code) == outcome


def test_every_status_code_of_the_document_is_mapped():
    assert set(Sms10692Adapter.outcome_map) == {"10", "20"}


@pytest.mark.parametrize("operation", ["fetch_reports", "fetch_replies"])
@pytest.mark.parametrize("code", sorted(PULL_ERRORS))
def test_every_documented_pull_error(fake, operation, code):
    fake.pull_error = code
    with pytest.raises(VendorError) as exc:
        getattr(make_adapter(fake), operation)()
    assert (exc.value.code, exc.value.message) == (code, PULL_ERRORS[code])


@pytest.mark.parametrize(
    ("setup", "code"),
    [({"secret": "wrong"}, "2"), ({"user_id": ""}, "1"), ("forbidden", "3")],
)
def test_pull_errors_from_real_causes(fake, setup, code):
    if setup == "forbidden":
        fake.reports_allowed, setup = False, {}
    with pytest.raises(VendorError) as exc:
        make_adapter(fake, **setup).fetch_reports()
    assert exc.value.code == code


# ---- replies
def test_replies_are_pulled_once(fake):
    fake.queue_reply("13900000000", "你好，我不需要", taskid="1212", receivetime="2024-03-01 10:00:00", extno="01")
    adapter = make_adapter(fake)
    (reply,) = adapter.fetch_replies()
    assert fake.last.path == "/v2callApi.aspx"
    assert (reply.mobile, reply.content, reply.vendor_message_id) == ("+8613900000000", "你好，我不需要", "1212")
    assert reply.received_at == datetime(2024, 3, 1, 10, tzinfo=BEIJING)
    assert "<extno>01</extno>" in reply.raw
    assert adapter.fetch_replies() == []


def test_replies_from_the_documents_example(fake):
    fake.scripted.append(xml(DOC_REPLIES))
    replies = make_adapter(fake).fetch_replies()
    assert [(r.mobile, r.content) for r in replies] == [
        ("+8615023239810", "你好，我不需要"),
        ("+8615023239811", "你好，本次活动路线是怎么的"),
    ]


# ---- transport and garbage
OPERATIONS = {
    "send": lambda a: a.send(calls(1)),
    "balance": lambda a: a.balance(),
    "check_keywords": lambda a: a.check_keywords("内容"),
    "fetch_reports": lambda a: a.fetch_reports(),
    "fetch_replies": lambda a: a.fetch_replies(),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("fault", ["500", "drop"])
def test_server_errors_and_dropped_connections_are_unavailable(fake, operation, fault):
    fake.inject(fault)
    with pytest.raises(VendorUnavailable):
        OPERATIONS[operation](make_adapter(fake))


@pytest.mark.parametrize("operation", ["send", "fetch_reports"])
def test_read_timeout_is_unavailable(fake, operation):
    fake.inject("timeout")
    with pytest.raises(VendorUnavailable):
        OPERATIONS[operation](make_adapter(fake))


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_garbage_html_is_a_bad_response(fake, operation):
    fake.inject("garbage")
    with pytest.raises(VendorError) as exc:
        OPERATIONS[operation](make_adapter(fake))
    assert exc.value.code == "bad_response"
    assert exc.value.message.startswith("<html><body><h1>502 Bad Gateway")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<returnsms><returnstatus>Success</returnstatus><taskID>1",
        b"\xff\xfe\x00garbage",
        b"<returnsms><returnstatus>Pending</returnstatus></returnsms>",
        b'<!DOCTYPE r [<!ENTITY x "y">]><returnsms>&x;</returnsms>',
    ],
)
def test_truncated_or_unexpected_answers_are_bad_responses(fake, body):
    fake.scripted.append(Reply(body, 200, "text/xml"))
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).send(calls(1))
    assert exc.value.code == "bad_response"
    assert len(exc.value.message) <= 200


def test_unknown_path_is_an_http_error(fake):
    fake.scripted.append(Reply("<html>404</html>", 404, "text/html"))
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).balance()
    assert exc.value.code == "http_404"


def test_gb2312_answers_are_read(fake):
    fake.answer_encoding = "gb2312"
    adapter = make_adapter(fake, encoding="gbk")
    assert adapter.check_keywords("可以代开发票").ok is False
    assert adapter.balance().amount == Decimal(100000)
    fake.send_message = "用户名或密码错误"
    with pytest.raises(VendorError) as exc:
        adapter.send(calls(1))
    assert exc.value.message == "表示用户名或密码错误"


# ---- contract
def test_capabilities_and_no_push(fake):
    adapter = make_adapter(fake)
    assert adapter.report_delivery == ("pull",)
    for operation in ("submit_request", "balance", "check_keywords", "fetch_reports", "fetch_replies"):
        assert Sms10692Adapter.supports(operation)
    for operation in ("add_template", "delete_template", "parse_callback"):
        assert not Sms10692Adapter.supports(operation)
    with pytest.raises(NotSupported):
        adapter.read_callback(b"", {}, {})
    with pytest.raises(NotSupported):
        adapter.send(calls(1), product="voice_sms")


def test_submitted_records_what_was_dialled(fake):
    make_adapter(fake, ext_no="01").send([OutboundCall("c-1", "+8613800138000", "您好")])
    (record,) = fake.submitted
    assert record["custom_id"] is None
    assert (record["mobile"], record["mobile_e164"], record["content"], record["extno"]) == (
        "13800138000",
        "+8613800138000",
        "您好",
        "01",
    )
    assert record["vendor_message_id"] == record["batch_id"]
