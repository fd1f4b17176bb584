"""Writes on API keys that the admin makes: revoking, logged in the same transaction."""

from django.db import transaction
from django.utils.translation import gettext_lazy

from voiceops import audit

from .models import ApiKey


def revoke(keys, *, actor) -> int:
    """Revoke the keys of ``keys`` still active; each gets an entry in its history. Returns how many."""
    with transaction.atomic():
        active = list(keys.filter(revoked=False).select_for_update())
        ApiKey.objects.filter(pk__in=[key.pk for key in active]).update(revoked=True)
        for key in active:
            audit.record(actor, key, gettext_lazy("Revoked"))
    return len(active)
