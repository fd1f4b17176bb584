"""Celery tasks (queue ``webhooks``): thin, driven by the beat."""

from celery import shared_task

from . import delivery, services


@shared_task(name="webhooks.deliver_due", ignore_result=True)
def deliver_due() -> int:
    """Beat, every 2 s: send what is due (claimed by a conditional UPDATE, so ticks may overlap)."""
    return delivery.deliver_due()


@shared_task(name="webhooks.housekeeping", ignore_result=True)
def housekeeping() -> int:
    """Beat: switch off endpoints failing for days (operators are e-mailed), drop old finished events."""
    services.disable_failing_endpoints()
    return services.purge_old_events()
