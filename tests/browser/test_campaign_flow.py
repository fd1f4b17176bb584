"""A whole campaign through the browser: operator setup, marketing upload and launch, the simulator
completes it, and the campaign page, the call records and the admin home show the right figures."""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from campaigns import tasks
from campaigns.models import CallRecord, Campaign, Recipient, RecipientImport, VoiceTemplate
from tests.factories import run_until_done
from vendors.models import VendorAccount

pytestmark = pytest.mark.browser

CSV = (
    "手机号,name,order\n"
    "13800138000,王先生,SO1\n"
    "138-0013-8001,李女士,SO2\n"
    "+86 138 0013 8000,重复,SO3\n"
    "12345,坏号,SO4\n"
    "13900139000,张先生,SO5\n"
    '15000150000,=HYPERLINK("http://x"),SO6\n'
)


def test_operator_sets_up_marketing_runs_a_campaign(web, make_user, tmp_path):
    make_user("olivia", "Operators")
    make_user("mark", "Marketing")

    # ---- the operator creates a simulator account and a template
    op = web("olivia")
    op.go("/admin/vendors/vendoraccount/add/", shot="01-operator-vendor-account-add")
    page = op.page
    page.fill("input[name=name]", "Simulator one")
    page.select_option("select[name=vendor]", "simulator")
    page.fill("textarea[name=options]", '{"seed": 5, "answer_rate": 0.6, "report_delay": [0, 0]}')
    page.check("input[name=pull_reports]")
    page.fill("input[name=price_per_unit]", "0.06")
    page.fill("input[name=low_balance_threshold]", "50")
    page.click("button[name=_save]")
    page.wait_for_load_state("networkidle")
    account = VendorAccount.objects.get(name="Simulator one")
    assert account.vendor == "simulator" and account.pull_reports and account.options["report_delay"] == [0, 0]
    op.shot("02-operator-vendor-accounts")

    op.go("/admin/campaigns/voicetemplate/add/")
    page.select_option("select[name=account]", str(account.pk))
    page.fill("input[name=name]", "发货通知")
    page.fill("textarea[name=content]", "【name】您好，您的订单【order】已发货。")
    page.click("button[name=_continue]")
    page.wait_for_load_state("networkidle")
    template = VoiceTemplate.objects.get(name="发货通知")
    assert template.review_state == VoiceTemplate.Review.APPROVED  # the simulator reviews nothing
    assert "ready to use" in page.inner_text("#content")
    op.shot("03-operator-template")

    # ---- marketing creates the campaign, uploads the list, schedules, then launches
    mk = web("mark")
    mk.go("/admin/campaigns/campaign/add/", shot="04-marketing-campaign-add")
    page = mk.page
    page.fill("input[name=name]", "双十一发货通知")
    page.select_option("select[name=account]", str(account.pk))
    page.select_option("select[name=template]", str(template.pk))
    page.fill("input[name=quiet_hours_start]", "00:00:00")
    page.fill("input[name=quiet_hours_end]", "00:00:00")
    page.fill("input[name=max_attempts]", "3")
    page.fill("input[name=retry_delay_minutes]", "0")
    page.click("button[name=_continue]")
    page.wait_for_load_state("networkidle")
    campaign = Campaign.objects.get(name="双十一发货通知")
    assert "/change/" in page.url

    upload = tmp_path / "名单.csv"
    upload.write_bytes(CSV.encode("gb18030"))
    page.set_input_files("#vo-upload-form input[name=file]", str(upload))
    page.click("#vo-upload-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    job = RecipientImport.objects.get(campaign=campaign)
    assert job.state == RecipientImport.State.DONE, job.error
    imp = page.locator(f"[data-import='{job.pk}']")
    imp.locator(".vo-accepted").wait_for()
    page.wait_for_function("document.querySelector('[data-import] [data-vo-show=has_counts]').hidden === false")
    assert imp.locator(".vo-accepted").inner_text() == str(job.accepted) == "4"
    assert imp.locator(".vo-invalid").inner_text() == str(job.invalid) == "1"
    assert imp.locator(".vo-duplicates").inner_text() == str(job.duplicates) == "1"
    mk.shot("05-marketing-upload-done")

    with page.expect_download() as download_info:
        imp.locator("a.vo-rejected-csv").click()
    rejected = download_info.value.path().read_bytes()
    assert rejected.startswith(b"\xef\xbb\xbf")
    text = rejected.decode("utf-8-sig")
    assert "'+86 138 0013 8000" in text  # the duplicate, neutralised: not a formula
    assert "12345" in text

    # a test call to the marketer's own number, before launching; its receipt shows on the page
    page.fill("#vo-actions input[name=mobile]", "137 0013 7000")
    page.click("button[name=vo-test-call]")
    page.wait_for_load_state("networkidle")
    test_call = CallRecord.objects.get(campaign=campaign, is_test=True)
    assert test_call.mobile == "+8613700137000" and test_call.state == "submitted"
    tasks.pull_all()
    test_call.refresh_from_db()
    mk.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    row = page.locator(f"#vo-test-calls tr[data-test-call='{test_call.pk}']")
    assert test_call.get_state_display() in row.inner_text() and test_call.raw_message in row.inner_text()
    assert page.inner_text("#vo-total") == "0"  # not counted in the campaign's figures

    later = timezone.localtime() + timedelta(hours=2)
    page.fill("#vo-actions input[name=scheduled_at]", later.strftime("%Y-%m-%dT%H:%M"))
    page.click("button[name=vo-schedule]")
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.SCHEDULED
    assert "scheduled" in page.inner_text(".messagelist, #main").lower()
    mk.shot("06-marketing-scheduled")

    page.click("button[name=vo-launch]")
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    mk.shot("07-marketing-running")

    # ---- the operator watches it on the home page while it runs
    tasks.tick()
    op.go("/admin/")
    progress = op.page.locator("#vo-running tbody tr").first
    assert "双十一发货通知" in progress.inner_text()
    op.page.wait_for_timeout(300)
    op.shot("08-admin-dashboard-running")

    # ---- the simulator completes it (driven eagerly from here); the open page follows by itself
    campaign = run_until_done(campaign)
    assert campaign.state == Campaign.State.COMPLETED
    final_now = CallRecord.objects.filter(campaign=campaign, is_test=False).count()
    page.wait_for_function(
        "(n) => document.querySelector('#vo-final').textContent === String(n)"
        " && document.querySelector('#vo-queued').textContent === '0'",
        arg=final_now,
        timeout=15_000,
    )

    mk.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    calls = CallRecord.objects.filter(campaign=campaign, is_test=False)
    final = calls.filter(state__in=["answered", "failed", "submit_failed", "cancelled", "expired"]).count()
    assert page.inner_text("#vo-recipients") == str(Recipient.objects.filter(campaign=campaign).count()) == "4"
    assert page.inner_text("#vo-total") == str(calls.count())
    assert page.inner_text("#vo-final") == str(final) == str(calls.count())
    assert page.inner_text("#vo-answered") == str(calls.filter(state="answered").count())
    assert page.inner_text("#vo-queued") == "0"
    assert "completed" in page.inner_text("#vo-progress").lower()
    for outcome, n in calls.values_list("outcome").annotate(n=Count("id")).order_by():
        assert page.locator(f"#vo-outcome-table tr[data-outcome='{outcome}'] td.vo-num").inner_text() == str(n)
    assert mk.wait_painted("#vo-outcome-canvas")
    assert mk.wait_painted("#vo-timeline-canvas")
    mk.shot("09-campaign-completed")

    with page.expect_download() as download_info:
        page.click("#vo-export-csv")
    exported = download_info.value.path().read_bytes().decode("utf-8-sig")
    assert "'+8613900139000" in exported and "双十一发货通知" in exported

    # ---- call records: filter by campaign, search by number, one record with its attempts
    mk.go(f"/admin/campaigns/callrecord/?campaign__id__exact={campaign.pk}", shot="10-call-records")
    mk.go("/admin/campaigns/callrecord/?q=139 0013 9000")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == calls.filter(mobile="+8613900139000").count() >= 1
    record = calls.filter(mobile="+8613900139000").order_by("-attempt").first()
    mk.go(f"/admin/campaigns/callrecord/{record.pk}/change/", shot="11-call-record")
    assert page.locator("#vo-attempts tbody tr").count() == record.attempt
    assert record.raw_message in page.inner_text("#vo-attempts")
    assert page.locator("#vo-receipts").count() == 0  # raw callback bodies: not for Marketing
    op.go(f"/admin/campaigns/callrecord/{record.pk}/change/")
    assert op.page.locator("#vo-receipts pre").count() >= 1  # the operator reads them

    # ---- the operator's home page: today's calls and the 7-day answer rate draw
    op.go("/admin/")
    assert op.wait_painted("#vo-today-canvas")
    assert op.wait_painted("#vo-week-canvas")
    assert "Simulator one" in op.page.inner_text("#vo-vendors")
    op.shot("12-admin-dashboard")
