"""Phone-number normalization for China: any common spelling in, E.164 out.

Validation is ``phonenumbers``' (Google's libphonenumber metadata). Because a China mobile
number's validity is decided by its first seven digits (the 号段), each seven-digit prefix is
checked with ``phonenumbers`` once and remembered, so a million-row import pays the library's
cost only for the few thousand prefixes it meets. Landlines take the full ``phonenumbers`` path.

Digits in any script (full-width ``１３８…`` from Chinese input methods, Arabic-Indic, …) are read
as ASCII digits; E.164 output is always ASCII. An extension cannot be dialled by a voice vendor,
so a number with one is refused, as is a number a spreadsheet turned into scientific notation
(``1.38001E+10`` has lost its last digits).
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from django.utils.translation import gettext_lazy as _

_SEPARATORS = re.compile(r"[\s\-().\u3000\u00a0\u2010-\u2015\u2212\uff0d\uff08\uff09\u200b-\u200d\u2060\ufeff]+")
_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[0-9]{10})")
_SCIENTIFIC = re.compile(r"[0-9](?:\.[0-9]+)?[eE][+]?[0-9]+")
_FLOAT_SUFFIX = re.compile(r"([0-9]{5,})\.0+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_CN_EXTENSION = re.compile(r"(?:转|分机)[0-9]+")
# A direct number followed by an extension: "13800138001-123", "010-12345678 ext 9", "…#12", "…x5".
_EXTENSION_SUFFIX = re.compile(r"^(.+?)\s*(?:[-,;#~]|ext\.?|x|转|分机)\s*[0-9]{1,6}$", re.IGNORECASE)
_prefix_valid: dict[str, bool] = {}


class InvalidNumber(ValueError):
    """The text is not a valid China mobile or landline number; the message says why."""


REASON_EMPTY = _("empty number")
REASON_FORMAT = _("not a phone number")
REASON_INVALID = _("not a valid China mobile or landline number")
REASON_FOREIGN = _("not a China number")
REASON_EXTENSION = _("has an extension, which cannot be dialled; give a direct number")
REASON_SCIENTIFIC = _("written in scientific notation by a spreadsheet (digits are lost); format the column as text")


def _ascii_digit(match: re.Match) -> str:
    char = match.group()
    if char == "\uff0b":  # full-width plus
        return "+"
    digit = unicodedata.decimal(char, None)
    return char if digit is None else str(digit)


def normalize(text: str) -> str:
    """'138 0013-8000', '+86 13800138000', '0086…', '010-12345678' → E.164, or InvalidNumber."""
    try:
        return _normalize(text)
    except InvalidNumber as exc:
        if exc.args[0] in (REASON_INVALID, REASON_FORMAT) and _has_extension(text):
            raise InvalidNumber(REASON_EXTENSION) from exc
        raise


def _has_extension(text) -> bool:
    """A refused text that is a valid number once an extension-like tail is cut off (the slow path only)."""
    found = _EXTENSION_SUFFIX.match(str(text).strip())
    if not found:
        return False
    try:
        _normalize(found.group(1))
    except InvalidNumber:
        return False
    return True


def _normalize(text: str) -> str:
    if text is None:
        raise InvalidNumber(REASON_EMPTY)
    raw = str(text).strip().removeprefix("'")  # Excel's text marker, as our own exports write it
    if not raw.isascii():
        raw = _NON_ASCII.sub(_ascii_digit, raw)
    if "." in raw:
        float_form = _FLOAT_SUFFIX.fullmatch(raw)
        if float_form:  # a number that went through a spreadsheet as a float: 13800138000.0
            raw = float_form.group(1)
    if ("e" in raw or "E" in raw) and _SCIENTIFIC.fullmatch(raw):
        raise InvalidNumber(REASON_SCIENTIFIC)
    raw = _SEPARATORS.sub("", raw)
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
    if _CN_EXTENSION.search(raw):  # 010-12345678转123, …分机123
        raise InvalidNumber(REASON_EXTENSION)
    try:
        number = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(REASON_FORMAT) from exc
    if number.country_code != 86:
        raise InvalidNumber(REASON_FOREIGN)
    if number.extension:
        raise InvalidNumber(REASON_EXTENSION)
    if not phonenumbers.is_valid_number(number):
        raise InvalidNumber(REASON_INVALID)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
