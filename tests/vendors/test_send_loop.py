"""The one send loop of ``BaseAdapter``, run against every vendor through its fake.

Each vendor is described once (``VENDORS``): an account on its fake, three calls that go out as
three requests, and how to make its fake refuse per call or refuse a whole request in words. Every
scenario then runs for every vendor, so the rule "after an answered request, nothing is raised and
the rest comes back as ``unsent_results`` says" cannot drift between adapters again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest

from tests.fakes.emay import FakeEmay
from tests.fakes.fungo import FakeFungo
from tests.fakes.ihuyi import FakeIhuyi
from tests.fakes.sms10692 import FakeSms10692
from tests.fakes.vms57 import FakeVms57
from vendors.adapters import ADAPTERS, adapter_class, get_adapter
from vendors.adapters.base import (
    RESULT_NOT_SENT,
    RESULT_UNCERTAIN,
    OutboundCall,
    VendorError,
    VendorUnavailable,
    group_requests,
)
from vendors.models import VendorAccount


@dataclass(frozen=True)
class Vendor:
    code: str
    fake: Callable[[], object]
    account: Callable[[object], dict]
    product: str
    calls: tuple[OutboundCall, ...]  # three calls, three requests
    refuse_in_words: Callable[[object], None]  # the second request is refused as a whole
    # the first request's calls are refused one by one: set the fake up, answer the calls to send
    refuse_per_call: Callable[[object, tuple], tuple] | None
    refusal_code: str | None = None  # the code of that per-call refusal


def three(codes):
    return tuple(OutboundCall(f"c-{n}", f"+86138{n:08d}", content, []) for n, content in enumerate(codes, 1))


def _fungo_one_number_of_balance(fake):
    fake.accounts["fungo-cp"].balance = fake.price_fen


VENDORS = {
    "emay": Vendor(
        "emay",
        FakeEmay,
        lambda f: {"api_id": f.app_id, "api_secret": f.secret_key},
        "notify",
        three(["甲", "乙", "丙"]),
        lambda f: f.force(None, "ERROR_NEEDMORE_BALANCE"),
        lambda f, calls: f.force("ERROR_LONG_CONTENT") or calls,
        "ERROR_LONG_CONTENT",
    ),
    "fungo": Vendor(
        "fungo",
        FakeFungo,
        lambda f: {"api_id": "fungo-cp", "api_secret": "fungo-pass"},
        "verify",
        three(["1111", "2222", "3333"]),
        _fungo_one_number_of_balance,
        lambda f, calls: f.next_codes.append("-1012") or calls,
        "-1012",
    ),
    "ihuyi": Vendor(
        "ihuyi",
        FakeIhuyi,
        lambda f: {"api_id": f.account, "api_secret": f.apikey},
        "notify",
        three(["您的验证码是1111", "您的验证码是2222", "您的验证码是3333"]),
        lambda f: setattr(f, "balance", 1),
        lambda f, calls: f.fail_next("4030") or calls,
        "4030",
    ),
    "sms10692": Vendor(
        "sms10692",
        FakeSms10692,
        lambda f: {"api_id": "test", "api_secret": "mima", "user_id": "12"},
        "notify",
        three(["甲", "乙", "丙"]),
        lambda f: setattr(f, "points", Decimal(1)),
        lambda f, calls: (replace(calls[0], content="it's"), *calls[1:]),  # SQL characters
        "发送内容包含sql注入字符",
    ),
    "vms57": Vendor(
        "vms57",
        FakeVms57,
        lambda f: {"api_id": "vmsuser", "api_secret": "vmspass", "user_id": "1001"},
        "verify",
        three(["11", "22", "33"]),
        lambda f: f.answer_next("0|777", "-2|余额不足"),
        None,  # one answer covers the whole request: VMS57 has no per-call refusal
    ),
}
HTTP_VENDORS = sorted(VENDORS)


def test_every_vendor_but_the_simulator_is_described():
    """A new vendor module must be added here, so the shared rules run against it too."""
    assert set(VENDORS) == set(ADAPTERS) - {"simulator"}


@pytest.fixture(params=HTTP_VENDORS)
def vendor(request, start_fake):
    spec = VENDORS[request.param]
    fake = start_fake(spec.fake())
    account = VendorAccount(vendor=spec.code, name=spec.code, base_url=fake.url, **spec.account(fake))
    return spec, fake, get_adapter(account)


def submits(fake) -> int:
    return len(fake.requests)


def test_three_calls_are_three_requests(vendor):
    spec, fake, adapter = vendor
    results = adapter.send(spec.calls, product=spec.product)
    assert [(r.custom_id, r.accepted) for r in results] == [(c.custom_id, True) for c in spec.calls]
    assert submits(fake) == 3


def test_a_failing_first_request_raises_for_the_whole_batch(vendor):
    spec, fake, adapter = vendor
    fake.inject("500")
    with pytest.raises(VendorUnavailable):
        adapter.send(spec.calls, product=spec.product)
    assert submits(fake) == 1  # nothing after it was tried


def test_refused_in_words_after_an_accepted_request_keeps_it_and_queues_the_rest(vendor):
    spec, fake, adapter = vendor
    spec.refuse_in_words(fake)
    first, second, third = adapter.send(spec.calls, product=spec.product)
    assert first.accepted and first.vendor_message_id
    # the vendor said no in words: it does not have them, so both go back to the queue
    assert [(r.accepted, r.error_code) for r in (second, third)] == [(False, RESULT_NOT_SENT)] * 2
    assert second.error_message == third.error_message and second.error_message.startswith("[")
    assert submits(fake) == 2  # the third was not tried


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("500", RESULT_NOT_SENT),
        ("timeout", RESULT_UNCERTAIN),
        ("drop", RESULT_UNCERTAIN),
        ("garbage", RESULT_UNCERTAIN),
    ],
)
def test_a_failure_after_an_accepted_request_keeps_it(vendor, fault, code):
    spec, fake, adapter = vendor
    fake.inject("ok", fault)  # "ok" is no fault: the first request is served normally
    first, second, third = adapter.send(spec.calls, product=spec.product)
    assert first.accepted
    # the failed request as unsent_code says (uncertain: reconciled, never re-sent); the untried one queued
    assert [(r.accepted, r.error_code) for r in (second, third)] == [(False, code), (False, RESULT_NOT_SENT)]
    assert submits(fake) == 2


@pytest.mark.parametrize(("fault", "code"), [("500", RESULT_NOT_SENT), ("timeout", RESULT_UNCERTAIN)])
def test_a_failure_after_per_call_refusals_records_the_refusals(vendor, fault, code):
    """The drift Emay had: a first request answered with refusals is an answered request too.

    Emay raised for the whole batch here, so its refused call went back to the queue as if unsent.
    """
    spec, fake, adapter = vendor
    if spec.refuse_per_call is None:
        pytest.skip(f"{spec.code} answers one result for a whole request: it has no per-call refusal")
    calls = spec.refuse_per_call(fake, spec.calls)
    fake.inject("ok", fault)
    first, second, third = adapter.send(calls, product=spec.product)
    assert (first.accepted, first.error_code) == (False, spec.refusal_code)  # the vendor's own refusal
    assert [(r.accepted, r.error_code) for r in (second, third)] == [(False, code), (False, RESULT_NOT_SENT)]
    assert submits(fake) == 2


# ---- the one grouper, for every adapter (the simulator included)
def mixed_calls(batch_size: int) -> list[tuple[int, OutboundCall]]:
    """More calls than a request holds, one content, with numbers repeated."""
    numbers = [f"+86138{n % (batch_size + 3):08d}" for n in range(2 * batch_size + 5)]
    return [(i, OutboundCall(f"c-{i}", number, "1234", ["1234"])) for i, number in enumerate(numbers)]


@pytest.mark.parametrize("code", list(ADAPTERS))
def test_requests_hold_each_number_once_and_at_most_a_batch(code):
    cls = adapter_class(code)
    adapter = cls(VendorAccount(vendor=code, name=code, options={"app_id": "a", "template_id": "1"}))
    calls = mixed_calls(cls.batch_size)
    product = cls.products[0]
    planned = adapter.plan_requests(calls, product)
    assert sorted(i for request in planned for i in request) == [i for i, _c in calls]  # each call once
    for request in planned:
        numbers = [calls[i][1].mobile for i in request]
        assert len(numbers) == len(set(numbers)) and len(request) <= cls.batch_size
        assert len({adapter.request_key(calls[i][1], product) for i in request}) == 1


def test_the_grouper_keeps_order_and_splits_repeats_and_keys():
    keys = [(0, ("a", "1")), (1, ("b", "2")), (2, ("a", "3")), (3, ("a", "1")), (4, (None, "5")), (5, (None, "5"))]
    assert group_requests(keys, batch_size=10) == [[0, 2], [1], [3], [4], [5]]
    assert group_requests([(i, ("a", str(i))) for i in range(5)], batch_size=2) == [[0, 1], [2, 3], [4]]


def test_a_vendor_error_of_the_first_request_keeps_its_code(vendor):
    spec, fake, adapter = vendor
    fake.inject("garbage")
    with pytest.raises(VendorError) as err:
        adapter.send(spec.calls, product=spec.product)
    assert err.value.code == "bad_response"
