"""What every API request body shares."""

from collections.abc import Mapping

from django.utils.translation import gettext
from rest_framework import serializers


class RefuseUnknownFields:
    """A body field the serializer does not know is refused by name, not ignored.

    A misspelt ``outId`` would otherwise place the call without the caller's reference, and a
    field from a newer client would seem to work. Fields the answer shows (read-only) are
    tolerated, so an object read, changed and sent back is accepted. The schema states it too
    (``additionalProperties: false``, ``voiceops.api.schema``).
    """

    def to_internal_value(self, data):
        unknown = [name for name in data if name not in self.fields] if isinstance(data, Mapping) else []
        if not unknown:
            return super().to_internal_value(data)
        accepted = ", ".join(name for name, field in self.fields.items() if not field.read_only)
        message = gettext("Unknown field; this request takes: %(fields)s.") % {"fields": accepted}
        errors = {}
        try:  # what else is wrong is said at once too (a misspelt required field is also missing)
            super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors = dict(exc.detail) if isinstance(exc.detail, Mapping) else {}
        raise serializers.ValidationError({**errors, **{str(name): [message] for name in unknown}})
