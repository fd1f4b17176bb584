"""Wire helpers every adapter shares, so each rule about reading a vendor's answer lives once.

- numbers: ``local_mobile`` (E.164 → what Chinese vendors take) and ``e164_mobile`` (back);
- time: every vendor document uses Beijing time (``BEIJING``, ``beijing_now``, ``beijing_stamp``,
  ``beijing_time``);
- answers: ``check_http`` (a non-200 answer is the vendor's refusal, before any parsing),
  ``parse_json`` / ``parse_xml`` (guarded: hostile nesting, entities and unknown encodings become
  ``bad_response``), ``bad_response`` (the one way an unreadable answer is reported);
- values: ``bounded_seconds`` (one rounding rule, half up, for every duration) and
  ``parse_balance`` (one bound, ``MAX_BALANCE``, for every balance);
- ``md5_hex``: the signature digest three vendors use.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from zoneinfo import ZoneInfo

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .errors import VendorError

BEIJING = ZoneInfo("Asia/Shanghai")  # every vendor's clock
MAX_SECONDS = 10**6  # a longer talk or billed time is not a real call: read as unknown
MAX_BALANCE = Decimal(10) ** 12  # what a balance snapshot holds (16 digits, 4 decimals)
BAD_RESPONSE = "bad_response"
EXCERPT = 200  # characters of an unreadable answer kept in the error


# ---- numbers
def local_mobile(e164: str) -> str:
    """ "+8613800138000" → "13800138000": what Chinese vendors expect on the wire."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


def e164_mobile(vendor_number: str | None) -> str | None:
    """A vendor's "13800138000" back to "+8613800138000" (landlines keep their area code)."""
    if not vendor_number:
        return None
    number = vendor_number.strip()
    if number.startswith("+"):
        return number
    if number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    return "+86" + number.lstrip("0") if number.startswith("0") else "+86" + number


# ---- time
BEIJING_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})")


def beijing_now() -> datetime:
    return datetime.now(BEIJING)


def beijing_stamp(moment: datetime | None = None, fmt: str = "%Y%m%d%H%M%S") -> str:
    """``moment`` (now by default; a naive one is read as Beijing wall time) in Beijing time as ``fmt``."""
    if moment is None:
        moment = beijing_now()
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.astimezone(BEIJING).strftime(fmt)


def beijing_time(text: str | None) -> datetime | None:
    """A vendor's "2026-11-22 10:00:00" (Beijing time, as every document uses), else None.

    What ``strptime("%Y-%m-%d %H:%M:%S")`` accepts, at a fraction of its cost: receipts come by the
    hundred thousand.
    """
    match = BEIJING_TIME.fullmatch((text or "").strip())
    if match is None:
        return None
    try:
        return datetime(*map(int, match.groups()), tzinfo=BEIJING)
    except ValueError:  # 2026-02-30
        return None


# ---- signatures
def md5_hex(text: str) -> str:
    """Lower-case hex MD5 of the UTF-8 text (Emay, ihuyi and sms10692 sign with it)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# ---- answers
def bad_response(text: str | bytes) -> VendorError:
    """The error for an answer we cannot read (the vendor may have acted on the request)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return VendorError(BAD_RESPONSE, text[:EXCERPT])


def check_http(response, text: str) -> None:
    """A status other than 200 is the vendor refusing (a wrong path, a gateway page): ``http_<status>``.

    5xx never gets here (``BaseAdapter.request`` raises VendorUnavailable for it).
    """
    if response.status_code != 200:
        raise VendorError(f"http_{response.status_code}", text[:EXCERPT])


def parse_json(text: str) -> Any:
    """JSON with exact decimals, or ``bad_response`` (also for hostile nesting)."""
    try:
        return json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        raise bad_response(text) from None


def parse_json_object(text: str) -> dict:
    payload = parse_json(text)
    if not isinstance(payload, dict):
        raise bad_response(text)
    return payload


def parse_xml(raw: bytes | str, excerpt: str | None = None) -> Element:
    """An XML answer parsed by defusedxml (no entities, no external references), or ``bad_response``."""
    try:
        return fromstring(raw)
    except (ParseError, DefusedXmlException, ValueError, LookupError):  # LookupError: unknown encoding
        raise bad_response(excerpt if excerpt is not None else raw) from None


# ---- values
def bounded_seconds(value) -> int | None:
    """Whole seconds, rounded half up, or None for anything that is not a plausible duration.

    Bounded before ``int()``: converting a hostile ``1e1000000`` would take minutes of CPU.
    """
    try:
        seconds = Decimal(str(value).strip()) if value is not None else None
    except InvalidOperation:
        return None
    if seconds is None or not seconds.is_finite() or not 0 <= seconds <= MAX_SECONDS:
        return None
    return int(seconds.to_integral_value(ROUND_HALF_UP))


def parse_balance(value, raw: str) -> Decimal:
    """A balance amount, exact, or ``bad_response`` (with ``raw``) when unreadable or beyond ``MAX_BALANCE``."""
    try:
        amount = Decimal(str(value).strip()) if value is not None else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount.copy_abs() >= MAX_BALANCE:
        raise bad_response(raw)
    return amount
