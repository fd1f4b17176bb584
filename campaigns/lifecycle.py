"""A call's life: the rows that queue attempts, and the updates that close a campaign or a late call.

The one home of these writes, below every entry point: services, imports, dispatch and receipts
import this module, and it imports only the models, so ``campaigns`` has no import cycle
(``tests/campaigns/test_import_graph.py`` keeps it so).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .database import is_postgresql
from .models import CallRecord, Campaign, Recipient


def queue_first_attempts(campaign: Campaign) -> int:
    """Create the queued first attempt of every recipient that has none yet (one INSERT … SELECT)."""
    has_call = CallRecord.objects.filter(recipient=OuterRef("pk"), is_test=False)  # a test call is no attempt
    missing = Recipient.objects.filter(campaign=campaign).filter(~Exists(has_call))
    if is_postgresql():
        sql, params = missing.values("id", "mobile").query.sql_with_params()
        table = CallRecord._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, recipient_id, attempt, mobile, custom_id, vendor_message_id,"
                " batch_id, state, outcome, raw_code, raw_message, key_pressed, created_at, is_test)"
                f" SELECT %s, r.id, 1, r.mobile, 'R' || r.id || 'A1', '', '', %s, '', '', '', '', now(), false"
                f" FROM ({sql}) r",
                [campaign.pk, CallRecord.State.QUEUED.value, *params],
            )
            return cursor.rowcount
    created = 0
    now = timezone.now()
    batch = []
    for rid, mobile in missing.values_list("id", "mobile").iterator(chunk_size=2000):
        batch.append(
            CallRecord(
                campaign=campaign, recipient_id=rid, attempt=1, mobile=mobile, custom_id=f"R{rid}A1", created_at=now
            )
        )
        if len(batch) >= 2000:
            created += len(CallRecord.objects.bulk_create(batch))
            batch = []
    created += len(CallRecord.objects.bulk_create(batch))
    return created


def queue_next_attempt(
    call: CallRecord, *, delay_minutes: int, campaign: Campaign | None = None, force: bool = False
) -> bool:
    """A new queued row for the recipient's next attempt (unique per attempt: never two)."""
    campaign = campaign or call.campaign
    if not force and call.attempt >= campaign.max_attempts:
        return False
    if campaign.state in (Campaign.State.CANCELLED,):
        return False
    attempt = call.attempt + 1
    with transaction.atomic():
        _obj, created = CallRecord.objects.get_or_create(
            recipient_id=call.recipient_id,
            attempt=attempt,
            defaults={
                "campaign_id": call.campaign_id,
                "mobile": call.mobile,
                "custom_id": f"R{call.recipient_id}A{attempt}",
                "not_before": timezone.now() + timedelta(minutes=delay_minutes),
            },
        )
    return created


def complete_if_done(campaign_id: int) -> bool:
    """Completion is derived from the records: no call open, none queued for a retry."""
    open_calls = CallRecord.objects.filter(campaign_id=campaign_id, state__in=CallRecord.OPEN_STATES, is_test=False)
    if open_calls.exists():
        return False
    finished = Campaign.objects.filter(pk=campaign_id)
    return bool(Campaign.transition(finished, Campaign.State.COMPLETED, completed_at=timezone.now()))


def complete_running_campaigns(*, excluding=()) -> int:
    """The beat's sweep: every running campaign (but those with calls due now) that is done completes."""
    running = Campaign.objects.filter(state=Campaign.State.RUNNING).exclude(id__in=list(excluding))
    return sum(complete_if_done(campaign_id) for campaign_id in running.values_list("id", flat=True))


def expire_overdue() -> int:
    """Submitted calls with no receipt within their campaign's report window become ``expired``."""
    now = timezone.now()
    expired = 0
    for campaign in (
        Campaign.objects.filter(calls__state=CallRecord.State.SUBMITTED).distinct().only("id", "report_window_minutes")
    ):
        cutoff = now - timedelta(minutes=campaign.report_window_minutes)
        overdue = CallRecord.objects.filter(campaign=campaign, submitted_at__lt=cutoff)
        expired += CallRecord.transition(overdue, CallRecord.State.EXPIRED, outcome="timeout", reported_at=now)
    single_cutoff = now - timedelta(minutes=settings.SINGLE_CALL_REPORT_WINDOW_MINUTES)
    single_overdue = CallRecord.objects.filter(campaign__isnull=True, submitted_at__lt=single_cutoff)
    expired += CallRecord.transition(single_overdue, CallRecord.State.EXPIRED, outcome="timeout", reported_at=now)
    return expired
