"""Dispatch rules: quiet hours, per-number limits, the circuit breaker and the fallback account."""

from datetime import time, timedelta

from django.utils import timezone

from campaigns import dispatch, services, tasks
from campaigns.models import CallRecord, Campaign
from tests.factories import make_account, make_campaign
from tests.fakes.ihuyi import FakeIhuyi


def ihuyi_account(fake, **fields):
    return make_account("ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey, **fields)


def test_quiet_hours_hold_calls(db):
    now = timezone.localtime()
    closed_from = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    closed_to = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    campaign = make_campaign(recipients=3, quiet_hours_start=closed_from, quiet_hours_end=closed_to)
    assert not campaign.in_calling_hours()
    services.launch(campaign)
    tasks.tick()
    assert CallRecord.objects.filter(state="queued").count() == 3
    Campaign.objects.filter(pk=campaign.pk).update(quiet_hours_start=time(0), quiet_hours_end=time(0))
    tasks.tick()
    assert CallRecord.objects.filter(state="submitted").count() == 3


def test_per_number_limits_hold_a_second_call_to_the_same_number(db, start_fake):
    fake = start_fake(FakeIhuyi())
    account = ihuyi_account(fake)
    first = make_campaign(recipients=1, account=account, content="通知【name】【order】")
    second = make_campaign(recipients=1, account=account, content="通知【name】【order】")  # the same number
    for campaign in (first, second):
        services.launch(campaign)
        dispatch.dispatch_campaign(campaign.pk, budget_seconds=1)
    held = CallRecord.objects.get(campaign=second)
    assert held.state == "queued" and held.not_before > timezone.now()
    assert len(fake.submitted) == 1  # the vendor never saw the second call


def test_circuit_opens_and_the_fallback_account_takes_over(db, start_fake):
    fake = start_fake(FakeIhuyi())
    fake.enforce_number_limits = False
    primary = ihuyi_account(fake)
    fallback = make_account()  # the simulator
    campaign = make_campaign(recipients=8, account=primary, fallback_account=fallback, content="通知【name】【order】")
    services.launch(campaign)
    fake.inject(*["500"] * 8)
    dispatch.dispatch_campaign(campaign.pk, budget_seconds=2)
    primary.refresh_from_db()
    assert primary.circuit_is_open and "HTTP 500" in primary.last_error
    CallRecord.objects.filter(campaign=campaign, state="queued").update(not_before=None)  # backoff elapsed
    dispatch.dispatch_campaign(campaign.pk, budget_seconds=2)
    calls = CallRecord.objects.filter(campaign=campaign)
    assert fake.submitted == []  # every request to the primary failed: it took no call
    assert calls.filter(account=fallback, state="submitted").count() == 8
