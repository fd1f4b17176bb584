"""Campaign writes shared by the admin, the API and the Celery tasks.

Every state change is a conditional UPDATE that names the state it expects, and acts only when
it changed one row: two operators, a retried task or a beat tick can never launch, pause or
complete a campaign twice.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from vendors.adapters import adapter_class
from voiceops import audit

from .imports import ImportResult, import_records, import_rows, set_progress
from .lifecycle import queue_first_attempts, queue_next_attempt
from .models import CallRecord, Campaign, DoNotCallEntry, RecipientImport, VoiceTemplate
from .readers import UnreadableFile, check_upload, column_plan, open_rows

logger = logging.getLogger(__name__)


class CampaignError(Exception):
    """An action that cannot be done now; the message says why in words a user can act on."""


class CampaignInputError(CampaignError):
    """An action refused for what was asked (a start time in the past), not for the campaign's state."""


# ---- campaigns
def create_campaign(*, user=None, key=None, **fields) -> Campaign:
    """A new draft campaign from fields already checked (the API's serializer runs the model's rules).

    ``user`` is the person who made it, ``key`` the API key of the system that did; the audit trail
    names whichever acted (the admin's add page logs its own additions).
    """
    campaign = Campaign(
        **fields,
        created_by=user if user is not None and user.is_authenticated else None,
        created_by_key=key,
    )
    with transaction.atomic():
        campaign.save()
        audit.record(key if key is not None else user, campaign, gettext_lazy("Campaign created"), flag=audit.ADDITION)
    return campaign


# ---- recipients
def add_recipients(campaign: Campaign, records: list[dict], *, actor=None) -> ImportResult:
    ensure_open_for_recipients(campaign)
    with transaction.atomic():
        result = import_records(campaign, records)
        if result.accepted:
            audit.record(
                actor,
                campaign,
                format_lazy(
                    gettext_lazy("Recipients added: {accepted} of {rows} rows"),
                    accepted=result.accepted,
                    rows=result.rows,
                ),
            )
    return result


def ensure_open_for_recipients(campaign: Campaign) -> None:
    """The one home of "this campaign still takes recipients" (admin, API, files and lists)."""
    if campaign.state in Campaign.FINISHED_STATES:
        raise CampaignError(
            _("A campaign that is %(state)s takes no more recipients.") % {"state": campaign.get_state_display()}
        )


def start_file_import(campaign: Campaign, upload, user=None, key=None) -> RecipientImport:
    """Store the uploaded file and import it in the background (``imports`` queue).

    ``user`` is the person who uploaded it, ``key`` the API key of the system that did.
    """
    from .tasks import import_recipients_file

    ensure_open_for_recipients(campaign)
    try:
        check_upload(upload.name, upload.size or 0)  # refused before the file is stored
    except UnreadableFile as exc:
        raise CampaignError(str(exc)) from exc
    with transaction.atomic():
        job = RecipientImport.objects.create(
            campaign=campaign,
            file=upload,
            original_name=Path(upload.name).name[:255],
            size_bytes=upload.size or 0,
            created_by=user if user and user.is_authenticated else None,
            created_by_key=key,
        )
        # The upload is what someone did; the import's outcome is on the import itself.
        audit.record(
            key if key is not None else user,
            campaign,
            format_lazy(gettext_lazy("Recipients uploaded: {name}"), name=job.original_name),
        )
        transaction.on_commit(lambda: import_recipients_file.delay(job.pk))
    return job


def run_file_import(import_id: int) -> RecipientImport | None:
    """Import one uploaded file; claimed pending → running so a redelivered task does nothing."""
    if not RecipientImport.objects.filter(pk=import_id, state=RecipientImport.State.PENDING).update(
        state=RecipientImport.State.RUNNING
    ):
        return None
    job = RecipientImport.objects.select_related("campaign__template", "campaign__account").get(pk=import_id)
    campaign = job.campaign
    try:
        rows, counter = open_rows(Path(job.file.path), job.original_name)
        result = import_rows(
            campaign,
            _numbered(rows, campaign.variable_names),
            on_progress=lambda r: set_progress(job.pk, counter.consumed, r),
        )
    except UnreadableFile as exc:
        return _finish_import(job, None, _without_paths(str(exc), job))
    except Exception as exc:
        logger.exception("import %s failed", import_id)
        text = _("The import failed and nothing was added: %(error)s") % {"error": exc}
        return _finish_import(job, None, _without_paths(text, job))
    return _finish_import(job, result, "")


def _without_paths(text: str, job: RecipientImport) -> str:
    """An import's error names the file as it was uploaded, never where the server keeps it."""
    stored = Path(job.file.path) if job.file else None
    if stored is not None:
        text = text.replace(str(stored), job.original_name)
        text = text.replace(str(stored.parent), "").replace(stored.name, job.original_name)
    return text.replace(str(settings.MEDIA_ROOT), "")


