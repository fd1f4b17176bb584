"""The main pages with a realistic amount of data: a few hundred calls over hours and days, one
campaign still running. The charts must draw, and the screenshots are the ones the README shows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import services, tasks
from campaigns.models import CallRecord, Campaign
from tests.factories import make_account, make_campaign
from vendors.models import BalanceSnapshot, VendorAccount

pytestmark = pytest.mark.browser


def complete(campaign, rounds=8):
    for _ in range(rounds):
        tasks.tick()
        CallRecord.objects.filter(campaign=campaign, state="queued").update(not_before=None)
        tasks.pull_all()
        campaign.refresh_from_db()
        if campaign.state == Campaign.State.COMPLETED:
            return campaign
    return campaign


def spread(campaign, step: timedelta, buckets: int):
    """Move the campaign's results back in time, ``buckets`` slices ``step`` apart."""
    now = timezone.now()
    ids = list(CallRecord.objects.filter(campaign=campaign).order_by("id").values_list("id", flat=True))
    for k in range(buckets):
        moment = now - step * k
        CallRecord.objects.filter(id__in=ids[k::buckets]).update(
            submitted_at=moment - timedelta(seconds=40), reported_at=moment
        )


def rename(campaign, name):
    Campaign.objects.filter(pk=campaign.pk).update(name=name)


@pytest.fixture
def busy_day(transactional_db):
    sim = make_account(
        name="演示模拟供应商 Demo simulator",
        pull_reports=True,
        price_per_unit=Decimal("0.05"),
        low_balance_threshold=Decimal("100"),
        options={"seed": 7, "answer_rate": 0.62, "report_delay": [0, 0]},
    )
    backup = VendorAccount.objects.create(
        vendor="ihuyi",
        name="互亿无线 备用",
        base_url="http://127.0.0.1:9",
        api_id="C9",
        api_secret="not-shown",
        low_balance_threshold=Decimal("500"),
        price_per_unit=Decimal("0.08"),
        last_error="[4051] 剩余条数不足",
        last_error_at=timezone.now() - timedelta(minutes=12),
    )
    now = timezone.now()
    for hours in range(0, 24 * 14, 6):
        BalanceSnapshot.objects.create(
            account=sim, amount=Decimal(9800 + hours * 4), unit="CNY", taken_at=now - timedelta(hours=hours)
        )
        BalanceSnapshot.objects.create(
            account=backup,
            amount=Decimal(max(380, 3000 - (24 * 14 - hours) * 8)),
            unit="CNY",
            taken_at=now - timedelta(hours=hours),
            below_threshold=3000 - (24 * 14 - hours) * 8 < 500,
        )

    week = make_campaign(recipients=240, account=sim, max_attempts=2, retry_delay_minutes=0)
    rename(week, "会员续费提醒")
    services.launch(week)
    complete(week)
    spread(week, timedelta(days=1), 7)

    today = make_campaign(recipients=300, account=sim, max_attempts=2, retry_delay_minutes=0)
    rename(today, "双十一发货通知")
    services.launch(today)
    complete(today)
    spread(today, timedelta(hours=1), 6)

    running = make_campaign(recipients=200, account=sim, rate_limit_per_second=1000)
    rename(running, "618 售后回访")
    services.launch(running)
    tasks.tick()  # submitted, receipts not yet pulled
    CallRecord.objects.filter(
        campaign=running, id__in=list(CallRecord.objects.filter(campaign=running).values_list("id", flat=True)[:60])
    ).update(
        state="answered",
        outcome="answered",
        raw_code="0",
        raw_message="接通",
        reported_at=timezone.now(),
        talk_seconds=20,
    )
    return {"sim": sim, "backup": backup, "week": week, "today": today, "running": running}


def test_main_pages_draw_with_real_volumes(web, make_user, busy_day):
    make_user("olivia", "Operators")
    op = web("olivia", language="zh-hans")  # the README shows the interface as it ships: in Chinese
    op.go("/admin/")
    for canvas in ("#vo-today-canvas", "#vo-week-canvas"):
        assert op.wait_painted(canvas)
    assert "618 售后回访" in op.page.inner_text("#vo-running")
    op.shot("30-admin-dashboard")
    op.readme_shot("admin-dashboard", "#vo-dashboard")

    campaign = busy_day["today"]
    op.go(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    assert op.wait_painted("#vo-outcome-canvas") and op.wait_painted("#vo-timeline-canvas")
    calls = CallRecord.objects.filter(campaign=campaign, is_test=False)
    assert op.page.inner_text("#vo-total") == f"{calls.count()}"
    assert op.page.inner_text("#vo-answered") == str(calls.filter(state="answered").count())
    hours = len(op.page.evaluate("document.querySelector('#vo-timeline-canvas').voChart.data.labels"))
    assert hours == 6
    op.shot("31-campaign-page")
    op.readme_shot("campaign-page", "#vo-campaign")
    op.shot_of("#vo-campaign", "31b-campaign-dashboard")

    running = busy_day["running"]
    op.go(f"/admin/campaigns/campaign/{running.pk}/change/", shot="32-campaign-running")

    op.go("/dashboard/finance/")
    assert op.wait_painted(f"canvas[data-vo-chart='vo-balance-chart-{busy_day['backup'].pk}']")
    op.shot("33-finance-dashboard")
    op.readme_shot("finance-dashboard")

    op.go(f"/admin/campaigns/callrecord/?campaign__id__exact={campaign.pk}", shot="34-call-records")
    failed = calls.filter(state="failed").order_by("-attempt").first()
    op.go(f"/admin/campaigns/callrecord/{failed.pk}/change/", shot="35-call-record-detail")
    op.page.locator("#vo-attempts").scroll_into_view_if_needed()
    assert failed.raw_message in op.page.inner_text("#vo-attempts")
    op.readme_shot("call-record")
