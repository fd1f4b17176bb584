"""VMS57 adapter against the fake VMS57 platform over real sockets."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests

from tests.fakes.vms57 import ERRORS, FakeVms57
from vendors.adapters.base import (
    NotSupported,
    OutboundCall,
    VendorError,
    VendorUnavailable,
)
from vendors.adapters.vms57 import OUTCOME_MAP, Vms57Adapter
from vendors.adapters.wire import BEIJING
from vendors.models import VendorAccount


@pytest.fixture(scope="module")
def server():
    # One server for the module: stopping a server costs ~0.5 s (serve_forever's poll interval).
    fake = FakeVms57().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server):
    server.reset()
    return server


def make_adapter(fake, *, password="vmspass", base_url=None, **options):
    account = VendorAccount(
        vendor="vms57",
        name="vms57-test",
        base_url=base_url or fake.url,
        api_id="vmsuser",
        api_secret=password,
        user_id="1001",
        options=options,
    )
    return Vms57Adapter(account)


@pytest.fixture
def adapter(fake):
    return make_adapter(fake, caller_number="02160000000")


def call(i, code="1234", **kw):
    return OutboundCall(
        custom_id=f"call-{i}",
        mobile=f"+86138{i:08d}",
        content=kw.get("content", ""),
        variables=kw.get("variables", [code]),
    )


# ---- submit
def test_send_posts_documented_parameters(fake, adapter):
    [result] = adapter.send([call(1)], product="verify")
    form = fake.last.form
    assert fake.last.method == "POST" and fake.last.path == "/vms.ashx"
    assert form == {
        "action": "audio",
        "userid": "1001",
        "account": "vmsuser",
        "password": "vmspass",
        "taskname": "call-1",
        "destNumbers": "13800000001",
        "vmsText": "1234",
        "callerNumber": "02160000000",
    }
    batch = fake.submitted[0]["batch_id"]
    assert result.accepted and result.batch_id == batch
    assert result.vendor_message_id == f"{batch}:13800000001" == fake.submitted[0]["vendor_message_id"]
    assert (result.custom_id, result.mobile) == ("call-1", "+8613800000001")


def test_code_from_content_when_no_variables(fake, adapter):
    [result] = adapter.send([OutboundCall("c-1", "+8613800000001", " 0815 ", [])], product="verify")
    assert result.accepted and fake.last.form["vmsText"] == "0815"


def test_same_code_shares_a_request_and_different_codes_do_not(fake, adapter):
    calls = [call(1, "11"), call(2, "22"), call(3, "11"), call(4, "33")]
    results = adapter.send(calls, product="verify")
    assert [r.custom_id for r in results] == ["call-1", "call-2", "call-3", "call-4"]
    assert all(r.accepted for r in results)
    sent = [(r.form["vmsText"], r.form["destNumbers"], r.form["taskname"]) for r in fake.requests]
    assert sent == [
        ("11", "13800000001,13800000003", "call-1"),
        ("22", "13800000002", "call-2"),
        ("33", "13800000004", "call-4"),
    ]
    assert results[0].batch_id == results[2].batch_id != results[1].batch_id


def test_same_number_twice_goes_in_separate_requests(fake, adapter):
    twice = [call(1), OutboundCall("call-1b", "+8613800000001", "", ["1234"])]
    results = adapter.send(twice, product="verify")
    assert len(fake.requests) == 2
    assert results[0].vendor_message_id != results[1].vendor_message_id


def test_batches_split_at_100(fake, adapter):
    results = adapter.send([call(i) for i in range(250)], product="verify")
    assert [len(r.form["destNumbers"].split(",")) for r in fake.requests] == [100, 100, 50]
    assert len({r.batch_id for r in results}) == 3 and all(r.accepted for r in results)
    assert [s["mobile"] for s in fake.submitted] == [f"138{i:08d}" for i in range(250)]


def test_fake_refuses_more_than_its_limit(fake):
    class Wide(Vms57Adapter):
        batch_size = 101

    wide = Wide(make_adapter(fake).account)
    with pytest.raises(VendorError) as exc:
        wide.send([call(i) for i in range(101)], product="verify")
    assert exc.value.code == "-8" and not fake.submitted


@pytest.mark.parametrize(
    "send_at, expected",
    [
        (datetime(2014, 2, 25, 2, 5, 9, tzinfo=UTC), "2014-02-25 10:05:09"),
        (datetime(2014, 2, 25, 23, 0, 0, tzinfo=BEIJING), "2014-02-25 23:00:00"),
        (datetime(2014, 2, 25, 8, 0, 0), "2014-02-25 08:00:00"),  # naive: Beijing wall time
    ],
)
def test_send_at_is_attime_in_beijing_time(fake, adapter, send_at, expected):
    [result] = adapter.send([call(1)], product="verify", send_at=send_at)
    assert result.accepted and fake.last.form["attime"] == expected == fake.submitted[0]["attime"]


def test_caller_number_optional_and_must_be_verified(fake):
    [result] = make_adapter(fake).send([call(1)], product="verify")
    assert result.accepted and fake.last.form["callerNumber"] == ""
    with pytest.raises(VendorError) as exc:
        make_adapter(fake, caller_number="02199999999").send([call(2)], product="verify")
    assert (exc.value.code, exc.value.message) == ("-7", ERRORS["-7"])


@pytest.mark.parametrize("code", ["12345", "12a", "", "١٢"])
def test_bad_code_refused_locally(fake, adapter, code):
    results = adapter.send([call(1, code), call(2, "99")], product="verify")
    assert not results[0].accepted and results[0].error_code == "invalid_code"
    assert results[1].accepted
    assert [r.form["destNumbers"] for r in fake.requests] == ["13800000002"]


def test_bad_number_refused_locally(fake, adapter):
    results = adapter.send([OutboundCall("x", "+86138,0000", "", ["1"]), call(2)], product="verify")
    assert (results[0].accepted, results[0].error_code) == (False, "invalid_number")
    assert results[1].accepted and len(fake.requests) == 1


def test_all_refused_locally_makes_no_request(fake, adapter):
    assert not adapter.send([call(1, "abc")], product="verify")[0].accepted
    assert fake.requests == []


@pytest.mark.parametrize("product", ["notify", "marketing", "voice_sms"])
def test_only_verify_product(adapter, product):
    with pytest.raises(NotSupported):
        adapter.send([call(1)], product=product)


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_every_failure_result_raises_with_raw_code_and_message(fake, adapter, code):
    fake.answer_next(f"{code}|{ERRORS[code]}")
    with pytest.raises(VendorError) as exc:
        adapter.send([call(1)], product="verify")
    assert (exc.value.code, exc.value.message) == (code, ERRORS[code])


def test_wrong_password_rejected_by_fake(fake):
    bad = make_adapter(fake, password="wrong")
    with pytest.raises(VendorError) as exc:
        bad.send([call(1)], product="verify")
    assert exc.value.code == "-1" and not fake.submitted
    with pytest.raises(VendorError):
        bad.balance()
    with pytest.raises(VendorError) as exc:
        bad.fetch_reports()
    assert (exc.value.code, exc.value.message) == ("-1", ERRORS["-1"])


def test_insufficient_balance(fake):
    fake.balance_amount = Decimal("0.04")
    with pytest.raises(VendorError) as exc:
        make_adapter(fake).send([call(1)], product="verify")
    assert (exc.value.code, exc.value.message) == ("-2", "余额不足")


@pytest.mark.parametrize("body", ["", "OK", "abc|def", "0|", "<html><body>error</body></html>"])
def test_unreadable_submit_answer(fake, adapter, body):
    fake.answer_next(body)
    with pytest.raises(VendorError) as exc:
        adapter.send([call(1)], product="verify")
    assert exc.value.code == "bad_response"


def test_wrong_path_is_a_vendor_error(fake):
    with pytest.raises(VendorError) as exc:
        make_adapter(fake, base_url=fake.url + "/api").balance()
    assert exc.value.code == "http_404"


# ---- transport
OPERATIONS = {
    "send": lambda a: a.send([call(1)], product="verify"),
    "balance": lambda a: a.balance(),
    "fetch_reports": lambda a: a.fetch_reports(),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("fault", ["500", "timeout", "drop"])
def test_transport_failures_are_unavailable(fake, adapter, operation, fault):
    fake.inject(fault)
    with pytest.raises(VendorUnavailable):
        OPERATIONS[operation](adapter)
    assert not fake.submitted


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_garbage_html_is_vendor_error(fake, adapter, operation):
    fake.inject("garbage")
    with pytest.raises(VendorError) as exc:
        OPERATIONS[operation](adapter)
    assert exc.value.code == "bad_response" and "502 Bad Gateway" in exc.value.message


def test_credentials_never_logged(fake, adapter, caplog):
    caplog.set_level("DEBUG")
    adapter.send([call(1)], product="verify")
    adapter.balance()
    assert "vmspass" not in caplog.text


# ---- balance
def test_balance_is_decimal_cny(fake, adapter):
    balance = adapter.balance()
    assert (balance.amount, balance.unit, balance.raw) == (Decimal("1000.00"), "CNY", "1000.00")
    adapter.send([call(1), call(2)], product="verify")
    assert adapter.balance().amount == Decimal("999.90")
    assert fake.last.form == {"action": "overage", "userid": "1001", "account": "vmsuser", "password": "vmspass"}


def test_balance_unit_option(fake):
    assert make_adapter(fake, balance_unit="calls").balance().unit == "calls"


@pytest.mark.parametrize("body", ["0|abc", "0|", "0|NaN", "1000"])
def test_unreadable_balance(fake, adapter, body):
    fake.answer_next(body)
    with pytest.raises(VendorError) as exc:
        adapter.balance()
    assert exc.value.code == "bad_response"


# ---- reports
def test_reports_match_submissions_and_are_handed_out_once(fake, adapter):
    results = adapter.send([call(1, "11"), call(2, "22"), call(3, "11")], product="verify")
    reports = adapter.fetch_reports()
    assert fake.last.form["action"] == "report" and fake.last.form["statusNum"] == "500"
    assert {(r.vendor_message_id, r.batch_id, r.mobile) for r in reports} == {
        (r.vendor_message_id, r.batch_id, r.mobile) for r in results
    }
    first = reports[0]
    assert (first.outcome, first.answered, first.talk_seconds, first.billed_seconds) == ("answered", True, 15, 60)
    assert first.custom_id is None and first.raw_code == "10" and first.raw_message == "成功"
    assert first.reported_at == datetime(2014, 2, 25, 10, 0, 16, tzinfo=BEIJING)
    assert adapter.fetch_reports() == []


def test_failed_calls_report_no_answer(fake):
    fake.auto_report = "20"
    adapter = make_adapter(fake)
    adapter.send([call(1)], product="verify")
    [report] = adapter.fetch_reports()
    assert (report.outcome, report.answered, report.raw_code) == ("no_answer", False, "20")
    assert report.raw_message == "失败 上级返回值=NOANSWER" and report.talk_seconds == 0


@pytest.mark.parametrize("status, outcome", [*OUTCOME_MAP.items(), (" 20 ", "no_answer"), ("30", "unknown")])
def test_outcome_mapping(fake, adapter, status, outcome):
    fake.queue_report("2014022501", "13800000001", status)
    [report] = adapter.fetch_reports()
    assert report.outcome == outcome and report.raw_code == status.strip()
    assert report.answered is (outcome == "answered")


def test_outcome_map_covers_the_documented_statuses():
    assert OUTCOME_MAP == {"10": "answered", "20": "no_answer"}


def test_reports_page_until_a_short_pull(fake, adapter):
    for i in range(120):
        fake.queue_report("5001", f"138{i:08d}")
    reports = adapter.fetch_reports()
    assert len(reports) == 120 and len(fake.requests) == 3
    assert len({r.vendor_message_id for r in reports}) == 120


def test_reports_limit(fake, adapter):
    for i in range(80):
        fake.queue_report("5001", f"138{i:08d}")
    assert len(adapter.fetch_reports(limit=30)) == 30
    assert fake.last.form["statusNum"] == "30" and len(fake.requests) == 1
    assert len(adapter.fetch_reports()) == 50


def test_report_max_pulls_option(fake):
    for i in range(120):
        fake.queue_report("5001", f"138{i:08d}")
    assert len(make_adapter(fake, report_max_pulls=2).fetch_reports()) == 100
    assert len(make_adapter(fake, report_max_pulls=1).fetch_reports(limit=500)) == 20
    with pytest.raises(VendorError) as err:  # an operator's typo gets words, not a ValueError
        make_adapter(fake, report_max_pulls="ten").fetch_reports()
    assert err.value.code == "bad_option" and "report_max_pulls" in err.value.message and '"ten"' in err.value.message


def test_failed_later_pull_keeps_received_reports(fake, adapter):
    for i in range(60):
        fake.queue_report("5001", f"138{i:08d}")
    fake.inject("pass", "500")
    assert len(adapter.fetch_reports()) == 50
    assert len(adapter.fetch_reports()) == 10


DOC_SHAPED = """<?xml version="1.0" encoding="utf-8"?>
<result xmlns="http://vms57.example/">
  <count>2</count>
  <reportMsg></reportMsg>
  <callbox>
    <batchID>20140225123</batchID><status>10</status><calledNumber>8613800138000</calledNumber>
    <reportTime>2014/2/25 9:05:03</reportTime><reportErrorCode></reportErrorCode>
    <startTime>2014/2/25 9:04:00</startTime><endTime>2014/2/25 9:04:42</endTime><feeTime>42.4</feeTime>
  </callbox>
  <callbox>
    <batchID>20140225123</batchID><status> 20 </status><calledNumber>13900139000</calledNumber>
    <reportTime>garbled</reportTime><reportErrorCode>486</reportErrorCode><holdTime>0</holdTime>
    <feeTime>0</feeTime><startTime></startTime><endTime>2014-02-25 09:06:00</endTime>
  </callbox>
