"""Webhook endpoints in the API: the secret appears in the answer to create and rotate, never again
(the replaced secret never: only until when it still signs)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from voiceops.api.serializers import RefuseUnknownFields

from ..events import EVENT_TYPES
from ..models import Endpoint
from ..services import validate_url


class EndpointSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=list(EVENT_TYPES)),
        allow_empty=False,
        help_text=_("The events this endpoint receives."),
    )
    # When it expires, never the secret; null once it no longer signs (whether cleared yet or not).
    previous_secret_expires_at = serializers.DateTimeField(
        source="previous_secret_valid_until",
        read_only=True,
        allow_null=True,
        help_text=_(
            "Until when the secret replaced by the last rotation still signs every delivery, beside the "
            "current one; null when none does."
        ),
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "is_active",
            "failing_since",
            "last_success_at",
            "disabled_at",
            "disabled_reason",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "failing_since",
            "last_success_at",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]

    def validate_url(self, url):
        try:
            validate_url(url)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["url"]) from exc
        return url

    def validate_event_types(self, event_types):
        return list(dict.fromkeys(event_types))


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text=_("whsec_… — keep it now: it is shown only in this answer. Verify each delivery with it."),
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class RotatedSecretSerializer(EndpointWithSecretSerializer):
    """The answer to a rotation: the new secret, once, and until when the replaced one keeps working."""

    previous_secret_note = serializers.SerializerMethodField(
        help_text=_("Until when the replaced secret keeps working, in words (with the time's UTC offset).")
    )

    class Meta(EndpointWithSecretSerializer.Meta):
        fields = [*EndpointWithSecretSerializer.Meta.fields, "previous_secret_note"]

    def get_previous_secret_note(self, endpoint: Endpoint) -> str:
        until = endpoint.previous_secret_valid_until()
        if until is None:
            return gettext("The previous secret no longer works: every delivery is signed with the new one only.")
        return gettext(
            "The previous secret keeps working until %(until)s: until then every delivery is signed with both, "
            "so give the receiving system the new secret before that time."
        ) % {"until": timezone.localtime(until).isoformat(timespec="seconds")}


class ResentSerializer(serializers.Serializer):
    resent = serializers.IntegerField()
