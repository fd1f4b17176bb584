from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class VoiceOpsConfig(AppConfig):
    name = "voiceops"
    verbose_name = _("VoiceOps")

    def ready(self):
        from . import library_i18n  # login_throttle: its signal receivers
        from .periodic import ensure_periodic_tasks

        library_i18n.install()

        post_migrate.connect(ensure_periodic_tasks, dispatch_uid="voiceops.ensure_periodic_tasks")
