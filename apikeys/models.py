"""API keys: one per integrating system, stored hashed, shown once, scoped, with expiry and last use.

djangorestframework-api-key generates the key (``prefix.secret``), stores only its SHA-512 hash
and checks it in constant time; this model adds what an operator needs to run keys safely.
"""

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.models import AbstractAPIKey

from voiceops.runtime_state import RuntimeStateMixin

from .fields import created_by_field
from .scopes import SCOPE_LABELS

# last_used_at is written at most this often per key, so a busy integration costs one UPDATE a minute.
LAST_USED_PRECISION_SECONDS = 60


class ApiKey(RuntimeStateMixin, AbstractAPIKey):
    # Written by conditional UPDATEs: revoking (the admin's action) and ``touch``. A stale instance
    # saved over ``revoked`` (an admin rename racing a revocation, the library's re-hash on use)
    # would bring a revoked key back to life.
    RUNTIME_STATE_FIELDS = ("revoked", "last_used_at")

    prefix = models.CharField(
        _("prefix"), max_length=8, unique=True, editable=False, help_text=_("The key's public first part")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    name = models.CharField(
        _("name"), max_length=50, help_text=_("The system that uses this key, e.g. “order service (production)”.")
    )
    revoked = models.BooleanField(
        _("revoked"), default=False, help_text=_("A revoked key is refused at once; this cannot be undone.")
    )
    expiry_date = models.DateTimeField(
        _("expires"), null=True, blank=True, help_text=_("After this time the key is refused; empty: never.")
    )
    scopes = models.JSONField(
        _("scopes"),
        default=list,
        help_text=_("What requests with this key may do; a key without scopes can do nothing."),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    created_by = created_by_field()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def clean(self):
        super().clean()
        unknown = set(self.scopes) - set(SCOPE_LABELS)
        if unknown:
            raise ValidationError({"scopes": _("Unknown scopes: %(names)s") % {"names": ", ".join(sorted(unknown))}})
        if not self.scopes:
            raise ValidationError({"scopes": _("Choose at least one scope.")})

    @property
    def is_usable(self) -> bool:
        return not self.revoked and not self.has_expired

    def has_scope(self, *any_of: str) -> bool:
        return bool(set(self.scopes) & set(any_of))

    def scope_labels(self) -> list[str]:
        return [str(SCOPE_LABELS[s]) for s in self.scopes if s in SCOPE_LABELS]

    def touch(self) -> None:
        """Record a use, at most once a minute (a conditional UPDATE: concurrent requests write once)."""
        now = timezone.now()
        if self.last_used_at and (now - self.last_used_at).total_seconds() < LAST_USED_PRECISION_SECONDS:
            return
        stale = models.Q(last_used_at__isnull=True) | models.Q(
            last_used_at__lt=now - timedelta(seconds=LAST_USED_PRECISION_SECONDS)
        )
        ApiKey.objects.filter(stale, pk=self.pk).update(last_used_at=now)
        self.last_used_at = now


class KeyLogEntry(models.Model):
    """Something an API key did to a row (launched a campaign, rotated an endpoint's secret), for the
    audit trail (``voiceops.audit``).

    Django's admin log, where a person's actions go, needs a user; a key's go here, shaped like it,
    and both are shown together on the row's history page. The key is kept with PROTECT: a key
    that acted is revoked, never deleted, so the trail always names it.
    """

    action_time = models.DateTimeField(_("action time"), default=timezone.now, editable=False)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.PROTECT, related_name="log_entries", verbose_name=_("API key"), editable=False
    )
    content_type = models.ForeignKey(
        ContentType, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    object_id = models.TextField(_("object id"), blank=True, editable=False)
    object_repr = models.CharField(_("object"), max_length=200, editable=False)
    change_message = models.TextField(_("action"), editable=False)

    class Meta:
        verbose_name = _("API key action")
        verbose_name_plural = _("API key actions")
        ordering = ["-action_time", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="key_log_entry_object")]

    def __str__(self):
        return f"{self.api_key.name}: {self.change_message}"
