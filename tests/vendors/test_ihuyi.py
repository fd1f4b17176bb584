"""ihuyi adapter against the fake ihuyi server over real sockets (《语音通知API接口文档》)."""

from datetime import datetime
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.fakes.ihuyi import FakeIhuyi, md5
from vendors.adapters.base import (
    CallbackRejected,
    NotSupported,
    OutboundCall,
    VendorError,
    VendorUnavailable,
)
from vendors.adapters.ihuyi import (
    ADD_TEMPLATE_ERRORS,
    DEL_TEMPLATE_ERRORS,
    GETNUM_ERRORS,
    SUBMIT_ERRORS,
    SUBMIT_REQUEST_FAILURES,
    IhuyiAdapter,
)
from vendors.models import VendorAccount

APIID = "test"
APIKEY = "1q784322ba1d9bb88d50cf5cdfd89k7d"
CONTENT = "您的订单号是:9633。已由顺风快递发出,请注意查收。"
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def fake(start_fake):
    return start_fake(FakeIhuyi(APIID, APIKEY))


def adapter_for(fake, secret=APIKEY, account=APIID, **options):
    return IhuyiAdapter(
        VendorAccount(
            vendor="ihuyi", name="ihuyi", base_url=fake.url, api_id=account, api_secret=secret, options=options
        )
    )


def call(n=0, mobile=None, content=CONTENT):
    return OutboundCall(f"call-{n}", mobile or f"+861380013{n:04d}", content, [])


# ---- auth
def test_dynamic_password_follows_the_documents_examples():
    adapter = IhuyiAdapter(VendorAccount(vendor="ihuyi", api_id=APIID, api_secret=APIKEY))
    # md5('test1q784322ba1d9bb88d50cf5cdfd89k7d138xxxxxxxx11251451544941'), section 7
    submit = adapter.auth_params("138xxxxxxxx", "1125", now=1451544941)
    assert submit == {"account": "test", "password": "f0a392b392252018db9398d1c669a383", "time": "1451544941"}
    # md5('test1q784322ba1d9bb88d50cf5cdfd89k7d1451544941')
    assert adapter.auth_params(now=1451544941)["password"] == "73f6e7a36e0fd30ad7eea940ca1896b2"


def test_submit_dynamic_password_on_the_wire(fake):
    [result] = adapter_for(fake).send([call(1)])
    assert result.accepted and result.vendor_message_id == fake.submitted[0]["vendor_message_id"]
    assert (result.custom_id, result.mobile) == ("call-1", "+8613800130001")
    req = fake.last
    assert (req.method, req.path, req.query) == ("POST", "/webservice/voice.php", {"method": "Submit"})
    assert len(req.form["time"]) == 10 and req.form["time"].isdigit()
    assert req.form["password"] == md5(APIID + APIKEY + "13800130001" + CONTENT + req.form["time"])
    assert APIKEY not in req.body.decode() and "format" not in req.form
    assert fake.submitted[0]["mobile"] == "13800130001" and fake.submitted[0]["content"] == CONTENT


def test_plain_mode_sends_the_apikey(fake):
    [result] = adapter_for(fake, auth_mode="plain").send([call(2)])
    assert result.accepted
    assert fake.last.form["password"] == APIKEY and "time" not in fake.last.form


@pytest.mark.parametrize("mode", ["dynamic", "plain"])
@pytest.mark.parametrize("secret,account", [("wrong-key", APIID), (APIKEY, "someone-else")])
def test_fake_rejects_wrong_credentials(fake, mode, secret, account):
    adapter = adapter_for(fake, secret=secret, account=account, auth_mode=mode)
    with pytest.raises(VendorError) as exc:
        adapter.send([call(3)])
    assert exc.value.code == "405" and exc.value.message == "用户名或密码不正确"
    with pytest.raises(VendorError, match="405"):
        adapter.balance()
    assert fake.submitted == []


def test_fake_rejects_a_stale_or_tampered_dynamic_password(fake):
    url = fake.url + "/webservice/voice.php?method=Submit"
    old = "1451544941"
    form = {
        "account": APIID,
        "mobile": "13800138000",
        "content": "1125",
        "time": old,
        "password": md5(APIID + APIKEY + "13800138000" + "1125" + old),
    }
    assert "<code>405</code>" in requests.post(url, data=form, timeout=5).text
    adapter = IhuyiAdapter(VendorAccount(vendor="ihuyi", api_id=APIID, api_secret=APIKEY))
    form.update(adapter.auth_params("13800138000", "1125"), content="1126")  # signed other content
    assert "<code>405</code>" in requests.post(url, data=form, timeout=5).text
    assert fake.submitted == []


