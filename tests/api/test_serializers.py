"""FixedFieldsMixin: fields built once per class, still fresh per instance and still translated."""

from django.utils import translation
from rest_framework import serializers

from campaigns.api.serializers import CallAttemptSerializer, SingleCallSerializer
from campaigns.models import CallRecord
from voiceops.api.serializers import FixedFieldsMixin


class PlainAttempt(serializers.ModelSerializer):
    class Meta:
        model = CallRecord
        fields = ["id", "state", "outcome", "talk_seconds", "submitted_at"]
        read_only_fields = fields


class FixedAttempt(FixedFieldsMixin, PlainAttempt):
    pass


def test_builds_the_fields_once_and_answers_as_the_plain_serializer():
    record = CallRecord(id=7, state="answered", outcome="answered", talk_seconds=12)
    assert FixedAttempt(record).data == PlainAttempt(record).data
    first, second = FixedAttempt(record), FixedAttempt(record)
    assert "_fixed_fields" in FixedAttempt.__dict__
    assert "_fixed_fields" not in PlainAttempt.__dict__  # a subclass's cache is its own
    assert first.fields["state"] is not second.fields["state"]  # each instance binds its own copies
    assert first.fields["state"].parent is first and second.fields["state"].parent is second


def test_the_language_of_the_first_request_does_not_stick():
    class Fresh(FixedFieldsMixin, PlainAttempt):
        pass

    with translation.override("zh-hans"):
        chinese = str(Fresh().fields["state"].label)
    with translation.override("en"):
        english = str(Fresh().fields["state"].label)
    assert chinese != english
    assert english == "State"


def test_single_call_serializers_use_it():
    assert issubclass(SingleCallSerializer, FixedFieldsMixin)
    assert issubclass(CallAttemptSerializer, FixedFieldsMixin)