def fail_interrupted_imports(stale_after: timedelta = timedelta(minutes=5)) -> int:
    """Mark failed the imports whose worker died: a running import holds its campaign row locked,
    so a free lock means nothing is importing (and, the import being one transaction, nothing was added)."""
    now, failed = timezone.now(), 0
    for job in RecipientImport.objects.filter(state=RecipientImport.State.RUNNING, created_at__lt=now - stale_after):
        marked = 0
        with transaction.atomic():
            free = Campaign.objects.select_for_update(skip_locked=True).filter(pk=job.campaign_id).exists()
            if free or not connection.features.has_select_for_update_skip_locked:
                marked = RecipientImport.objects.filter(pk=job.pk, state=RecipientImport.State.RUNNING).update(
                    state=RecipientImport.State.FAILED,
                    finished_at=now,
                    error=_(
                        "The import was interrupted (its worker stopped) and nothing was added; upload the file again."
                    ),
                )
        if marked:
            discard_upload(job)
        failed += marked
    return failed


def _numbered(rows, variable_names):
    """(line, mobile text, variables) from raw rows, skipping a header row and blank lines."""
    plan = None
    for line, row in enumerate(rows, 1):
        if plan is None:
            has_header, mobile_col, var_cols = column_plan(row, variable_names)
            plan = (mobile_col, var_cols)
            if has_header:
                continue
        if not any(cell.strip() for cell in row):
            continue
        mobile_col, var_cols = plan
        cells = len(row)
        yield (line, row[mobile_col] if mobile_col < cells else "", [row[i] if i < cells else "" for i in var_cols])


def _finish_import(job: RecipientImport, result: ImportResult | None, error: str) -> RecipientImport:
    job.finished_at = timezone.now()
    job.processed_bytes = job.size_bytes
    if result is None:
        job.state, job.error = RecipientImport.State.FAILED, error
    else:
        job.state = RecipientImport.State.DONE
        if result.accepted_nothing:  # with its first reasons inline, and the rejected rows kept
            job.state, job.error = RecipientImport.State.FAILED, result.nothing_accepted_message()
        for name, value in result.as_dict().items():
            setattr(job, name, value)
        job.rejected_rows = result.rejected
    job.save()
    discard_upload(job)
    return job


def discard_upload(job: RecipientImport) -> None:
    """The uploaded list holds people's numbers: once imported (or failed) it is not kept.

    What was taken is in the recipients, what was refused in ``rejected_rows``; a failed import is
    uploaded again.
    """
    if job.file:
        job.file.delete(save=False)
        RecipientImport.objects.filter(pk=job.pk).update(file="")


# ---- lifecycle
def _move(campaign: Campaign, action: str, to: str, **fields) -> bool:
    """Move by ``action``'s own moves: the union of every action's moves would let a launch reopen a
    completed campaign, because a retry of its failed calls may."""
    return campaign.action_moves(action, to) and campaign.move_to(to, **fields)


def check_ready(campaign: Campaign) -> None:
    """Why a campaign cannot go yet, as a CampaignError; templates need approval only where the vendor reviews them."""
    reviews = adapter_class(campaign.account.vendor).reviews_templates
    if campaign.template_id and reviews and campaign.template.review_state != VoiceTemplate.Review.APPROVED:
        raise CampaignError(_("The template “%(name)s” is not approved yet.") % {"name": campaign.template.name})
    if not campaign.account.is_active:
        raise CampaignError(_("The vendor account “%(name)s” is not active.") % {"name": campaign.account.name})
    if not campaign.recipients.exists():
        raise CampaignError(_("Add recipients before launching."))


def launch(campaign: Campaign, at=None, *, actor=None) -> Campaign:
    """Start now (``at`` None) or at a future ``at``; the launch rules of the admin and the API alike.

    - ``at`` must be in the future (``CampaignInputError``);
    - a scheduled campaign launched again with a new ``at`` is rescheduled, without one it starts now;
    - a running campaign cannot be launched (``CampaignError``, with since when it runs);
    - calls are queued now, the beat tick sends them when due and within calling hours.
    """
    now = timezone.now()
    if at is not None and at <= now:
        raise CampaignInputError(
            _("The start time (%(when)s) must be in the future: give a later time, or launch without one to start now.")
            % {"when": _local(at)}
        )
    if campaign.state == Campaign.State.RUNNING:
        raise CampaignError(
            _("“%(name)s” is already running (since %(when)s); pause it before scheduling it again.")
            % {"name": campaign.name, "when": _local(campaign.launched_at or campaign.scheduled_at or now)}
        )
    check_ready(campaign)
    if at is not None and campaign.state == Campaign.State.SCHEDULED:
        return _reschedule(campaign, at, actor=actor)
    target = Campaign.State.SCHEDULED if at else Campaign.State.RUNNING
    with transaction.atomic():
        if not _move(campaign, "launch", target, scheduled_at=at or now, launched_at=now):
            raise CampaignError(
                _("A campaign that is %(state)s cannot be launched.") % {"state": campaign.get_state_display()}
            )
        queue_first_attempts(campaign)
        audit.record(
            actor,
            campaign,
            gettext_lazy("Scheduled") if target == Campaign.State.SCHEDULED else gettext_lazy("Launched"),
        )
    return campaign