def test_invalid_options_are_refused(fake):
    with pytest.raises(VendorError, match="auth_mode"):
        adapter_for(fake, auth_mode="md5").send([call()])
    with pytest.raises(VendorError, match="format"):
        adapter_for(fake, format="yaml").balance()
    assert fake.requests == []


# ---- Submit
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_submit_in_both_formats(fake, fmt):
    adapter = adapter_for(fake, format=fmt)
    results = adapter.send([call(4), call(5)])
    assert [r.vendor_message_id for r in results] == [c["vendor_message_id"] for c in fake.submitted]
    assert all(r.accepted and r.error_code is None for r in results)
    assert (fake.last.form.get("format") == "json") is (fmt == "json")


def test_one_number_per_request(fake):
    calls = [call(n) for n in range(5)]
    results = adapter_for(fake).send(calls)
    assert len(fake.requests) == 5
    assert [r.form["mobile"] for r in fake.requests] == [f"1380013{n:04d}" for n in range(5)]
    assert [r.custom_id for r in results] == [c.custom_id for c in calls]
    assert len({r.vendor_message_id for r in results}) == 5


def test_landline_goes_with_its_area_code(fake):
    [result] = adapter_for(fake).send([call(mobile="+862151234529")])
    assert result.accepted and fake.submitted[0]["mobile"] == "02151234529"
    body, headers, query = fake.push_body(result.vendor_message_id, "2")
    [report] = adapter_for(fake).read_callback(body, headers, query).reports
    assert report.mobile == "+862151234529"


def test_foreign_numbers_are_refused_before_sending(fake):
    adapter = adapter_for(fake)
    [refused] = adapter.send([call(mobile="+13125550100")])
    assert not refused.accepted and refused.error_code == "unsupported_number"
    assert adapter.map_outcome(refused.error_code) == "invalid_number"
    assert fake.requests == []


def test_content_limit_is_checked_before_sending(fake):
    adapter = adapter_for(fake)
    [refused] = adapter.send([call(content="语" * 181)])
    assert not refused.accepted and refused.error_code == "content_too_long"
    assert adapter.map_outcome(refused.error_code) == "content_rejected"
    assert fake.requests == []
    [ok] = adapter.send([call(content="语" * 180)])
    assert ok.accepted
    # and the fake itself refuses what is too long
    form = {"account": APIID, "password": APIKEY, "mobile": "13800138000", "content": "语" * 181}
    assert (
        "<code>0</code>" in requests.post(fake.url + "/webservice/voice.php?method=Submit", data=form, timeout=5).text
    )


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("code", sorted(set(SUBMIT_ERRORS) - {"2"}))
def test_every_submit_error_code(fake, code, fmt):
    fake.fail_next(code, "Submit")
    adapter = adapter_for(fake, format=fmt)
    if code in SUBMIT_REQUEST_FAILURES:
        with pytest.raises(VendorError) as exc:
            adapter.send([call()])
        assert (exc.value.code, exc.value.message) == (code, SUBMIT_ERRORS[code])
    else:
        [result] = adapter.send([call()])
        assert not result.accepted and result.vendor_message_id is None
        assert (result.error_code, result.error_message) == (code, SUBMIT_ERRORS[code])
    assert adapter.map_outcome(code) != "unknown" or code == "0"


def test_fake_refuses_numbers_and_content_as_documented(fake):
    adapter = adapter_for(fake)
    fake.blacklist.add("13800000001")
    fake.sensitive_words.add("赌博")
    results = adapter.send(
        [
            call(mobile="+8613800000001"),
            call(mobile="+86123"),
            call(content=""),
            call(7, content="来赌博吧"),
        ]
    )
    assert [r.error_code for r in results] == ["4030", "406", "404", "407"]
    assert [adapter.map_outcome(r.error_code) for r in results] == [
        "blacklisted",
        "invalid_number",
        "content_rejected",
        "content_rejected",
    ]
    assert fake.submitted == []


def test_templates_on_the_fake(fake):
    adapter = adapter_for(fake)
    fake.require_template = True
    assert adapter.send([call(1)])[0].error_code == "4071"
    template_id = adapter.add_template("您的订单号是:【变量】。已由顺风快递发出,请注意查收。")
    fake.template_push_body(template_id, approved=True)
    assert adapter.send([call(2, content="别的内容")])[0].error_code == "4072"
    assert adapter.send([call(3)])[0].accepted


def test_no_balance_fails_the_request(fake):
    fake.balance = 0
    with pytest.raises(VendorError) as exc:
        adapter_for(fake).send([call()])
    assert (exc.value.code, exc.value.message) == ("4051", "剩余条数不足")


