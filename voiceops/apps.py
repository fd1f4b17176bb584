from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoiceOpsConfig(AppConfig):
    name = "voiceops"
    verbose_name = _("VoiceOps")
