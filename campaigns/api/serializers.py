"""REST serializers: the shapes the API reads and answers (docs/architecture.md, "Layers").

Writes go through ``campaigns.services``; these classes only validate input and shape output.
Docstrings here are for engineers; what clients read in the schema is in ``help_text`` and
``extend_schema_serializer`` (voiceops.api.schema keeps docstrings out of it).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time

from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from vendors import callback_setup
from vendors.adapters import NotSupported, adapter_class
from vendors.models import VendorAccount
from voiceops.api.serializers import FixedFieldsMixin, RefuseUnknownFields, TextOnlyField

from ..imports import variable_texts
from ..models import (
    OUTCOME_CHOICES,
    PRODUCT_CHOICES,
    SINGLE_CALL_PRODUCT_CHOICES,
    CallRecord,
    Campaign,
    RecipientImport,
    SingleCall,
    VoiceTemplate,
)
from ..readers import UnreadableFile, check_upload
from ..selectors import import_figures, not_dialling_for, why_not_dialling

MAX_JSON_RECIPIENTS = 10_000
REJECTED_SHOWN = 1_000
MAX_ROW_ERRORS = 20
# What campaigns.readers.open_rows accepts (checked early so a wrong file is refused at once).

REJECTED_ROW_SCHEMA = {
    "type": "array",
    "description": "[line, number as given, reason]",
    "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
    "minItems": 3,
    "maxItems": 3,
}


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice that may not be known yet: the model keeps "" and the API answers null.

    ("" is not one of the enum's values, and a client generated from the schema rejects it.)
    """

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return None if value in ("", None) else super().to_representation(value)


EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


class MomentField(serializers.DateTimeField):
    """A moment with its offset, between the years 2000 and 2100 (a start time, not a date of history)."""

    default_error_messages = {"out_of_range": _("Give a time between the years 2000 and 2100.")}

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not EARLIEST <= moment < LATEST:
            self.fail("out_of_range")
        return moment


class LocalTimeField(serializers.TimeField):
    """A time of day on the project's clock (Asia/Shanghai), answered with its UTC offset.

    JSON Schema's ``time`` (RFC 3339) carries an offset: ``08:00:00+08:00``. Input may carry any
    offset (converted to the project's clock) or none (taken as the project's clock).
    """

    def to_representation(self, value):
        text = super().to_representation(value)
        if not text or value.tzinfo is not None:
            return text
        offset = timezone.localtime().strftime("%z")  # "+0800"
        return f"{text}{offset[:3]}:{offset[3:]}"

    def to_internal_value(self, value):
        try:
            parsed = time.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            return super().to_internal_value(value)  # other accepted spellings, or the error message
        if parsed.tzinfo is None:
            return parsed
        moment = datetime.combine(timezone.localdate(), parsed)
        return timezone.localtime(moment).time().replace(tzinfo=None)


# ---- campaigns
class NotDiallingReasonSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="draft, scheduled, paused, template_review, account_inactive, circuit_open, "
        "balance_exhausted, using_fallback, quiet_hours, retries_waiting"
    )
    message = serializers.CharField()


class CampaignListSerializer(serializers.ListSerializer):
    """A page of campaigns: their reasons for not dialling found together (two queries for the page)."""

    def to_representation(self, data):
        campaigns = list(data.all() if hasattr(data, "all") else data)
        self.child.context["not_dialling"] = not_dialling_for(campaigns)
        return super().to_representation(campaigns)


def _bound_message(validator, placeholder: str):
    """The model validator's own words (naming the bound), in DRF's placeholder, translated when shown."""
    return lazy(lambda: str(validator.message).replace("%(limit_value)s", placeholder), str)()


class ModelBoundsSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    """Out-of-range numbers are refused with the model's messages ("At most 10080 minutes (7 days)."),
    not DRF's generic ones; the bounds still reach the schema as minimum / maximum."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        messages = dict(kwargs.get("error_messages") or {})
        for validator in getattr(model_field, "_validators", []):
            if isinstance(validator, MaxValueValidator):
                messages["max_value"] = _bound_message(validator, "{max_value}")
            elif isinstance(validator, MinValueValidator):
                messages["min_value"] = _bound_message(validator, "{min_value}")
        if messages:
            kwargs["error_messages"] = messages
        return field_class, kwargs


class CampaignSerializer(ModelBoundsSerializer):
    not_dialling = serializers.SerializerMethodField(
        help_text=_("Why the campaign makes no calls now (empty when calls can go out).")
    )
    calls_start_at = serializers.SerializerMethodField(
        help_text=_("When calls may first go out: the start time, moved to the next calling hours if outside them.")
    )
    scheduled_at = MomentField(
        required=False, allow_null=True, help_text=_("When to start, with its UTC offset; set by launch with `at`.")
    )
    quiet_hours_start = LocalTimeField(
        required=False, help_text=_("Calls are placed from this time of day (Asia/Shanghai), e.g. 08:00:00+08:00.")
    )
    quiet_hours_end = LocalTimeField(
        required=False, help_text=_("…until this time of day (Asia/Shanghai); equal bounds: any time.")
    )
    retry_outcomes = serializers.ListField(
        child=serializers.ChoiceField(choices=OUTCOME_CHOICES),
        required=False,
        allow_empty=True,
        help_text=_("Outcomes that get another attempt; empty means the default set."),
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "account",
            "fallback_account",
            "product",
            "template",
            "content",
            "state",
            "scheduled_at",
            "quiet_hours_start",
            "quiet_hours_end",
            "rate_limit_per_second",
            "max_attempts",
            "retry_delay_minutes",
            "retry_outcomes",
            "report_window_minutes",
            "created_at",
            "launched_at",
            "completed_at",
            "not_dialling",
            "calls_start_at",
        ]
        read_only_fields = ["state", "created_at", "launched_at", "completed_at"]
        # Kept as written: the schema says "a string", and whitespace is a (poor) string too.
        extra_kwargs = {"name": {"trim_whitespace": False}, "content": {"trim_whitespace": False}}
        list_serializer_class = CampaignListSerializer

    @extend_schema_field(NotDiallingReasonSerializer(many=True))
    def get_not_dialling(self, campaign: Campaign) -> list[dict]:
        found = self.context.get("not_dialling") or {}
        if campaign.pk in found:
            return found[campaign.pk]
        return why_not_dialling(campaign) if campaign.pk else []

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_calls_start_at(self, campaign: Campaign):
        if campaign.state in (Campaign.State.COMPLETED, Campaign.State.CANCELLED):
            return None
        start = campaign.scheduled_at if campaign.scheduled_at and campaign.scheduled_at > timezone.now() else None
        return serializers.DateTimeField().to_representation(campaign.calls_start_at(start))

    def validate(self, attrs):
        # The model's own rules (template of the same account, content or template, known outcomes,
        # the account's rate) on the campaign as it would be saved; a Django ValidationError raised
        # here becomes a 400 with the message. Field bounds come from the model's validators.
        campaign = copy.copy(self.instance) if self.instance is not None else Campaign()
        for name, value in attrs.items():
            setattr(campaign, name, value)
        campaign.clean()
        return attrs


class LaunchSerializer(RefuseUnknownFields, serializers.Serializer):
    at = MomentField(
        required=False,
        allow_null=True,
        help_text=_("Start at this time instead of now. Without it, a future start time set on the campaign is kept."),
    )


class TimelineSlotSerializer(serializers.Serializer):
    hour = serializers.DateTimeField(help_text=_("Start of the hour, with its UTC offset"))
    answered = serializers.IntegerField()
    not_answered = serializers.IntegerField()


class CampaignStatsSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Campaign.State.choices)
    recipients = serializers.IntegerField()
    total = serializers.IntegerField()
    attempts = serializers.IntegerField()
    by_state = serializers.DictField(child=serializers.IntegerField())
    by_outcome = serializers.DictField(child=serializers.IntegerField())
    answered = serializers.IntegerField()
    ended_attempts = serializers.IntegerField(help_text="Attempts with a result: answered, failed, refused or expired")
    numbers_ended = serializers.IntegerField(help_text="Numbers with at least one ended attempt")
    answer_rate_per_attempt = serializers.FloatField(allow_null=True, help_text="answered ÷ ended_attempts")
    answer_rate_per_number = serializers.FloatField(allow_null=True, help_text="answered numbers ÷ numbers_ended")
    answer_rate = serializers.FloatField(allow_null=True, help_text="The same as answer_rate_per_attempt")
    avg_talk_seconds = serializers.FloatField(allow_null=True)
    billed_units = serializers.IntegerField()
    cost = serializers.CharField(allow_null=True, help_text="CNY, when the account has a price per unit")
    first_submitted_at = serializers.DateTimeField(allow_null=True)
    last_reported_at = serializers.DateTimeField(allow_null=True)
    timeline = TimelineSlotSerializer(many=True)


class CallRecordSerializer(FixedFieldsMixin, serializers.ModelSerializer):
    outcome = BlankAsNullChoiceField(
        choices=OUTCOME_CHOICES, read_only=True, help_text=_("null until the vendor reports the call")
    )

    class Meta:
        model = CallRecord
        fields = [
            "id",
            "recipient",
            "attempt",
            "mobile",
            "custom_id",
            "vendor_message_id",
            "batch_id",
            "state",
            "outcome",
            "raw_code",
            "raw_message",
            "talk_seconds",
            "billed_seconds",
            "billed_units",
            "key_pressed",
            "submitted_at",
            "reported_at",
            "is_test",
        ]
        read_only_fields = fields


# ---- recipients
@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer"}]})
class StringOrIntegerField(serializers.Field):
    """A number as text or as a JSON number (spreadsheet exports send both)."""


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class StringOrNumberField(serializers.Field):
    pass


class RecipientRowSerializer(RefuseUnknownFields, serializers.Serializer):
    mobile = StringOrIntegerField(
        required=False,
        help_text="Any common spelling: 13800138000, +86 138 0013 8000, 010-12345678 "
        "(a row without one is reported in `rejected`)",
    )
    variables = serializers.ListField(child=StringOrNumberField(), required=False, help_text="In template order")


@extend_schema_field(RecipientRowSerializer(many=True))
class RecipientRowsField(serializers.Field):
    """A list of ``{"mobile", "variables"}`` objects, checked for shape with 1-based line numbers.

    Number and variable checks are the import's (they come back in ``rejected``); this field only
    refuses what cannot be read at all, and a list too long for one request.
    """

    min_items, max_items = 1, MAX_JSON_RECIPIENTS  # for the schema (voiceops.api.schema)
    default_error_messages = {
        "not_a_list": _("“recipients” must be a list of objects."),
        "empty": _("“recipients” is empty."),
        "too_many": _(
            "%(count)d recipients is more than the %(max)d a JSON request may carry; "
            "upload them as a CSV or XLSX file (multipart field “file”) instead."
        ),
    }

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > MAX_JSON_RECIPIENTS:
            raise serializers.ValidationError(
                self.error_messages["too_many"] % {"count": len(data), "max": MAX_JSON_RECIPIENTS}
            )
        records, errors = [], []
        for line, item in enumerate(data, 1):
            problem, record = _read_row(item)
            if problem:
                errors.append(gettext("line %(line)d: %(problem)s") % {"line": line, "problem": problem})
                if len(errors) >= MAX_ROW_ERRORS:
                    break
            else:
                records.append(record)
        if errors:
            raise serializers.ValidationError(errors)
        return records

    def to_representation(self, value):
        return value


def _scalar(value, types=(str, int, float)) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


ROW_FIELDS = ("mobile", "variables")


def _read_row(item) -> tuple[str | None, dict | None]:
    if not isinstance(item, dict):
        return gettext("each recipient must be an object with “mobile” and “variables”"), None
    unknown = [str(name) for name in item if name not in ROW_FIELDS]
    if unknown:
        return gettext("unknown field “%(name)s”; a recipient has only “mobile” and “variables”") % {
            "name": unknown[0]
        }, None
    mobile = item.get("mobile", "")  # a row without a number is reported as rejected, with its line
    if not _scalar(mobile, (str, int)):
        return gettext("“mobile” must be a string or a whole number"), None
    variables = variable_texts(item.get("variables"))
    if variables is None:
        return gettext("“variables” must be a list of strings"), None
    return None, {"mobile": str(mobile), "variables": variables}


class RecipientListSerializer(RefuseUnknownFields, serializers.Serializer):
    recipients = RecipientRowsField()


class RecipientFileSerializer(RefuseUnknownFields, serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8 or GB18030/GBK) or XLSX; a header row is optional")

    def validate_file(self, upload):
        try:
            check_upload(upload.name, upload.size)
        except UnreadableFile as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return upload


@extend_schema_field(REJECTED_ROW_SCHEMA)
class RejectedRowField(serializers.ListField):
    pass


class ImportResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    accepted = serializers.IntegerField()
    invalid = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    blocked = serializers.IntegerField()
    rejected = serializers.ListField(child=RejectedRowField(), help_text=f"The first {REJECTED_SHOWN} rejected rows")


def import_result_data(result) -> dict:
    """The JSON answer for a synchronous import (``campaigns.imports.ImportResult``)."""
    return {
        **result.as_dict(),
        "rejected": [[line, mobile, str(reason)] for line, mobile, reason in result.rejected[:REJECTED_SHOWN]],
    }


class RecipientImportSerializer(serializers.ModelSerializer):
    # While the import runs, the live counts come from the importer (selectors.import_figures).

    file_name = serializers.CharField(source="original_name", read_only=True)
    percent = serializers.IntegerField(read_only=True)
    rejected = serializers.SerializerMethodField()

    class Meta:
        model = RecipientImport
        fields = [
            "id",
            "campaign",
            "file_name",
            "state",
            "percent",
            "size_bytes",
            "processed_bytes",
            "rows",
            "accepted",
            "invalid",
            "duplicates",
            "blocked",
            "error",
            "rejected",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {"type": "array", "items": REJECTED_ROW_SCHEMA, "description": f"The first {REJECTED_SHOWN} rejected rows"}
    )
    def get_rejected(self, job) -> list:
        return (job.rejected_rows or [])[:REJECTED_SHOWN]

    def to_representation(self, job):
        return super().to_representation(job) | import_figures(job)


# ---- vendor accounts
class LatestBalanceSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=16, decimal_places=4)
    unit = serializers.CharField()
    taken_at = serializers.DateTimeField()


PUBLIC_ACCOUNT_FIELDS = ("id", "vendor", "name", "products", "is_active")


class VendorAccountSerializer(serializers.ModelSerializer):
    """Everyone who may create campaigns (or send calls) sees ``PUBLIC_ACCOUNT_FIELDS``; the rest is
    for those who may view vendor accounts (operators, finance). Never a secret in full, nor the
    callback token."""

    products = serializers.SerializerMethodField(help_text=_("What this account can send (campaign `product`)"))
    api_secret_masked = serializers.CharField(source="masked_secret", read_only=True)
    callback_url = serializers.SerializerMethodField(
        help_text="Absolute URL to paste in the vendor's console; null for push-less vendors and for "
        "users who may not change vendor accounts"
    )
    callback_setup = serializers.SerializerMethodField(help_text="Where the callback URL goes at this vendor")
    previous_callback_url_valid_until = serializers.SerializerMethodField(
        help_text="After a token rotation, until when the previous URL is still accepted"
    )
    balance = serializers.SerializerMethodField()
    low_balance = serializers.SerializerMethodField()
    circuit_open = serializers.BooleanField(source="circuit_is_open", read_only=True)

    class Meta:
        model = VendorAccount
        fields = [
            *PUBLIC_ACCOUNT_FIELDS,
            "base_url",
            "api_id",
            "api_secret_masked",
            "user_id",
            "pull_reports",
            "rate_limit_per_second",
            "low_balance_threshold",
            "price_per_unit",
            "balance",
            "low_balance",
            "circuit_open",
            "circuit_open_until",
            "consecutive_failures",
            "last_error",
            "last_error_at",
            "callback_url",
            "callback_setup",
            "previous_callback_url_valid_until",
        ]
        read_only_fields = fields

    # voiceops.api.schema: these may be absent from an answer (documented as not required).
    optional_in_response = tuple(f for f in Meta.fields if f not in PUBLIC_ACCOUNT_FIELDS)

    def to_representation(self, account):
        data = super().to_representation(account)
        if not self.context.get("full_accounts", False):
            data = {name: data[name] for name in PUBLIC_ACCOUNT_FIELDS}
        return data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=PRODUCT_CHOICES)))
    def get_products(self, account) -> list[str]:
        try:
            return list(adapter_class(account.vendor).products)
        except NotSupported:
            return []

    def _may_see_callback(self, account) -> bool:
        request = self.context.get("request")
        return request is not None and callback_setup.may_see_callback_url(request.user)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_callback_url(self, account):
        if not self._may_see_callback(account) or not callback_setup.pushes(account.vendor):
            return None
        return callback_setup.callback_url(account, request=self.context["request"])

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_callback_setup(self, account):
        return callback_setup.paste_where(account.vendor) if self._may_see_callback(account) else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_previous_callback_url_valid_until(self, account):
        until = account.previous_token_valid_until
        if not self._may_see_callback(account) or not until or until <= timezone.now():
            return None
        return serializers.DateTimeField().to_representation(until)

    @extend_schema_field(LatestBalanceSerializer(allow_null=True))
    def get_balance(self, account):
        if getattr(account, "latest_at", None) is None:
            return None
        return LatestBalanceSerializer(
            {"amount": account.latest_amount, "unit": account.latest_unit, "taken_at": account.latest_at}
        ).data

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_low_balance(self, account):
        amount = getattr(account, "latest_amount", None)
        return None if amount is None else amount < account.low_balance_threshold


# ---- templates
class VoiceTemplateSerializer(RefuseUnknownFields, serializers.ModelSerializer):
    variables = serializers.ListField(
        source="variable_names",
        child=serializers.CharField(),
        read_only=True,
        help_text=_("The 【name】 placeholders in the text, in order: give each recipient's variables in this order"),
    )
    review_state = serializers.ChoiceField(
        choices=VoiceTemplate.Review.choices,
        read_only=True,
        help_text=_("approved templates can be used; vendors without review approve at once"),
    )

    class Meta:
        model = VoiceTemplate
        fields = [
            "id",
            "account",
            "name",
            "content",
            "variables",
            "vendor_template_id",
            "review_state",
            "review_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["vendor_template_id", "review_message", "created_at", "updated_at"]
        # Kept as written: the schema says "a string", and whitespace is a (poor) string too.
        extra_kwargs = {"name": {"trim_whitespace": False}, "content": {"trim_whitespace": False}}


class JsonBooleanField(serializers.BooleanField):
    """true or false, as JSON says: not 0, 1, "yes" or "on" (the schema says boolean)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class TemplateSubmitSerializer(RefuseUnknownFields, serializers.Serializer):
    resubmit = JsonBooleanField(
        default=False,
        help_text=_("File it again although it was filed before (after a rejection or an edit)"),
    )