def test_per_number_limits(fake):
    now = [datetime(2024, 5, 1, 9, 0, tzinfo=BEIJING).timestamp()]
    fake.limits_clock = lambda: now[0]
    adapter = adapter_for(fake)

    def dial_at(offset):
        now[0] += offset
        return adapter.send([call(1)])[0]

    assert dial_at(0).accepted
    assert dial_at(0.5).error_code == "4080"
    assert dial_at(0.6).accepted
    assert dial_at(1.5).accepted
    refused = dial_at(10)
    assert (refused.error_code, refused.error_message) == ("4081", SUBMIT_ERRORS["4081"])
    assert adapter.map_outcome("4081") == "rate_limited"
    assert adapter.send([call(2)])[0].accepted  # another number is not limited
    for _ in range(7):
        assert dial_at(61).accepted
    assert dial_at(61).error_code == "4082"  # the 11th of the day
    assert dial_at(24 * 3600).accepted  # next Beijing day
    assert len(fake.submitted) == 12


def test_scheduled_and_other_products_are_not_supported(fake):
    adapter = adapter_for(fake)
    with pytest.raises(NotSupported):
        adapter.send([call()], send_at=datetime(2030, 1, 1, tzinfo=BEIJING))
    with pytest.raises(NotSupported):
        adapter.send([call()], product="marketing")
    assert fake.requests == []


# ---- failures
@pytest.mark.parametrize("fault", ["500", "timeout", "drop"])
def test_transport_failures_are_unavailable(fake, fault):
    fake.inject(fault)
    with pytest.raises(VendorUnavailable) as exc:
        adapter_for(fake).send([call()])
    assert exc.value.maybe_delivered is (fault != "500")  # the request reached the vendor: reconcile, never re-dial


@pytest.mark.parametrize("operation", ["send", "balance"])
def test_garbage_html_is_a_bad_response(fake, operation):
    fake.inject("garbage")
    adapter = adapter_for(fake)
    with pytest.raises(VendorError) as exc:
        adapter.send([call()]) if operation == "send" else adapter.balance()
    assert exc.value.code == "bad_response" and exc.value.message.startswith("<html><body><h1>502")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "OK",
        '<?xml version="1.0"?><SubmitResult xmlns="http://106.ihuyi.com/"><code>2</co',
        '<SubmitResult xmlns="http://other.example/"><code>2</code></SubmitResult>',
        '{"code": 2, "msg": "提交成功"',
        '["2"]',
        "x" * 500,
    ],
)
def test_unreadable_answers(text):
    with pytest.raises(VendorError) as exc:
        IhuyiAdapter.parse_result(text)
    assert exc.value.code == "bad_response" and exc.value.message == text[:200]


def test_namespaced_answer_of_the_document():
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<SubmitResult xmlns="http://106.ihuyi.com/">\n'
        "<code>2</code>\n<msg>提交成功</msg>\n<voiceid> 60495654 </voiceid>\n</SubmitResult>"
    )
    assert IhuyiAdapter.parse_result(xml) == {"code": "2", "msg": "提交成功", "voiceid": "60495654"}
    assert IhuyiAdapter.parse_result('{"code":405,"msg":"account或password不正确","voiceid":"0"}')["code"] == "405"


def test_wrong_path_is_an_error(fake):
    adapter = adapter_for(fake)
    adapter.account.base_url = fake.url + "/elsewhere"
    with pytest.raises(VendorError) as exc:
        adapter.balance()
    assert exc.value.code == "http_404"


# ---- GetNum, templates
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_balance(fake, fmt):
    fake.balance = 856
    balance = adapter_for(fake, format=fmt).balance()
    assert balance.amount == Decimal(856) and isinstance(balance.amount, Decimal)
    assert balance.unit == "calls" and "856" in balance.raw
    req = fake.last
    assert req.query == {"method": "GetNum"}
    assert req.form["password"] == md5(APIID + APIKEY + req.form["time"])


