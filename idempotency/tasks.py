from celery import shared_task

from . import services


@shared_task(name="idempotency.delete_expired", ignore_result=True)
def delete_expired() -> int:
    """Beat: forget idempotency keys older than ``IDEMPOTENCY_KEY_HOURS``."""
    return services.delete_expired()
