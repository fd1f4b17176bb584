"""The database connection dropped in the middle of a large recipient import.

A real Celery worker streams a big CSV into PostgreSQL with COPY; the test kills that backend with
``pg_terminate_backend`` while the COPY runs. The import is one transaction, so afterwards no
recipient of it exists, the import is marked failed with a message an operator can act on (not
left "importing" for ever), and importing the same file again succeeds.
"""

import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from campaigns import services
from campaigns.models import Campaign, Recipient, RecipientImport
from tests.conftest import wait_for
from tests.drills.helpers import TEXT
from tests.factories import make_campaign

ROWS = 250_000


def big_csv(rows: int = ROWS) -> bytes:
    return ("手机号\n" + "".join(f"13{i:09d}\n" for i in range(rows))).encode("utf-8")


def copy_backends() -> list[int]:
    """Backends of this test database running a COPY (the import's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() AND query LIKE 'COPY%%'"
            " AND state = 'active'",
            [connection.settings_dict["NAME"]],
        )
        return [row[0] for row in cursor.fetchall()]


def kill_copy() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() AND query LIKE 'COPY%%'",
            [connection.settings_dict["NAME"]],
        )
        return cursor.fetchone()[0]


def finished(job_id: int) -> RecipientImport | None:
    job = RecipientImport.objects.get(pk=job_id)
    return job if job.state in (RecipientImport.State.DONE, RecipientImport.State.FAILED) else None


def drop_connection_mid_copy(job_id: int) -> None:
    # Reading and checking the file comes first: on a loaded machine (the full suite beside other
    # work) that alone can take more than a minute before the first row is sent.
    streaming = wait_for(lambda: copy_backends() or finished(job_id), timeout=240, interval=0.05)
    job = RecipientImport.objects.get(pk=job_id)
    assert isinstance(streaming, list), f"the import ended before the drill could drop it: {job.state} {job.error}"
    assert streaming, f"the import should be streaming rows with COPY (it is {job.state})"
    time.sleep(0.5)  # well inside the COPY, some rows already sent
    assert kill_copy() == 1


def assert_nothing_half_imported(campaign: Campaign, job: RecipientImport) -> None:
    assert job.state == RecipientImport.State.FAILED
    assert "nothing was added" in job.error and (
        "connection" in job.error.lower() or "terminat" in job.error.lower()
    ), job.error
    assert job.finished_at is not None and job.accepted == 0
    assert not Recipient.objects.filter(campaign=campaign).exists(), "a half-imported file left recipients behind"
    assert Campaign.objects.get(pk=campaign.pk).recipient_count == 0


def assert_import_again_succeeds(campaign: Campaign, data: bytes, run) -> None:
    job = run(campaign, data)
    assert job.state == RecipientImport.State.DONE, job.error
    assert (job.rows, job.accepted, job.invalid, job.duplicates) == (ROWS, ROWS, 0, 0)
    assert Recipient.objects.filter(campaign=campaign).count() == ROWS
    assert Campaign.objects.get(pk=campaign.pk).recipient_count == ROWS


@pytest.mark.worker
def test_connection_dropped_mid_import_in_a_worker(worker):
    campaign = make_campaign(content=TEXT)
    data = big_csv()
    worker(queues="imports", concurrency=1)

    def run(campaign, data):
        job = services.start_file_import(campaign, SimpleUploadedFile("recipients.csv", data, content_type="text/csv"))
        return wait_for(lambda: finished(job.pk), timeout=240, interval=0.2) or RecipientImport.objects.get(pk=job.pk)

    job = services.start_file_import(campaign, SimpleUploadedFile("recipients.csv", data, content_type="text/csv"))
    drop_connection_mid_copy(job.pk)
    job = wait_for(lambda: finished(job.pk), timeout=120) or RecipientImport.objects.get(pk=job.pk)
    assert_nothing_half_imported(campaign, job)
    assert_import_again_succeeds(campaign, data, run)


def test_connection_dropped_mid_import_in_a_thread(transactional_db):
    """The same through ``run_file_import`` directly (the path an eager/embedded set-up takes)."""
    campaign = make_campaign(content=TEXT)
    data = big_csv()

    def run(campaign, data):
        job = RecipientImport.objects.create(
            campaign=campaign,
            file=SimpleUploadedFile("recipients.csv", data),
            original_name="recipients.csv",
            size_bytes=len(data),
        )
        errors = []

        def target():
            try:
                services.run_file_import(job.pk)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=target)
        thread.start()
        return job, thread, errors

    job, thread, errors = run(campaign, data)
    drop_connection_mid_copy(job.pk)
    thread.join(60)
    assert not thread.is_alive()
    assert not errors, f"run_file_import raised instead of recording the failure: {errors[0]!r}"
    assert_nothing_half_imported(campaign, RecipientImport.objects.get(pk=job.pk))

    def run_to_end(campaign, data):
        job, thread, errors = run(campaign, data)
        thread.join(120)
        assert not errors, errors
        return RecipientImport.objects.get(pk=job.pk)

    assert_import_again_succeeds(campaign, data, run_to_end)
