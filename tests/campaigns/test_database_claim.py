"""Claiming due single-call attempts: the one-statement path (PostgreSQL) and its fallback take the same rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.database import claim
from campaigns.models import CallRecord, SingleCall
from tests.factories import make_account, make_campaign

pytestmark = pytest.mark.django_db


def attempt(account, n, **fields) -> CallRecord:
    call = SingleCall.objects.create(product="verify", mobile=f"+86138001380{n:02d}", account=account, variables=["1"])
    return CallRecord.objects.create(single_call=call, account=account, mobile=call.mobile, custom_id=f"S{n}", **fields)


@pytest.fixture(params=["one_statement", "transaction"])
def claim_due(request):
    if request.param == "one_statement" and not claim.is_postgresql():
        pytest.skip("PostgreSQL only")
    return {"one_statement": claim._claim_in_one_statement, "transaction": claim._claim_in_a_transaction}[request.param]


def test_only_due_queued_single_calls_are_claimed_oldest_first_up_to_the_limit(claim_due):
    account = make_account()
    now = timezone.now()
    due = [attempt(account, n) for n in range(3)]
    due.append(attempt(account, 3, not_before=now - timedelta(seconds=1)))
    attempt(account, 4, not_before=now + timedelta(minutes=1))  # not yet
    attempt(account, 5, state="submitted")  # already sent
    campaign = make_campaign(recipients=2)
    services.launch(campaign)
    assert campaign.calls.filter(state="queued").count() == 2  # the campaign dispatcher's, not a drain's
    assert claim_due(2, now) == [due[0].pk, due[1].pk]
    assert claim_due(10, now) == [due[2].pk, due[3].pk]
    assert claim_due(10, now) == []
    claimed = CallRecord.objects.filter(pk__in=[a.pk for a in due])
    assert {(c.state, c.submitted_at) for c in claimed} == {("submitting", now)}
