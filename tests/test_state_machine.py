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


# ---- the table governs every write
def test_groups_of_states_agree_with_the_table():
    final = {state for state, targets in CallRecord.TRANSITIONS.items() if not targets} | {"expired"}
    assert set(CallRecord.FINAL_STATES) == final
    assert set(CallRecord.OPEN_STATES) == set(CallRecord.TRANSITIONS) - final
    assert set(CallRecord.IN_FLIGHT_STATES) == set(CallRecord.OPEN_STATES) - {"queued"}
    assert set(CallRecord.FAILED_STATES) < set(CallRecord.FINAL_STATES) and "answered" not in CallRecord.FAILED_STATES
    # a report applies wherever answered and failed may both be reached, and nowhere else
    assert CallRecord.reportable_states() == CallRecord.sources("failed") == ("submitting", "submitted", "expired")


def test_transition_moves_only_rows_the_table_allows(call):
    other = CallRecord.objects.create(
        campaign=call.campaign, recipient=call.recipient, attempt=2, mobile=call.mobile, custom_id="X2", state="failed"
    )
    moved = CallRecord.transition(CallRecord.objects.filter(pk__in=[call.pk, other.pk]), "cancelled")
    assert moved == 1
    assert CallRecord.objects.get(pk=call.pk).state == "cancelled"
    assert CallRecord.objects.get(pk=other.pk).state == "failed"  # a final state is never moved


def test_campaign_transitions_are_derived_from_its_actions():
    from campaigns.models import Campaign

    assert Campaign.TRANSITIONS["cancelled"] == set()
    # the operator's retry of failed calls reopens a completed campaign: the table says so
    assert Campaign.TRANSITIONS["completed"] == {"running"}
    assert Campaign.sources("completed") == ("running",)
    assert Campaign(state="draft").allowed_actions() == {"launch", "schedule", "cancel"}
    assert Campaign(state="completed").allowed_actions() == {"retry_failed"}
    assert Campaign(state="paused").allowed_actions() == {"schedule", "resume", "cancel", "retry_failed"}
    with pytest.raises(IllegalTransition):
        Campaign.check_transition("cancelled", "running")


def test_retry_failed_reopens_a_completed_campaign_through_the_table(call):
    from campaigns import services
    from campaigns.models import Campaign

    campaign = call.campaign
    Campaign.objects.filter(pk=campaign.pk).update(state="completed")
    CallRecord.objects.filter(pk=call.pk).update(state="failed", outcome="no_answer")
    campaign.refresh_from_db()
    assert services.retry_failed(campaign) == 1
    campaign.refresh_from_db()
    assert (campaign.state, campaign.completed_at) == ("running", None)
    # a cancelled campaign is not reopened by anything
    Campaign.objects.filter(pk=campaign.pk).update(state="cancelled")
    campaign.refresh_from_db()
    assert not campaign.can_become("running")


@pytest.mark.parametrize("finished", ["completed", "cancelled"])
def test_a_finished_campaign_cannot_be_launched_again(finished, db):
    """Each action moves by its own moves: a retry of failed calls may reopen a completed campaign,
    a launch may not (it would overwrite when it ran and announce its completion a second time)."""
    from apikeys.scopes import MANAGE_CAMPAIGNS
    from campaigns.models import Campaign
    from tests.apikeys.test_api_keys import key_client
    from tests.factories import make_campaign

    campaign = make_campaign(recipients=1)
    Campaign.objects.filter(pk=campaign.pk).update(state=finished)
    client, _key, _secret = key_client(MANAGE_CAMPAIGNS)
    for body in ({}, {"at": "2099-01-01T09:00:00+08:00"}):
        response = client.post(f"/api/campaigns/{campaign.pk}/launch/", body, format="json")
        assert response.status_code == 409, response.json()
    campaign.refresh_from_db()
    assert campaign.state == finished and campaign.launched_at is None
    assert not CallRecord.objects.filter(campaign=campaign).exists()
