"""Shared serializer helpers: what every API request body shares, and fields built once per class."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.fields import empty
from rest_framework.settings import api_settings


class TextOnlyField(serializers.CharField):
    """A CharField that takes only a JSON string: a number would lose its leading zeros (a code "0815")."""

    default_error_messages = {
        "number": _("Send this as a string in quotes, not a number."),
        "invalid": _("Send this as a string in quotes."),
    }

    def to_internal_value(self, data):
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            self.fail("number")
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdOnlyField(serializers.PrimaryKeyRelatedField):
    """A related object's id as a JSON integer: not ``1.9`` (which the database would read as 1),
    not ``"1"`` and not ``true``."""

    default_error_messages = {"not_an_id": _("Send the id as a whole number, without quotes.")}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_id")
        return super().to_internal_value(data)


class RefuseUnknownFields:
    """A body field the serializer does not know is refused by name, not ignored; on a model
    serializer, text columns take only JSON strings and related ids only JSON integers, as the schema
    says (``-296710`` is not a name, ``1.9`` is not account 1).

    A misspelt ``outId`` would otherwise place the call without the caller's reference, and a
    field from a newer client would seem to work. Fields the answer shows (read-only) are
    tolerated, so an object read, changed and sent back is accepted. The schema states it too
    (``additionalProperties: false``, ``voiceops.api.schema``).
    """

    def run_validation(self, data=empty):
        """A body that is no object (``null``, a list, a string) is told which object to send: DRF
        says "No data provided" or "Expected a dictionary, but got list" (a Python type name)."""
        if data is not empty and not isinstance(data, Mapping):
            code = "null" if data is None else "invalid"
            message = gettext("Send a JSON object with the fields %(fields)s, not %(got)s.") % {
                "fields": self._accepted(),
                "got": json_kind(data),
            }
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [ErrorDetail(message, code)]})
        return super().run_validation(data)

    def _accepted(self) -> str:
        return ", ".join(name for name, field in self.fields.items() if not field.read_only)

    # used by ModelSerializer when it builds a model's fields (ignored by a plain Serializer)
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: TextOnlyField,
        models.TextField: TextOnlyField,
    }
    serializer_related_field = IdOnlyField

    def to_internal_value(self, data):
        unknown = [name for name in data if name not in self.fields] if isinstance(data, Mapping) else []
        if not unknown:
            return super().to_internal_value(data)
        accepted = self._accepted()
        message = gettext("Unknown field; this request takes: %(fields)s.") % {"fields": accepted}
        errors = {}
        try:  # what else is wrong is said at once too (a misspelt required field is also missing)
            super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors = dict(exc.detail) if isinstance(exc.detail, Mapping) else {}
        raise serializers.ValidationError({**errors, **{str(name): [message] for name in unknown}})


def json_kind(value) -> str:
    """What a JSON value is, in words (not Python's ``list``/``str``/``NoneType``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return gettext("true or false")
    if isinstance(value, (int, float)):
        return gettext("a number")
    if isinstance(value, str):
        return gettext("a string")
    if isinstance(value, (list, tuple)):
        return gettext("a list")
    return gettext("an object")


class FixedFieldsMixin:
    """Builds a ModelSerializer's fields once per class instead of once per instance.

    ModelSerializer inspects the model and builds every field each time it is instantiated, which
    is most of what answering a created single call costs in Python (about 1 ms of 3 here). For a
    serializer whose fields never depend on the request or the instance, the built fields are kept
    on the class and deep-copied per instance, as DRF already does for declared fields. Labels and
    help texts stay lazy, so the language of the first request does not stick.
    """

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fixed_fields")
        if built is None:
            built = super().get_fields()
            cls._fixed_fields = built
        return copy.deepcopy(built)
