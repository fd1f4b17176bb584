"""The dashboard says so when no worker runs: calls are accepted but nothing is dialled."""

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from campaigns import tasks
from tests.test_admin_pages import login
from voiceops import worker_health


def banner(page: str) -> str:
    return page.split('id="vo-worker-silent"')[1].split("</div>\n    </div>")[0] if "vo-worker-silent" in page else ""


def test_a_worker_that_never_ran_is_said_on_the_dashboard_in_chinese(admin_client):
    cache.delete(worker_health.KEY)
    page = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "后台进程" in banner(page) and "make run" in banner(page)


def test_the_warning_goes_once_the_tick_runs_and_comes_back_when_it_stops(admin_client):
    tasks.tick()  # what the beat makes a worker run every few seconds
    assert banner(admin_client.get("/admin/").content.decode()) == ""
    stopped = timezone.now() - worker_health.SILENT_AFTER - timedelta(minutes=3)
    cache.set(worker_health.KEY, stopped, None)
    text = banner(admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert "not running" in text and "It last ran at" in text
    assert worker_health.silence() == {"since": stopped}


def test_marketing_staff_scheduling_campaigns_are_told_too(client, db):
    cache.delete(worker_health.KEY)
    login(client, "Marketing")
    assert "vo-worker-silent" in client.get("/admin/").content.decode()
