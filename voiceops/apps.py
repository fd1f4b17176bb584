from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class VoiceOpsConfig(AppConfig):
    name = "voiceops"
    verbose_name = _("VoiceOps")

    def ready(self):
        from .periodic import ensure_periodic_tasks

        post_migrate.connect(ensure_periodic_tasks, dispatch_uid="voiceops.ensure_periodic_tasks")
