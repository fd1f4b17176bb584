"""Phone-number normalization for China: any common spelling in, E.164 out.

Validation is ``phonenumbers``' (Google's libphonenumber metadata). Because a China mobile
number's validity is decided by its first seven digits (the 号段), each seven-digit prefix is
checked with ``phonenumbers`` once and remembered, so a million-row import pays the library's
cost only for the few thousand prefixes it meets. Landlines take the full ``phonenumbers`` path.
"""

from __future__ import annotations

import re

import phonenumbers
from django.utils.translation import gettext_lazy as _

_SEPARATORS = re.compile(r"[\s\-().\u3000\u00a0]+")
_MOBILE = re.compile(r"(?:\+86|0086|86)?(1\d{10})")
_prefix_valid: dict[str, bool] = {}


class InvalidNumber(ValueError):
    """The text is not a valid China mobile or landline number; the message says why."""


REASON_EMPTY = _("empty number")
REASON_FORMAT = _("not a phone number")
REASON_INVALID = _("not a valid China mobile or landline number")
REASON_FOREIGN = _("not a China number")


def normalize(text: str) -> str:
    """'138 0013-8000', '+86 13800138000', '0086…', '010-12345678' → E.164, or InvalidNumber."""
    if text is None:
        raise InvalidNumber(REASON_EMPTY)
    raw = _SEPARATORS.sub("", str(text)).strip()
    if raw.endswith(".0") and raw[:-2].isdigit():  # a number that went through a spreadsheet as float
        raw = raw[:-2]
    if not raw:
        raise InvalidNumber(REASON_EMPTY)
    match = _MOBILE.fullmatch(raw)
    if match:
        national = match.group(1)
        valid = _prefix_valid.get(national[:7])
        if valid is None:
            valid = _prefix_valid[national[:7]] = _valid_china_number(national)
        if not valid:
            raise InvalidNumber(REASON_INVALID)
        return "+86" + national
    return _normalize_other(raw)


def _valid_china_number(national: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(national, "CN"))
    except phonenumbers.NumberParseException:
        return False


def _normalize_other(raw: str) -> str:
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(REASON_FORMAT) from exc
    if number.country_code != 86:
        raise InvalidNumber(REASON_FOREIGN)
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(REASON_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
