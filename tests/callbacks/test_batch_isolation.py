"""One report that cannot be applied stops no other report of its batch (issue 11).

As reported: a campaign with retry_delay_minutes = 2**63-1 (stored on SQLite, the embedded
default) raised OverflowError on its first failed receipt while a pulled batch was applied, and
the reports of 26 calls in four other campaigns in that batch stayed ``submitted``. Such a value
can no longer be stored (``tests/campaigns/test_bounds.py``); here a batch is poisoned the way a
vendor can still do it: one campaign's receipts carry a talk time PostgreSQL refuses (negative),
so applying them raises inside the batch's statement.
"""

import json

import pytest

from campaigns import services, tasks
from campaigns.admin import CallbackEventAdmin
from campaigns.models import CallbackEvent, CallRecord
from campaigns.receipts import events as receipts
from tests.factories import make_account, make_campaign
from tests.test_admin_pages import login
from vendors.adapters import DeliveryReport, ParsedCallback
from vendors.models import SimulatedCall

pytestmark = pytest.mark.django_db

EVERY_FAILURE = ["no_answer", "busy", "rejected", "powered_off", "unreachable", "network_busy", "invalid_number"]


def five_campaigns_one_poisoned():
    account = make_account(pull_reports=True, options={"seed": 5, "report_delay": [0, 0], "answer_rate": 0.5})
    campaigns = [
        make_campaign(recipients=6, account=account, max_attempts=3, retry_outcomes=EVERY_FAILURE) for _ in range(5)
    ]
    for campaign in campaigns:
        services.launch(campaign)
    tasks.tick()
    assert CallRecord.objects.filter(state="submitted").count() == 30
    return account, campaigns


def poison_simulated_receipts(campaign) -> int:
    """The simulator's stored receipts for ``campaign`` get a talk time no column can hold."""
    custom_ids = set(CallRecord.objects.filter(campaign=campaign).values_list("custom_id", flat=True))
    poisoned = 0
    for row in SimulatedCall.objects.filter(custom_id__in=custom_ids):
        row.report["talk_seconds"] = -5
        row.save(update_fields=["report"])
        poisoned += 1
    return poisoned


def unpoison(event: CallbackEvent) -> None:
    """Stands in for the fix an operator waits for (an adapter that reads the value right)."""
    items = json.loads(bytes(event.body))
    for item in items:
        item["talk_seconds"] = 0
    CallbackEvent.objects.filter(pk=event.pk).update(body=json.dumps(items).encode())


def test_a_poisoned_report_is_kept_and_the_rest_of_the_pulled_batch_applied(client):
    account, campaigns = five_campaigns_one_poisoned()
    assert poison_simulated_receipts(campaigns[0]) == 6
    tasks.pull_all()  # one batch of 30 reports
    poisoned = CallRecord.objects.filter(campaign=campaigns[0])
    assert poisoned.filter(state="submitted").count() == 6  # its reports could not be applied...
    others = CallRecord.objects.filter(campaign__in=campaigns[1:], attempt=1)
    assert not others.filter(state="submitted").exists()  # ...every other report was
    assert others.filter(state="failed").exists() and others.filter(state="answered").exists()
    batch = CallbackEvent.objects.get(source="pull", query={})
    kept = CallbackEvent.objects.get(query__kind="kept_reports")
    assert batch.state == "applied" and f"kept in event #{kept.pk}" in batch.error
    assert kept.state == "failed" and kept.reports_count == 6
    assert "talk_seconds" in kept.error and kept.query["from_event"] == batch.pk

    # visible in the admin, and re-processable after the fix
    login(client, "Operators")
    page = client.get("/admin/campaigns/callbackevent/?state__exact=failed").content.decode()
    assert f"/admin/campaigns/callbackevent/{kept.pk}/change/" in page
    unpoison(kept)
    response = client.post(
        "/admin/campaigns/callbackevent/", {"action": "reprocess", "_selected_action": [kept.pk]}, follow=True
    )
    assert "Processed again" in response.content.decode()
    kept.refresh_from_db()
    assert kept.state == "applied"
    assert not poisoned.filter(attempt=1, state="submitted").exists()


def test_a_pushed_batch_is_isolated_the_same_way():
    account, campaigns = five_campaigns_one_poisoned()
    calls = list(CallRecord.objects.filter(state="submitted").order_by("id"))
    reports = [
        DeliveryReport(
            vendor_message_id=c.vendor_message_id,
            batch_id=None,
            custom_id=c.custom_id,
            mobile=c.mobile,
            outcome="busy",
            answered=False,
            talk_seconds=-5 if c.campaign_id == campaigns[0].pk else 0,
            billed_seconds=None,
            key_pressed=None,
            raw_code="2",
            raw_message="用户忙",
            reported_at=None,
        )
        for c in calls
    ]
    event = CallbackEvent(account=account, vendor=account.vendor, body=b"push of 30", source="push")
    event = receipts.store_and_apply(event, ParsedCallback(reports=reports))
    assert event.pk and event.state == "applied"
    assert CallRecord.objects.filter(campaign__in=campaigns[1:], attempt=1, state="failed").count() == 24
    assert CallRecord.objects.filter(campaign__in=campaigns[1:], attempt=2).count() == 24  # retries queued
    assert CallRecord.objects.filter(campaign=campaigns[0], attempt=1, state="submitted").count() == 6
    kept = CallbackEvent.objects.get(query__kind="kept_reports")
    assert kept.reports_count == 6 and kept.source == "push"
    assert receipts.process_event(kept.pk).state == "failed"  # still poisoned: kept, not lost
    unpoison(kept)
    assert receipts.process_event(kept.pk).state == "applied"
    assert CallRecord.objects.filter(campaign=campaigns[0], attempt=1, state="failed").count() == 6


def test_callback_events_cannot_be_deleted_even_by_a_superuser(admin_client):
    event = CallbackEvent.objects.create(vendor="ihuyi", body=b"x")
    assert admin_client.get(f"/admin/campaigns/callbackevent/{event.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/campaigns/callbackevent/{event.pk}/change/").content.decode()
    assert f"/admin/campaigns/callbackevent/{event.pk}/delete/" not in page
    assert "delete_selected" not in admin_client.get("/admin/campaigns/callbackevent/").content.decode()
    assert CallbackEventAdmin.has_delete_permission(None, None) is False
