"""Query filters for the API lists."""

from datetime import UTC

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import OUTCOME_CHOICES, SINGLE_CALL_PRODUCT_CHOICES, CallRecord, SingleCall
from ..phones import InvalidNumber, normalize


class CallRecordFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CallRecord.State.choices)
    outcome = django_filters.ChoiceFilter(choices=OUTCOME_CHOICES)
    mobile = django_filters.CharFilter(
        method="filter_mobile", help_text="Any spelling: 13800138000, +86 138-0013-8000, …"
    )
    attempt = django_filters.NumberFilter()
    is_test = django_filters.BooleanFilter(help_text="Test calls made before launch (not in the statistics)")

    class Meta:
        model = CallRecord
        fields = ["state", "outcome", "mobile", "attempt", "is_test"]

    def filter_mobile(self, queryset, name, value):
        """Numbers are stored in E.164; a text that does not normalize is matched as given."""
        try:
            value = normalize(value)
        except InvalidNumber:
            value = value.strip()
        return queryset.filter(mobile=value)


class UTCDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time with any offset, handed to the database in UTC (PostgreSQL refuses odd offsets)."""

    def to_python(self, value):
        moment = super().to_python(value)
        try:
            return moment.astimezone(UTC) if moment is not None and moment.tzinfo else moment
        except OverflowError as exc:
            raise forms.ValidationError(_("Enter a valid date/time.")) from exc


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class SingleCallFilter(django_filters.FilterSet):
    out_id = django_filters.CharFilter(help_text="Your own reference, exactly")
    state = django_filters.ChoiceFilter(choices=CallRecord.State.choices, help_text="Of the latest attempt")
    outcome = django_filters.ChoiceFilter(choices=OUTCOME_CHOICES, help_text="Of the latest attempt")
    mobile = django_filters.CharFilter(
        method="filter_mobile", help_text="Any spelling: 13800138000, +86 138-0013-8000, …"
    )
    product = django_filters.ChoiceFilter(choices=SINGLE_CALL_PRODUCT_CHOICES)
    account = django_filters.NumberFilter(field_name="account_id")
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = SingleCall
        fields = ["out_id", "state", "outcome", "mobile", "product", "account"]

    filter_mobile = CallRecordFilter.filter_mobile
