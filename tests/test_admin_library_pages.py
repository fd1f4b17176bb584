"""The library models' pages: beat tasks that keep the system running, users and groups, and one
wording for an account's health wherever it is shown."""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import translation
from django_celery_beat.models import PeriodicTask

from tests.factories import make_account
from voiceops.periodic import PERIODIC_TASKS, ensure_periodic_tasks

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def login(client, group=None, superuser=False):
    user = User.objects.create_user(
        f"u-{group or 'root'}", password="pw-1234-long", is_staff=True, is_superuser=superuser
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


@pytest.fixture
def system_tasks():
    ensure_periodic_tasks()
    return PeriodicTask.objects.filter(name__in=PERIODIC_TASKS)


def test_every_system_task_says_what_it_does(client, system_tasks):
    login(client, "Operators")
    for task in system_tasks:
        page = client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        spec = PERIODIC_TASKS[task.name]
        assert str(spec.purpose) in page.content.decode()
        assert str(spec.label) != task.name  # translated: the stored English key is not what people read


def test_an_operator_cannot_disable_or_delete_a_system_task(client, system_tasks):
    login(client, "Operators")
    tick = system_tasks.get(task="campaigns.dispatch.tick")
    url = f"/admin/django_celery_beat/periodictask/{tick.pk}/"
    assert client.post(url + "delete/", {"post": "yes"}).status_code == 403
    page = client.get(url + "change/")
    assert 'name="enabled"' not in page.content.decode()
    # a forged form without "enabled" does not switch it off
    client.post(url + "change/", {"interval": tick.interval_id, "description": "x", "_save": "1"})
    assert PeriodicTask.objects.get(pk=tick.pk).enabled
    ids = list(system_tasks.values_list("pk", flat=True))
    for action in ("disable_tasks", "delete_selected"):
        client.post(
            "/admin/django_celery_beat/periodictask/", {"action": action, "_selected_action": ids, "post": "yes"}
        )
    assert PeriodicTask.objects.filter(pk__in=ids, enabled=True).count() == len(ids)


def test_an_operator_may_still_manage_a_task_of_their_own(client, system_tasks):
    login(client, "Operators")
    own = PeriodicTask.objects.create(name="own", task="voiceops.ping", interval=system_tasks[0].interval)
    client.post(
        "/admin/django_celery_beat/periodictask/",
        {"action": "delete_selected", "_selected_action": [own.pk], "post": "yes"},
    )
    assert not PeriodicTask.objects.filter(pk=own.pk).exists()


def test_a_superuser_may_disable_a_system_task(client, system_tasks):
    login(client, superuser=True)
    tick = system_tasks.get(task="campaigns.dispatch.tick")
    client.post("/admin/django_celery_beat/periodictask/", {"action": "disable_tasks", "_selected_action": [tick.pk]})
    assert not PeriodicTask.objects.get(pk=tick.pk).enabled


def test_groups_and_permissions_are_named_in_chinese(client):
    login(client, superuser=True)
    operators = Group.objects.get(name="Operators")
    page = client.get(f"/admin/auth/group/{operators.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "活动 | 呼叫记录 | 可查看呼叫记录" in page
    assert "Can view" not in page and "call counter" not in page  # internal models are not offered
    listing = client.get("/admin/auth/group/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "运维人员" in listing and "Operators" not in listing
    perm = Permission.objects.get(codename="view_callrecord")
    assert "Can view call record" == perm.name  # what is stored is unchanged


def test_health_has_one_wording(client):
    login(client, superuser=True)
    account = make_account(consecutive_failures=3)
    listing = client.get("/admin/vendors/vendoraccount/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    home = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    with translation.override("zh-hans"):
        label = str(account.health().label)
    assert label in listing and label in home
    assert ">ok<" not in listing and ">errors<" not in listing


def test_make_run_greets_last_once_the_server_answers():
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run(
            [sys.executable, "scripts/greet.py", str(server.server_port), "请使用用户名 admin、密码 pw 登录"],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        server.shutdown()
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert done.returncode == 0
    assert f"http://127.0.0.1:{server.server_port}/admin/" in lines[-4] and "密码 pw" in lines[-3]
    makefile = (ROOT / "Makefile").read_text()
    run = makefile[makefile.index("\nrun:") : makefile.index("\ntest:")]
    assert run.index("celery -A voiceops worker") < run.index("scripts/greet.py")  # printed after the worker starts


def test_history_entries_are_written_in_the_interface_language(client, settings):
    from campaigns import services
    from tests.factories import make_campaign

    settings.LANGUAGE_CODE = "zh-hans"
    user = login(client, "Operators")
    campaign = make_campaign(recipients=2)
    services.launch(campaign, actor=user)
    services.pause(campaign, actor=user)
    history = client.get(f"/admin/campaigns/campaign/{campaign.pk}/history/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = history.content.decode()
    assert "已暂停" in page and "Paused" not in page and "Launched" not in page


def test_vendor_failures_we_compose_are_translated(settings):
    from django.utils import translation

    from vendors.adapters import get_adapter
    from vendors.adapters.base import VendorUnavailable

    account = make_account("ihuyi", base_url="http://127.0.0.1:9")  # nothing listens there
    with translation.override("zh-hans"), pytest.raises(VendorUnavailable) as failure:
        get_adapter(account).request("GET", "/x")
    assert "无法连接" in str(failure.value) and "unreachable" not in str(failure.value)
