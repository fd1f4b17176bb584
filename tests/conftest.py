"""Shared fixtures: fake vendors on loopback and vendor accounts pointing at them."""

import pytest


@pytest.fixture
def start_fake():
    """Start fake vendor servers for one test and stop them afterwards: ``start_fake(FakeIhuyi())``."""
    started = []

    def start(fake):
        started.append(fake.start())
        return fake

    yield start
    for fake in started:
        fake.stop()


# ---- real Celery worker
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# A Redis database per test run (pid-based), so parallel runs never take each other's tasks.
BROKER_URL = os.environ.get("CELERY_TEST_BROKER_URL", f"redis://127.0.0.1:6379/{1 + os.getpid() % 12}")


class Worker:
    """A real ``celery worker`` process on Redis, sharing the test database."""

    def __init__(self, db_name: str, queues: str = "dispatch,reports,imports,default", concurrency: int = 2):
        self.db_name, self.queues, self.concurrency = db_name, queues, concurrency
        self.process: subprocess.Popen | None = None

    def env(self) -> dict:
        from django.conf import settings

        db = settings.DATABASES["default"]
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{self.db_name}"
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": url,
            "CELERY_BROKER_URL": BROKER_URL,
            "CELERY_TASK_ALWAYS_EAGER": "False",
            "PYTHONPATH": str(ROOT),
        }

    def start(self) -> "Worker":
        log = open(ROOT / "var" / "test-worker.log", "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "voiceops",
                "worker",
                "-Q",
                self.queues,
                "-c",
                str(self.concurrency),
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--pool",
                "prefork",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)


@pytest.fixture
def celery_broker():
    """Point this process's Celery app at Redis (not eager) for the test, and purge the queues."""
    from voiceops.celery import app

    old = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=BROKER_URL, task_always_eager=False)
    _reset_pool(app)
    with app.connection_for_write() as conn:
        for queue in ("dispatch", "reports", "imports", "webhooks", "default"):
            conn.default_channel.queue_purge(queue)
    yield app
    app.conf.update(**old)
    _reset_pool(app)


def _reset_pool(app):
    """Drop pooled broker connections so the next publish uses the current broker_url."""
    app._pool = None  # kombu keeps one pool per broker URL; never close them (they are shared)
    app.amqp._producer_pool = None


@pytest.fixture
def worker(transactional_db, celery_broker):
    """Start a real worker (after the test database exists) and stop it afterwards."""
    from django.db import connection

    started = []

    def start(**kwargs) -> Worker:
        started.append(Worker(connection.settings_dict["NAME"], **kwargs).start())
        return started[-1]

    yield start
    for w in started:
        w.kill(signal.SIGTERM)


def wait_for(predicate, timeout=30.0, interval=0.2):
    """Poll until ``predicate()`` is truthy; returns its last value (tests then assert on it)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture(autouse=True)
def _fresh_callback_account_cache():
    """The callback view keeps accounts for a few seconds; each test starts without that copy."""
    from campaigns.callbacks.accounts import forget_accounts

    forget_accounts()
    yield
    forget_accounts()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the settings' language: a request with Accept-Language (the locale
    middleware activates it in the thread) must not leak into the next test's messages."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_shared_cache(settings):
    """Each test starts with this run's part of the shared Redis cache empty (other runs' keys stay)."""
    yield
    cache_settings = settings.CACHES["default"]
    if cache_settings["BACKEND"].endswith("RedisCache"):
        import redis

        client = redis.Redis.from_url(cache_settings["LOCATION"])
        keys = list(client.scan_iter(f"{cache_settings['KEY_PREFIX']}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
