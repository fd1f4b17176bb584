"""A vendor's active accounts, kept in this process for a few seconds (the receipt hot path).

Saving an account clears this process's copy at once (``forget_accounts``, connected to
``post_save`` in ``CampaignsConfig.ready``); other processes see a change (a new token, a
deactivated account) within ACCOUNT_CACHE_SECONDS.
"""

import time

from vendors.models import VendorAccount

ACCOUNT_CACHE_SECONDS = 10.0
_accounts: dict[str, tuple[float, list[VendorAccount]]] = {}


def active_accounts(vendor: str) -> list[VendorAccount]:
    now = time.monotonic()
    cached = _accounts.get(vendor)
    if cached is None or now - cached[0] > ACCOUNT_CACHE_SECONDS:
        cached = _accounts[vendor] = (now, list(VendorAccount.objects.filter(vendor=vendor, is_active=True)))
    return cached[1]


def forget_accounts(**kwargs) -> None:
    _accounts.clear()
