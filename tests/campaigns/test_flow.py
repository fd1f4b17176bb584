"""A whole campaign on the simulator: import, launch, dispatch, receipts, retries, completion."""

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import lifecycle, services, tasks
from campaigns.models import CallRecord, Campaign, RecipientImport
from tests.factories import make_account, make_campaign, run_until_done

CSV = (
    "手机号,name,order\n13800138000,王先生,SO1\n138-0013-8001,李女士,SO2\n"
    "+86 138 0013 8000,重复,SO3\n12345,坏号,SO4\n13900139000,,SO5\n"
)


def test_gb18030_upload_schedule_and_complete_with_retries(db, django_capture_on_commit_callbacks):
    # Nobody answers: every recipient gets all three attempts (the seed would depend on row ids).
    account = make_account(
        options={"answer_rate": 0, "failure_mix": {"no_answer": 1}, "report_delay": [0, 0]}, pull_reports=True
    )
    campaign = make_campaign(account=account, max_attempts=3, retry_delay_minutes=0)
    upload = SimpleUploadedFile("名单.csv", CSV.encode("gb18030"), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.start_file_import(campaign, upload)
    job.refresh_from_db()
    assert job.state == RecipientImport.State.DONE, job.error
    assert (job.accepted, job.duplicates, job.invalid) == (2, 1, 2)
    assert [row[0] for row in job.rejected_rows] == [4, 5, 6]
    assert set(campaign.recipients.values_list("mobile", flat=True)) == {"+8613800138000", "+8613800138001"}

    services.launch(campaign)
    campaign = run_until_done(campaign)
    assert campaign.state == Campaign.State.COMPLETED
    calls = list(CallRecord.objects.filter(campaign=campaign).order_by("recipient_id", "attempt"))
    for recipient_id in {c.recipient_id for c in calls}:
        attempts = [c for c in calls if c.recipient_id == recipient_id]
        assert [c.attempt for c in attempts] == list(range(1, len(attempts) + 1))
        assert [c.state for c in attempts] == ["failed"] * 3
        assert all(c.outcome == "no_answer" for c in attempts)
    assert len(calls) == 6


def test_an_import_whose_worker_died_is_failed_by_the_sweeper(db):
    from datetime import timedelta

    from django.utils import timezone

    campaign = make_campaign()
    upload = SimpleUploadedFile("a.csv", b"13800138000,x,y\n")
    job = RecipientImport.objects.create(
        campaign=campaign, file=upload, original_name="a.csv", state=RecipientImport.State.RUNNING
    )
    RecipientImport.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    uploaded = Path(job.file.path)
    assert uploaded.exists()
    assert services.fail_interrupted_imports() == 1
    job.refresh_from_db()
    assert job.state == RecipientImport.State.FAILED and "upload the file again" in job.error
    assert not job.file and not uploaded.exists()  # the list of numbers is not kept
    assert not campaign.recipients.exists()


def test_calls_without_a_receipt_expire_and_a_late_receipt_still_counts(db):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.receipts.reports import apply_reports
    from vendors.adapters import get_adapter

    account = make_account(options={"report_delay": [3600, 3600]})  # receipts come far too late
    campaign = make_campaign(recipients=2, account=account, report_window_minutes=30)
    services.launch(campaign)
    tasks.tick()
    assert CallRecord.objects.filter(state="submitted").count() == 2
    CallRecord.objects.update(submitted_at=timezone.now() - timedelta(minutes=31))
    assert tasks.expire_overdue() == 2
    assert set(CallRecord.objects.values_list("state", "outcome")) == {("expired", "timeout")}
    campaign.refresh_from_db()
    lifecycle.complete_if_done(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED  # expired calls are final for completion
    late = get_adapter(account)._report(
        {
            "vendor_message_id": "x",
            "custom_id": CallRecord.objects.first().custom_id,
            "code": "0",
            "message": "接通",
            "talk_seconds": 12,
            "billed_seconds": 60,
        }
    )
    assert apply_reports(account, [late]) == (1, 0)
    assert CallRecord.objects.filter(state="answered").count() == 1
