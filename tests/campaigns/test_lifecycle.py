"""campaigns.lifecycle: the beat's completion sweep moves campaigns through the state machine."""

from campaigns import lifecycle
from campaigns.models import CallRecord, Campaign
from tests.factories import make_campaign


def test_the_sweep_completes_only_running_campaigns_with_nothing_open(db):
    done, busy, skipped, paused = (make_campaign(recipients=1) for _ in range(4))
    for campaign in (done, busy, skipped, paused):
        lifecycle.queue_first_attempts(campaign)
    Campaign.objects.filter(pk__in=[done.pk, busy.pk, skipped.pk]).update(state="running")
    Campaign.objects.filter(pk=paused.pk).update(state="paused")
    CallRecord.objects.exclude(campaign=busy).update(state="answered", outcome="answered")

    assert lifecycle.complete_running_campaigns(excluding=[skipped.pk]) == 1

    states = dict(Campaign.objects.values_list("pk", "state"))
    assert states == {done.pk: "completed", busy.pk: "running", skipped.pk: "running", paused.pk: "paused"}
    assert Campaign.objects.get(pk=done.pk).completed_at is not None
