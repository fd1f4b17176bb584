"""Webhook endpoints in the API: the secret appears in the answer to create and rotate, never again."""

from django.core.exceptions import ValidationError as DjangoValidationError
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


class ResentSerializer(serializers.Serializer):
    resent = serializers.IntegerField()
