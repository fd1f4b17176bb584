"""Query filters for the API lists.

Strict where the schema is: an integer is an integer (``attempt=1.5`` is refused, not rounded),
a boolean is ``true`` or ``false``. An id of an object that does not exist filters to nothing
(it is a valid id, just not one of yours), instead of a 400.
"""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from vendors.models import VendorAccount

from ..models import OUTCOME_CHOICES, CallRecord, Campaign, VoiceTemplate
from ..phones import InvalidNumber, normalize


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class StrictBooleanField(forms.Field):
    default_error_messages = {"invalid": _("Enter true or false.")}

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text not in ("true", "false"):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return text == "true"


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class CallRecordFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CallRecord.State.choices)
    outcome = django_filters.ChoiceFilter(choices=OUTCOME_CHOICES)
    mobile = django_filters.CharFilter(
        method="filter_mobile", help_text="Any spelling: 13800138000, +86 138-0013-8000, …"
    )
    attempt = IntegerFilter()
    is_test = BooleanFilter(help_text="Test calls made before launch (not in the statistics)")

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


class CampaignFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Campaign.State.choices)
    product = django_filters.ChoiceFilter(choices=Campaign._meta.get_field("product").choices)
    account = IntegerFilter(field_name="account_id", help_text="A vendor account id")

    class Meta:
        model = Campaign
        fields = ["state", "product", "account"]


class VoiceTemplateFilter(django_filters.FilterSet):
    account = IntegerFilter(field_name="account_id", help_text="A vendor account id")
    review_state = django_filters.ChoiceFilter(choices=VoiceTemplate.Review.choices)

    class Meta:
        model = VoiceTemplate
        fields = ["account", "review_state"]


class VendorAccountFilter(django_filters.FilterSet):
    vendor = django_filters.ChoiceFilter(choices=VendorAccount._meta.get_field("vendor").choices)
    is_active = BooleanFilter()

    class Meta:
        model = VendorAccount
        fields = ["vendor", "is_active"]
