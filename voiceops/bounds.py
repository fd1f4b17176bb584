"""Bounds a person would accept for every numeric and time setting, enforced on the models.

Each bound is a field validator whose message names the bound, so the admin form, the API (DRF
reads model validators) and ``Model.save`` (``check_bounds``) refuse the same values with the same
words. One out-of-range setting must never reach the code that does arithmetic with it: a retry
delay of 2**63 minutes once stopped the receipts of every campaign sharing a pulled batch.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

MINUTES_PER_DAY = 24 * 60
MAX_DELAY_MINUTES = 7 * MINUTES_PER_DAY  # retry delay, report window: a week at most
MAX_CALLS_PER_SECOND = 10_000  # above any contracted rate (the batched bench reaches ~4,600 calls/s)
MAX_CALLBACKS_PER_SECOND = 100_000
MAX_MONEY = 10**9


def at_least(limit, message=None):
    return MinValueValidator(limit, message=message or _("Must be at least %(limit_value)s."))


def at_most(limit, message=None):
    return MaxValueValidator(limit, message=message or _("Must be at most %(limit_value)s."))


def check_bounds(instance: models.Model) -> None:
    """Run the bound validators of every numeric field: ``save`` refuses what a form would."""
    errors = {}
    for field in instance._meta.concrete_fields:
        if not isinstance(field, (models.IntegerField, models.DecimalField, models.FloatField)):
            continue
        bounded = [v for v in field.validators if isinstance(v, (MinValueValidator, MaxValueValidator))]
        value = getattr(instance, field.attname)
        if value is None or not bounded:
            continue
        try:
            value = field.to_python(value)  # "100" as code may pass it, compared as a number
        except ValidationError as exc:
            errors.setdefault(field.name, []).extend(exc.messages)
            continue
        for validator in bounded:
            try:
                validator(value)
            except ValidationError as exc:
                errors.setdefault(field.name, []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
