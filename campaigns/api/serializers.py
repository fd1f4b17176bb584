"""REST serializers: the shapes the API reads and answers (docs/architecture.md, "Layers").

Writes go through ``campaigns.services``; these classes only validate input and shape output.
Some serializers exist only to document a response in the OpenAPI schema (``*Doc``).
"""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from vendors.models import VendorAccount

from ..models import OUTCOME_CHOICES, SINGLE_CALL_PRODUCT_CHOICES, CallRecord, Campaign, RecipientImport, SingleCall
from ..readers import UnreadableFile, check_upload
from ..selectors import import_figures

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


class ErrorSerializer(serializers.Serializer):
    """Documentation: the body of a refused request."""

    detail = serializers.CharField()


# ---- campaigns
class CampaignSerializer(serializers.ModelSerializer):
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
        ]
        read_only_fields = ["state", "created_at", "launched_at", "completed_at"]

    def validate(self, attrs):
        # The model's own rules (template of the same account, content or template, known outcomes);
        # a Django ValidationError raised here becomes a 400 with the message.
        Campaign(**attrs).clean()
        return attrs


class LaunchSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text=_("Start at this time instead of now. Without it, a future start time set on the campaign is kept."),
    )


class TimelineSlotSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
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
    answer_rate = serializers.FloatField(allow_null=True)
    avg_talk_seconds = serializers.FloatField(allow_null=True)
    billed_units = serializers.IntegerField()
    cost = serializers.CharField(allow_null=True, help_text="CNY, when the account has a price per unit")
    first_submitted_at = serializers.DateTimeField(allow_null=True)
    last_reported_at = serializers.DateTimeField(allow_null=True)
    timeline = TimelineSlotSerializer(many=True)


class CallRecordSerializer(serializers.ModelSerializer):
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
class RecipientRowSerializer(serializers.Serializer):
    """Documentation: one JSON recipient."""

    mobile = serializers.CharField(help_text="Any common spelling: 13800138000, +86 138 0013 8000, 010-12345678")
    variables = serializers.ListField(child=serializers.CharField(), required=False, help_text="In template order")


@extend_schema_field(RecipientRowSerializer(many=True))
class RecipientRowsField(serializers.Field):
    """A list of ``{"mobile", "variables"}`` objects, checked for shape with 1-based line numbers.

    Number and variable checks are the import's (they come back in ``rejected``); this field only
    refuses what cannot be read at all, and a list too long for one request.
    """

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


def _scalar(value) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _read_row(item) -> tuple[str | None, dict | None]:
    if not isinstance(item, dict):
        return gettext("each recipient must be an object with “mobile” and “variables”"), None
    mobile = item.get("mobile")
    if mobile is None:
        mobile = ""  # the import rejects it as an empty number, with its line
    if not _scalar(mobile):
        return gettext("“mobile” must be a string"), None
    variables = item.get("variables")
    if variables is None:
        variables = []
    if not isinstance(variables, list) or not all(_scalar(v) for v in variables):
        return gettext("“variables” must be a list of strings"), None
    return None, {"mobile": str(mobile), "variables": [str(v) for v in variables]}


class RecipientListSerializer(serializers.Serializer):
    recipients = RecipientRowsField()


class RecipientFileSerializer(serializers.Serializer):
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
    """A file import; while it runs, the live counts come from the cache the importer writes."""

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


class VendorAccountSerializer(serializers.ModelSerializer):
    """Read-only; the secret is only ever shown masked, the callback token not at all."""

    api_secret_masked = serializers.CharField(source="masked_secret", read_only=True)
    balance = serializers.SerializerMethodField()
    low_balance = serializers.SerializerMethodField()
    circuit_open = serializers.BooleanField(source="circuit_is_open", read_only=True)

    class Meta:
        model = VendorAccount
        fields = [
            "id",
            "vendor",
            "name",
            "base_url",
            "api_id",
            "api_secret_masked",
            "user_id",
            "is_active",
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
        ]
        read_only_fields = fields

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


# ---- single calls
class SingleCallRequestSerializer(serializers.Serializer):
    """The body of ``POST /api/calls/``; the service checks what depends on the account."""

    mobile = serializers.CharField(max_length=40, help_text="Any common spelling; answered as E.164")
    product = serializers.ChoiceField(choices=SINGLE_CALL_PRODUCT_CHOICES)
    code = serializers.CharField(
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


class CallAttemptSerializer(serializers.ModelSerializer):
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


class SingleCallSerializer(serializers.ModelSerializer):
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

    @extend_schema_field(serializers.CharField(help_text="Empty until a result is known; else an outcome"))
    def get_outcome(self, call) -> str:
        return self._field(call, "outcome", "")

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


class FrequencyLimitSerializer(serializers.Serializer):
    """Documentation: the body of a call refused by a frequency limit (HTTP 429)."""

    detail = serializers.CharField()
    code = serializers.CharField()
    limit = serializers.ChoiceField(choices=[("number", "number"), ("vendor", "vendor"), ("daily_cap", "daily_cap")])
    window = serializers.CharField(help_text="e.g. number:1/1min")
    window_seconds = serializers.IntegerField()
    max_calls = serializers.IntegerField()
    frees_at = serializers.DateTimeField()
    retry_after = serializers.IntegerField(help_text="Seconds; also in the Retry-After header")