# ---- single calls
@extend_schema_serializer(component_name="SingleCall")  # the request component: SingleCallRequest
class SingleCallRequestSerializer(RefuseUnknownFields, serializers.Serializer):
    """The body of ``POST /api/calls/``; the service checks what depends on the account."""

    mobile = serializers.CharField(max_length=40, help_text="Any common spelling; answered as E.164")
    product = serializers.ChoiceField(choices=SINGLE_CALL_PRODUCT_CHOICES)
    code = TextOnlyField(
        required=False, allow_blank=True, max_length=6, help_text="verify: the code to read out, 4 to 6 digits"
    )
    template = serializers.IntegerField(
        required=False, allow_null=True, help_text="notify, voice_sms: a voice template id"
    )
    variables = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=200),
        required=False,
        max_length=20,
        help_text="The template's variables, in its order",
    )
    content = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, help_text="Free text, where the vendor plays it"
    )
    out_id = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="Your own reference, echoed everywhere"
    )
    account = serializers.IntegerField(
        required=False, allow_null=True, help_text="A vendor account id; default: the route for the product"
    )


class CallAttemptSerializer(FixedFieldsMixin, serializers.ModelSerializer):
    outcome = BlankAsNullChoiceField(
        choices=OUTCOME_CHOICES, read_only=True, help_text=_("null until the vendor reports the call")
    )

    class Meta:
        model = CallRecord
        fields = [
            "id",
            "attempt",
            "account",
            "custom_id",
            "vendor_message_id",
            "state",
            "outcome",
            "raw_code",
            "raw_message",
            "talk_seconds",
            "billed_seconds",
            "billed_units",
            "key_pressed",
            "submitted_at",
            "reported_at",
        ]
        read_only_fields = fields


