"""Query filters for the API lists.

As strict as the schema: an integer is an integer (``attempt=1.5`` is refused, not rounded), a
boolean is ``true`` or ``false``, a parameter given empty (``?state=``) is refused rather than
ignored. An id of an object that does not exist filters to nothing (it is a valid id, just not
one of yours), instead of a 400.
"""

from datetime import UTC
from decimal import Decimal, InvalidOperation

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from vendors.models import VendorAccount

from ..models import OUTCOME_CHOICES, SINGLE_CALL_PRODUCT_CHOICES, CallRecord, Campaign, SingleCall, VoiceTemplate
from ..phones import InvalidNumber, normalize

BIGINT = 2**63 - 1


class IntegralField(forms.Field):
    """A whole number, however it is spelt (``7``, ``7.0``, ``7e3``); ``7.5`` is refused."""

    default_error_messages = {
        "invalid": _("Enter a whole number."),
        "range": _("Enter a whole number from %(low)d to %(high)d."),
    }

    def __init__(self, *, low: int | None = None, high: int | None = None, **kwargs):
        self.low, self.high = low, high
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number != number.to_integral_value():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if self.low is not None and not self.low <= number <= self.high:
            raise forms.ValidationError(
                self.error_messages["range"], code="range", params={"low": self.low, "high": self.high}
            )
        return int(number)


class IntegerFilter(django_filters.Filter):
    field_class = IntegralField

    def filter(self, qs, value):
        if value is not None and abs(value) > BIGINT:
            return qs.none()  # no row has such an id or count
        return super().filter(qs, value)


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


class PhoneField(forms.CharField):
    """A number in any spelling, as E.164; a text that is no number is refused with the reason."""

    default_error_messages = {
        "invalid": _("“%(value)s” cannot be matched: %(reason)s. Any common spelling works, e.g. 13800138000."),
    }

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return normalize(text)
        except InvalidNumber as exc:
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"value": text[:40], "reason": exc}
            ) from exc


class PhoneFilter(django_filters.Filter):
    """Numbers are stored in E.164: any spelling matches, and a text that is no number is a 400."""

    field_class = PhoneField


class StrictFilterSet(django_filters.FilterSet):
    """A filter given with an empty value is an error (``?state=`` names no state), not ignored.

    Text filters are the exception: an empty text is still a text (it filters nothing out).
    """

    def get_form_class(self):
        base = super().get_form_class()
        names = [name for name, f in self.filters.items() if not isinstance(f, django_filters.CharFilter)]

        def clean(form):
            cleaned = base.clean(form)
            for name in names:
                if name in form.data and form.data.get(name) == "":
                    form.add_error(name, forms.ValidationError(_("This value may not be empty."), code="blank"))
            return cleaned

        return type(base.__name__, (base,), {"clean": clean})


class ExactTextFilter(django_filters.CharFilter):
    """Exactly this text, the empty one too: ``?out_id=`` finds the calls placed without a reference,
    not every call (a caller whose reference came out empty would take someone else's call)."""

    def filter(self, qs, value):
        if self.field_name not in getattr(self.parent, "data", {}):
            return qs  # not asked for
        return qs.filter(**{self.field_name: value or ""})


class CallRecordFilter(StrictFilterSet):
    state = django_filters.ChoiceFilter(choices=CallRecord.State.choices)
    outcome = django_filters.ChoiceFilter(choices=OUTCOME_CHOICES)
    mobile = PhoneFilter(help_text="Any spelling: 13800138000, +86 138-0013-8000, …; a text that is no number is a 400")
    attempt = IntegerFilter(low=0, high=32767)  # the column's range, as the schema says
    is_test = BooleanFilter(help_text="Test calls made before launch (not in the statistics)")

    class Meta:
        model = CallRecord
        fields = ["state", "outcome", "mobile", "attempt", "is_test"]


class CampaignFilter(StrictFilterSet):
    state = django_filters.ChoiceFilter(choices=Campaign.State.choices)
    product = django_filters.ChoiceFilter(choices=Campaign._meta.get_field("product").choices)
    account = IntegerFilter(field_name="account_id", help_text="A vendor account id")

    class Meta:
        model = Campaign
        fields = ["state", "product", "account"]


class VoiceTemplateFilter(StrictFilterSet):
    account = IntegerFilter(field_name="account_id", help_text="A vendor account id")
    review_state = django_filters.ChoiceFilter(choices=VoiceTemplate.Review.choices)

    class Meta:
        model = VoiceTemplate
        fields = ["account", "review_state"]


class VendorAccountFilter(StrictFilterSet):
    vendor = django_filters.ChoiceFilter(choices=VendorAccount._meta.get_field("vendor").choices)
    is_active = BooleanFilter()

    class Meta:
        model = VendorAccount
        fields = ["vendor", "is_active"]


class UTCDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time with any offset, handed to the database in UTC (PostgreSQL refuses odd offsets)."""

    def to_python(self, value):
        moment = super().to_python(value)
        try:
            return moment.astimezone(UTC) if moment is not None and moment.tzinfo else moment
        except OverflowError as exc:
            raise forms.ValidationError(_("Enter a valid date/time."), code="invalid") from exc


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class SingleCallFilter(StrictFilterSet):
    out_id = ExactTextFilter(help_text="Your own reference, exactly (empty: the calls placed without one)")
    state = django_filters.ChoiceFilter(choices=CallRecord.State.choices, help_text="Of the latest attempt")
    outcome = django_filters.ChoiceFilter(choices=OUTCOME_CHOICES, help_text="Of the latest attempt")
    mobile = PhoneFilter(help_text="Any spelling: 13800138000, +86 138-0013-8000, …; a text that is no number is a 400")
    product = django_filters.ChoiceFilter(choices=SINGLE_CALL_PRODUCT_CHOICES)
    account = IntegerFilter(field_name="account_id", help_text="A vendor account id")
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = SingleCall
        fields = ["out_id", "state", "outcome", "mobile", "product", "account"]
