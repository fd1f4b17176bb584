"""Answer rates, per attempt and per number, one definition shown everywhere; cancelled calls are
not unanswered; test calls stay out of every figure (issue 11)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import selectors, services
from campaigns.models import CallRecord, Recipient
from tests.api.helpers import client_for
from tests.factories import make_campaign
from tests.test_admin_pages import login

pytestmark = pytest.mark.django_db


def campaign_with_retries():
    """Four numbers: A failed then answered, B answered, C failed twice, D answered.

    Per attempt: 3 answered of 6 ended = 50.0 %; per number: 3 of 4 = 75.0 %.
    """
    campaign = make_campaign(recipients=4, max_attempts=2)
    services.launch(campaign)
    now = timezone.now()
    a, b, c, d = Recipient.objects.filter(campaign=campaign).order_by("id")
    first = {call.recipient_id: call for call in CallRecord.objects.filter(campaign=campaign)}

    def finish(call, state):
        outcome = "answered" if state == "answered" else "busy"
        CallRecord.objects.filter(pk=call.pk).update(
            state=state, outcome=outcome, submitted_at=now - timedelta(hours=1), reported_at=now
        )

    for recipient, state in ((a, "failed"), (b, "answered"), (c, "failed"), (d, "answered")):
        finish(first[recipient.pk], state)
    for recipient, state in ((a, "answered"), (c, "failed")):
        second = CallRecord.objects.create(
            campaign=campaign, recipient=recipient, attempt=2, mobile=recipient.mobile, custom_id=f"R{recipient.pk}A2"
        )
        finish(second, state)
    return campaign


def test_both_rates_in_the_statistics_the_api_and_the_page(client):
    """As reported: the page showed answered ÷ attempts (63.2 %) where a marketer reads per number (80.7 %)."""
    campaign = campaign_with_retries()
    stats = selectors.campaign_stats(campaign)
    assert (stats["answer_rate_per_attempt"], stats["answer_rate_per_number"]) == (0.5, 0.75)
    assert (stats["ended_attempts"], stats["numbers_ended"]) == (6, 4)
    body = client_for("Marketing").get(f"/api/campaigns/{campaign.pk}/stats/").json()
    assert (body["answer_rate_per_attempt"], body["answer_rate_per_number"]) == (0.5, 0.75)
    login(client, "Marketing")
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="vo-answer-rate-number" data-vo-text="answer_rate_per_number">75.0%<' in page
    assert 'id="vo-answer-rate" data-vo-text="answer_rate_per_attempt">50.0%<' in page
    assert "Answer rate per number" in page and "Answer rate per attempt" in page
    progress = client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress.json").json()
    assert (progress["answer_rate_per_number"], progress["answer_rate_per_attempt"]) == ("75.0%", "50.0%")
    home = client.get("/admin/").content.decode()
    assert "answer rate per number" in home and ">75.0%<" in home


def test_a_campaign_cancelled_before_dialling_has_no_unanswered_calls(client):
    """As reported: "Final: 4 (answered 0, not answered 4)" for a campaign cancelled before dialling."""
    campaign = make_campaign(recipients=4)
    services.launch(campaign)
    services.cancel(campaign)
    login(client, "Marketing")
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="vo-final">4<' in page
    assert 'id="vo-failed">0<' in page and 'id="vo-count-cancelled">4<' in page
    stats = selectors.campaign_stats(campaign)
    assert stats["answer_rate_per_attempt"] is None and stats["ended_attempts"] == 0


def test_test_calls_stay_out_of_the_hourly_chart():
    """As reported (on the embedded SQLite default): a test call showed in "Results per hour"."""
    campaign = campaign_with_retries()
    test_call = CallRecord.objects.create(
        campaign=campaign,
        recipient=campaign.recipients.first(),
        attempt=0,
        mobile="+8613900139000",
        is_test=True,
        custom_id="T1",
        state="answered",
        reported_at=timezone.now(),
    )
    assert test_call.pk
    for timeline in (selectors.hourly_timeline(campaign), selectors.timeline_from_records(campaign)):
        assert sum(slot["answered"] + slot["not_answered"] for slot in timeline) == 6
    cancelled = make_campaign(recipients=2)
    services.launch(cancelled)
    CallRecord.objects.filter(campaign=cancelled).update(state="cancelled", reported_at=timezone.now())
    assert selectors.hourly_timeline(cancelled) == [] == selectors.timeline_from_records(cancelled)
