"""Writes about endpoints: create and rotate (the secret is shown once), resend, disable the failing."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from voiceops import audit

from .addresses import AddressRefused, check_url
from .events import EVENT_TYPES
from .models import Delivery, Endpoint, Event

logger = logging.getLogger(__name__)


def validate_url(url: str) -> None:
    """Refuse, in words, a URL we may not send to (checked on every save; again on every delivery)."""
    try:
        check_url(url)
    except AddressRefused as exc:
        raise ValidationError(
            {"url": _("This address cannot receive webhooks: %(reason)s.") % {"reason": exc}}
        ) from exc


def validate_event_types(event_types) -> None:
    if not isinstance(event_types, list) or not event_types:
        raise ValidationError({"event_types": _("Choose at least one event.")})
    unknown = sorted({str(t) for t in event_types} - set(EVENT_TYPES))
    if unknown:
        raise ValidationError({"event_types": _("Unknown events: %(names)s.") % {"names": ", ".join(unknown)}})


def create_endpoint(*, name: str, url: str, event_types: list[str], is_active: bool = True, actor=None, key=None):
    """A new endpoint and its secret: the only time the secret is returned.

    ``actor`` is the person who added it, ``key`` the API key of the system that did; the other
    writes take either as ``actor`` (for the audit trail).
    """
    validate_url(url)
    validate_event_types(event_types)
    endpoint = Endpoint(
        name=name,
        url=url,
        event_types=list(dict.fromkeys(event_types)),
        is_active=is_active,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_by_key=key,
    )
    secret = endpoint.new_secret()
    with transaction.atomic():
        endpoint.save()
        audit.record(
            key if key is not None else actor, endpoint, gettext_lazy("Webhook endpoint created"), flag=audit.ADDITION
        )
    return endpoint, secret


def update_endpoint(endpoint: Endpoint, *, actor=None, **fields) -> Endpoint:
    """Change name, URL, events or active; switching an endpoint back on clears its failure record."""
    if "url" in fields:
        validate_url(fields["url"])
    if "event_types" in fields:
        validate_event_types(fields["event_types"])
        fields["event_types"] = list(dict.fromkeys(fields["event_types"]))
    reactivated = fields.get("is_active") and not endpoint.is_active
    for name, value in fields.items():
        setattr(endpoint, name, value)
    with transaction.atomic():
        # Only what the caller changed: "active" read before the beat switched the endpoint off is
        # not written back by a change of its name.
        endpoint.save(update_fields=[*fields, "updated_at"])
        if reactivated:
            endpoint.clear_failure_record()
        audit.record(actor, endpoint, gettext_lazy("Webhook endpoint changed"))
    return endpoint


def delete_endpoint(endpoint: Endpoint, *, actor=None) -> None:
    """Delete the endpoint and its deliveries (the API; the admin's delete logs itself).

    Logged first, in the same transaction: the entry keeps the endpoint's name and id once it is gone.
    """
    with transaction.atomic():
        audit.record(actor, endpoint, gettext_lazy("Webhook endpoint deleted"), flag=audit.DELETION)
        endpoint.delete()


def secret_grace() -> timedelta:
    """How long a replaced signing secret keeps signing deliveries beside the new one."""
    return timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS)


def rotate_secret(endpoint: Endpoint, *, actor=None) -> str:
    """A new secret, signing from the next try on; returned this once. The one writer of the secret.

    The secret it replaces keeps signing every delivery beside it for ``secret_grace()``, so the
    receiver verifies them while it is being given the new one. The row is locked and the secret
    replaced is the stored one, not the caller's copy: two rotations at once run one after the
    other, and the first one's secret (which its caller was given) is the second one's previous
    secret, valid for the grace period, instead of never working at all. ``endpoint`` is given the
    new values.
    """
    grace = secret_grace()
    with transaction.atomic():
        stored = Endpoint.objects.select_for_update().only("secret").get(pk=endpoint.pk)
        if grace > timedelta(0):
            endpoint.previous_secret = stored.secret
            endpoint.previous_secret_expires_at = timezone.now() + grace
        else:
            endpoint.previous_secret, endpoint.previous_secret_expires_at = None, None
        secret = endpoint.new_secret()
        endpoint.save(update_fields=[*Endpoint.ROTATED_SECRET_FIELDS, "updated_at"])
        audit.record(actor, endpoint, gettext_lazy("Webhook signing secret rotated"))
    return secret


def resend(deliveries, *, actor=None) -> int:
    """Try these deliveries again now, with a new round of retries; returns how many."""
    now = timezone.now()
    count = deliveries.update(state=Delivery.State.PENDING, tries=0, next_attempt_at=now)
    if count and actor is not None:
        logger.info("%s webhook deliveries resent by %s", count, actor)
    return count


def failed_deliveries(endpoint: Endpoint):
    """Deliveries whose tries failed: out of retries, or waiting hours for the next one.

    An operator who has just fixed a receiver wants both sent now, not the second kind up to eight
    hours later on the retry schedule.
    """
    return endpoint.deliveries.filter(Q(state=Delivery.State.FAILED) | Q(state=Delivery.State.PENDING, tries__gt=0))


def resend_failed(endpoint: Endpoint, *, actor=None) -> int:
    """Every failed delivery of the endpoint, again (those waiting for a retry too)."""
    with transaction.atomic():
        count = resend(failed_deliveries(endpoint), actor=actor)
        audit.record(
            actor, endpoint, format_lazy(gettext_lazy("Resent {count} failed webhook deliveries"), count=count)
        )
    return count


def disable_failing_endpoints() -> int:
    """Endpoints failing without a success for days are switched off, and operators told by e-mail."""
    now = timezone.now()
    cutoff = now - timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    disabled = 0
    for endpoint in Endpoint.objects.filter(is_active=True, failing_since__lt=cutoff):
        reason = _("No delivery succeeded since %(since)s.") % {
            "since": timezone.localtime(endpoint.failing_since).strftime("%Y-%m-%d %H:%M")
        }
        with transaction.atomic():
            claimed = Endpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
                is_active=False, disabled_at=now, disabled_reason=reason
            )
        if claimed:
            disabled += 1
            _tell_operators(endpoint, reason)
    return disabled


def _tell_operators(endpoint: Endpoint, reason: str) -> None:
    recipients = list(
        get_user_model()
        .objects.filter(groups__name="Operators", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        logger.warning("webhook endpoint %s disabled; no operator has an e-mail address", endpoint.pk)
        return
    send_mail(
        _("Webhook endpoint disabled: %(name)s") % {"name": endpoint.name},
        _(
            "The webhook endpoint %(name)s (%(url)s) was switched off. %(reason)s\n\n"
            "Its failed deliveries are kept: fix the receiver, switch the endpoint on in the admin, "
            "then resend its failed deliveries."
        )
        % {"name": endpoint.name, "url": endpoint.url, "reason": reason},
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )


PURGE_BATCH = 5000


def purge_old_events() -> int:
    """Events older than the retention whose deliveries are all finished go, with their tries."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    ids = list(
        Event.objects.filter(created_at__lt=cutoff)
        .exclude(deliveries__state=Delivery.State.PENDING)
        .values_list("id", flat=True)[:PURGE_BATCH]
    )
    if ids:
        Event.objects.filter(id__in=ids).delete()
    return len(ids)
