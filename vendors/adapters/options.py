"""Account options declared by each adapter and checked when the account is saved.

An adapter lists its keys in ``option_specs`` (``{"line": Option(choices=("voice", "join"))}``);
``validate_options`` checks a whole ``VendorAccount.options`` object against them (unknown keys,
types, allowed values) and ``missing_options`` names those a product needs. The account's
``clean()`` (and so the admin form) refuses a bad value when it is saved; the adapter reads the
cleaned values with ``BaseAdapter.option`` and raises ``VendorError("bad_option")`` for a value
stored before it could be checked. ``BAD_OPTION`` is the one error code either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

from .errors import BAD_OPTION

__all__ = ["BAD_OPTION", "Option", "OptionError", "missing_options", "validate_options"]

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


class OptionError(ValueError):
    """One option value that cannot be used; ``message`` says what to correct, in the user's language."""

    def __init__(self, key: str, message):
        super().__init__(str(message))
        self.key = key
        self.message = message


def _shown(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:60]


@dataclass(frozen=True)
class Option:
    """One key of an account's options.

    ``kind``: ``str``, ``bool``, ``int``, ``Decimal``, ``"pair"`` (``[low, high]`` numbers) or
    ``"weights"`` (``{name: whole number}``). ``choices`` (with ``aliases`` mapping other spellings
    to a choice), ``pattern`` (with ``hint`` saying it in words), ``low`` / ``high`` bound the
    value; ``required_for`` names the products that cannot be sent without it.
    """

    kind: Any = str
    default: Any = None
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    pattern: str | None = None
    hint: Any = ""
    low: Any = None
    high: Any = None
    required_for: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()  # "weights": the allowed names

    def clean(self, key: str, value):
        """The value as the adapter uses it, or OptionError."""
        kind = self.kind
        if kind is bool:
            return self._bool(key, value)
        if kind is int:
            return self._number(key, value, whole=True)
        if kind is Decimal:
            return self._number(key, value, whole=False)
        if kind == "pair":
            return self._pair(key, value)
        if kind == "weights":
            return self._weights(key, value)
        return self._text(key, value)

    def _text(self, key, value) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise OptionError(key, _("Option “%(key)s” must be text, not %(value)s.") % _args(key, value))
        text = str(value).strip()
        if self.choices:
            lowered = text.lower()
            canonical = {choice.lower(): choice for choice in self.choices}
            chosen = canonical.get(self.aliases.get(lowered, lowered))
            if chosen is None:
                raise OptionError(
                    key,
                    _("Option “%(key)s” must be one of %(choices)s, not %(value)s.")
                    % {**_args(key, value), "choices": ", ".join(self.choices)},
                )
            return chosen
        if self.pattern and text and not re.fullmatch(self.pattern, text):
            raise OptionError(
                key, _("Option “%(key)s”: %(hint)s, not %(value)s.") % {**_args(key, value), "hint": self.hint}
            )
        return text

    def _bool(self, key, value) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise OptionError(key, _("Option “%(key)s” must be true or false, not %(value)s.") % _args(key, value))

    def _number(self, key, value, *, whole: bool):
        number = _decimal(value)
        ok = number is not None and (not whole or number == number.to_integral_value())
        ok = ok and (self.low is None or number >= self.low) and (self.high is None or number <= self.high)
        if not ok:
            message = (
                _("Option “%(key)s” must be a whole number from %(low)s to %(high)s, not %(value)s.")
                if whole
                else _("Option “%(key)s” must be a number from %(low)s to %(high)s, not %(value)s.")
            )
            raise OptionError(key, message % {**_args(key, value), "low": self.low, "high": self.high})
        return int(number) if whole else number

    def _pair(self, key, value) -> tuple[Decimal, Decimal]:
        numbers = [_decimal(v) for v in value] if isinstance(value, (list, tuple)) and len(value) == 2 else []
        if len(numbers) != 2 or None in numbers or not self.low <= numbers[0] <= numbers[1] <= self.high:
            raise OptionError(
                key,
                _("Option “%(key)s” must be [low, high], two numbers from %(low)s to %(high)s, not %(value)s.")
                % {**_args(key, value), "low": self.low, "high": self.high},
            )
        return numbers[0], numbers[1]

    def _weights(self, key, value) -> dict[str, int]:
        ok = isinstance(value, dict) and value and all(name in self.allowed for name in value)
        weights = {name: _decimal(weight) for name, weight in value.items()} if ok else {}
        if not ok or any(w is None or w < 0 or w != w.to_integral_value() or w > 10**6 for w in weights.values()):
            raise OptionError(
                key,
                _("Option “%(key)s” must map outcomes (%(names)s) to whole-number weights, not %(value)s.")
                % {**_args(key, value), "names": ", ".join(self.allowed)},
            )
        if not any(weights.values()):
            raise OptionError(key, _("Option “%(key)s” needs at least one weight above 0.") % _args(key, value))
        return {name: int(weight) for name, weight in weights.items()}


def _args(key, value) -> dict:
    return {"key": key, "value": _shown(value)}


def _decimal(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() and number.copy_abs() < 10**12 else None


def validate_options(specs: Mapping[str, Option], options, vendor_label) -> list[OptionError]:
    """Every problem of an account's options (an empty list when they can be used)."""
    if not isinstance(options, dict):
        return [OptionError("", _("Options must be a JSON object, e.g. {}."))]
    errors = []
    for key, value in options.items():
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(specs) or _("none")
            errors.append(
                OptionError(
                    key,
                    _("%(vendor)s has no option “%(key)s”; its options are: %(known)s.")
                    % {"vendor": vendor_label, "key": key, "known": known},
                )
            )
            continue
        try:
            spec.clean(key, value)
        except OptionError as error:
            errors.append(error)
    return errors


def missing_options(specs: Mapping[str, Option], options, product: str) -> list[str]:
    """The keys ``product`` needs that ``options`` leaves empty."""
    options = options if isinstance(options, dict) else {}
    return [
        key
        for key, spec in specs.items()
        if product in spec.required_for and (options.get(key) is None or str(options.get(key)).strip() == "")
    ]
