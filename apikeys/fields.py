"""The fields that say who made a row (a person, or the API key of a system): one definition each
for every model that records it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def created_by_key_field(**options) -> models.ForeignKey:
    """Which system made the row over the API, where there is no person.

    Keys are revoked, never deleted, so PROTECT keeps the record of who made what (SET_NULL would
    erase it).
    """
    return models.ForeignKey(
        "apikeys.ApiKey",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by API key"),
        **options,
    )


def created_by_field() -> models.ForeignKey:
    """The person who made the row (in the admin, or over the API with a session); kept empty when
    that user is deleted, the audit log still names them."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
