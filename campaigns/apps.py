from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from vendors.models import VendorAccount

        from . import admin_single_calls  # noqa: F401  (registers the single-call admin beside campaigns.admin)
        from .callbacks.accounts import forget_accounts
        from .models import Recipient

        post_delete.connect(_recipient_deleted, sender=Recipient, dispatch_uid="campaigns.recipient_count")
        # a saved account (new token, deactivated) is seen at once by this process's callback view
        post_save.connect(forget_accounts, sender=VendorAccount, dispatch_uid="callbacks.forget_accounts")


def _recipient_deleted(sender, instance, **kwargs):
    """Keep Campaign.recipient_count right when a recipient is deleted (admin, cascade)."""
    from django.db.models import F

    from .models import Campaign

    Campaign.objects.filter(pk=instance.campaign_id, recipient_count__gt=0).update(
        recipient_count=F("recipient_count") - 1
    )
