from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from .triggers import reinstall_after_migrate

        post_migrate.connect(reinstall_after_migrate, dispatch_uid="webhooks.reinstall_triggers")
