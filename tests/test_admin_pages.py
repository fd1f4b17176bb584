"""The admin pages: campaign dashboard and its buttons, uploads, progress JSON, templates at the
vendor, call records, callback events, the home dashboard; and bounded queries on every page."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import services, tasks
from campaigns.imports import progress_key
from campaigns.models import CallbackEvent, CallRecord, Campaign, RecipientImport, VoiceTemplate
from tests.factories import make_account, make_campaign
from tests.fakes.ihuyi import FakeIhuyi
from vendors.models import VendorAccount

pytestmark = pytest.mark.django_db

CSV = (
    "手机号,name,order\n13800138000,王先生,SO1\n138-0013-8001,李女士,SO2\n+86 138 0013 8000,重复,SO3\n12345,坏号,SO4\n"
)


def login(client, group=None, superuser=False, name=None):
    user = User.objects.create_user(
        name or f"{(group or 'admin').lower()}-u", password="pw-1234-long", is_staff=True, is_superuser=superuser
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


def populate(campaign, n):
    """``n`` recipients and calls: a third answered, a third busy, a third still queued."""
    services.add_recipients(campaign, [{"mobile": f"1390013{i:04d}", "variables": ["王", f"SO{i}"]} for i in range(n)])
    services.launch(campaign)
    now = timezone.now()
    ids = list(CallRecord.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True))
    CallRecord.objects.filter(id__in=ids[::3]).update(
        state="answered",
        outcome="answered",
        raw_code="0",
        raw_message="接通",
        talk_seconds=30,
        billed_units=1,
        account=campaign.account,
        submitted_at=now - timedelta(hours=2),
        reported_at=now - timedelta(hours=1),
    )
    CallRecord.objects.filter(id__in=ids[1::3]).update(
        state="failed",
        outcome="busy",
        raw_code="2",
        raw_message="用户忙",
        account=campaign.account,
        submitted_at=now - timedelta(hours=2),
        reported_at=now,
    )
    RecipientImport.objects.create(
        campaign=campaign,
        file="imports/x.csv",
        original_name="x.csv",
        state="done",
        rows=n + 2,
        accepted=n,
        invalid=2,
        rejected_rows=[[i, "12345", "bad"] for i in range(2)],
    )
    return campaign


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        assert response.status_code == 200, response.content[:2000]
    return len(ctx.captured_queries)


# ---- bounded queries
def test_campaign_page_queries_do_not_grow_with_calls(admin_client):
    small = populate(make_campaign(), 10)
    large = populate(make_campaign(), 1000)
    assert CallRecord.objects.filter(campaign=large).count() == 1000
    count_queries(admin_client, f"/admin/campaigns/campaign/{small.pk}/change/")  # warm caches (content types, …)
    small_count = count_queries(admin_client, f"/admin/campaigns/campaign/{small.pk}/change/")
    large_count = count_queries(admin_client, f"/admin/campaigns/campaign/{large.pk}/change/")
    assert small_count == large_count, (small_count, large_count)
    assert small_count < 40


def test_dashboard_and_progress_queries_do_not_grow_with_calls(admin_client):
    small = populate(make_campaign(), 10)
    count_queries(admin_client, "/admin/")
    before = count_queries(admin_client, "/admin/")
    populate(make_campaign(), 1000)
    after = count_queries(admin_client, "/admin/")
    # one more running campaign adds no query: progress is one grouped query for all of them
    assert before == after, (before, after)
    assert count_queries(admin_client, f"/admin/campaigns/campaign/{small.pk}/progress.json") <= 8


def test_call_records_list_queries_do_not_grow(admin_client):
    campaign = populate(make_campaign(), 10)
    url = f"/admin/campaigns/callrecord/?campaign__id__exact={campaign.pk}"
    count_queries(admin_client, url)
    small = count_queries(admin_client, url)
    populate(make_campaign(account=campaign.account), 300)
    assert count_queries(admin_client, "/admin/campaigns/callrecord/") <= small + 2


# ---- campaign page
def test_campaign_page_shows_progress_outcomes_and_failures(admin_client):
    campaign = populate(make_campaign(), 30)
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="vo-recipients">30<' in page
    assert 'id="vo-answered">10<' in page and 'id="vo-queued">10<' in page and 'id="vo-final">20<' in page
    assert "用户忙" in page  # the vendor's own words
    assert 'data-vo-chart="vo-outcome-chart"' in page and 'id="vo-outcome-chart"' in page
    assert 'id="vo-timeline-chart"' in page
    assert "50.0%" in page  # 10 answered of 20 finished


def test_progress_json(admin_client):
    campaign = populate(make_campaign(), 9)
    data = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress.json").json()
    assert data["recipients"] == 9 and data["total"] == 9
    assert (data["answered"], data["failed"], data["queued"], data["final"]) == (3, 3, 3, 6)
    assert data["state"] == "running" and data["finished"] is False


@pytest.mark.parametrize("action", ["launch", "pause", "resume", "cancel", "retry_failed"])
def test_actions_need_post(admin_client, action):
    campaign = make_campaign(recipients=1)
    assert admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/act/{action}/").status_code == 405


def test_launch_pause_resume_cancel_from_the_page(admin_client):
    campaign = make_campaign(recipients=3)
    base = f"/admin/campaigns/campaign/{campaign.pk}/act"
    response = admin_client.post(f"{base}/launch/", follow=True)
    assert "is running" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.state == "running" and CallRecord.objects.filter(campaign=campaign).count() == 3
    admin_client.post(f"{base}/pause/")
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    admin_client.post(f"{base}/resume/")
    campaign.refresh_from_db()
    assert campaign.state == "running"
    response = admin_client.post(f"{base}/cancel/", follow=True)
    campaign.refresh_from_db()
    assert campaign.state == "cancelled"
    assert "3 queued call(s) will not be made" in response.content.decode()
    from django.contrib.admin.models import LogEntry

    trail = list(LogEntry.objects.filter(object_id=str(campaign.pk)).values_list("change_message", flat=True))
    assert len(trail) == 4  # who launched, paused, resumed and cancelled it


def test_campaign_error_is_shown_as_a_message(admin_client):
    campaign = make_campaign()  # no recipients
    response = admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/launch/", follow=True)
    assert "Add recipients before launching." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.state == "draft"


def test_schedule_needs_a_future_time(admin_client):
    campaign = make_campaign(recipients=1)
    url = f"/admin/campaigns/campaign/{campaign.pk}/act/schedule/"
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = admin_client.post(url, {"scheduled_at": past}, follow=True)
    assert "must be in the future" in response.content.decode()
    later = timezone.localtime() + timedelta(days=1)
    admin_client.post(url, {"scheduled_at": later.strftime("%Y-%m-%dT%H:%M")})
    campaign.refresh_from_db()
    assert campaign.state == "scheduled"
    assert timezone.localtime(campaign.scheduled_at).strftime("%Y-%m-%d %H:%M") == later.strftime("%Y-%m-%d %H:%M")


def test_retry_failed_from_the_page(admin_client):
    campaign = populate(make_campaign(), 6)
    response = admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/retry_failed/", follow=True)
    assert "2 failed call(s) queued" in response.content.decode()
    assert CallRecord.objects.filter(campaign=campaign, attempt=2).count() == 2


def test_test_call_from_the_page(admin_client, django_capture_on_commit_callbacks):
    campaign = make_campaign(recipients=2, account=make_account(pull_reports=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/campaigns/campaign/{campaign.pk}/act/test_call/", {"mobile": "137 0013 7000"}, follow=True
        )
    assert "Test call to +8613700137000 queued" in response.content.decode()
    tasks.pull_all()
    call = CallRecord.objects.get(campaign=campaign, is_test=True)
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f'data-test-call="{call.pk}"' in page and call.raw_message in page
    response = admin_client.post(
        f"/admin/campaigns/campaign/{campaign.pk}/act/test_call/", {"mobile": "12345"}, follow=True
    )
    assert "12345" in response.content.decode()  # the service's refusal, as a message


def test_a_test_call_before_launch_does_not_skip_the_first_recipient(admin_client, django_capture_on_commit_callbacks):
    campaign = make_campaign(recipients=3, account=make_account(pull_reports=True))
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/test_call/", {"mobile": "13700137000"})
    admin_client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/launch/")
    assert CallRecord.objects.filter(campaign=campaign, is_test=False, attempt=1).count() == 3


def test_finance_sees_the_page_without_buttons(client):
    campaign = populate(make_campaign(), 3)
    login(client, "Finance")
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="vo-progress"' in page
    assert "vo-launch" not in page and "vo-upload-form" not in page and "vo-cancel" not in page
    assert client.post(f"/admin/campaigns/campaign/{campaign.pk}/act/cancel/").status_code == 403
    assert client.post(f"/admin/campaigns/campaign/{campaign.pk}/upload/").status_code == 403


# ---- upload and imports
def test_marketing_uploads_and_sees_the_import(client, django_capture_on_commit_callbacks):
    campaign = make_campaign()
    login(client, "Marketing")
    upload = SimpleUploadedFile("名单.csv", CSV.encode("gb18030"), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/campaigns/campaign/{campaign.pk}/upload/", {"file": upload})
    assert response.status_code == 302 and response["Location"].endswith("#vo-imports")
    job = RecipientImport.objects.get(campaign=campaign)
    assert job.state == "done"
    data = client.get(f"/admin/campaigns/campaign/{campaign.pk}/imports/{job.pk}/progress.json").json()
    assert (data["accepted"], data["invalid"], data["duplicates"], data["blocked"]) == (2, 1, 1, 0)
    assert data["finished"] and data["percent"] == 100
    rejected = client.get(data["rejected_csv_url"])
    body = b"".join(rejected.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "'+86 138 0013 8000" in text and "duplicate number" in text
    xlsx = client.get(data["rejected_xlsx_url"])
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'class="vo-accepted">2<' in page and data["rejected_csv_url"] in page


def test_progress_while_importing_comes_from_the_cache(admin_client):
    from django.core.cache import cache

    campaign = make_campaign()
    job = RecipientImport.objects.create(
        campaign=campaign, file="imports/x.csv", original_name="x.csv", state="running", size_bytes=1000
    )
    cache.set(
        progress_key(job.pk),
        {"processed_bytes": 400, "rows": 20000, "accepted": 19000, "invalid": 600, "duplicates": 400, "blocked": 0},
    )
    data = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/imports/{job.pk}/progress.json").json()
    assert data["percent"] == 40 and data["rows"] == 20000 and data["accepted"] == 19000 and not data["finished"]
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert f"/imports/{job.pk}/progress.json" in page  # the page polls it


def test_upload_refusals(admin_client):
    campaign = make_campaign()
    url = f"/admin/campaigns/campaign/{campaign.pk}/upload/"
    response = admin_client.post(url, {"file": SimpleUploadedFile("a.pdf", b"%PDF")}, follow=True)
    assert "is not a CSV or XLSX file" in response.content.decode()
    Campaign.objects.filter(pk=campaign.pk).update(state="completed")
    response = admin_client.post(url, {"file": SimpleUploadedFile("a.csv", b"13800138000\n")}, follow=True)
    assert "takes no more recipients" in response.content.decode()
    assert not RecipientImport.objects.exists()


def test_rejected_rows_of_another_campaign_are_not_served(admin_client):
    one, other = make_campaign(), make_campaign()
    job = RecipientImport.objects.create(
        campaign=one, file="x", original_name="x.csv", state="done", rejected_rows=[[1, "x", "y"]]
    )
    assert admin_client.get(f"/admin/campaigns/campaign/{other.pk}/imports/{job.pk}/rejected.csv").status_code == 404


# ---- voice templates at the vendor
@pytest.fixture
def ihuyi(start_fake):
    fake = start_fake(FakeIhuyi("C100", "key-100"))
    account = VendorAccount.objects.create(
        vendor="ihuyi", name="ihuyi", base_url=fake.url, api_id="C100", api_secret="key-100"
    )
    return fake, account


def test_submit_a_template_to_ihuyi(admin_client, ihuyi):
    fake, account = ihuyi
    template = VoiceTemplate.objects.create(account=account, name="code", content="您的验证码是【变量】")
    response = admin_client.post(f"/admin/campaigns/voicetemplate/{template.pk}/vendor/submit/", follow=True)
    template.refresh_from_db()
    assert template.review_state == "pending" and template.vendor_template_id in fake.templates
    assert "waiting for review" in response.content.decode()
    # the same text again: the vendor refuses, its words are shown, the row is kept as it was
    twin = VoiceTemplate.objects.create(account=account, name="twin", content="您的验证码是【变量】")
    response = admin_client.post(
        "/admin/campaigns/voicetemplate/", {"action": "submit_to_vendor", "_selected_action": [twin.pk]}, follow=True
    )
    assert "模板己存在" in response.content.decode()
    twin.refresh_from_db()
    assert twin.review_state == "draft" and not twin.vendor_template_id


def test_resubmit_after_rejection(admin_client, ihuyi):
    fake, account = ihuyi
    template = VoiceTemplate.objects.create(account=account, name="t", content="您好【变量】")
    admin_client.post(f"/admin/campaigns/voicetemplate/{template.pk}/vendor/submit/")
    template.refresh_from_db()
    old = template.vendor_template_id
    VoiceTemplate.objects.filter(pk=template.pk).update(review_state="rejected", review_message="含敏感词")
    fake.templates.pop(old)  # the vendor forgets a rejected template
    admin_client.post(
        "/admin/campaigns/voicetemplate/", {"action": "resubmit_to_vendor", "_selected_action": [template.pk]}
    )
    template.refresh_from_db()
    assert template.review_state == "pending" and template.vendor_template_id != old


def test_delete_goes_to_the_vendor_first(admin_client, ihuyi):
    fake, account = ihuyi
    template = VoiceTemplate.objects.create(account=account, name="t", content="您好【变量】")
    admin_client.post(f"/admin/campaigns/voicetemplate/{template.pk}/vendor/submit/")
    template.refresh_from_db()
    fake.fail_next("4050", "DelTemplate")
    response = admin_client.post(f"/admin/campaigns/voicetemplate/{template.pk}/delete/", {"post": "yes"}, follow=True)
    assert "账号被冻结" in response.content.decode() and "kept here" in response.content.decode()
    assert VoiceTemplate.objects.filter(pk=template.pk).exists()
    response = admin_client.post(f"/admin/campaigns/voicetemplate/{template.pk}/delete/", {"post": "yes"}, follow=True)
    assert not VoiceTemplate.objects.filter(pk=template.pk).exists()
    assert template.vendor_template_id not in fake.templates


def test_a_template_in_use_is_not_deleted(admin_client):
    campaign = make_campaign()
    response = admin_client.post(
        "/admin/campaigns/voicetemplate/",
        {"action": "delete_at_vendor", "_selected_action": [campaign.template_id]},
        follow=True,
    )
    assert "used by 1 campaign(s)" in response.content.decode()
    assert VoiceTemplate.objects.filter(pk=campaign.template_id).exists()


def test_templates_without_vendor_review_are_ready_and_edits_need_review_again(admin_client, ihuyi):
    _fake, account = ihuyi
    simulator = make_account()
    data = {"account": simulator.pk, "name": "sim", "content": "您好【name】"}
    admin_client.post("/admin/campaigns/voicetemplate/add/", data)
    assert VoiceTemplate.objects.get(name="sim").review_state == "approved"
    template = VoiceTemplate.objects.create(
        account=account, name="ih", content="您好【变量】", review_state="approved", vendor_template_id="9"
    )
    response = admin_client.post(
        f"/admin/campaigns/voicetemplate/{template.pk}/change/",
        {"account": account.pk, "name": "ih", "content": "再见【变量】"},
        follow=True,
    )
    template.refresh_from_db()
    assert template.review_state == "draft" and "re-submit" in response.content.decode()


# ---- call records
def test_call_record_search_filters_and_detail(admin_client):
    account = make_account(pull_reports=True)
    campaign = make_campaign(recipients=3, account=account, max_attempts=2)
    services.launch(campaign)
    tasks.tick()
    tasks.pull_all()
    call = CallRecord.objects.get(campaign=campaign, mobile="+8613800130001", attempt=1)
    for query in ("138 0013 0001", "+86-138-0013-0001", "008613800130001", call.custom_id):
        page = admin_client.get("/admin/campaigns/callrecord/", {"q": query}).content.decode()
        assert "+8613800130001" in page and "+8613800130002" not in page, query
    today = timezone.localdate().isoformat()
    page = admin_client.get(
        "/admin/campaigns/callrecord/", {"submitted_at_from": today, "submitted_at_to": today}
    ).content.decode()
    assert "+8613800130002" in page
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    page = admin_client.get("/admin/campaigns/callrecord/", {"submitted_at_from": tomorrow}).content.decode()
    assert "+8613800130002" not in page
    page = admin_client.get(
        "/admin/campaigns/callrecord/", {"state": call.state, "campaign__id__exact": campaign.pk}
    ).content.decode()
    assert "+8613800130001" in page
    detail = admin_client.get(f"/admin/campaigns/callrecord/{call.pk}/change/").content.decode()
    assert 'id="vo-attempts"' in detail and 'id="vo-receipts"' in detail
    assert call.custom_id in detail and "&quot;raw_code&quot;" in detail  # the stored pulled report, as received


def test_call_records_export_action(admin_client):
    campaign = populate(make_campaign(), 4)
    ids = list(CallRecord.objects.filter(campaign=campaign).values_list("pk", flat=True))
    response = admin_client.post("/admin/campaigns/callrecord/", {"action": "export_csv", "_selected_action": ids})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.count("'+86139") == 4 and "用户忙" in body


def test_reprocess_callback_events(admin_client):
    account = make_account()
    event = CallbackEvent.objects.create(
        vendor="simulator", account=account, body=b'{"reports": []}', state="failed", error="boom"
    )
    response = admin_client.post(
        "/admin/campaigns/callbackevent/", {"action": "reprocess", "_selected_action": [event.pk]}, follow=True
    )
    event.refresh_from_db()
    assert event.state == "applied" and "Processed again" in response.content.decode()


# ---- home dashboard
def test_home_dashboard_sections(admin_client):
    account = make_account(pull_reports=True)
    campaign = make_campaign(recipients=5, account=account)
    services.launch(campaign)
    tasks.tick()
    tasks.pull_all()
    CallRecord.objects.filter(campaign=campaign, state="answered").update(
        submitted_at=timezone.now() - timedelta(minutes=5)
    )
    CallbackEvent.objects.create(vendor="ihuyi", body=b"x", state="failed")
    VendorAccount.objects.filter(pk=account.pk).update(
        circuit_open_until=timezone.now() + timedelta(minutes=2), last_error="[405] 用户名或密码不正确"
    )
    page = admin_client.get("/admin/").content.decode()
    assert 'id="vo-today-chart"' in page and 'id="vo-week-chart"' in page
    assert "用户名或密码不正确" in page and "circuit open" in page
    assert "?state__exact=failed" in page
    chart = json.loads(page.split('id="vo-week-chart" type="application/json">')[1].split("</script>")[0])
    assert (
        chart["data"]["datasets"][1]["data"][-1] == CallRecord.objects.filter(state__in=["answered", "failed"]).count()
    )


def test_home_dashboard_lagging_receipts(admin_client):
    account = make_account()
    campaign = make_campaign(recipients=2, account=account)
    services.launch(campaign)
    CallRecord.objects.filter(campaign=campaign).update(
        state="submitted", account=account, submitted_at=timezone.now() - timedelta(minutes=30)
    )
    page = admin_client.get("/admin/").content.decode()
    assert "receipts lagging" in page
    row = page.split(f'data-account="{account.pk}"')[1].split("</tr>")[0]
    assert ">2</span>" in row


def test_home_dashboard_respects_roles(client):
    make_campaign(recipients=1)
    login(client, "Marketing")
    page = client.get("/admin/").content.decode()
    assert 'id="vo-running"' in page
    assert 'id="vo-vendors"' not in page and "vo-callbacks-failed" not in page and "/dashboard/finance/" not in page
    client.logout()
    login(client, "Finance")
    page = client.get("/admin/").content.decode()
    assert 'id="vo-vendors"' in page and "/dashboard/finance/" in page and "vo-callbacks-failed" not in page


def test_campaign_page_says_when_calls_are_held_by_quiet_hours(admin_client, db):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns import services
    from tests.factories import make_campaign

    now = timezone.localtime()
    campaign = make_campaign(
        recipients=1,
        quiet_hours_start=(now + timedelta(hours=1)).time(),
        quiet_hours_end=(now + timedelta(hours=2)).time(),
    )
    services.launch(campaign)
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Outside calling hours" in page


def test_recipients_come_in_through_uploads_not_the_add_form(admin_client):
    """An added recipient would skip the number checks, duplicates, do-not-call list and counts."""
    campaign = make_campaign(recipients=1)
    assert admin_client.get("/admin/campaigns/recipient/add/").status_code == 403
    recipient = campaign.recipients.get()
    page = admin_client.get(f"/admin/campaigns/recipient/{recipient.pk}/change/").content.decode()
    assert 'name="mobile"' not in page and 'name="campaign"' not in page and 'name="variables"' in page


def test_the_running_card_counts_every_running_or_paused_campaign(admin_client):
    """The list below shows the newest few; the figure counts them all, and its link lists the same ones."""
    from reporting.selectors.dashboard import RUNNING_SHOWN

    for state in ["running"] * RUNNING_SHOWN + ["paused", "completed"]:
        make_campaign(state=state)
    page = admin_client.get("/admin/").content.decode()
    assert f'id="vo-running-count">{RUNNING_SHOWN + 1}<' in page
    assert "?state__in=running,paused" in page
    listed = admin_client.get("/admin/campaigns/campaign/?state__in=running,paused")
    assert listed.status_code == 200 and listed.context["cl"].result_count == RUNNING_SHOWN + 1
