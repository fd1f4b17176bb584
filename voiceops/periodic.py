"""The beat schedule, stored in django-celery-beat's tables so operators can see and change it.

``ensure_periodic_tasks`` runs after every ``migrate``: it creates missing entries and leaves
entries an operator has edited alone. These tasks keep the system running: only a superuser may
disable or delete one (``voiceops.admin``), and the admin says what each does.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class SystemTask:
    task: str
    every_seconds: int
    queue: str
    label: Promise
    purpose: Promise


# Keyed by the name stored in the database (English, stable); people read ``label``.
PERIODIC_TASKS = {
    "Dispatch due calls": SystemTask(
        "campaigns.dispatch.tick", 5, "dispatch", _("Dispatch due calls"),
        _("Starts campaigns whose time has come and hands each one with calls due to a dispatcher. "
          "Without it no call is placed."),
    ),
    "Pull vendor reports": SystemTask(
        "campaigns.reports.pull_all", 20, "reports", _("Pull vendor reports"),
        _("Fetches call results from vendors that do not push them. Without it those calls stay "
          "submitted."),
    ),
    "Expire calls without a report": SystemTask(
        "campaigns.reports.expire_overdue", 300, "reports", _("Expire calls without a report"),
        _("Marks calls whose report window has passed without a result, so campaigns can finish."),
    ),
    "Apply callback events left unapplied": SystemTask(
        "campaigns.reports.apply_stalled_events", 120, "reports", _("Apply callback events left unapplied"),
        _("Applies vendor pushes that were stored but not applied (a worker stopped midway)."),
    ),
    "Reconcile calls stuck in submitting": SystemTask(
        "campaigns.dispatch.reconcile_stuck", 300, "dispatch", _("Reconcile calls stuck in submitting"),
        _("Finds calls whose submission may have reached the vendor without an answer and flags them "
          "for an operator instead of sending them twice."),
    ),
    "Snapshot vendor balances": SystemTask(
        "vendors.snapshot_balances", 900, "reports", _("Snapshot vendor balances"),
        _("Reads every active account's balance for the finance pages and the low-balance alert."),
    ),
    "Fail interrupted imports": SystemTask(
        "campaigns.imports.fail_interrupted", 300, "imports", _("Fail interrupted imports"),
        _("Marks imports whose worker died as failed, so the list can be uploaded again."),
    ),
    "Forget expired idempotency keys": SystemTask(
        "idempotency.delete_expired", 3600, "default", _("Forget expired idempotency keys"),
        _("Deletes Idempotency-Key records older than their retention (24 hours by default), so a "
          "key may be used again after that."),
    ),
    "Deliver webhooks": SystemTask(
        "webhooks.deliver_due", 2, "webhooks", _("Deliver webhooks"),
        _("Sends due webhook deliveries to the customer's systems and retries failed ones. Without it "
          "no webhook is sent (the events wait, none is lost)."),
    ),
    "Disable failing webhook endpoints, purge old events": SystemTask(
        "webhooks.housekeeping", 600, "webhooks", _("Disable failing webhook endpoints, purge old events"),
        _("Switches off endpoints with no successful delivery for days (operators are e-mailed) and "
          "deletes finished webhook events past their retention."),
    ),
}  # fmt: skip


def system_task(name: str) -> SystemTask | None:
    return PERIODIC_TASKS.get(name)


def ensure_periodic_tasks(app_config=None, **kwargs) -> None:
    if app_config is not None and app_config.label != "django_celery_beat":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, spec in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        schedule, _created = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(name=name, task=spec.task, interval=schedule, queue=spec.queue)
