"""Each role in the browser: finance reads balances and changes nothing; marketing never sees a secret."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns import services, tasks
from campaigns.models import CallRecord, Campaign
from tests.factories import make_account, make_campaign
from vendors.models import BalanceSnapshot, VendorAccount

pytestmark = pytest.mark.browser

SECRET = "ihuyi-secret-9f3k2x"


@pytest.fixture
def accounts(transactional_db):
    """A simulator that ran a campaign (so there is spend) and an ihuyi account low on balance."""
    sim = make_account(
        name="模拟账户 Sim",
        pull_reports=True,
        price_per_unit=Decimal("0.05"),
        low_balance_threshold=Decimal("100"),
        options={"seed": 4, "report_delay": [0, 0], "answer_rate": 0.7},
    )
    ihuyi = VendorAccount.objects.create(
        vendor="ihuyi",
        name="互亿 main",
        base_url="http://127.0.0.1:1",
        api_id="C1",
        api_secret=SECRET,
        low_balance_threshold=Decimal("500"),
        price_per_unit=Decimal("0.08"),
    )
    now = timezone.now()
    for hours, amount in ((72, "2400"), (48, "1900"), (24, "1200"), (2, "640"), (0, "420")):
        BalanceSnapshot.objects.create(
            account=ihuyi,
            amount=Decimal(amount),
            unit="CNY",
            taken_at=now - timedelta(hours=hours),
            below_threshold=Decimal(amount) < 500,
        )
    for hours, amount in ((70, "9000"), (30, "8700"), (1, "8500")):
        BalanceSnapshot.objects.create(
            account=sim, amount=Decimal(amount), unit="CNY", taken_at=now - timedelta(hours=hours)
        )
    campaign = make_campaign(recipients=30, account=sim)
    Campaign.objects.filter(pk=campaign.pk).update(name="618 回访")
    services.launch(campaign)
    for _ in range(4):
        tasks.tick()
        CallRecord.objects.filter(campaign=campaign, state="queued").update(not_before=None)
        tasks.pull_all()
    return sim, ihuyi


def test_finance_sees_balances_and_cannot_change_anything(web, make_user, accounts):
    sim, ihuyi = accounts
    make_user("fiona", "Finance")
    fin = web("fiona")
    fin.go("/admin/", shot="19-finance-admin-home")
    fin.page.click("#vo-nav-finance a")  # the sidebar leads there
    fin.page.wait_for_url("**/dashboard/finance/")
    response = fin.go("/dashboard/finance/", shot="20-finance-dashboard")
    assert response.status == 200
    page = fin.page
    low = page.locator(f"#vo-balances tr[data-account='{ihuyi.pk}']")
    assert "vo-low" in low.get_attribute("class")
    assert "420" in low.locator(".vo-balance").inner_text() and "below threshold" in low.inner_text().lower()
    ok = page.locator(f"#vo-balances tr[data-account='{sim.pk}']")
    assert "vo-low" not in (ok.get_attribute("class") or "")
    assert "8,500" in ok.inner_text()
    assert fin.wait_painted(f"canvas[data-vo-chart='vo-balance-chart-{ihuyi.pk}']")
    assert "618 回访" in page.inner_text("#vo-finance")
    # read-only: no form on the page posts anything, and a POST is refused
    assert page.locator("#vo-finance form[method=post]").count() == 0
    status = page.evaluate("fetch('/dashboard/finance/', {method: 'POST'}).then(r => r.status)")
    assert status in (403, 405)

    with page.expect_download() as download:
        page.click("#vo-export-campaigns")
    csv_text = download.value.path().read_bytes().decode("utf-8-sig")
    assert "618 回访" in csv_text

    # the admin: the account is readable, without the secret and without a save button
    fin.go(f"/admin/vendors/vendoraccount/{ihuyi.pk}/change/", shot="21-finance-vendor-account")
    assert SECRET not in page.content()
    assert page.locator("button[name=_save]").count() == 0
    assert page.locator("input[name=api_secret]").count() == 0
    before = VendorAccount.objects.get(pk=ihuyi.pk).name
    form = (
        "name=hijacked&vendor=ihuyi&is_active=on&base_url=http%3A%2F%2F127.0.0.1%3A1&api_id=C1&api_secret=&user_id="
        "&options=%7B%7D&rate_limit_per_second=5&low_balance_threshold=0&price_per_unit="
    )  # complete: only the permission refuses it
    status = page.evaluate(
        """([url, body]) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded',
             'X-CSRFToken': (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || ''},
             body}).then(async r => [r.status, (await r.text()).includes('CSRF')])""",
        [f"/admin/vendors/vendoraccount/{ihuyi.pk}/change/", form],
    )
    assert status == [403, False]  # refused for want of permission, not for a CSRF failure
    assert VendorAccount.objects.get(pk=ihuyi.pk).name == before
    assert fin.go("/admin/vendors/vendoraccount/add/").status == 403
    assert fin.go("/admin/campaigns/campaign/add/").status == 403

    fin.go("/admin/", shot="22-finance-home")
    assert page.locator("#vo-vendors").count() == 1
    assert page.locator("#vo-campaign form, #vo-actions").count() == 0


def test_marketing_cannot_see_vendor_secrets(web, make_user, accounts):
    _sim, ihuyi = accounts
    make_user("mark", "Marketing")
    mk = web("mark")
    for path in (
        f"/admin/vendors/vendoraccount/{ihuyi.pk}/change/",
        "/admin/vendors/vendoraccount/",
        "/dashboard/finance/",
    ):
        response = mk.go(path)
        assert response.status == 403, path
        assert SECRET not in mk.page.content()
    api = mk.page.evaluate("fetch('/api/vendor-accounts/').then(async r => [r.status, await r.text()])")
    assert api[0] == 200 and SECRET not in api[1]  # id, name, vendor, products: to pick one for a campaign
    assert '"api_secret_masked"' not in api[1] and '"base_url"' not in api[1]
    mk.go("/admin/", shot="23-marketing-home")
    assert mk.page.locator("#vo-vendors").count() == 0
    assert SECRET not in mk.page.content()
    running = Campaign.objects.filter(name="618 回访", state__in=["running", "paused"]).exists()
    assert mk.page.locator("#vo-running").count() == 1
    assert ("618 回访" in mk.page.inner_text("#vo-running")) is running
