"""The REST API (docs/architecture.md, "Layers"). Thin: writes call ``campaigns.services``, reads
``campaigns.selectors``; every answer, refusals and failures included, is JSON in the one error
body of ``voiceops.api.errors``. Who may call what: ``apikeys.permissions`` (people by their
Django permissions, API keys by the scopes each view names in ``required_scopes``).
"""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apikeys.permissions import ScopedModelPermissions, actor_of, api_key_of, credential_id
from apikeys.scopes import MANAGE_CAMPAIGNS, READ_STATISTICS, SEND_CALLS
from idempotency.schema import IDEMPOTENCY_KEY, IDEMPOTENCY_RESPONSES
from idempotency.services import idempotent
from vendors.models import VendorAccount
from voiceops.api.errors import Conflict, ErrorSerializer, TooManyRequests, error_body, not_found_detail
from voiceops.api.filters import RefuseUnknownQuery
from voiceops.api.parsers import JSONParser

from .. import selectors, services, single_calls, templates_service
from ..models import CallRecord, Campaign, RecipientImport, VoiceTemplate
from ..services import CampaignError, CampaignInputError
from .filters import CallRecordFilter, CampaignFilter, SingleCallFilter, VendorAccountFilter, VoiceTemplateFilter
from .serializers import (
    CallRecordSerializer,
    CampaignSerializer,
    CampaignStatsSerializer,
    ImportResultSerializer,
    LaunchSerializer,
    RecipientFileSerializer,
    RecipientImportSerializer,
    RecipientListSerializer,
    SingleCallRequestSerializer,
    SingleCallSerializer,
    TemplateSubmitSerializer,
    VendorAccountSerializer,
    VoiceTemplateSerializer,
    import_result_data,
)

ID = r"[0-9]+"  # ids in URLs are digits only ("/campaigns/%0D1/" is no campaign)
CHANGE_CAMPAIGN = "campaigns.change_campaign"
VIEW_CAMPAIGN = "campaigns.view_campaign"
ADD_CAMPAIGN = "campaigns.add_campaign"
ADD_RECIPIENT = "campaigns.add_recipient"
ADD_IMPORT = "campaigns.add_recipientimport"
CHANGE_TEMPLATE = "campaigns.change_voicetemplate"
VIEW_ACCOUNT = "vendors.view_vendoraccount"


# ---- errors
class CampaignErrorsMixin:
    """A campaign in the wrong state for the request (CampaignError) answers 409 with the reason."""

    def handle_exception(self, exc):
        if isinstance(exc, CampaignInputError):
            exc = ValidationError(str(exc))
        if isinstance(exc, CampaignError):
            exc = Conflict(str(exc))
        return super().handle_exception(exc)


CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="The campaign is in a state that does not allow this; or a request with this Idempotency-Key "
    "is still in progress (`idempotency_key_in_progress`)",
)


def _refusal_example(name: str, code: str, detail: str) -> OpenApiExample:
    body = {"type": "client_error", "errors": [{"code": code, "detail": detail, "attr": None}]}
    return OpenApiExample(name, value=body, status_codes=["429"], response_only=True)


# The words of campaigns.frequency.Refusal.message (tests/api/test_schema.py keeps them the same).
FREQUENCY_REFUSALS = [
    _refusal_example(
        "Number limit",
        "number_limit",
        "At most 1 call per 1 minute may go to one number; "
        "this number may be called again at 2026-11-11 09:01:00+08:00.",
    ),
    _refusal_example(
        "Vendor limit",
        "vendor_number_limit",
        "The vendor allows at most 3 calls per 1 minute to one number; "
        "this number may be called again at 2026-11-11 09:01:00+08:00.",
    ),
    _refusal_example(
        "Daily cap",
        "daily_cap",
        "This API key has placed its 10000 single calls for today; it may call again at 2026-11-12 00:00:00+08:00.",
    ),
]

IMPORT_STARTED = inline_serializer(
    "ImportStarted",
    fields={
        "import": serializers.IntegerField(help_text="The import's id"),
        "progress_url": serializers.CharField(help_text="GET it until its state is done or failed"),
    },
)


def _actor(request):
    """The person behind a request, for ``created_by`` (None for an API key; the audit trail names
    the key: ``actor_of``)."""
    return request.user if request.user.is_authenticated else None


# ---- campaigns
def _action_schema(summary: str, description: str):
    return extend_schema(
        summary=summary,
        description=description,
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: CampaignSerializer, 409: CONFLICT, 422: IDEMPOTENCY_RESPONSES[422]},
    )


