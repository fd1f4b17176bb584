"""Idempotency keys: a retried POST answers what the first one answered and creates nothing more."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` a credential sent, with the request it named and the answer it got.

    The row is inserted in the same transaction as the work it guards and committed with it, so a
    request that failed or died leaves no key behind, and a concurrent duplicate waits on the
    unique index until the first one commits (then it replays the answer).
    """

    credential = models.CharField(_("credential"), max_length=100)
    key = models.CharField(_("key"), max_length=255)
    method = models.CharField(_("method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status"))
    response_body = models.JSONField(_("response"), null=True, blank=True)
    location = models.CharField(_("location"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["credential", "key"], name="idempotency_key_per_credential")]

    def __str__(self):
        return self.key
