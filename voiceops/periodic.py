"""The beat schedule, stored in django-celery-beat's tables so operators can see and change it.

``ensure_periodic_tasks`` runs after every ``migrate``: it creates missing entries and leaves
entries an operator has edited alone.
"""

PERIODIC_TASKS = {
    # name shown in the admin: (task, every N seconds, queue)
    "Dispatch due calls": ("campaigns.dispatch.tick", 5, "dispatch"),
    "Pull vendor reports": ("campaigns.reports.pull_all", 20, "reports"),
    "Expire calls without a report": ("campaigns.reports.expire_overdue", 300, "reports"),
    "Apply callback events left unapplied": ("campaigns.reports.apply_stalled_events", 120, "reports"),
    "Reconcile calls stuck in submitting": ("campaigns.dispatch.reconcile_stuck", 300, "dispatch"),
    "Snapshot vendor balances": ("vendors.snapshot_balances", 900, "reports"),
    "Fail interrupted imports": ("campaigns.imports.fail_interrupted", 300, "imports"),
    "Forget expired idempotency keys": ("idempotency.delete_expired", 3600, "default"),
}


def ensure_periodic_tasks(app_config=None, **kwargs) -> None:
    if app_config is not None and app_config.label != "django_celery_beat":
        return
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, (task, seconds, queue) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(name=name, task=task, interval=schedule, queue=queue)
