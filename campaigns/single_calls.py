"""Single calls: one call to one number placed over the API (DESIGN.md, "Transactional calls").

Accepting a call checks what it asks for, picks the account (the caller's, the template's, or the
product's ``CallRoute``), applies the frequency limits (``campaigns.frequency``) and creates the
call with its first attempt in one transaction. The attempt is a ``CallRecord`` like any campaign
call's: a worker claims, sends and records it by the same rules (``single_dispatch``), woken when
the transaction commits, with the beat's tick as the safety net.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from vendors.adapters import adapter_class
from vendors.models import VendorAccount

from . import frequency, single_dispatch, tasks
from .models import CallRecord, CallRoute, SingleCall, VoiceTemplate
from .phones import InvalidNumber, normalize

logger = logging.getLogger(__name__)
CODE = re.compile(r"[0-9]{4,6}")


class CallRefused(Exception):
    """A frequency limit refused the call; nothing was created or sent."""

    def __init__(self, refusal: frequency.Refusal):
        super().__init__(refusal.message())
        self.refusal = refusal


@dataclass
class CallRequest:
    """What an API client asks for, before it is checked."""

    mobile: str
    product: str
    code: str = ""
    template: int | None = None
    variables: list[str] = field(default_factory=list)
    content: str = ""
    out_id: str = ""
    account: int | None = None


def place_call(request: CallRequest, *, credential: str, user=None, key=None) -> SingleCall:
    """Check, limit and create a single call with its first attempt; raises ValidationError or CallRefused."""
    call = prepare(request)
    adapter = adapter_class(call.account.vendor)
    now = timezone.now()
    # The checks write nothing unless they pass (the quota's upsert adds only below the cap), so a
    # refusal leaves the transaction clean and needs no savepoint.
    with transaction.atomic(savepoint=False):
        frequency.lock_number(call.mobile)
        refusal = (
            frequency.number_refusal(call.mobile, now)
            or frequency.vendor_refusal(adapter, call.account_id, call.mobile, now)
            or frequency.take_daily_quota(credential, now)
        )
        if refusal is None:
            call.credential, call.created_by, call.created_by_key, call.created_at = credential, user, key, now
            call.save(force_insert=True)
            attempt = CallRecord.objects.create(
                single_call=call,
                account=call.account,
                attempt=1,
                mobile=call.mobile,
                custom_id=f"S{call.pk}A1",
                created_at=now,
            )
            transaction.on_commit(wake_dispatch)
    if refusal is not None:
        raise CallRefused(refusal)
    call.attempt_list = [attempt]  # what the answer shows, without reading it back
    return call


def wake_dispatch() -> None:
    """Have a worker send the committed call now, unless a drain is already pending (it will);
    if the broker cannot take the task, the beat's tick sends the call."""
    if not single_dispatch.should_wake():
        return
    try:
        tasks.send_due_single_calls.delay()
    except Exception:  # the call is committed and answered 201: never fail the request for this
        single_dispatch.wake_not_sent()
        logger.warning("single-call drain not enqueued; the dispatch tick will send the call", exc_info=True)


def prepare(request: CallRequest) -> SingleCall:
    """The unsaved call, or ValidationError naming every field to correct."""
    errors: dict[str, str] = {}
    try:
        mobile = normalize(request.mobile)
    except InvalidNumber as exc:
        errors["mobile"] = str(exc)
        mobile = ""
    if request.product not in SingleCall.PRODUCTS:
        errors["product"] = gettext("Choose one of: %(products)s.") % {"products": ", ".join(SingleCall.PRODUCTS)}
        raise ValidationError(errors)
    template = _template(request, errors)
    account = _account(request, template, errors)
    if account is not None:
        _check_message(request, account, template, errors)
    if errors:
        raise ValidationError(errors)
    variables = [request.code] if request.product == "verify" else list(request.variables)
    return SingleCall(
        out_id=request.out_id,
        product=request.product,
        mobile=mobile,
        account=account,
        template=template,
        variables=variables,
        content=request.content if request.product != "verify" else "",
    )


def _template(request: CallRequest, errors: dict) -> VoiceTemplate | None:
    if request.template is None:
        return None
    template = VoiceTemplate.objects.select_related("account").filter(pk=request.template).first()
    if template is None:
        errors["template"] = gettext("No template with id %(id)s.") % {"id": request.template}
    elif template.review_state == VoiceTemplate.Review.REJECTED:
        errors["template"] = gettext("This template was rejected by the vendor; choose an approved one.")
    return template


def _account(request: CallRequest, template: VoiceTemplate | None, errors: dict) -> VendorAccount | None:
    if request.account is not None:
        account = VendorAccount.objects.filter(pk=request.account).first()
        if account is None:
            errors["account"] = gettext("No vendor account with id %(id)s.") % {"id": request.account}
            return None
    elif template is not None:
        account = template.account
    else:
        route = CallRoute.objects.select_related("account").filter(product=request.product).first()
        if route is None:
            errors["account"] = gettext(
                "No account was given and no single-call route is set for “%(product)s”; name an account, "
                "or ask an operator to set the route in the admin."
            ) % {"product": request.product}
            return None
        account = route.account
    if not account.is_active:
        errors["account"] = gettext("The vendor account “%(name)s” is inactive.") % {"name": account.name}
        return None
    if request.product not in adapter_class(account.vendor).products:
        errors["product"] = gettext("%(vendor)s cannot send “%(product)s” calls.") % {
            "vendor": account.get_vendor_display(),
            "product": request.product,
        }
        return None
    if template is not None and template.account_id != account.pk:
        errors["template"] = gettext("The template belongs to another vendor account.")
    return account


def _check_message(request: CallRequest, account: VendorAccount, template, errors: dict) -> None:
    adapter = adapter_class(account.vendor)
    if request.product == "verify":
        if not CODE.fullmatch(request.code or ""):
            errors["code"] = gettext("A verification code is 4 to 6 digits.")
        if template is not None or request.content or request.variables:
            errors["product"] = gettext(
                "A verification call takes only a code: leave out template, variables and content."
            )
        return
    if request.code:
        errors["code"] = gettext("Only verification calls take a code; use a template and its variables.")
    if (template is None) == (not request.content):
        errors.setdefault(
            "template", gettext("Give a template (with its variables) or content, not both and not neither.")
        )
        return
    if template is None and not adapter.free_content:
        errors["content"] = gettext(
            "%(vendor)s plays only templates filed with it; give a template instead of content."
        ) % {"vendor": account.get_vendor_display()}
        return
    text = template.content if template is not None else request.content
    names = VoiceTemplate(content=text).variable_names
    if len(request.variables) != len(names):
        errors["variables"] = gettext("The message needs %(count)d variable(s) (%(names)s); %(given)d given.") % {
            "count": len(names),
            "names": "、".join(names) or "—",
            "given": len(request.variables),
        }
        return
    rendered = VoiceTemplate(content=text).render(list(request.variables))
    if adapter.max_content_length and len(rendered) > adapter.max_content_length:
        errors["content"] = gettext("%(vendor)s plays at most %(max)d characters; this message has %(count)d.") % {
            "vendor": account.get_vendor_display(),
            "max": adapter.max_content_length,
            "count": len(rendered),
        }