def _reschedule(campaign: Campaign, at, *, actor=None) -> Campaign:
    if at == campaign.scheduled_at:
        return campaign
    with transaction.atomic():
        if not Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.SCHEDULED).update(scheduled_at=at):
            campaign.refresh_from_db(fields=["state"])
            raise CampaignError(
                _("A campaign that is %(state)s cannot be rescheduled.") % {"state": campaign.get_state_display()}
            )
        audit.record(actor, campaign, format_lazy(gettext_lazy("Rescheduled to {when}"), when=_local(at)))
    campaign.scheduled_at = at
    return campaign


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def pause(campaign: Campaign, *, actor=None) -> Campaign:
    with transaction.atomic():
        if not _move(campaign, "pause", Campaign.State.PAUSED):
            raise CampaignError(
                _("Only a scheduled or running campaign can be paused (it is %(state)s).")
                % {"state": campaign.get_state_display()}
            )
        audit.record(actor, campaign, gettext_lazy("Paused"))
    return campaign


def resume(campaign: Campaign, *, actor=None) -> Campaign:
    target = (
        Campaign.State.SCHEDULED
        if campaign.scheduled_at and campaign.scheduled_at > timezone.now()
        else Campaign.State.RUNNING
    )
    with transaction.atomic():
        if campaign.state != Campaign.State.PAUSED or not _move(campaign, "resume", target):
            raise CampaignError(
                _("Only a paused campaign can be resumed (it is %(state)s).") % {"state": campaign.get_state_display()}
            )
        audit.record(actor, campaign, gettext_lazy("Resumed"))
    return campaign


def cancel(campaign: Campaign, *, actor=None) -> int:
    """Cancel the campaign and every call not yet handed to the vendor; returns calls cancelled."""
    with transaction.atomic():
        if not _move(campaign, "cancel", Campaign.State.CANCELLED, completed_at=timezone.now()):
            raise CampaignError(
                _("A campaign that is %(state)s cannot be cancelled.") % {"state": campaign.get_state_display()}
            )
        cancelled = CallRecord.transition(CallRecord.objects.filter(campaign=campaign), CallRecord.State.CANCELLED)
        audit.record(actor, campaign, format_lazy(gettext_lazy("Cancelled ({count} queued calls)"), count=cancelled))
        return cancelled


def retry_failed(campaign: Campaign, *, actor=None) -> int:
    """Queue a new attempt for every recipient whose last attempt failed or expired (operator's choice)."""
    last = (
        CallRecord.objects.filter(campaign=campaign, recipient=OuterRef("recipient"))
        .order_by("-attempt")
        .values("id")[:1]
    )
    failed = CallRecord.objects.filter(
        campaign=campaign,
        id=Subquery(last),
        state__in=CallRecord.FAILED_STATES,
    )
    with transaction.atomic():  # the new attempts, the reopening and the audit entry: all or none
        count = sum(1 for call in failed.iterator() if queue_next_attempt(call, delay_minutes=0, force=True))
        audit.record(actor, campaign, format_lazy(gettext_lazy("Retry failed calls ({count})"), count=count))
        if count and campaign.state == Campaign.State.COMPLETED:  # reopened: it has calls to make again
            _move(campaign, "retry_failed", Campaign.State.RUNNING, completed_at=None)
    return count


def send_test_call(campaign: Campaign, mobile_text: str, *, actor=None) -> CallRecord:
    """Queue the campaign's message, with its first recipient's variables, to a staff member's number.

    The call is sent at once (``dispatch`` queue), outside quiet hours and rate buckets, and its
    receipt arrives through the normal path; it is kept out of the campaign's statistics.
    """
    from .phones import InvalidNumber, normalize
    from .tasks import send_test_call as send_task

    try:
        mobile = normalize(mobile_text)
    except InvalidNumber as exc:
        raise CampaignError(_("“%(number)s”: %(reason)s") % {"number": mobile_text, "reason": exc}) from exc
    if DoNotCallEntry.objects.filter(mobile=mobile).exists():
        raise CampaignError(_("%(number)s is on the do-not-call list.") % {"number": mobile})
    first = campaign.recipients.order_by("id").first()
    if first is None:
        raise CampaignError(_("Add recipients first: the test call uses the first recipient's variables."))
    if not campaign.account.is_active:
        raise CampaignError(_("The vendor account “%(name)s” is not active.") % {"name": campaign.account.name})
    with transaction.atomic():
        call = CallRecord.objects.create(
            campaign=campaign,
            recipient=first,
            account=campaign.account,
            attempt=0,
            mobile=mobile,
            is_test=True,
            custom_id=f"T{secrets.token_hex(8)}",
        )
        audit.record(actor, campaign, format_lazy(gettext_lazy("Test call to {mobile}"), mobile=mobile))
        transaction.on_commit(lambda: send_task.delay(call.pk))
    return call


def start_due_campaigns() -> int:
    """Scheduled campaigns whose start time has come begin running."""
    due = Campaign.objects.filter(state=Campaign.State.SCHEDULED, scheduled_at__lte=timezone.now())
    return Campaign.transition(due, Campaign.State.RUNNING)