@pytest.mark.parametrize(
    "method,table,operation",
    [
        ("GetNum", GETNUM_ERRORS, lambda a: a.balance()),
        ("AddTemplate", ADD_TEMPLATE_ERRORS, lambda a: a.add_template("您的验证码是【变量】")),
        ("DelTemplate", DEL_TEMPLATE_ERRORS, lambda a: a.delete_template("1001")),
    ],
)
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_every_account_and_template_error_code(fake, method, table, operation, fmt):
    for code in sorted(set(table) - {"2"}):
        fake.fail_next(code, method)
        with pytest.raises(VendorError) as exc:
            operation(adapter_for(fake, format=fmt))
        assert (exc.value.code, exc.value.message) == (code, table[code])
        assert fake.last.query == {"method": method}


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_add_and_delete_templates(fake, fmt):
    adapter = adapter_for(fake, format=fmt)
    content = "您的客户【变量】将于【变量】天后过生日,别忘记注意祝福哦~"
    template_id = adapter.add_template(content)
    assert fake.templates[template_id] == {"content": content, "status": "pending"}
    assert fake.last.form["password"] == md5(APIID + APIKEY + fake.last.form["time"])
    with pytest.raises(VendorError) as exc:
        adapter.add_template(content)
    assert (exc.value.code, exc.value.message) == ("408", "模板己存在")
    assert adapter.delete_template(template_id) is None
    assert fake.templates == {}
    with pytest.raises(VendorError, match="404"):
        adapter.delete_template(template_id)


# ---- outcomes, pushes
RECEIPT_OUTCOMES = {
    "2": "answered",
    "0": "unknown",
    "-1": "powered_off",
    "-2": "suspended",
    "-3": "unreachable",
    "-4": "busy",
    "-5": "invalid_number",
    "-6": "no_answer",
    "-8": "barred",
    "-9": "network_busy",
    "-10": "barred",
    "-11": "network_busy",
    "-12": "rejected",
    "-7": "unknown",
    "99": "unknown",
    " -6 ": "no_answer",
}


@pytest.mark.parametrize("code,outcome", RECEIPT_OUTCOMES.items())
def test_receipt_outcomes(code, outcome):
    assert IhuyiAdapter(VendorAccount(vendor="ihuyi")).map_outcome(code) == outcome


@pytest.mark.parametrize("code", [c for c in RECEIPT_OUTCOMES if c.strip() == c])
def test_receipt_push_for_every_code(fake, code):
    adapter = adapter_for(fake)
    [submitted] = adapter.send([call(8)])
    body, headers, query = fake.push_body(submitted.vendor_message_id, code, talktime=17 if code == "2" else 0)
    parsed = adapter.read_callback(body, headers, query)
    assert (parsed.ack_body, parsed.ack_status) == ("success", 200)
    [report] = parsed.reports
    assert report.vendor_message_id == submitted.vendor_message_id and report.custom_id is None
    assert report.mobile == "+8613800130008"
    assert report.outcome == RECEIPT_OUTCOMES[code] and report.answered is (code == "2")
    assert report.raw_code == code and report.talk_seconds == (17 if code == "2" else 0)
    assert report.reported_at.tzinfo is not None


def test_receipt_of_the_document_shape():
    body = (
        "code=%20-6%20&msg=" + quote("无人接听") + "&mobilephone=13800138000&talktime=0&voiceid=60495654"
        "&report_time=" + quote("2018-05-24 17:46:50")
    ).encode()
    parsed = IhuyiAdapter(VendorAccount(vendor="ihuyi")).read_callback(
        body, {"content-type": "application/x-www-form-urlencoded"}, {}
    )
    [report] = parsed.reports
    assert (report.outcome, report.raw_code, report.raw_message) == ("no_answer", "-6", "无人接听")
    assert report.reported_at == datetime(2018, 5, 24, 17, 46, 50, tzinfo=BEIJING)
    assert report.reported_at.utcoffset().total_seconds() == 8 * 3600
    assert (report.mobile, report.billed_seconds, report.batch_id) == ("+8613800138000", None, None)
    assert parsed.ack_body == "success" and parsed.template_reviews == []


@pytest.mark.parametrize("approved,msg", [(True, "审核通过"), (False, "模板内容含有营销字样")])
def test_template_review_push(fake, approved, msg):
    adapter = adapter_for(fake)
    template_id = adapter.add_template("您的验证码是【变量】")
    parsed = adapter.read_callback(*fake.template_push_body(template_id, approved=approved, msg=msg))
    [review] = parsed.template_reviews
    assert (review.template_id, review.approved, review.message) == (template_id, approved, msg)
    assert review.raw_code == ("2" if approved else "0")
    assert parsed.reports == [] and parsed.ack_body == "success"


def test_push_in_the_query_string_is_read():
    parsed = IhuyiAdapter(VendorAccount(vendor="ihuyi")).read_callback(b"", {}, {"code": "0", "templateid": "9"})
    assert parsed.template_reviews[0].approved is False


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe\x00garbage", b"<html>hi</html>", b"code=2&msg=ok", b"msg=x&voiceid=1", b"code=abc&voiceid=1"],
)
def test_unreadable_pushes_are_rejected(body):
    with pytest.raises(CallbackRejected):
        IhuyiAdapter(VendorAccount(vendor="ihuyi")).read_callback(body, {}, {})