</result>"""


def test_document_shaped_report(fake, adapter):
    fake.answer_next(DOC_SHAPED)
    first, second = adapter.fetch_reports()
    assert (first.vendor_message_id, first.mobile) == ("20140225123:13800138000", "+8613800138000")
    assert (first.talk_seconds, first.billed_seconds) == (42, 42)
    assert first.reported_at == datetime(2014, 2, 25, 9, 5, 3, tzinfo=BEIJING)
    assert (second.outcome, second.raw_code, second.raw_message) == ("no_answer", "20", "失败 上级返回值=486")
    assert second.reported_at == datetime(2014, 2, 25, 9, 6, tzinfo=BEIJING)


def test_report_error_count(fake, adapter):
    fake.answer_next("<result><count>-1</count><reportMsg>查询过于频繁</reportMsg></result>")
    with pytest.raises(VendorError) as exc:
        adapter.fetch_reports()
    assert (exc.value.code, exc.value.message) == ("-1", "查询过于频繁")


@pytest.mark.parametrize(
    "body",
    [
        "<result><count>1</count><callbox><batchID>1</batchID>",
        "not xml at all",
        "",
        "<other><count>0</count></other>",
        "<result><count>x</count></result>",
        '<!DOCTYPE r [<!ENTITY a "aaaa">]><result><count>&a;</count></result>',
    ],
)
def test_malformed_report_xml(fake, adapter, body):
    fake.answer_next(body)
    with pytest.raises(VendorError) as exc:
        adapter.fetch_reports()
    assert exc.value.code == "bad_response" and exc.value.message == body[:200]


# ---- fake and capabilities
@pytest.mark.parametrize(
    "change, code",
    [
        ({"vmsText": "12345"}, "-4"),
        ({"attime": "2014-2-25 10:00:00"}, "-5"),
        ({"taskname": ""}, "-6"),
        ({"destNumbers": "1380013800"}, "-3"),
        ({"destNumbers": "13800138000,13800138000"}, "-9"),
        ({"action": "getCode"}, "-10"),
    ],
)
def test_fake_is_strict(fake, change, code):
    form = {
        "action": "audio",
        "userid": "1001",
        "account": "vmsuser",
        "password": "vmspass",
        "taskname": "t",
        "destNumbers": "13800138000",
        "vmsText": "12",
        "callerNumber": "",
        **change,
    }
    assert requests.post(fake.url + "/vms.ashx", data=form, timeout=2).text == f"{code}|{ERRORS[code]}"
    assert requests.get(fake.url + "/vms.ashx", params=form, timeout=2).status_code == 405


def test_capabilities():
    assert Vms57Adapter.supports("fetch_reports") and Vms57Adapter.supports("balance")
    for operation in ("parse_callback", "add_template", "fetch_replies", "check_keywords"):
        assert not Vms57Adapter.supports(operation)
