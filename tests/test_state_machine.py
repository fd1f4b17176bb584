"""The call state machine: legal moves happen once, illegal ones are refused, finals never move back."""

import pytest

from campaigns.models import CallRecord, IllegalTransition
from tests.factories import make_campaign


@pytest.fixture
def call(db):
    campaign = make_campaign(recipients=1)
    from campaigns.lifecycle import queue_first_attempts

    queue_first_attempts(campaign)
    return CallRecord.objects.get(campaign=campaign)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("queued", "answered"),
        ("queued", "submitted"),
        ("answered", "failed"),
        ("failed", "queued"),
        ("submit_failed", "submitted"),
        ("cancelled", "queued"),
        ("submitted", "queued"),
    ],
)
def test_illegal_transitions_are_refused(old, new):
    with pytest.raises(IllegalTransition):
        CallRecord.check_transition(old, new)


def test_a_legal_move_happens_once(call):
    stale = CallRecord.objects.get(pk=call.pk)
    assert call.move_to("submitting") is True
    assert stale.move_to("submitting") is False  # the other writer lost: nothing changed
    assert CallRecord.objects.get(pk=call.pk).state == "submitting"


def test_final_state_never_moves_back(call):
    assert call.move_to("submitting") and call.move_to("submitted") and call.move_to("answered")
    with pytest.raises(IllegalTransition):
        call.move_to("failed")
    assert CallRecord.objects.get(pk=call.pk).state == "answered"
