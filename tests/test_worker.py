"""A real Celery worker on Redis runs our tasks end to end."""

import pytest
from django.core.cache import cache

from tests.conftest import wait_for

pytestmark = pytest.mark.worker


def test_a_task_runs_on_a_real_worker(worker):
    from voiceops.celery import ping

    worker(queues="default")
    token = "ping-from-test"
    cache.delete(f"voiceops.ping.{token}")
    ping.apply_async(args=[token], queue="default")
    assert wait_for(lambda: cache.get(f"voiceops.ping.{token}"), timeout=60) == token
