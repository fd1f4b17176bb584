"""What the first users hit (issue 11), tried again as they did, in Chromium: the do-not-call list,
a cancelled campaign's figures, the reasons nothing moves, the quiet-hours warning, an import
that took nothing, and the callback URL an operator pastes at the vendor."""

from datetime import time, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, DoNotCallEntry
from tests.factories import make_campaign
from vendors.models import VendorAccount

pytestmark = pytest.mark.browser


def test_operator_types_and_imports_do_not_call_numbers(web, make_user, tmp_path):
    make_user("olivia", "Operators")
    op = web("olivia")
    page = op.page
    op.go("/admin/campaigns/donotcallentry/add/")
    page.fill("input[name=mobile]", "hello")
    page.click("button[name=_save]")
    page.wait_for_load_state("networkidle")
    assert "not a phone number" in page.inner_text("#content")
    page.fill("input[name=mobile]", "137 0013 7000")
    page.click("button[name=_save]")
    page.wait_for_load_state("networkidle")
    assert list(DoNotCallEntry.objects.values_list("mobile", flat=True)) == ["+8613700137000"]

    upload = tmp_path / "免打扰.csv"
    upload.write_bytes("手机号,原因\n136 0013 6000,投诉\n+86 137 0013 7000,重复\nhello,坏\n".encode("gb18030"))
    page.set_input_files("#vo-dnc-import input[name=file]", str(upload))
    page.click("#vo-dnc-import button[type=submit]")
    page.wait_for_load_state("networkidle")
    text = page.inner_text("body")
    assert "1 numbers added, 1 already on the list, 1 rows rejected" in text
    assert "line 4 “hello”: not a phone number" in text
    op.shot("issue11-do-not-call-import")
    with page.expect_download() as download:
        page.click("text=CSV >> nth=0")
    assert "hello" in open(download.value.path(), encoding="utf-8-sig").read()


def test_marketing_sees_why_nothing_moves_and_a_cancelled_campaign_fairly(web, make_user):
    make_user("mark", "Marketing")
    now = timezone.localtime()
    start = (now + timedelta(hours=2)).time().replace(minute=0, second=0, microsecond=0)
    end = (now + timedelta(hours=3)).time().replace(minute=0, second=0, microsecond=0)
    held = make_campaign(recipients=3, quiet_hours_start=start, quiet_hours_end=end)
    Campaign.objects.filter(pk=held.pk).update(name="夜间活动")
    cancelled = make_campaign(recipients=4, quiet_hours_start=time(0), quiet_hours_end=time(0))
    services.launch(cancelled)
    services.cancel(cancelled)
    VendorAccount.objects.filter(pk=held.account_id).update(
        circuit_open_until=timezone.now() + timedelta(minutes=4), last_error="HTTP 503", consecutive_failures=5
    )

    mk = web("mark")
    page = mk.page
    mk.go(f"/admin/campaigns/campaign/{held.pk}/change/")
    messages, answer = [], {"accept": False}

    def on_dialog(dialog):
        messages.append(dialog.message)
        dialog.accept() if answer["accept"] else dialog.dismiss()

    page.on("dialog", on_dialog)
    page.click("button[name=vo-launch]")  # outside calling hours: asks first
    page.wait_for_timeout(300)
    assert messages and f"calls will start at {start:%H:%M}" in messages[0]
    assert Campaign.objects.get(pk=held.pk).state == "draft"  # dismissed: nothing launched
    page.fill("input[name=scheduled_at]", (now + timedelta(days=1)).strftime("%Y-%m-%dT") + f"{end:%H}:30")
    page.click("button[name=vo-schedule]")
    page.wait_for_timeout(300)
    assert len(messages) == 2 and f"calls will start at {start:%H:%M}" in messages[1]

    answer["accept"] = True
    page.click("button[name=vo-launch]")
    page.wait_for_load_state("networkidle")
    notice = page.inner_text("#vo-not-dialling")
    assert "Outside calling hours" in notice and "stopped answering" in notice and "HTTP 503" in notice
    mk.shot("issue11-why-not-dialling")
    mk.go("/admin/")
    assert "stopped answering" in page.inner_text("#vo-running")

    mk.go(f"/admin/campaigns/campaign/{cancelled.pk}/change/")
    assert page.inner_text("#vo-failed") == "0" and page.inner_text("#vo-count-cancelled") == "4"
    mk.shot("issue11-cancelled-campaign")


@override_settings(PUBLIC_BASE_URL="https://voice.example.com")
def test_operator_copies_the_callback_url_finance_never_sees_it(web, make_user):
    make_user("olivia", "Operators")
    make_user("fiona", "Finance")
    account = VendorAccount.objects.create(vendor="ihuyi", name="互亿", base_url="http://127.0.0.1:1", api_secret="k")
    op = web("olivia")
    page = op.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    op.go(f"/admin/vendors/vendoraccount/{account.pk}/change/")
    url = f"https://voice.example.com/api/callbacks/ihuyi/{account.callback_token}/"
    assert page.inner_text("#vo-callback-url") == url
    page.click("[data-vo-copy]")
    page.wait_for_timeout(200)
    assert page.evaluate("navigator.clipboard.readText()") == url
    op.shot("issue11-callback-url")
    fin = web("fiona")
    fin.go(f"/admin/vendors/vendoraccount/{account.pk}/change/")
    assert account.callback_token not in fin.page.content()


def test_an_upload_that_takes_nothing_is_shown_as_a_failure(web, make_user, tmp_path):
    make_user("mark", "Marketing")
    campaign = make_campaign()
    mk = web("mark")
    page = mk.page
    mk.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    upload = tmp_path / "坏名单.csv"
    upload.write_bytes("手机号,name,order\nhello,王,SO1\n13800138001-123,李,SO2\n".encode())
    page.set_input_files("#vo-upload-form input[name=file]", str(upload))
    page.click("#vo-upload-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(".vo-import .vo-error:not([hidden])")
    error = page.inner_text(".vo-import .vo-error")
    assert "No recipient was accepted" in error and "line 3 “13800138001-123”: has an extension" in error
    assert page.text_content(".vo-import .vo-badge").strip() == "Failed"
    mk.shot("issue11-import-took-nothing")