class SingleCallSerializer(FixedFieldsMixin, serializers.ModelSerializer):
    """A single call as its caller sees it: the latest attempt's state and result, and every attempt."""

    state = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()
    raw_code = serializers.SerializerMethodField()
    raw_message = serializers.SerializerMethodField()
    talk_seconds = serializers.SerializerMethodField()
    billed_seconds = serializers.SerializerMethodField()
    key_pressed = serializers.SerializerMethodField()
    submitted_at = serializers.SerializerMethodField()
    reported_at = serializers.SerializerMethodField()
    attempts = CallAttemptSerializer(many=True, read_only=True, source="attempt_records")

    class Meta:
        model = SingleCall
        fields = [
            "id",
            "out_id",
            "mobile",
            "product",
            "account",
            "template",
            "state",
            "outcome",
            "raw_code",
            "raw_message",
            "talk_seconds",
            "billed_seconds",
            "key_pressed",
            "created_at",
            "submitted_at",
            "reported_at",
            "attempts",
        ]
        read_only_fields = fields

    @staticmethod
    def _latest(call):
        attempts = call.attempt_records
        return attempts[-1] if attempts else None

    def _field(self, call, name, default=None):
        latest = self._latest(call)
        return getattr(latest, name) if latest is not None else default

    @extend_schema_field(serializers.ChoiceField(choices=CallRecord.State.choices))
    def get_state(self, call) -> str:
        return self._field(call, "state", CallRecord.State.QUEUED)

    @extend_schema_field(
        BlankAsNullChoiceField(choices=OUTCOME_CHOICES, help_text=_("null until the vendor reports the call"))
    )
    def get_outcome(self, call) -> str | None:
        return self._field(call, "outcome", "") or None

    def get_raw_code(self, call) -> str:
        return self._field(call, "raw_code", "")

    def get_raw_message(self, call) -> str:
        return self._field(call, "raw_message", "")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_talk_seconds(self, call):
        return self._field(call, "talk_seconds")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_billed_seconds(self, call):
        return self._field(call, "billed_seconds")

    def get_key_pressed(self, call) -> str:
        return self._field(call, "key_pressed", "")

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_submitted_at(self, call):
        value = self._field(call, "submitted_at")
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_reported_at(self, call):
        value = self._field(call, "reported_at")
        return serializers.DateTimeField().to_representation(value) if value else None
