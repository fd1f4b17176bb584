"""Dispatch on real Celery workers: a worker killed mid-batch never causes a second dial."""

import signal
from collections import Counter
from datetime import timedelta

import pytest

from campaigns import dispatch, services
from campaigns.models import CallRecord
from campaigns.tasks import tick
from tests.conftest import wait_for
from tests.factories import make_account, make_campaign
from tests.fakes.ihuyi import FakeIhuyi

pytestmark = pytest.mark.worker


def test_sigkill_mid_batch_dials_no_number_twice_and_loses_none(worker, start_fake):
    fake = start_fake(FakeIhuyi())
    fake.enforce_number_limits = False
    fake.delay = 0.25  # a slow vendor, so the kill lands while requests are in flight
    account = make_account(
        "ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey, rate_limit_per_second=100
    )
    campaign = make_campaign(
        recipients=150, account=account, content="您的订单【order】已发货【name】", rate_limit_per_second=100
    )
    services.launch(campaign)

    first = worker(queues="dispatch")
    tick.apply_async(queue="dispatch")
    assert wait_for(lambda: len(fake.requests) >= 40, timeout=60), "the worker should be dialling"
    first.kill(signal.SIGKILL)
    stuck_at_kill = set(
        CallRecord.objects.filter(campaign=campaign, state="submitting").values_list("mobile", flat=True)
    )
    assert stuck_at_kill, "the kill should catch calls in flight"

    # The killed worker's lease would expire on its own after a while; the test does not wait.
    type(campaign).objects.filter(pk=campaign.pk).update(dispatch_lease_until=None)
    fake.delay = 0
    worker(queues="dispatch")

    def all_sent():
        """Nothing queued, and the second worker's last batch recorded (not still in its hands)."""
        tick.apply_async(queue="dispatch")
        calls = CallRecord.objects.filter(campaign=campaign)
        in_flight = set(calls.filter(state="submitting").values_list("mobile", flat=True)) - stuck_at_kill
        return not calls.filter(state="queued").exists() and not in_flight

    assert wait_for(all_sent, timeout=90, interval=1.0)

    dialled = Counter("+86" + item["mobile"] for item in fake.submitted)
    assert dialled and max(dialled.values()) == 1, "a number was dialled twice"
    calls = CallRecord.objects.filter(campaign=campaign)
    assert calls.count() == 150  # one attempt each, none lost, none duplicated
    by_state = Counter(calls.values_list("state", flat=True))
    assert by_state["submitted"] + by_state["submitting"] == 150
    # Rows caught in flight stay for reconciliation: never re-sent blindly.
    still_stuck = set(calls.filter(state="submitting").values_list("mobile", flat=True))
    assert still_stuck <= stuck_at_kill
    for mobile in calls.filter(state="submitted").values_list("mobile", flat=True):
        assert dialled[mobile] == 1
    # An operator later sees them flagged, not silently dialled again.
    type(campaign).objects.filter(pk=campaign.pk).update(report_window_minutes=0)
    flagged = dispatch.reconcile_stuck(older_than=timedelta(0))
    assert flagged == len(still_stuck)
    assert Counter("+86" + item["mobile"] for item in fake.submitted) == dialled
