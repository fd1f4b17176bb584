"""Nothing is lost if a process dies between the commit and the send: the beat's task delivers it.

The call's final state is committed by a process that is then killed (SIGKILL, no clean-up);
a real Celery worker on Redis runs the beat's task, and the receiver gets the signed event.
"""

import os
import signal
import subprocess
import sys

import pytest
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import CallRecord
from tests.conftest import ROOT, wait_for
from tests.factories import make_campaign
from webhooks.models import Delivery, Event

pytestmark = pytest.mark.worker

COMMIT_THEN_DIE = """
import os, signal, django
django.setup()
from django.db import transaction
from campaigns.models import CallRecord
call = CallRecord.objects.get(pk={call_id})
with transaction.atomic():
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    assert call.move_to("answered", outcome="answered", talk_seconds=21, reported_at=call.submitted_at)
print("not reached")
"""


def test_a_process_killed_right_after_commit_loses_no_event(worker, receiver, endpoint_for, monkeypatch):
    from django.db import connection

    from webhooks.tasks import deliver_due

    hook = receiver()
    endpoint_for(hook, event_types=["call.answered"])
    campaign = make_campaign(recipients=1)
    campaign_services.launch(campaign)
    call = CallRecord.objects.get(campaign=campaign)
    CallRecord.objects.filter(pk=call.pk).update(state="submitted", submitted_at=timezone.now())

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PYTHONPATH": str(ROOT),
    }
    died = subprocess.run(
        [sys.executable, "-c", COMMIT_THEN_DIE.format(call_id=call.pk)], cwd=ROOT, env=env, capture_output=True
    )
    assert died.returncode == -signal.SIGKILL, died.stderr.decode()
    assert b"not reached" not in died.stdout
    assert CallRecord.objects.get(pk=call.pk).state == "answered"
    assert Delivery.objects.get().state == "pending"  # committed with the change, not yet sent

    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "True")
    worker(queues="webhooks", concurrency=1)
    deliver_due.apply_async(queue="webhooks")  # what the beat sends every 2 s
    assert wait_for(lambda: Delivery.objects.get().state == "delivered", timeout=60)
    (got,) = hook.received
    assert got.verified and got.json["data"]["id"] == call.pk and got.json["data"]["talk_seconds"] == 21
    assert got.headers["webhook-id"] == Event.objects.get().webhook_id
