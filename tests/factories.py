"""Small builders for test data (plain functions, real database rows)."""

from datetime import time

from campaigns.models import Campaign, VoiceTemplate
from campaigns.services import add_recipients
from vendors.models import VendorAccount


def make_account(vendor="simulator", **fields) -> VendorAccount:
    defaults = {
        "name": f"{vendor}-{VendorAccount.objects.count() + 1}",
        "options": {"seed": 3, "report_delay": [0, 0]},
        "rate_limit_per_second": 1000,
    }
    defaults.update(fields)
    return VendorAccount.objects.create(vendor=vendor, **defaults)


def make_campaign(
    recipients=0, account=None, content="【name】您好，订单【order】已发货。", variables=None, name="c", **fields
) -> Campaign:
    """A campaign allowed to call around the clock (tests run at any hour)."""
    fields.setdefault("quiet_hours_start", time(0))
    fields.setdefault("quiet_hours_end", time(0))
    fields.setdefault("rate_limit_per_second", 1000)
    account = account or make_account()
    template = VoiceTemplate.objects.create(account=account, name="t", content=content, review_state="approved")
    campaign = Campaign.objects.create(name=name, account=account, template=template, **fields)
    if recipients:
        variables = variables or (lambda i: ["王", f"SO{i}"])
        add_recipients(campaign, [{"mobile": f"1380013{i:04d}", "variables": variables(i)} for i in range(recipients)])
    return campaign


def run_until_done(campaign, rounds=12):
    """Drive a campaign on the simulator as the beat would (eager tasks), retries made due at once."""
    from campaigns import tasks
    from campaigns.models import CallRecord

    for _ in range(rounds):
        tasks.tick()
        CallRecord.objects.filter(campaign=campaign, state="queued").update(not_before=None)  # retries due now
        tasks.pull_all()
        campaign.refresh_from_db()
        if campaign.state == Campaign.State.COMPLETED:
            break
    return campaign
