"""Vendor push endpoints: validate → store raw → parse → apply → answer what the vendor expects.

No session or CSRF: a vendor authenticates by the unguessable token in the URL (compared in
constant time, previous token accepted during rotation) and, for Emay, by a body that decrypts
with the account's key. The raw body is stored before anything else can fail.
"""

import logging
import time

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from vendors.adapters import ADAPTERS, CallbackRejected, ParsedCallback, get_adapter
from vendors.models import VendorAccount

from ..models import CallbackEvent
from ..receipts.events import store_and_apply, store_unapplied
from .accounts import active_accounts

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024

_buckets: dict[int, list[float]] = {}


def _within_rate(account: VendorAccount) -> bool:
    """A token bucket per account in this process (no database round trip on the hot path)."""
    now = time.monotonic()
    rate = account.callback_rate_limit
    tokens, last = _buckets.get(account.pk, (float(rate), now))
    tokens = min(float(rate), tokens + (now - last) * rate)
    if tokens < 1:
        _buckets[account.pk] = (tokens, now)
        return False
    _buckets[account.pk] = (tokens - 1, now)
    return True


def _account_for(vendor: str, token: str) -> VendorAccount | None:
    """The account whose current or previous token matches, compared in constant time."""
    for account in active_accounts(vendor):
        if account.token_matches(token):
            return account
    return None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def vendor_callback(request, vendor: str, token: str):
    if vendor not in ADAPTERS:
        return HttpResponse("unknown vendor", status=404, content_type="text/plain")
    account = _account_for(vendor, token)
    if account is None:
        logger.warning("callback for %s refused: unknown token", vendor)  # never log the token
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    if not account.callback_source_allowed(request.META.get("REMOTE_ADDR")):
        logger.warning(
            "callback for account %s refused: address %s not allowed", account.pk, request.META.get("REMOTE_ADDR")
        )
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    if not _within_rate(account):
        return HttpResponse("slow down", status=429, content_type="text/plain", headers={"Retry-After": "1"})
    body = request.body
    if len(body) > MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "authorization")}
    query = request.GET.dict()
    event = CallbackEvent(
        account=account,
        vendor=vendor,
        body=body,
        headers=headers,
        query=query,
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
    try:
        parsed: ParsedCallback = get_adapter(account).read_callback(body, headers, query)
    except CallbackRejected as exc:
        store_unapplied(event, CallbackEvent.State.REFUSED, str(exc))
        # the reason helps whoever sets up the push (a wrong key, a wrong appId, not the format)
        return HttpResponse(f"rejected: {exc}", status=400, content_type="text/plain; charset=utf-8")
    except Exception as exc:  # a parser bug: keep the event for re-processing, let the vendor retry
        logger.exception("callback for %s could not be parsed", vendor)
        store_unapplied(event, CallbackEvent.State.FAILED, f"{type(exc).__name__}: {exc}")
        return HttpResponse("error", status=500, content_type="text/plain")
    store_and_apply(event, parsed)  # a failure to apply is kept on the event; the vendor gets its ack
    return HttpResponse(parsed.ack_body, status=parsed.ack_status, content_type="text/plain; charset=utf-8")
