"""The period a reporting page shows, read from its query string (local days, both ends included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class DatePicker(forms.DateInput):
    """The browser's date picker: its value is always yyyy-MM-dd, whatever the interface language
    (Chinese formats dates as yyyy/MM/dd, which the picker refuses and shows empty)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("from"), required=False, widget=DatePicker)
    end = forms.DateField(label=gettext_lazy("to"), required=False, widget=DatePicker)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start of the period is after its end."))
        if start and end and (end - start).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose a period of at most %(days)d days.") % {"days": MAX_DAYS})
        return data


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    @property
    def since(self) -> datetime:
        return _day_start(self.start)

    @property
    def until(self) -> datetime:
        return _day_start(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def from_request(cls, request) -> tuple[Period, PeriodForm]:
        today = timezone.localdate()
        form = PeriodForm(request.GET or None)
        start = end = None
        if form.is_bound and form.is_valid():
            start, end = form.cleaned_data.get("start"), form.cleaned_data.get("end")
        end = end or today
        start = start or end - timedelta(days=DEFAULT_DAYS - 1)
        if not form.is_bound:
            form = PeriodForm(initial={"start": start, "end": end})
        return cls(start, end), form
