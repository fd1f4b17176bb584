"""The wire helpers every adapter shares (``vendors.adapters.wire``), and the drifts they ended."""

from datetime import datetime
from decimal import Decimal

import pytest

from tests.fakes.emay import FakeEmay
from tests.fakes.fungo import FakeFungo
from vendors.adapters import ADAPTERS, adapter_class
from vendors.adapters.base import DeliveryReport, OutboundCall, VendorError
from vendors.adapters.emay import EmayAdapter
from vendors.adapters.fungo import FungoAdapter
from vendors.adapters.ihuyi import IhuyiAdapter
from vendors.adapters.vms57 import Vms57Adapter
from vendors.adapters.wire import (
    BEIJING,
    MAX_BALANCE,
    beijing_stamp,
    bounded_seconds,
    md5_hex,
    parse_balance,
    parse_json,
    parse_xml,
)
from vendors.models import VendorAccount


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("17", 17), ("17.4", 17), ("17.5", 18), ("2.5", 3), (" 3.5 ", 4), (Decimal("0.5"), 1), (0, 0), ("1000000", 10**6)],
)
def test_one_rounding_rule_half_up(value, seconds):
    assert bounded_seconds(value) == seconds


@pytest.mark.parametrize("value", [None, "", "x", "-1", "1000001", "1e1000000", "NaN", "Infinity", "[]"])
def test_implausible_durations_are_unknown(value):
    assert bounded_seconds(value) is None


def test_ihuyi_and_vms57_round_talk_time_as_emay_does():
    """Three roundings before: ihuyi truncated (17.5 → 17), VMS57 rounded half to even (2.5 → 2)."""
    body = b"code=2&msg=ok&mobilephone=13800138000&talktime=17.5&voiceid=1&report_time=2026-11-22+10:00:00"
    [ihuyi] = IhuyiAdapter(VendorAccount(vendor="ihuyi")).read_callback(body, {}, {}).reports
    assert ihuyi.talk_seconds == 18
    emay = EmayAdapter(VendorAccount(vendor="emay"))._report({"state": "SUCCESS", "callingDuration": "17.5"}, "voice")
    assert emay.talk_seconds == 18
    box = parse_xml(b"<callbox><status>10</status><holdTime>2.5</holdTime><feeTime>60.5</feeTime></callbox>")
    vms57 = Vms57Adapter(VendorAccount(vendor="vms57"))._report(box)
    assert (vms57.talk_seconds, vms57.billed_seconds) == (3, 61)


@pytest.mark.parametrize("value", ["12.5", "-3", "0", Decimal("999999999999.9999")])
def test_balances_within_the_bound_are_exact(value):
    assert parse_balance(value, "raw") == Decimal(value)


@pytest.mark.parametrize("value", ["", "abc", "NaN", "Infinity", str(MAX_BALANCE), "-" + str(MAX_BALANCE), "1e30"])
def test_balances_beyond_the_bound_are_bad_responses(value):
    with pytest.raises(VendorError) as err:
        parse_balance(value, f"raw {value}")
    assert err.value.code == "bad_response" and err.value.message == f"raw {value}"[:200]


def test_guarded_parsers_turn_hostile_answers_into_bad_response():
    for text in ("[" * 100_000, "<html>", ""):
        with pytest.raises(VendorError, match="bad_response"):
            parse_json(text)
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    for raw in (bomb, b"<unclosed>", b'<?xml version="1.0" encoding="nope"?><x/>'):
        with pytest.raises(VendorError, match="bad_response"):
            parse_xml(raw)
    assert parse_json('{"a": 1.10}') == {"a": Decimal("1.10")}  # money stays exact


def test_md5_and_beijing_time():
    assert md5_hex("test" + "mima" + "20120701231212") == "5cc68982f55ac74348e3d819f868fbe1"  # sms10692's vector
    assert beijing_stamp(datetime(2026, 1, 1, 0, 0, 0, tzinfo=BEIJING.__class__("UTC"))) == "20260101080000"
    assert beijing_stamp(datetime(2026, 1, 1, 8, 0, 0)) == "20260101080000"  # naive: Beijing wall time


def test_answered_is_derived_from_the_outcome():
    def report(outcome):
        return DeliveryReport("v", None, None, None, outcome, None, None, None, "x", "", None)

    assert report("answered").answered and not report("no_answer").answered
    with pytest.raises(TypeError):
        DeliveryReport("v", None, None, None, "no_answer", None, None, None, "x", "", None, answered=True)
    from dataclasses import asdict

    assert DeliveryReport.from_dict(asdict(report("busy"))) == report("busy")  # stored JSON reads back


# ---- HTTP status before parsing (Emay and fungo parsed any status's body before)
def test_emay_checks_the_http_status_before_parsing(start_fake):
    fake = start_fake(FakeEmay())
    account = VendorAccount(vendor="emay", base_url=fake.url + "/proxy", api_id=fake.app_id, api_secret=fake.secret_key)
    for operation in (lambda a: a.send([OutboundCall("c", "+8613800000001", "甲")]), lambda a: a.balance()):
        with pytest.raises(VendorError) as err:
            operation(EmayAdapter(account))
        assert err.value.code == "http_404"  # refused, not "bad_response" (which leaves calls uncertain)


def test_fungo_checks_the_http_status_before_parsing(start_fake):
    fake = start_fake(FakeFungo())
    account = VendorAccount(vendor="fungo", base_url=fake.url + "/x", api_id="fungo-cp", api_secret="fungo-pass")
    for operation in (
        lambda a: a.send([OutboundCall("c", "+8613800000001", "1234")], product="verify"),
        lambda a: a.balance(),
    ):
        with pytest.raises(VendorError) as err:
            operation(FungoAdapter(account))
        assert err.value.code == "http_404"


def test_every_adapter_reads_the_same_helpers():
    """No adapter keeps its own bound or parser: the names the helpers replaced are gone."""
    import inspect

    for code in ADAPTERS:
        source = inspect.getsource(inspect.getmodule(adapter_class(code)))
        for copied in ("MAX_BALANCE =", "MAX_SECONDS =", "hashlib.md5", "json.loads", "answered=", "fromstring("):
            assert copied not in source, f"{code} still has its own {copied}"
