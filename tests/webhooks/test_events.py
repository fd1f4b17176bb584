"""Events are written by the database in the transaction of the change, whichever path makes it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone

from campaigns import lifecycle, services
from campaigns.models import CallRecord, Campaign, RecipientImport
from campaigns.receipts import reports
from tests.callbacks.helpers import dispatched, push
from tests.factories import make_account, make_campaign
from vendors import services as vendor_services
from vendors.adapters import DeliveryReport
from webhooks import payloads
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.django_db


def events(type_=None):
    qs = Event.objects.order_by("id")
    return list(qs.filter(type=type_) if type_ else qs)


def submitted_calls(n=2, **fields):
    campaign = make_campaign(recipients=n, **fields)
    services.launch(campaign)
    CallRecord.objects.filter(campaign=campaign).update(state="submitted", submitted_at=timezone.now())
    return campaign, list(CallRecord.objects.filter(campaign=campaign).order_by("id"))


def test_nothing_is_written_while_no_endpoint_wants_it(receiver, endpoint_for):
    endpoint_for(receiver(), event_types=["campaign.completed"])
    _campaign, calls = submitted_calls(1)
    calls[0].move_to("answered", outcome="answered")
    assert events() == []


def test_a_call_reaching_a_final_state_is_one_event_per_change_with_one_delivery_per_endpoint(receiver, endpoint_for):
    crm = endpoint_for(receiver(), name="CRM")
    endpoint_for(receiver(), name="BI", event_types=["call.failed"])
    endpoint_for(receiver(), name="off", is_active=False)
    _campaign, (first, second) = submitted_calls(2)
    first.move_to("answered", outcome="answered", talk_seconds=9)
    second.move_to("failed", outcome="busy", raw_code="17")
    CallRecord.objects.filter(pk=second.pk).update(raw_message="again")  # not a state change: no event
    answered, failed = events("call.answered"), events("call.failed")
    assert [e.object_id for e in answered] == [first.pk] and [e.object_id for e in failed] == [second.pk]
    assert answered[0].snapshot["state"] == "answered" and answered[0].snapshot["talk_seconds"] == 9
    assert sorted(d.endpoint.name for d in Delivery.objects.filter(event=failed[0])) == ["BI", "CRM"]
    assert [d.endpoint for d in Delivery.objects.filter(event=answered[0])] == [crm]


def test_test_calls_and_cancelled_calls_are_not_told(receiver, endpoint_for):
    endpoint_for(receiver())
    campaign, calls = submitted_calls(2)
    CallRecord.objects.filter(pk=calls[0].pk).update(is_test=True, state="answered")
    services.cancel(campaign)
    assert events() == []


def test_a_push_of_many_receipts_in_one_bulk_statement_writes_every_event(client, receiver, endpoint_for, ihuyi):
    fake, account = ihuyi
    endpoint_for(receiver())
    campaign = dispatched(account, recipients=3)
    calls = list(CallRecord.objects.filter(campaign=campaign))
    receipts_in = [
        DeliveryReport(
            vendor_message_id=c.vendor_message_id,
            batch_id=None,
            custom_id=c.custom_id,
            mobile=c.mobile,
            outcome="answered",
            talk_seconds=5,
            billed_seconds=6,
            key_pressed=None,
            raw_code="2",
            raw_message="ok",
            reported_at=timezone.now(),
        )
        for c in calls
    ]
    applied, _unmatched = reports.apply_reports(account, receipts_in)
    assert applied == 3
    assert sorted(e.object_id for e in events("call.answered")) == sorted(c.pk for c in calls)
    assert Delivery.objects.filter(state="pending").count() == 3


def test_the_one_statement_receipt_path_in_autocommit_writes_its_event(
    client, transactional_db, receiver, endpoint_for, ihuyi
):
    """ihuyi's one-receipt push runs one prepared statement outside any transaction: the trigger still writes."""
    fake, account = ihuyi
    endpoint_for(receiver())
    campaign = dispatched(account, recipients=1)
    entry = fake.submitted[0]
    assert not connection.in_atomic_block
    assert push(client, account, *fake.push_body(entry["vendor_message_id"], "2", talktime=7)).content == b"success"
    (event,) = events("call.answered")
    call = CallRecord.objects.get(campaign=campaign)
    assert event.object_id == call.pk and event.snapshot["talk_seconds"] == 7
    data = payloads.event_data(event)
    assert data["id"] == call.pk and data["state"] == "answered" and data["campaign"] == campaign.pk
    assert "out_id" in data


