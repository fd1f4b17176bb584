"""Webhook endpoints of the customer's systems, the events we tell them, and every delivery attempt.

Events are written by database triggers (``webhooks.triggers``) in the same transaction as the
change that causes them, together with one ``Delivery`` per endpoint that wants them: the
deliveries table is the outbox, and the beat (``webhooks.delivery``) sends what is due.
"""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apikeys.fields import created_by_field, created_by_key_field
from vendors.fields import EncryptedTextField
from voiceops.runtime_state import RuntimeStateMixin

from .events import EVENT_TYPE_CHOICES


def all_event_types() -> list[str]:
    return [value for value, _label in EVENT_TYPE_CHOICES]


class Endpoint(RuntimeStateMixin, models.Model):
    """A URL of the customer's that wants some event types, signed with its own secret."""

    # Written by delivery's conditional UPDATEs (a success clears ``failing_since``, the first failure
    # sets it) and by switching a failing endpoint off. A stale instance saved over them would
    # bring back the failure clock a success had cleared (and a healthy endpoint gets switched off)
    # or wipe the one a failure had started.
    RUNTIME_STATE_FIELDS = ("failing_since", "last_success_at", "disabled_at", "disabled_reason")
    # Written only by ``services.rotate_secret`` (and the expired previous secret cleared by delivery's
    # conditional UPDATE): a stale instance saved after a rotation (an admin save in the same moment,
    # code holding the endpoint) would make the replaced secret the current one again, or give an
    # expired one back its grace period.
    ROTATED_SECRET_FIELDS = ("secret", "previous_secret", "previous_secret_expires_at")

    name = models.CharField(_("name"), max_length=100, help_text=_("Which system this is, e.g. “CRM production”."))
    url = models.URLField(
        _("URL"),
        max_length=500,
        help_text=_("HTTPS address our servers post events to; private and internal addresses are refused."),
    )
    event_types = models.JSONField(_("events"), default=all_event_types)
    secret = EncryptedTextField(_("signing secret"), editable=False)
    # The secret the last rotation replaced: it signs every delivery beside the current one until
    # ``previous_secret_expires_at`` (WEBHOOK_SECRET_GRACE_HOURS), so the receiver can be given the new
    # one without refusing anything meanwhile. Never used after that moment, whether cleared yet or not.
    # Null when there is none: a nullable column is added in place, where a NOT NULL one would make
    # SQLite rebuild the table under the webhook triggers that read it.
    previous_secret = EncryptedTextField(_("previous signing secret"), null=True, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret valid until"), null=True, blank=True, editable=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True, editable=False)
    disabled_reason = models.TextField(_("why disabled"), blank=True, editable=False)
    created_by = created_by_field()
    # The key of the system that added the endpoint over the API (as on Campaign), kept with PROTECT.
    created_by_key = created_by_key_field()
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def wants(self, event_type: str) -> bool:
        return event_type in (self.event_types or [])

    def signing_secrets(self, at=None) -> list[str]:
        """The secrets that sign a delivery made at ``at`` (now): the current one first, then the one
        it replaced while that is still valid. Decided at signing time, so no beat has to expire it."""
        if self.previous_secret_valid_until(at) is None:
            return [self.secret]
        return [self.secret, self.previous_secret]

    def previous_secret_valid_until(self, at=None):
        """When the replaced secret stops signing, or None if none signs any more at ``at`` (now)."""
        expires = self.previous_secret_expires_at
        if not self.previous_secret or expires is None or expires <= (at or timezone.now()):
            return None
        return expires

    def new_secret(self) -> str:
        """Give the endpoint a new signing secret and return it, this once.

        Saved by the caller: a new endpoint's first save, or ``services.rotate_secret`` by name (a
        full save of an existing endpoint leaves the secret alone)."""
        from .signing import new_secret

        self.secret = new_secret()
        return self.secret

    def clear_failure_record(self) -> None:
        """Switched back on by an operator: the days of failures before are no reason to switch it off again.

        Saved here, by name: a full save leaves runtime state alone.
        """
        self.failing_since = self.disabled_at = None
        self.disabled_reason = ""
        self.save(update_fields=["failing_since", "disabled_at", "disabled_reason"])


class Event(models.Model):
    """Something the customer's systems are told about; its ``uid`` is the ``webhook-id`` of every try."""

    uid = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(_("type"), max_length=40, choices=EVENT_TYPE_CHOICES)
    object_id = models.BigIntegerField(_("object id"))
    # The changed row as the trigger saw it (calls), so the payload tells the state of that moment.
    snapshot = models.JSONField(_("snapshot"), null=True, blank=True)
    created_at = models.DateTimeField(_("occurred"), default=timezone.now)
    # The JSON body, built once on the first try and sent unchanged on every later one.
    body = models.TextField(_("body"), blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_at"], name="webhook_event_time")]

    def __str__(self):
        return f"{self.type} #{self.object_id}"

    @property
    def webhook_id(self) -> str:
        return f"evt_{self.uid.hex}"


class Delivery(models.Model):
    """One event to one endpoint: tried until a 2xx answer or the retry schedule runs out."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event"))
    endpoint = models.ForeignKey(
        Endpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    # Tries in the current round (an operator's resend starts a new round); every try is a DeliveryAttempt.
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    # When it is due; a worker that claims it moves this forward (its lease), so a dead worker's
    # deliveries come due again by themselves.
    next_attempt_at = models.DateTimeField(_("next try"), default=timezone.now)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_due", condition=models.Q(state="pending")),
            models.Index(fields=["endpoint", "state"], name="webhook_endpoint_state"),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"


class DeliveryAttempt(models.Model):
    """One HTTP try: what came back (status, the head of the answer) or why nothing did."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("delivery")
    )
    attempted_at = models.DateTimeField(_("at"), default=timezone.now)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    error = models.TextField(_("error"), blank=True)
    response_head = models.TextField(_("response (first bytes)"), blank=True)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["-attempted_at", "-id"]

    def __str__(self):
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
