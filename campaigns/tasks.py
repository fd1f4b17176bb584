"""Celery tasks: thin wrappers that take ids and call services.

Dialling tasks (``campaigns.dispatch.*``) have no acks_late and no automatic retry: a call cannot
be taken back.
"""

from celery import shared_task

from vendors.models import VendorAccount
from voiceops import worker_health

from . import dispatch, lifecycle, services, single_dispatch
from .receipts import events as receipt_events
from .receipts import pulls


@shared_task(name="campaigns.dispatch.tick", ignore_result=True)
def tick() -> int:
    """Beat, every few seconds: start due campaigns, hand each one with due calls to a dispatcher."""
    worker_health.note_tick()
    services.start_due_campaigns()
    due = dispatch.due_campaign_ids()
    for campaign_id in due:
        run_campaign.delay(campaign_id)
    if single_dispatch.due_ids():  # the safety net: a drain was woken for each when it was accepted
        send_due_single_calls.delay()
    lifecycle.complete_running_campaigns(excluding=due)
    return len(due)


@shared_task(name="campaigns.dispatch.run_campaign", ignore_result=True)
def run_campaign(campaign_id: int) -> int:
    return dispatch.dispatch_campaign(campaign_id).submitted


@shared_task(name="campaigns.dispatch.send_test_call", ignore_result=True)
def send_test_call(call_id: int) -> int:
    return dispatch.send_test_call(call_id).submitted


@shared_task(name="campaigns.dispatch.reconcile_stuck", ignore_result=True)
def reconcile_stuck() -> int:
    return dispatch.reconcile_stuck()


@shared_task(name="campaigns.reports.pull_all", ignore_result=True)
def pull_all() -> int:
    """Beat: pull receipts for every active account set to pull."""
    pulled = 0
    for account in VendorAccount.objects.filter(is_active=True, pull_reports=True):
        pulled += pulls.pull_account(account) + pulls.pull_replies(account)
    return pulled


@shared_task(name="campaigns.reports.apply_stalled_events", ignore_result=True)
def apply_stalled_events() -> int:
    """Beat: events a dead process stored but never applied are applied now."""
    return receipt_events.apply_stalled_events()


@shared_task(name="campaigns.reports.expire_overdue", ignore_result=True)
def expire_overdue() -> int:
    return lifecycle.expire_overdue()


@shared_task(name="campaigns.imports.fail_interrupted", ignore_result=True)
def fail_interrupted_imports() -> int:
    """Beat: imports whose worker died are marked failed (nothing of them was added)."""
    return services.fail_interrupted_imports()


@shared_task(name="campaigns.imports.import_recipients_file", ignore_result=True, acks_late=True)
def import_recipients_file(import_id: int) -> None:
    """Import an uploaded file; redelivery is harmless (the import is claimed pending → running)."""
    services.run_file_import(import_id)


@shared_task(name="campaigns.dispatch.send_due_single_calls", ignore_result=True)
def send_due_single_calls() -> int:
    """Send the due single calls now (no acks_late, no retry: a redelivery finds them claimed)."""
    linger = 0.0 if send_due_single_calls.request.is_eager else single_dispatch.LINGER_SECONDS
    return _drain(linger)


@shared_task(name="campaigns.dispatch.send_single_call", ignore_result=True)
def send_single_call(call_id: int) -> int:
    """The per-call task of earlier releases, for messages still in the broker: a drain that does
    not linger, so a backlog of them passes at once."""
    return _drain(linger=0.0)


def _drain(linger: float) -> int:
    summary = single_dispatch.drain(linger_seconds=linger)
    if summary.more_due:  # its time is up: a fresh task goes on, so no worker is held for long
        send_due_single_calls.delay()
    return summary.submitted
