"""Vendor push endpoints: validate → store raw → parse → apply → answer what the vendor expects.

No session or CSRF: a vendor authenticates by the unguessable token in the URL (compared in
constant time, previous token accepted during rotation) and, for Emay, by a body that decrypts
with the account's key. The raw body is stored before anything else can fail.
"""

import logging

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from vendors.adapters import ADAPTERS, CallbackRejected, ParsedCallback, get_adapter
from vendors.models import VendorAccount

from .. import receipts
from ..models import CallbackEvent

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024


def _account_for(vendor: str, token: str) -> VendorAccount | None:
    """The account whose current or previous token matches, compared in constant time."""
    for account in VendorAccount.objects.filter(vendor=vendor, is_active=True):
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
    body = request.body
    if len(body) > MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("cookie", "authorization")}
    event = receipts.record_event(account, vendor, body, headers=headers, query=request.GET.dict(),
                                  remote_addr=request.META.get("REMOTE_ADDR"))
    try:
        parsed: ParsedCallback = get_adapter(account).parse_callback(body, headers, request.GET.dict())
    except CallbackRejected as exc:
        CallbackEvent.objects.filter(pk=event.pk).update(state=CallbackEvent.State.REFUSED, error=str(exc)[:2000])
        return HttpResponse("rejected", status=400, content_type="text/plain")
    receipts.apply_parsed(event, parsed)  # a failure is kept on the event; the vendor still gets its ack
    return HttpResponse(parsed.ack_body, status=parsed.ack_status, content_type="text/plain; charset=utf-8")
