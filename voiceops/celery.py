"""The Celery app. Queues: dispatch, reports, imports, default (routes in settings)."""

import os

from celery import Celery
from kombu import Queue

from .kombu_fix import install as install_kombu_fix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceops.settings")

install_kombu_fix()
app = Celery("voiceops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("dispatch", "reports", "imports", "webhooks", "default")]
app.autodiscover_tasks()


@app.task(name="voiceops.ping")
def ping(value: str = "pong") -> str:
    """Round trip used by health checks and the worker integration test."""
    from django.core.cache import cache

    cache.set(f"voiceops.ping.{value}", value, 300)
    return value
