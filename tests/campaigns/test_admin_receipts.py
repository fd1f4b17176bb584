"""The call record page finds the stored receipts that mention a call by searching raw bodies."""

import pytest

from campaigns.admin import _body_contains_any
from campaigns.models import CallbackEvent

pytestmark = pytest.mark.django_db


def event(body: bytes) -> CallbackEvent:
    return CallbackEvent.objects.create(vendor="ihuyi", body=body)


def test_bodies_holding_any_needle_are_found_and_only_those():
    first = event(b'{"custom_id": "R7A1", "status": "1"}')
    second = event("手机号 13800138000 已接听".encode("gb18030") + b" msgid=M-42")
    event(b'{"custom_id": "R8A1"}')
    found = _body_contains_any(CallbackEvent.objects.all(), ["R7A1", "M-42", ""])
    assert set(found) == {first, second}
    assert list(_body_contains_any(CallbackEvent.objects.all(), ["R9A9"])) == []


def test_no_needle_finds_nothing():
    event(b"anything")
    assert list(_body_contains_any(CallbackEvent.objects.all(), ["", ""])) == []
