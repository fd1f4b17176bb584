"""Writes about vendor accounts: balance snapshots, low-balance alerts, circuit breaker, callback token rotation."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .adapters import NotSupported, VendorError, VendorUnavailable, get_adapter
from .models import BalanceSnapshot, VendorAccount, new_callback_token

logger = logging.getLogger(__name__)

LAST_ERROR_MAX = 300  # characters an account shows as its last error
# An answer the adapter could not parse is described, never quoted: whoever points an account at a
# host of their own must not read that host's answers back through the admin.
_UNPARSED_ANSWER = re.compile(r"\[(bad_response|http_\d{3})\]\s*(.*)\Z", re.S)

CIRCUIT_FAILURES = 5  # consecutive request failures that open an account's circuit
CIRCUIT_OPEN_FOR = timedelta(minutes=2)
TOKEN_GRACE = timedelta(days=7)  # how long a replaced callback token keeps working


@dataclass
class SnapshotResult:
    snapshot: BalanceSnapshot | None
    error: str = ""


def error_summary(error: str | BaseException) -> str:
    """What an account shows as its last error: the vendor's parsed code and message, bounded."""
    if isinstance(error, VendorError):
        text = f"[{error.code}] {error.message}"
    elif isinstance(error, BaseException):
        text = str(error) or type(error).__name__
    else:
        text = error
    match = _UNPARSED_ANSWER.search(text)
    if match:
        text = (
            text[: match.start()]
            + f"[{match.group(1)}] "
            + _("the answer is not in the vendor's documented format (%(count)d characters, not shown)")
            % {"count": len(match.group(2))}
        )
    text = " ".join(text.split())
    return text if len(text) <= LAST_ERROR_MAX else text[: LAST_ERROR_MAX - 1] + "…"


def snapshot_balance(account: VendorAccount) -> SnapshotResult:
    """Read the balance from the vendor now, store it, and alert finance on a downward crossing."""
    try:
        balance = get_adapter(account).balance()
    except NotSupported:
        return SnapshotResult(None, _("this vendor has no balance query"))
    except (VendorError, VendorUnavailable) as exc:
        record_failure(account, exc)
        return SnapshotResult(None, error_summary(exc))
    below = balance.amount < account.low_balance_threshold
    try:
        snapshot = BalanceSnapshot.objects.create(
            account=account, amount=balance.amount, unit=balance.unit, raw=balance.raw[:2000], below_threshold=below
        )
    except DatabaseError:  # an amount the column cannot hold: the vendor's answer is wrong
        return SnapshotResult(
            None, _("the vendor answered a balance that cannot be stored: %(amount)s") % {"amount": balance.amount}
        )
    _alert_on_crossing(account, snapshot)
    return SnapshotResult(snapshot)


def _alert_on_crossing(account: VendorAccount, snapshot: BalanceSnapshot) -> None:
    """One e-mail per crossing below the threshold, not one per check (claimed with a conditional update)."""
    if not snapshot.below_threshold:
        VendorAccount.objects.filter(pk=account.pk, low_balance_alerted=True).update(low_balance_alerted=False)
        return
    if not VendorAccount.objects.filter(pk=account.pk, low_balance_alerted=False).update(low_balance_alerted=True):
        return
    recipients = list(
        get_user_model()
        .objects.filter(groups__name="Finance", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if recipients:
        send_mail(
            _("Low balance: %(name)s") % {"name": account.name},
            _("The balance of %(name)s is %(amount)s %(unit)s, below the threshold of %(threshold)s.")
            % {
                "name": account.name,
                "amount": snapshot.amount,
                "unit": snapshot.unit,
                "threshold": account.low_balance_threshold,
            },
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )


def snapshot_all_balances() -> int:
    count = 0
    for account in VendorAccount.objects.filter(is_active=True):
        if snapshot_balance(account).snapshot:
            count += 1
    return count


def record_failure(account: VendorAccount, error: str | BaseException, failures: int = 1) -> None:
    """Count a failed request; after CIRCUIT_FAILURES in a row the circuit opens.

    While open, dispatch skips the account. When it half-opens (time passed), one more failure
    opens it again at once; one success closes it.
    """
    now = timezone.now()
    VendorAccount.objects.filter(pk=account.pk).update(
        consecutive_failures=F("consecutive_failures") + failures,
        last_error=error_summary(error),
        last_error_at=now,
    )
    opened = VendorAccount.objects.filter(pk=account.pk, consecutive_failures__gte=CIRCUIT_FAILURES).update(
        circuit_open_until=now + CIRCUIT_OPEN_FOR, consecutive_failures=CIRCUIT_FAILURES - 1
    )
    if opened:
        logger.warning("circuit opened for vendor account %s", account.pk)


def record_success(account: VendorAccount) -> None:
    VendorAccount.objects.filter(pk=account.pk).exclude(consecutive_failures=0, circuit_open_until=None).update(
        consecutive_failures=0, circuit_open_until=None
    )


def rotate_callback_token(account: VendorAccount, grace: timedelta = TOKEN_GRACE) -> None:
    """A new callback token; the one it replaces keeps working for ``grace``, while the vendor's
    console is updated.

    The one writer of the token fields (a full save leaves them alone): the row is locked and the
    token replaced is the stored one, so two rotations at once leave the first one's token valid
    for the grace period, not dropped. Saved by name, so the callback account caches forget the old one.
    """
    with transaction.atomic():
        stored = VendorAccount.objects.select_for_update().only("callback_token").get(pk=account.pk)
        account.previous_callback_token = stored.callback_token
        account.previous_token_valid_until = timezone.now() + grace
        account.callback_token = new_callback_token()
        account.save(update_fields=[*VendorAccount.ROTATED_SECRET_FIELDS, "updated_at"])
