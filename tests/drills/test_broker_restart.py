"""The broker (Redis) restarted mid-campaign under a real Celery worker: nothing lost, nothing twice.

Redis is shut down without saving while the worker dispatches to a slow vendor, so every queued
task message is gone; the beat's ticks fail while it is down. Afterwards, with ticks resumed,
every recipient has exactly its one attempt, each accepted by the vendor once.

The Redis restarted here is a private ``redis-server`` on a free loopback port, started and
stopped by these tests: the machine's Redis on 6379 serves other test runs and benchmarks at the
same time, and restarting it under them would break their workers.

Celery 5.7.0 / kombu 5.7.0 have a bug here: a worker whose consumer is waiting on the broker while
it holds a reserved (prefetched, not yet started) message dies when the connection drops, with
``Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")``: after
``Connection.collect()`` has dropped the transport, the consumer closes the channel again and
restoring the unacked message needs the transport. ``voiceops/kombu_fix.py`` guards against it, so the worker
reconnects by itself: the test asserts no worker had to be restarted (``supervise`` would).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter

import pytest
import redis
from django.utils import timezone

from campaigns import lifecycle, services
from campaigns.models import CallRecord, Campaign
from campaigns.tasks import run_campaign, tick
from tests.conftest import Worker, _reset_pool, wait_for
from tests.drills.helpers import TEXT, dialled, ihuyi_account
from tests.factories import make_campaign
from tests.fakes.ihuyi import FakeIhuyi

pytestmark = pytest.mark.worker


class RedisServer:
    """A private, non-persistent redis-server on a free loopback port."""

    def __init__(self):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="drill-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def up(self) -> bool:
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def start(self) -> "RedisServer":
        if not self.up():
            subprocess.run(
                [
                    "redis-server",
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self.dir,
                    "--pidfile",
                    os.path.join(self.dir, "redis.pid"),
                ],
                capture_output=True,
                timeout=10,
                check=True,
            )
            assert wait_for(self.up, timeout=10, interval=0.1), "Redis did not start"
        return self

    def stop(self) -> None:
        """``redis-cli shutdown nosave``: every queued and unacknowledged task message is gone."""
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10)
        assert wait_for(lambda: not self.up(), timeout=10, interval=0.1), "Redis did not stop"


class DrillWorker(Worker):
    def __init__(self, db_name: str, broker_url: str, **kwargs):
        super().__init__(db_name, **kwargs)
        self.broker_url = broker_url

    def env(self) -> dict:
        return {**super().env(), "CELERY_BROKER_URL": self.broker_url}


@pytest.fixture
def broker():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("needs redis-server and redis-cli to run a private broker")
    server = RedisServer().start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def drill_worker(transactional_db, broker):
    """Like the suite's ``worker`` fixture, on the private broker (this process publishes there too)."""
    from django.db import connection

    from voiceops.celery import app

    old = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=broker.url, task_always_eager=False)
    _reset_pool(app)
    started = []

    def start(**kwargs) -> DrillWorker:
        started.append(DrillWorker(connection.settings_dict["NAME"], broker.url, **kwargs).start())
        return started[-1]

    yield start
    for w in started:
        w.kill(signal.SIGTERM)
    app.conf.update(**old)
    _reset_pool(app)


def publish(task, *args) -> bool:
    """What the beat does on each tick; while the broker is down the publish fails and is skipped."""
    try:
        task.apply_async(args=args, queue="dispatch", retry=False)
        return True
    except Exception:  # kombu raises OperationalError / ConnectionError variants while Redis is down
        return False


def supervise(start_worker, workers: list) -> int:
    """What a process manager (systemd Restart=always) does: start a new worker for each that exited."""
    restarted = 0
    for w in list(workers):
        if w.process.poll() is not None:
            workers.remove(w)
            workers.append(start_worker(queues="dispatch"))
            restarted += 1
    return restarted


def test_broker_restart_mid_campaign_loses_nothing_and_dials_nothing_twice(drill_worker, broker, start_fake):
    fake = start_fake(FakeIhuyi())
    fake.delay = 0.2  # a slow vendor: the restart lands while requests are in flight
    recipients = 300
    account = ihuyi_account(fake, rate_limit_per_second=25)
    campaign = make_campaign(recipients=recipients, account=account, content=TEXT, rate_limit_per_second=25)
    services.launch(campaign)

    workers = [drill_worker(queues="dispatch")]
    assert publish(tick)
    assert wait_for(lambda: len(fake.submitted) >= 40, timeout=30), "the worker should be dialling"
    for _ in range(5):  # queued work the restart wipes out (each would be a no-op under the campaign's lease)
        publish(run_campaign, campaign.pk)

    broker.stop()
    down_at = timezone.now()
    try:
        assert not publish(tick), "the beat cannot publish while the broker is down"
        # The dispatcher does not need the broker: it goes on sending while Redis is down.
        sent_before = len(fake.submitted)
        assert wait_for(lambda: len(fake.submitted) > sent_before + 10, timeout=10)
        # An operator pauses meanwhile (the database is up); the running dispatcher stops at its next batch.
        services.pause(Campaign.objects.get(pk=campaign.pk))
        assert wait_for(lambda: Campaign.objects.get(pk=campaign.pk).dispatch_lease_until is None, timeout=15)
        sent_at_pause = len(fake.submitted)
        time.sleep(1.0)
        assert len(fake.submitted) == sent_at_pause, "a paused campaign dials nothing"
    finally:
        broker.start()

    # Broker back, campaign resumed, ticks resumed: the worker reconnects (or is restarted) and finishes.
    services.resume(Campaign.objects.get(pk=campaign.pk))
    fake.delay = 0.05
    resumed_at = timezone.now()

    restarts = 0

    def all_sent():
        nonlocal restarts
        restarts += supervise(drill_worker, workers)
        publish(tick)
        return not CallRecord.objects.filter(campaign=campaign, state__in=["queued", "submitting"]).exists()

    assert wait_for(all_sent, timeout=45, interval=1.0), Counter(
        CallRecord.objects.filter(campaign=campaign).values_list("state", flat=True)
    )
    assert sent_at_pause < recipients, "some calls should have been left for after the restart"
    assert (
        CallRecord.objects.filter(campaign=campaign, submitted_at__gt=resumed_at).count() == recipients - sent_at_pause
    ), "the calls left at the pause were sent by ticks published after the broker came back"

    calls = CallRecord.objects.filter(campaign=campaign)
    assert calls.count() == recipients and calls.filter(attempt=1).count() == recipients  # one attempt each, none lost
    assert Counter(calls.values_list("state", flat=True)) == {"submitted": recipients}
    counts = dialled(fake)
    assert len(counts) == recipients and set(counts.values()) == {1}, "a number was dialled twice"
    assert set(counts) == set(calls.values_list("mobile", flat=True))
    assert calls.filter(submitted_at__lt=down_at).exists() and calls.filter(submitted_at__gt=down_at).exists()
    assert not lifecycle.complete_if_done(campaign.pk), "submitted calls still await receipts: not complete"
    assert restarts == 0, "a worker died when the broker went away (see voiceops/kombu_fix.py)"
