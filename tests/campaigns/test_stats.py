"""Statistics: the trigger-kept counters always equal a count of the records themselves."""

from collections import Counter
from decimal import Decimal

from django.db.models import Count

from campaigns import selectors, services
from campaigns.models import CallRecord
from tests.factories import make_account, make_campaign, run_until_done


def truth(campaign):
    rows = CallRecord.objects.filter(campaign=campaign).values("state", "outcome").annotate(n=Count("id"))
    by_state, by_outcome = Counter(), Counter()
    for row in rows:
        by_state[row["state"]] += row["n"]
        if row["outcome"]:
            by_outcome[row["outcome"]] += row["n"]
    return dict(by_state), dict(by_outcome)


def test_counters_follow_every_change_of_a_campaign(db):
    account = make_account(
        options={"seed": 4, "answer_rate": 0.5, "report_delay": [0, 0]},
        pull_reports=True,
        price_per_unit=Decimal("0.10"),
    )
    campaign = make_campaign(recipients=60, account=account, max_attempts=2, retry_delay_minutes=0)
    services.launch(campaign)
    campaign.refresh_from_db()
    stats = selectors.campaign_stats(campaign)
    assert stats["by_state"] == {"queued": 60} == truth(campaign)[0]
    assert stats["recipients"] == 60
    run_until_done(campaign)
    stats = selectors.campaign_stats(campaign)
    by_state, by_outcome = truth(campaign)
    assert stats["by_state"] == by_state and stats["by_outcome"] == by_outcome
    answered = by_state["answered"]
    assert stats["answered"] == answered
    assert stats["total"] == sum(by_state.values()) > 60  # retries are new rows
    talk = sum(CallRecord.objects.filter(campaign=campaign, state="answered").values_list("talk_seconds", flat=True))
    assert stats["avg_talk_seconds"] == round(talk / answered, 1)
    units = sum(u or 0 for u in CallRecord.objects.filter(campaign=campaign).values_list("billed_units", flat=True))
    assert stats["billed_units"] == units and stats["cost"] == str((Decimal("0.10") * units).quantize(Decimal("0.01")))
    assert sum(slot["answered"] for slot in stats["timeline"]) == answered
    CallRecord.objects.filter(campaign=campaign).delete()
    assert selectors.campaign_stats(campaign)["total"] == 0
