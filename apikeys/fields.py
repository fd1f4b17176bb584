"""The field that says which API key made a row: one definition for every model that records it."""

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
