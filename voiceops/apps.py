from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class VoiceOpsConfig(AppConfig):
    name = "voiceops"
    verbose_name = _("VoiceOps")

    def ready(self):
        from . import login_throttle  # noqa: F401  (its signal receivers)
        from .periodic import ensure_periodic_tasks

        post_migrate.connect(ensure_periodic_tasks, dispatch_uid="voiceops.ensure_periodic_tasks")
        self._name_login_records()

    @staticmethod
    def _name_login_records():
        """django-axes ships no Chinese: its app and model get names from our catalogue."""
        from django.apps import apps

        apps.get_app_config("axes").verbose_name = _("Login protection")
        meta = apps.get_model("axes", "AccessAttempt")._meta
        meta.verbose_name, meta.verbose_name_plural = _("failed login record"), _("failed logins")
