"""The REST API (docs/architecture.md, "Layers"). Thin: writes call ``campaigns.services``, reads
``campaigns.selectors``; every answer, refusals and failures included, is JSON.
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response

from idempotency.services import idempotent
from vendors.models import VendorAccount
from voiceops.credentials import credential_id

from .. import selectors, services, single_calls
from ..models import CallRecord, Campaign, RecipientImport
from ..services import CampaignError
from .filters import CallRecordFilter, SingleCallFilter
from .serializers import (
    CallRecordSerializer,
    CampaignSerializer,
    CampaignStatsSerializer,
    ErrorSerializer,
    FrequencyLimitSerializer,
    ImportResultSerializer,
    LaunchSerializer,
    RecipientFileSerializer,
    RecipientImportSerializer,
    RecipientListSerializer,
    SingleCallRequestSerializer,
    SingleCallSerializer,
    VendorAccountSerializer,
    import_result_data,
)

logger = logging.getLogger(__name__)

CHANGE_CAMPAIGN = "campaigns.change_campaign"
VIEW_CAMPAIGN = "campaigns.view_campaign"
ADD_RECIPIENT = "campaigns.add_recipient"
ADD_IMPORT = "campaigns.add_recipientimport"


# ---- permissions and errors
class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, with ``view_*`` required to read, and per-action permissions.

    A view may name the permissions an action needs in ``action_permissions`` (``{action: [perm, …]}``);
    other requests need the model permission of their HTTP method.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        required = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if required is None:
            return super().has_permission(request, view)
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(required))


class JSONErrorsMixin:
    """CampaignError → 409, Django ValidationError → 400, anything unexpected → a JSON 500."""

    def handle_exception(self, exc):
        if isinstance(exc, CampaignError):
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(serializers.as_serializer_error(exc))
        if isinstance(exc, RequestDataTooBig):
            return Response(
                {"detail": gettext("The request is too large; upload the recipients as a CSV or XLSX file instead.")},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        try:
            return super().handle_exception(exc)
        except Exception:
            logger.exception("API error in %s", self.__class__.__name__)
            return Response(
                {"detail": gettext("Something went wrong on the server; the error has been logged.")},
                status=status.HTTP_500_INTERNAL_SERVER_ERROR,
            )


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Any unique string up to 255 characters. Sent again with the same body, the first answer is "
    "replayed (header `Idempotent-Replayed: true`) and nothing more is created; with another body: 422. "
    "Kept 24 hours, per credential.",
)
IDEMPOTENCY_RESPONSES = {
    409: OpenApiResponse(description="A request with this Idempotency-Key is still in progress; retry shortly"),
    422: OpenApiResponse(description="This Idempotency-Key was used with a different request"),
}
CONFLICT = OpenApiResponse(ErrorSerializer, description="The campaign is in a state that does not allow this")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such object")
IMPORT_STARTED = inline_serializer(
    "ImportStarted",
    fields={
        "import": serializers.IntegerField(),
        "progress_url": serializers.CharField(help_text="GET it until its state is done or failed"),
    },
)


# ---- campaigns
def _action_schema(summary: str, description: str):
    return extend_schema(
        summary=summary,
        description=description,
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: CampaignSerializer, 404: NOT_FOUND, 409: CONFLICT, 422: IDEMPOTENCY_RESPONSES[422]},
    )


@extend_schema_view(
    list=extend_schema(summary="List campaigns", description="Newest first; filter by state, product or account."),
    retrieve=extend_schema(summary="One campaign"),
    create=extend_schema(
        summary="Create a campaign",
        description="Created as a draft; add recipients, then launch. The template must belong "
        "to the campaign's vendor account.",
        parameters=[IDEMPOTENCY_KEY],
    ),
)
class CampaignViewSet(
    JSONErrorsMixin, mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    queryset = Campaign.objects.select_related("account", "template")
    serializer_class = CampaignSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ["state", "product", "account"]
    action_permissions = {
        "launch": [CHANGE_CAMPAIGN],
        "pause": [CHANGE_CAMPAIGN],
        "resume": [CHANGE_CAMPAIGN],
        "cancel": [CHANGE_CAMPAIGN],
        "retry_failed": [CHANGE_CAMPAIGN],
        "recipients": [ADD_RECIPIENT],
        "stats": [VIEW_CAMPAIGN],
    }
    action_serializers = {
        "launch": LaunchSerializer,
        "recipients": RecipientListSerializer,
        "stats": CampaignStatsSerializer,
    }

    def get_serializer_class(self):
        if self.action in ("pause", "resume", "cancel", "retry_failed"):
            return serializers.Serializer
        return self.action_serializers.get(self.action, CampaignSerializer)

    def filter_queryset(self, queryset):
        # The list filters (state, product, account) are not meant for one campaign or its actions.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    def _answer(self, campaign: Campaign) -> Response:
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign, context=self.get_serializer_context()).data)

    # ---- lifecycle
    @extend_schema(
        summary="Launch or schedule",
        description="Starts the campaign now, or at `at`. Without `at`, a start time in the future already set "
        "on the campaign (`scheduled_at`) is kept. The body may be empty.",
        request=LaunchSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: CampaignSerializer,
            400: OpenApiResponse(description="Bad `at`"),
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def launch(self, request, pk=None):
        campaign = self.get_object()
        body = LaunchSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        at = body.validated_data.get("at")
        if at is None and campaign.scheduled_at and campaign.scheduled_at > timezone.now():
            at = campaign.scheduled_at
        services.launch(campaign, at=at, actor=request.user)
        return self._answer(campaign)

    @_action_schema("Pause", "Stops dispatching; calls already with the vendor still report.")
    @action(detail=True, methods=["post"])
    @idempotent
    def pause(self, request, pk=None):
        campaign = self.get_object()
        services.pause(campaign, actor=request.user)
        return self._answer(campaign)

    @_action_schema("Resume", "Continues a paused campaign (scheduled again if its start time is still ahead).")
    @action(detail=True, methods=["post"])
    @idempotent
    def resume(self, request, pk=None):
        campaign = self.get_object()
        services.resume(campaign, actor=request.user)
        return self._answer(campaign)

    @_action_schema("Cancel", "Cancels the campaign and every call not yet handed to the vendor.")
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        campaign = self.get_object()
        services.cancel(campaign, actor=request.user)
        return self._answer(campaign)

    @_action_schema(
        "Retry failed calls", "Queues a new attempt for every recipient whose last attempt failed or expired."
    )
    @action(detail=True, methods=["post"], url_path="retry-failed")
    @idempotent
    def retry_failed(self, request, pk=None):
        campaign = self.get_object()
        services.retry_failed(campaign, actor=request.user)
        return self._answer(campaign)

    # ---- recipients and figures
    @extend_schema(
        summary="Add recipients",
        description=(
            'JSON `{"recipients": [{"mobile": …, "variables": […]}]}` (at most 10,000) is imported at once and '
            "answers the counts, with every rejected row (first 1,000) as `[line, number, reason]`. "
            "A multipart upload (field `file`, CSV in UTF-8 or GB18030/GBK, or XLSX) is imported in the "
            "background: the answer is 202 with the import's progress URL."
        ),
        request={"application/json": RecipientListSerializer, "multipart/form-data": RecipientFileSerializer},
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: ImportResultSerializer,
            202: IMPORT_STARTED,
            400: OpenApiResponse(description="Unreadable request: field errors (bad rows named by line)"),
            404: NOT_FOUND,
            409: CONFLICT,
        },
        examples=[
            OpenApiExample(
                "JSON",
                request_only=True,
                media_type="application/json",
                value={"recipients": [{"mobile": "13800138000", "variables": ["王先生", "SO1"]}]},
            )
        ],
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, MultiPartParser, FormParser])
    @idempotent
    def recipients(self, request, pk=None):
        campaign = self.get_object()
        services.ensure_open_for_recipients(campaign)
        if request.content_type.startswith(("multipart/", "application/x-www-form-urlencoded")):
            return self._start_file_import(request, campaign)
        body = RecipientListSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.add_recipients(campaign, body.validated_data["recipients"])
        return Response(import_result_data(result))

    def _start_file_import(self, request, campaign: Campaign) -> Response:
        if not request.user.has_perm(ADD_IMPORT):
            self.permission_denied(request, message=gettext("You may not upload recipient files."))
        body = RecipientFileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.start_file_import(campaign, body.validated_data["file"], request.user)
        url = reverse("recipientimport-detail", args=[job.pk])
        return Response(
            {"import": job.pk, "progress_url": url}, status=status.HTTP_202_ACCEPTED, headers={"Location": url}
        )

    @extend_schema(summary="Live statistics", responses={200: CampaignStatsSerializer, 404: NOT_FOUND})
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        stats = selectors.campaign_stats(self.get_object())
        # Known fields are formatted by the serializer; any newer field is passed through as is.
        return Response({**stats, **CampaignStatsSerializer(stats).data})


# ---- calls
class CallCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema(
    summary="A campaign's call attempts",
    description="Newest first, one row per attempt; `mobile` accepts any spelling of the number.",
    responses={200: CallRecordSerializer(many=True), 404: NOT_FOUND},
)
class CampaignCallsView(JSONErrorsMixin, generics.ListAPIView):
    serializer_class = CallRecordSerializer
    permission_classes = [ModelPermissions]
    filterset_class = CallRecordFilter
    pagination_class = CallCursorPagination
    queryset = CallRecord.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CallRecord.objects.none()
        return CallRecord.objects.filter(campaign_id=self.kwargs["id"])

    def list(self, request, *args, **kwargs):
        get_object_or_404(Campaign.objects.only("pk"), pk=self.kwargs["id"])
        return super().list(request, *args, **kwargs)


# ---- single calls
@extend_schema_view(
    list=extend_schema(
        summary="List single calls",
        description="Newest first; filter by `out_id`, state or outcome of the latest attempt, number, product, "
        "account or creation time.",
    ),
    retrieve=extend_schema(summary="One single call", responses={200: SingleCallSerializer, 404: NOT_FOUND}),
)
class SingleCallViewSet(JSONErrorsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One call to one number outside any campaign (a verification code, a notification)."""

    serializer_class = SingleCallSerializer
    permission_classes = [ModelPermissions]
    filterset_class = SingleCallFilter
    pagination_class = CallCursorPagination
    queryset = selectors.single_calls()

    @extend_schema(
        summary="Place a single call",
        description="`verify` reads out `code` (4 to 6 digits); `notify` and `voice_sms` play a `template` with its "
        "`variables`, or `content` where the vendor plays free text. Without `account`, the template's account or "
        "the route set for the product in the admin is used. Frequency limits per number (across every vendor), "
        "the vendor's own per-number limits and a daily cap per credential are checked first: a refused call "
        "answers 429 saying which limit and when it frees, and nothing is sent.",
        request=SingleCallRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: SingleCallSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Field errors"),
            429: OpenApiResponse(FrequencyLimitSerializer, description="A frequency limit refused the call"),
            **IDEMPOTENCY_RESPONSES,
        },
    )
    @idempotent
    def create(self, request, *args, **kwargs):
        body = SingleCallRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            call = single_calls.place_call(
                single_calls.CallRequest(**body.validated_data),
                credential=credential_id(request),
                user=request.user,
            )
        except single_calls.CallRefused as refused:
            data = refused.refusal.as_dict()
            return Response(
                data, status=status.HTTP_429_TOO_MANY_REQUESTS, headers={"Retry-After": str(data["retry_after"])}
            )
        url = reverse("singlecall-detail", args=[call.pk])
        return Response(self.get_serializer(call).data, status=status.HTTP_201_CREATED, headers={"Location": url})


# ---- imports
@extend_schema_view(
    retrieve=extend_schema(
        summary="Progress of a recipient file import",
        description="Poll until `state` is `done` or `failed`. While running, the counts are live.",
    )
)
class RecipientImportViewSet(JSONErrorsMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = RecipientImport.objects.all()
    serializer_class = RecipientImportSerializer
    permission_classes = [ModelPermissions]


# ---- vendor accounts
@extend_schema_view(
    list=extend_schema(summary="Vendor accounts", description="Secrets masked; latest balance included."),
    retrieve=extend_schema(summary="One vendor account"),
)
class VendorAccountViewSet(JSONErrorsMixin, viewsets.ReadOnlyModelViewSet):
    queryset = VendorAccount.objects.with_latest_balance()
    serializer_class = VendorAccountSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ["vendor", "is_active"]