def test_a_rolled_back_change_leaves_no_event(receiver, endpoint_for):
    endpoint_for(receiver())
    _campaign, (call,) = submitted_calls(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        call.move_to("answered", outcome="answered")
        assert len(events()) == 1
        raise RuntimeError("the worker died before commit")
    assert events() == [] and Delivery.objects.count() == 0


def test_an_expired_call_then_answered_late_is_two_events_each_telling_its_moment(receiver, endpoint_for):
    endpoint_for(receiver())
    campaign, (call,) = submitted_calls(1, report_window_minutes=1)
    CallRecord.objects.filter(pk=call.pk).update(submitted_at=timezone.now() - timedelta(minutes=5))
    assert lifecycle.expire_overdue() == 1
    call.refresh_from_db()
    call.move_to("answered", outcome="answered")
    expired, answered = events("call.expired")[0], events("call.answered")[0]
    assert payloads.event_data(expired)["state"] == "expired"
    assert payloads.event_data(answered)["state"] == "answered"


def test_a_campaign_completing_is_told_once_with_its_figures(receiver, endpoint_for):
    endpoint_for(receiver())
    campaign, calls = submitted_calls(2)
    for call in calls:
        call.move_to("answered", outcome="answered")
    assert lifecycle.complete_if_done(campaign.pk)
    assert not lifecycle.complete_if_done(campaign.pk)
    (event,) = events("campaign.completed")
    data = payloads.event_data(event)
    assert data["id"] == campaign.pk and data["state"] == Campaign.State.COMPLETED
    assert data["stats"]["answered"] == 2


def test_an_import_finishing_is_told(receiver, endpoint_for, django_capture_on_commit_callbacks):
    endpoint_for(receiver())
    campaign = make_campaign()
    upload = SimpleUploadedFile("list.csv", "手机,name,order\n13800138000,王,SO1\nbad,李,SO2\n".encode())
    with django_capture_on_commit_callbacks(execute=True):
        job = services.start_file_import(campaign, upload)
    job.refresh_from_db()
    assert job.state == RecipientImport.State.DONE
    (event,) = events("import.finished")
    data = payloads.event_data(event)
    assert (data["id"], data["state"], data["accepted"], data["invalid"]) == (job.pk, "done", 1, 1)


def test_a_balance_crossing_below_its_threshold_is_told_once_per_crossing(receiver, endpoint_for):
    endpoint_for(receiver())
    account = make_account(low_balance_threshold=Decimal("100"), options={"balance": "50"})
    vendor_services.snapshot_balance(account)
    vendor_services.snapshot_balance(account)  # still below: no second event
    assert len(events("balance.low")) == 1
    account.options = {"balance": "500"}
    account.save()
    vendor_services.snapshot_balance(account)  # back above
    account.options = {"balance": "20.5"}
    account.save()
    vendor_services.snapshot_balance(account)  # a new crossing
    first, second = events("balance.low")
    assert payloads.event_data(first)["amount"] in ("50", "50.0000")
    data = payloads.event_data(second)
    assert Decimal(data["amount"]) == Decimal("20.5") and Decimal(data["threshold"]) == Decimal("100")
    assert data["account"] == {"id": account.pk, "name": account.name, "vendor": "simulator"}


def _with_balance(account, amount: str):
    """The account as read afresh after the (simulated) vendor's balance became ``amount``."""
    type(account).objects.filter(pk=account.pk).update(options={"balance": amount})
    return type(account).objects.get(pk=account.pk)


def _account_form(client, account) -> dict:
    """The account's admin form as an operator would send it back unchanged."""
    form = client.get(f"/admin/vendors/vendoraccount/{account.pk}/change/").context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None and name != "api_secret":  # left empty: the stored secret is kept
            data[name] = value
    return data


def test_saving_an_account_does_not_tell_the_same_crossing_again(receiver, endpoint_for, admin_client):
    endpoint_for(receiver())
    account = make_account(low_balance_threshold=Decimal("100"), options={"balance": "50"})
    unchanged = _account_form(admin_client, account)  # the page opened before the balance check
    vendor_services.snapshot_balance(account)
    assert len(events("balance.low")) == 1
    saved = admin_client.post(f"/admin/vendors/vendoraccount/{account.pk}/change/", unchanged)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    account.name = "renamed"
    account.save()  # an instance read before the crossing, saved after it (shell, a service, a racing save)
    vendor_services.snapshot_balance(_with_balance(account, "50"))  # still below
    assert len(events("balance.low")) == 1
    vendor_services.snapshot_balance(_with_balance(account, "500"))  # back above
    vendor_services.snapshot_balance(_with_balance(account, "20"))  # a new crossing
    assert len(events("balance.low")) == 2
