"""Vendor push endpoints: validate → store raw → parse → apply → answer what the vendor expects.

No session or CSRF: a vendor authenticates by the unguessable token in the URL (compared in
constant time, previous token accepted during rotation) and, for Emay, by a body that decrypts
with the account's key. The raw body is stored before anything else can fail.
"""

import logging
import time

from django.core.cache import cache
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from vendors.adapters import ADAPTERS, CallbackRejected, ParsedCallback, get_adapter
from vendors.models import VendorAccount
from voiceops.client_address import client_address

from ..models import CallbackEvent
from ..receipts.events import store_and_apply, store_unapplied
from .accounts import active_accounts

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024


def _within_rate(account: VendorAccount) -> bool:
    """At most ``callback_rate_limit`` pushes per second per account, counted in the shared cache
    (Redis in production) so that every web process draws from the same allowance."""
    key = f"voiceops.callback-rate.{account.pk}.{int(time.time())}"
    try:
        count = cache.incr(key)
    except ValueError:  # the first push of this second
        if cache.add(key, 1, timeout=5):
            return True
        count = cache.incr(key)
    return count <= account.callback_rate_limit


def _declared_length(request) -> int:
    value = request.META.get("CONTENT_LENGTH") or ""
    return int(value) if value.isdigit() else 0


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
    source = client_address(request)
    if not account.callback_source_allowed(source):
        logger.warning("callback for account %s refused: address %s not allowed", account.pk, source)
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    if not _within_rate(account):
        return HttpResponse("slow down", status=429, content_type="text/plain", headers={"Retry-After": "1"})
    if _declared_length(request) > MAX_BODY:  # refused before the body is read
        return HttpResponse("too large", status=413, content_type="text/plain")
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
        remote_addr=source,
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
