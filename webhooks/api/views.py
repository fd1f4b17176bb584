"""``/api/webhooks/``: list, create, change and delete endpoints; rotate the secret; resend failures."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apikeys.permissions import actor_of, api_key_of
from apikeys.scopes import MANAGE_WEBHOOKS
from campaigns.api.filters import BooleanFilter, StrictFilterSet
from idempotency.schema import IDEMPOTENCY_KEY, IDEMPOTENCY_RESPONSES
from idempotency.services import idempotent

from .. import services
from ..models import Endpoint
from .serializers import EndpointSerializer, EndpointWithSecretSerializer, ResentSerializer, RotatedSecretSerializer


class EndpointFilter(StrictFilterSet):
    """``?is_active=`` is ``true`` or ``false``; anything else is a 400, not an unfiltered list."""

    is_active = BooleanFilter()

    class Meta:
        model = Endpoint
        fields = ["is_active"]


@extend_schema_view(
    list=extend_schema(summary="Webhook endpoints"),
    retrieve=extend_schema(summary="One webhook endpoint", responses={200: EndpointSerializer}),
    create=extend_schema(
        summary="Add a webhook endpoint",
        description="The answer holds the signing secret (`whsec_…`), the only time it is shown: an answer "
        "replayed for the same Idempotency-Key shows it masked (rotate it if the first answer was lost). "
        "Outside test setups the URL must be HTTPS on a public address.",
        parameters=[IDEMPOTENCY_KEY],
        responses={201: EndpointWithSecretSerializer, **IDEMPOTENCY_RESPONSES},
    ),
    update=extend_schema(summary="Change a webhook endpoint"),
    partial_update=extend_schema(
        summary="Change some fields of a webhook endpoint",
        description="Switching an endpoint back on (`is_active`) clears its failure record.",
    ),
    destroy=extend_schema(summary="Delete a webhook endpoint", description="Its pending deliveries go with it."),
)
class EndpointViewSet(viewsets.ModelViewSet):
    queryset = Endpoint.objects.all()
    serializer_class = EndpointSerializer
    lookup_value_regex = r"[0-9]+"
    # Its own scope: an endpoint decides where call results go and holds a signing secret, more
    # than placing calls or running campaigns should allow.
    required_scopes = (MANAGE_WEBHOOKS,)
    filterset_class = EndpointFilter
    action_permissions = {
        "rotate_secret": ["webhooks.change_endpoint"],
        "resend_failed": ["webhooks.change_endpoint", "webhooks.change_delivery"],
    }

    @idempotent(secret_fields=("secret",))
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint, _secret = services.create_endpoint(**body.validated_data, actor=request.user, key=api_key_of(request))
        # ``endpoint.secret`` is the one just made: these answers are the only ones that show it.
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        services.update_endpoint(serializer.instance, actor=actor_of(self.request), **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_endpoint(instance, actor=actor_of(self.request))

    @extend_schema(
        summary="Rotate the signing secret",
        description="A new secret signs every try from now on; the answer is the only time it is shown. The "
        "secret it replaces keeps signing every delivery beside it (`webhook-signature` then carries both "
        "signatures, the new one first) until `previous_secret_expires_at` (`WEBHOOK_SECRET_GRACE_HOURS`, 24 "
        "hours by default): give the receiving system the new secret before then. Two rotations in a row leave "
        "the last two secrets working.",
        request=None,
        responses={200: RotatedSecretSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = self.get_object()
        services.rotate_secret(endpoint, actor=actor_of(request))  # gives ``endpoint`` the new secret
        return Response(RotatedSecretSerializer(endpoint).data)

    @extend_schema(
        summary="Resend the failed deliveries",
        description="Every delivery of this endpoint that failed, whether out of retries or waiting for its "
        "next one, is tried again now (on an endpoint that is off, once it is switched on).",
        request=None,
        responses={200: ResentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="resend-failed")
    def resend_failed(self, request, pk=None):
        count = services.resend_failed(self.get_object(), actor=actor_of(request))
        return Response({"resent": count})
