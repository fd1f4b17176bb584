"""The marketing user's whole path on a real Celery worker (Redis) and PostgreSQL:
a GB18030 upload with bad and duplicate rows, the import report, launch, and a run to completion
with retries on the simulator vendor. The test plays the beat; the worker does all the work."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import services
from campaigns.models import CallRecord, Campaign, RecipientImport
from campaigns.tasks import pull_all, tick
from tests.conftest import wait_for
from tests.factories import make_account, make_campaign

pytestmark = pytest.mark.worker

CSV = (
    "手机号,name,order\n13800138000,王先生,SO1\n139 0013 9000,李女士,SO2\n"
    "+86 138 0013 8000,重复,SO3\n12345,坏号,SO4\n15000150000,张先生,SO5\n"
)


def test_upload_schedule_and_complete_on_a_real_worker(worker):
    worker()
    # nobody answers: each number gets both of its attempts, and no more
    account = make_account(
        options={"answer_rate": 0, "failure_mix": {"no_answer": 1}, "report_delay": [0, 0]}, pull_reports=True
    )
    campaign = make_campaign(account=account, max_attempts=2, retry_delay_minutes=0)
    job = services.start_file_import(campaign, SimpleUploadedFile("名单.csv", CSV.encode("gb18030")))

    def imported():
        job.refresh_from_db()
        return job.state in (RecipientImport.State.DONE, RecipientImport.State.FAILED)

    assert wait_for(imported, timeout=60)
    assert (job.state, job.accepted, job.duplicates, job.invalid) == ("done", 3, 1, 1), job.error
    assert job.rejected_rows[0][0] == 4 and job.rejected_rows[1][0] == 5  # line numbers of the report

    services.launch(campaign)

    def completed():
        tick.apply_async(queue="dispatch")
        pull_all.apply_async(queue="reports")
        return Campaign.objects.get(pk=campaign.pk).state == Campaign.State.COMPLETED

    assert wait_for(completed, timeout=120, interval=1.0)
    calls = CallRecord.objects.filter(campaign=campaign)
    assert calls.count() == 6  # two attempts for each of the three numbers, never more
    assert set(calls.values_list("state", "outcome")) == {("failed", "no_answer")}
    assert sorted(calls.values_list("attempt", flat=True)) == [1, 1, 1, 2, 2, 2]
