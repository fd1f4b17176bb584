"""What the first users met on the pages (issue 11, "smaller things"), checked as they saw it:
in Chromium, at 1440 px, in Chinese (and English where the width differs)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns import services
from campaigns.models import CallRecord, VoiceTemplate
from tests.factories import make_campaign

pytestmark = pytest.mark.browser


def one_row(page, selector: str) -> bool:
    """Whether every child of ``selector`` sits on the same line (nothing wrapped)."""
    tops = page.evaluate(
        "(s) => [...document.querySelector(s).children].map(e => Math.round(e.getBoundingClientRect().top))",
        selector,
    )
    return len(set(tops)) == 1


def test_finance_date_inputs_show_the_period_in_chinese(web, make_user, transactional_db):
    make_user("fei", "Finance")
    fin = web("fei", language="zh-hans")
    fin.go("/dashboard/finance/", shot="zh-finance-period")
    today = timezone.localdate()
    start = fin.page.input_value("#vo-period input[name=start]")
    end = fin.page.input_value("#vo-period input[name=end]")
    assert end == today.isoformat()  # empty before: the value was 2026/11/27, which a date picker refuses
    assert start == (today - timedelta(days=29)).isoformat()
    # choosing another period with the picker works in Chinese too
    fin.page.fill("#vo-period input[name=start]", (today - timedelta(days=3)).isoformat())
    fin.page.click("#vo-period button[type=submit]")
    fin.page.wait_for_load_state("networkidle")
    assert fin.page.input_value("#vo-period input[name=start]") == (today - timedelta(days=3)).isoformat()
    assert "期间" in fin.page.inner_text("#vo-period")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_campaign_toolbar_fits_one_row_at_1440(web, make_user, language, transactional_db):
    campaign = make_campaign(recipients=3)
    make_user("olga", "Operators")
    ops = web("olga", language=language)
    ops.go(f"/admin/campaigns/campaign/{campaign.pk}/change/", shot=f"{language}-campaign-toolbar")
    page = ops.page
    for button in ("vo-launch", "vo-schedule", "vo-cancel", "vo-test-call"):
        assert page.locator(f"#vo-actions button[name={button}]").is_visible()
    assert one_row(ops.page, "#vo-actions"), "the campaign toolbar wraps at 1440 px"
    assert page.locator("#vo-export-csv").is_visible() and page.locator("#vo-export-xlsx").is_visible()


def test_marketing_home_has_no_empty_card_slot(web, make_user, transactional_db):
    make_user("mei", "Marketing")
    mk = web("mei", language="zh-hans")
    mk.go("/admin/", shot="zh-marketing-home")
    grid = mk.page.locator("#vo-kpis").bounding_box()
    cards = mk.page.locator("#vo-kpis > *")
    assert cards.count() == 3  # marketing sees no vendor or callback figure
    last = cards.nth(cards.count() - 1).bounding_box()
    assert abs((last["x"] + last["width"]) - (grid["x"] + grid["width"])) < 2, "an empty slot after the last card"


def test_call_record_page_shows_the_number_once(web, make_user, transactional_db):
    campaign = make_campaign(recipients=1)
    services.launch(campaign)
    call = CallRecord.objects.get(campaign=campaign)
    make_user("olga", "Operators")
    ops = web("olga", language="zh-hans")
    ops.go(f"/admin/campaigns/callrecord/{call.pk}/change/", shot="zh-call-record")
    body = ops.page.inner_text("#callrecord_form") + ops.page.inner_text("#vo-attempts")
    assert body.count(call.mobile) == 1
    link = ops.page.locator("#callrecord_form a", has_text=call.mobile)
    assert link.count() == 1  # the one place links to the recipient row
    make_user("fay", "Finance")
    fin = web("fay", language="zh-hans")
    fin.go(f"/admin/campaigns/callrecord/{call.pk}/change/")
    assert fin.page.inner_text("#callrecord_form").count(call.mobile) == 1  # finance may not open recipients


def test_retry_on_is_a_set_of_outcome_checkboxes(web, make_user, transactional_db):
    campaign = make_campaign()
    make_user("mei", "Marketing")
    mk = web("mei", language="zh-hans")
    mk.go(f"/admin/campaigns/campaign/{campaign.pk}/change/", shot="zh-retry-on")
    page = mk.page
    assert page.locator("textarea[name=retry_outcomes]").count() == 0  # no raw JSON
    boxes = page.locator("input[type=checkbox][name=retry_outcomes]")
    assert boxes.count() >= 10
    checked = sorted(page.eval_on_selector_all("input[name=retry_outcomes]:checked", "els => els.map(e => e.value)"))
    assert checked == sorted(["no_answer", "busy", "unreachable", "network_busy"])  # the default set, shown
    assert page.locator("label", has_text="用户忙").count() >= 1  # outcomes by name, in Chinese
    for value in ("no_answer", "unreachable", "network_busy"):
        page.uncheck(f"input[name=retry_outcomes][value={value}]")
    page.check("input[name=retry_outcomes][value=powered_off]")
    page.click("button[name=_continue]")
    page.wait_for_load_state("networkidle")
    campaign.refresh_from_db()
    assert sorted(campaign.retry_outcomes) == ["busy", "powered_off"]


def test_a_template_never_submitted_offers_submit_not_resubmit(web, make_user, transactional_db):
    from tests.factories import make_account

    account = make_account("ihuyi", base_url="http://127.0.0.1:9")  # ihuyi reviews templates
    fresh = VoiceTemplate.objects.create(account=account, name="新模板", content="您好【name】")
    filed = VoiceTemplate.objects.create(
        account=account, name="已驳回", content="您好", vendor_template_id="77", review_state="rejected"
    )
    make_user("olga", "Operators")
    ops = web("olga", language="zh-hans")
    ops.go(f"/admin/campaigns/voicetemplate/{fresh.pk}/change/", shot="zh-template-never-submitted")
    assert ops.page.locator("button[name=vo-submit]").count() == 1
    assert ops.page.locator("button[name=vo-resubmit]").count() == 0
    ops.go(f"/admin/campaigns/voicetemplate/{filed.pk}/change/")
    assert ops.page.locator("button[name=vo-submit]").count() == 0
    assert ops.page.locator("button[name=vo-resubmit]").count() == 1


def test_system_tasks_are_explained_and_only_a_superuser_may_disable_them(web, make_user, transactional_db):
    from voiceops.periodic import ensure_periodic_tasks

    ensure_periodic_tasks()
    tick = PeriodicTask.objects.get(task="campaigns.dispatch.tick")
    make_user("olga", "Operators")
    ops = web("olga", language="zh-hans")
    ops.go(f"/admin/django_celery_beat/periodictask/{tick.pk}/change/", shot="zh-periodic-task-operator")
    page = ops.page
    assert "派发到期呼叫" in page.inner_text("h1, #content") or "派发到期呼叫" in page.content()
    assert "没有它，任何呼叫都不会发出" in page.content()  # what it does
    assert page.locator("input[name=enabled]").count() == 0  # read-only for an operator
    assert page.locator("a[href$='/delete/']").count() == 0
    assert ops.go(f"/admin/django_celery_beat/periodictask/{tick.pk}/delete/").status == 403
    # the list's "disable" action leaves it enabled and says why
    ops.go("/admin/django_celery_beat/periodictask/")
    page.check(f"input[name=_selected_action][value='{tick.pk}']")
    page.select_option("select[name=action]", "disable_tasks")
    page.click("button[name=index]")
    page.wait_for_load_state("networkidle")
    assert PeriodicTask.objects.get(pk=tick.pk).enabled
    assert "只有超级用户" in page.content()

    make_user("root", is_superuser=True)
    root = web("root", language="zh-hans")
    root.go(f"/admin/django_celery_beat/periodictask/{tick.pk}/change/")
    assert root.page.locator("input[name=enabled]").count() == 1


def test_user_page_links_to_setting_a_new_password(web, make_user, transactional_db):
    make_user("root", is_superuser=True)
    target = make_user("newbie", "Marketing")
    root = web("root", language="zh-hans")
    root.go(f"/admin/auth/user/{target.pk}/change/", shot="zh-user-page")
    root.page.click("a[href$='../password/'], a[href$='/password/']")
    root.page.wait_for_load_state("networkidle")
    assert root.page.url.endswith(f"/admin/auth/user/{target.pk}/password/")
    root.page.fill("input[name=password1]", "A-new-pass-2468")
    root.page.fill("input[name=password2]", "A-new-pass-2468")
    root.page.locator(
        "form#user_form button[type=submit]:visible, form#user_form input[type=submit]:visible"
    ).last.click()
    root.page.wait_for_load_state("networkidle")
    assert User.objects.get(pk=target.pk).check_password("A-new-pass-2468")


def test_not_found_page_in_chinese_links_home(web, make_user, transactional_db):
    make_user("olga", "Operators")
    ops = web("olga", language="zh-hans")
    response = ops.go("/admin/no/such/page/", shot="zh-404")
    assert response.status == 404
    assert "页面不存在" in ops.page.inner_text("main")
    ops.page.click("a.home")
    ops.page.wait_for_load_state("networkidle")
    assert ops.page.url.endswith("/admin/")
    assert ops.page.evaluate("fetch('/favicon.ico').then(r => r.status)") == 200