@extend_schema_view(
    list=extend_schema(summary="List campaigns", description="Newest first; filter by state, product or account."),
    retrieve=extend_schema(summary="One campaign"),
    create=extend_schema(
        summary="Create a campaign",
        description="Created as a draft; add recipients, then launch. The template must belong "
        "to the campaign's vendor account.",
        parameters=[IDEMPOTENCY_KEY],
        responses={201: CampaignSerializer, **IDEMPOTENCY_RESPONSES},
    ),
)
class CampaignViewSet(
    CampaignErrorsMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    lookup_value_regex = ID
    queryset = Campaign.objects.select_related("account", "fallback_account", "template")
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    required_scopes = {
        "list": (MANAGE_CAMPAIGNS, READ_STATISTICS),
        "retrieve": (MANAGE_CAMPAIGNS, READ_STATISTICS),
        "create": (MANAGE_CAMPAIGNS,),
        "launch": (MANAGE_CAMPAIGNS,),
        "pause": (MANAGE_CAMPAIGNS,),
        "resume": (MANAGE_CAMPAIGNS,),
        "cancel": (MANAGE_CAMPAIGNS,),
        "retry_failed": (MANAGE_CAMPAIGNS,),
        "recipients": (MANAGE_CAMPAIGNS,),
        "stats": (READ_STATISTICS,),
    }
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
        serializer.instance = services.create_campaign(
            **serializer.validated_data, user=_actor(self.request), key=api_key_of(self.request)
        )

    def _answer(self, campaign: Campaign) -> Response:
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign, context=self.get_serializer_context()).data)

    # ---- lifecycle
    @extend_schema(
        summary="Launch or schedule",
        description="Starts the campaign now, or at `at` (which must be in the future). Without `at`, a start "
        "time in the future already set on the campaign (`scheduled_at`) is kept. A scheduled campaign launched "
        "with a new `at` is rescheduled. A running campaign answers 409 with the reason. The body may be empty. "
        "`calls_start_at` in the answer says when calls may first go out (calling hours).",
        request=LaunchSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: CampaignSerializer, 409: CONFLICT, 422: IDEMPOTENCY_RESPONSES[422]},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def launch(self, request, pk=None):
        campaign = self.get_object()
        body = LaunchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        at = body.validated_data.get("at")
        if at is None and campaign.scheduled_at and campaign.scheduled_at > timezone.now():
            at = campaign.scheduled_at
        services.launch(campaign, at=at, actor=actor_of(request))
        return self._answer(campaign)

    @_action_schema("Pause", "Stops dispatching; calls already with the vendor still report.")
    @action(detail=True, methods=["post"])
    @idempotent
    def pause(self, request, pk=None):
        campaign = self.get_object()
        services.pause(campaign, actor=actor_of(request))
        return self._answer(campaign)

    @_action_schema("Resume", "Continues a paused campaign (scheduled again if its start time is still ahead).")
    @action(detail=True, methods=["post"])
    @idempotent
    def resume(self, request, pk=None):
        campaign = self.get_object()
        services.resume(campaign, actor=actor_of(request))
        return self._answer(campaign)

    @_action_schema("Cancel", "Cancels the campaign and every call not yet handed to the vendor.")
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        campaign = self.get_object()
        services.cancel(campaign, actor=actor_of(request))
        return self._answer(campaign)

    @_action_schema(
        "Retry failed calls", "Queues a new attempt for every recipient whose last attempt failed or expired."
    )
    @action(detail=True, methods=["post"], url_path="retry-failed")
    @idempotent
    def retry_failed(self, request, pk=None):
        campaign = self.get_object()
        services.retry_failed(campaign, actor=actor_of(request))
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
            200: OpenApiResponse(ImportResultSerializer, description="JSON recipients: imported"),
            202: OpenApiResponse(IMPORT_STARTED, description="File: the import started; poll `progress_url`"),
            422: OpenApiResponse(
                ErrorSerializer,
                description="No recipient accepted: the detail gives the first reasons, with the counts; "
                "or this Idempotency-Key was used with a different request (`idempotency_key_reused`)",
            ),
            409: CONFLICT,
            413: OpenApiResponse(ErrorSerializer, description="Too large for one request: upload a file instead"),
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
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, MultiPartParser])
    @idempotent
    def recipients(self, request, pk=None):
        campaign = self.get_object()
        services.ensure_open_for_recipients(campaign)
        if request.content_type.startswith("multipart/"):
            return self._start_file_import(request, campaign)
        body = RecipientListSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.add_recipients(campaign, body.validated_data["recipients"], actor=actor_of(request))
        if result.accepted_nothing:  # a failure, said as one, with the counts and every rejected row
            refusal = error_body("validation_error", "nothing_accepted", result.nothing_accepted_message())
            return Response({**refusal, **import_result_data(result)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return Response(import_result_data(result))

    def _start_file_import(self, request, campaign: Campaign) -> Response:
        if api_key_of(request) is None and not request.user.has_perm(ADD_IMPORT):  # a key: its scope did
            self.permission_denied(request, message=gettext("You may not upload recipient files."))
        body = RecipientFileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = services.start_file_import(
            campaign, body.validated_data["file"], _actor(request), key=api_key_of(request)
        )
        url = reverse("recipientimport-detail", args=[job.pk])
        return Response(
            {"import": job.pk, "progress_url": url}, status=status.HTTP_202_ACCEPTED, headers={"Location": url}
        )

    @extend_schema(summary="Live statistics", responses={200: CampaignStatsSerializer})
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

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

    def get_page_size(self, request):
        """A page size that is given must be a whole number from 1 (larger ones are capped)."""
        given = request.query_params.get(self.page_size_query_param)
        if given is not None:
            try:
                valid = int(given) >= 1
            except ValueError:
                valid = False
            if not valid:
                raise ValidationError({self.page_size_query_param: gettext("Enter a whole number from 1.")})
        return super().get_page_size(request)


@extend_schema(
    summary="A campaign's call attempts",
    description="Newest first, one row per attempt; `mobile` accepts any spelling of the number. "
    "Follow `next` until it is null to read every attempt.",
    responses={200: CallRecordSerializer(many=True)},
)
class CampaignCallsView(generics.ListAPIView):
    serializer_class = CallRecordSerializer
    required_scopes = (READ_STATISTICS,)
    filterset_class = CallRecordFilter
    pagination_class = CallCursorPagination
    queryset = CallRecord.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CallRecord.objects.none()
        return CallRecord.objects.filter(campaign_id=self.kwargs["id"])

    def list(self, request, *args, **kwargs):
        if not Campaign.objects.filter(pk=self.kwargs["id"]).exists():
            raise NotFound(not_found_detail(self, model=Campaign, lookup="id"))
        return super().list(request, *args, **kwargs)


# ---- single calls
@extend_schema_view(
    list=extend_schema(
        summary="List single calls",
        description="Newest first; filter by `out_id`, state or outcome of the latest attempt, number, product, "
        "account or creation time.",
    ),
    retrieve=extend_schema(summary="One single call", responses={200: SingleCallSerializer}),
)
class SingleCallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One call to one number outside any campaign (a verification code, a notification)."""

    lookup_value_regex = ID
    serializer_class = SingleCallSerializer
    required_scopes = {
        "list": (SEND_CALLS, READ_STATISTICS),
        "retrieve": (SEND_CALLS, READ_STATISTICS),
        "create": (SEND_CALLS,),
    }
    filterset_class = SingleCallFilter
    pagination_class = CallCursorPagination
    queryset = selectors.single_calls()

    @extend_schema(
        summary="Place a single call",
        description="`verify` reads out `code` (4 to 6 digits); `notify` and `voice_sms` play a `template` with its "
        "`variables`, or `content` where the vendor plays free text. Without `account`, the template's account or "
        "the route set for the product in the admin is used. Frequency limits per number (across every vendor), "
        "the vendor's own per-number limits and a daily cap per API key are checked first: a refused call "
        "answers 429 saying which limit and when it frees, and nothing is sent.",
        request=SingleCallRequestSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: SingleCallSerializer,
            400: OpenApiResponse(ErrorSerializer, description="Field errors"),
            429: OpenApiResponse(
                ErrorSerializer,
                examples=FREQUENCY_REFUSALS,
                description="A frequency limit refused the call; nothing is sent. The code names the limit "
                "(`number_limit`, `vendor_number_limit`, `daily_cap`), the detail the window and when it frees, "
                "the Retry-After header the seconds until then",
            ),
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
                user=_actor(request),
                key=api_key_of(request),
            )
        except single_calls.CallRefused as refused:
            refusal = refused.refusal
            raise TooManyRequests(refusal.message(), code=refusal.code, wait=refusal.retry_after()) from None
        url = reverse("singlecall-detail", args=[call.pk])
        return Response(self.get_serializer(call).data, status=status.HTTP_201_CREATED, headers={"Location": url})


# ---- imports
@extend_schema_view(
    retrieve=extend_schema(
        summary="Progress of a recipient file import",
        description="Poll until `state` is `done` or `failed`. While running, the counts are live.",
    )
)
class RecipientImportViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = ID
    queryset = RecipientImport.objects.all()
    serializer_class = RecipientImportSerializer
    required_scopes = (MANAGE_CAMPAIGNS,)


# ---- vendor accounts
class AccountReaders(ScopedModelPermissions):
    """Those who may view vendor accounts, and those who may create campaigns (who must pick one)."""

    def has_permission(self, request, view):
        user = request.user
        if api_key_of(request) is None and user.is_authenticated and user.has_perm(ADD_CAMPAIGN):
            return True
        return super().has_permission(request, view)


@extend_schema_view(
    list=extend_schema(
        summary="Vendor accounts",
        description="Every caller who may create campaigns or send calls gets `id`, `vendor`, `name`, `products` "
        "and `is_active`; those who may view vendor accounts (operators, finance) get the rest too, "
        "with the secret masked.",
    ),
    retrieve=extend_schema(summary="One vendor account"),
)
class VendorAccountViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = ID
    queryset = VendorAccount.objects.with_latest_balance()
    serializer_class = VendorAccountSerializer
    permission_classes = [AccountReaders, RefuseUnknownQuery]
    filterset_class = VendorAccountFilter
    required_scopes = (MANAGE_CAMPAIGNS, SEND_CALLS)

    def get_serializer_context(self):
        user = self.request.user
        full = api_key_of(self.request) is None and user.is_authenticated and user.has_perm(VIEW_ACCOUNT)
        return {**super().get_serializer_context(), "full_accounts": full}


# ---- templates
TEMPLATE_FAILURE_STATUS = {
    "empty": status.HTTP_409_CONFLICT,
    "state": status.HTTP_409_CONFLICT,
    "vendor_refused": status.HTTP_422_UNPROCESSABLE_ENTITY,
    "vendor_unavailable": status.HTTP_503_SERVICE_UNAVAILABLE,
}


class TemplateRefused(Conflict):
    def __init__(self, result):
        super().__init__(result.message, code=result.reason or "conflict")
        self.status_code = TEMPLATE_FAILURE_STATUS.get(result.reason, status.HTTP_409_CONFLICT)


@extend_schema_view(
    list=extend_schema(summary="Voice templates", description="Filter by vendor account or review state."),
    retrieve=extend_schema(summary="One voice template"),
    create=extend_schema(
        summary="Create a voice template",
        description="Write each variable as 【name】. Vendors that review templates need it submitted "
        "(`submit`) and approved before a campaign can use it; others approve it at once.",
        parameters=[IDEMPOTENCY_KEY],
        responses={201: VoiceTemplateSerializer, **IDEMPOTENCY_RESPONSES},
    ),
)
class VoiceTemplateViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    lookup_value_regex = ID
    queryset = VoiceTemplate.objects.select_related("account")
    serializer_class = VoiceTemplateSerializer
    filterset_class = VoiceTemplateFilter
    required_scopes = {
        "list": (MANAGE_CAMPAIGNS, SEND_CALLS),
        "retrieve": (MANAGE_CAMPAIGNS, SEND_CALLS),
        "create": (MANAGE_CAMPAIGNS,),
        "submit": (MANAGE_CAMPAIGNS,),
    }
    action_permissions = {"submit": [CHANGE_TEMPLATE]}

    def get_serializer_class(self):
        return TemplateSubmitSerializer if self.action == "submit" else VoiceTemplateSerializer

    @idempotent
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = templates_service.create_template(
            **serializer.validated_data, actor=actor_of(self.request)
        )

    @extend_schema(
        summary="Submit for the vendor's review",
        description="Files the text with the vendor; the verdict arrives later (`review_state`). "
        "For vendors without review the template is approved at once.",
        request=TemplateSubmitSerializer,
        responses={
            200: VoiceTemplateSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Already pending or approved, or no text"),
            422: OpenApiResponse(ErrorSerializer, description="The vendor refused the template; the detail says why"),
            503: OpenApiResponse(ErrorSerializer, description="The vendor could not be reached; try again later"),
        },
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        template = self.get_object()
        body = TemplateSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = templates_service.submit_template(
            template, resubmit=body.validated_data["resubmit"], actor=actor_of(request)
        )
        if not result.ok:
            raise TemplateRefused(result)
        template.refresh_from_db()
        return Response(VoiceTemplateSerializer(template, context=self.get_serializer_context()).data)
