"""The probe's smaller findings: what each role reads in the admin, and requests that crashed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import services, tasks
from campaigns.models import CallRecord, RecipientImport
from tests.factories import make_account, make_campaign
from tests.security.test_callback_guards import CountingStream

ROOT = Path(__file__).resolve().parents[2]


def login_as(client, group: str):
    user = User.objects.create_user(f"{group.lower()}-user", password="pw-1234-long", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


@pytest.fixture
def running_import(db):
    campaign = make_campaign()
    job = RecipientImport.objects.create(
        campaign=campaign, file="imports/x.csv", original_name="x.csv", state="running", size_bytes=1000
    )
    return campaign, job


@pytest.mark.parametrize(("group", "status"), [("Finance", 403), ("Marketing", 200), ("Operators", 200)])
def test_import_progress_json_is_decided_by_the_apis_permission(client, running_import, group, status):
    campaign, job = running_import
    login_as(client, group)
    admin = client.get(f"/admin/campaigns/campaign/{campaign.pk}/imports/{job.pk}/progress.json")
    api = client.get(f"/api/imports/{job.pk}/")
    assert (admin.status_code, api.status_code) == (status, status)


def test_a_failed_import_names_the_file_as_uploaded_never_a_server_path(db, settings, tmp_path):
    """The stored copy is gone when the worker reads it (the error the probe provoked named the
    server's absolute path; the XLSX reader's errors go through the same place)."""
    settings.MEDIA_ROOT = tmp_path
    campaign = make_campaign()
    upload = SimpleUploadedFile("客户名单.xlsx", b"PK\x03\x04 not really a workbook")
    with pytest.MonkeyPatch.context() as patch:  # keep the import from running at commit
        patch.setattr("campaigns.tasks.import_recipients_file.delay", lambda *a, **k: None)
        job = services.start_file_import(campaign, upload)
    stored = Path(job.file.path)
    stored.unlink()
    services.run_file_import(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and job.error
    assert str(tmp_path) not in job.error and "/" not in job.error.replace("客户名单.xlsx", "")
    assert "客户名单.xlsx" in job.error


def test_a_broken_xlsx_error_shows_no_path(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    campaign = make_campaign()
    upload = SimpleUploadedFile("名单.xlsx", b"PK\x05\x06" + b"\x00" * 18)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("campaigns.tasks.import_recipients_file.delay", lambda *a, **k: None)
        job = services.start_file_import(campaign, upload)
    services.run_file_import(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and str(tmp_path) not in job.error and "/imports/" not in job.error


@pytest.fixture
def answered_call(db):
    account = make_account(pull_reports=True)
    campaign = make_campaign(recipients=2, account=account)
    services.launch(campaign)
    tasks.tick()
    tasks.pull_all()
    return CallRecord.objects.filter(campaign=campaign).exclude(state="queued").first()


@pytest.mark.parametrize(("group", "shown"), [("Marketing", False), ("Finance", False), ("Operators", True)])
def test_raw_callback_bodies_only_for_those_who_may_view_callback_events(client, answered_call, group, shown):
    login_as(client, group)
    page = client.get(f"/admin/campaigns/callrecord/{answered_call.pk}/change/").content.decode()
    assert page.count('id="vo-attempts"') == 1  # the page itself is there for everyone
    assert ('id="vo-receipts"' in page) is shown
    assert ("&quot;raw_code&quot;" in page) is shown


def test_an_upload_larger_than_the_limit_is_refused_before_its_body_is_read(admin_client, db, settings):
    campaign = make_campaign()
    stream = CountingStream(b"x" * 1000)
    response = admin_client.generic(
        "POST",
        f"/admin/campaigns/campaign/{campaign.pk}/upload/",
        data=b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(settings.RECIPIENT_FILE_MAX_BYTES + 5 * 1024 * 1024),
        **{"wsgi.input": stream},
    )
    assert response.status_code == 413 and stream.read_bytes == 0
    assert "100 MB" in response.content.decode()
    api = admin_client.generic(
        "POST",
        f"/api/campaigns/{campaign.pk}/recipients/",
        data=b"",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH=str(settings.RECIPIENT_FILE_MAX_BYTES * 2),
        **{"wsgi.input": stream},
    )
    assert api.status_code == 413 and stream.read_bytes == 0
    assert api.json()["errors"][0]["code"] == "request_too_large"  # the API's one error body
    assert not RecipientImport.objects.exists()


SQLITE_PROBE = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth.models import User
from django.test import Client
User.objects.create_superuser("root", password="root-password-123")
client = Client()
client.force_login(User.objects.get(username="root"))
for url in [
    "/admin/campaigns/callrecord/?campaign__id__exact=99999999999999999999999",
    "/admin/vendors/balancesnapshot/?taken_at__year=99999999999999999999",
    "/admin/vendors/balancesnapshot/?taken_at__year=0",
    "/admin/campaigns/recipient/?campaign__id__exact=-99999999999999999999999",
]:
    response = client.get(url)
    print(response.status_code, response.get("Location", ""))
"""


def test_out_of_range_filter_values_on_sqlite_are_refused_not_a_server_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'probe.sqlite3'}",
        ALLOWED_HOSTS="testserver",
    )
    out = subprocess.run(
        [sys.executable, "-c", SQLITE_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.split("\n")[:4]
    assert all(line.startswith("302 ") and line.endswith("?e=1") for line in lines), out.stdout
