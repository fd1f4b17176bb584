from celery import shared_task

from . import services


@shared_task(name="vendors.snapshot_balances")
def snapshot_balances() -> int:
    """Beat: read every active account's balance (alerts finance on a crossing)."""
    return services.snapshot_all_balances()
