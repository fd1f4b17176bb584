"""/dashboard/finance/: who may see it, balances, days left, spend per campaign/account/vendor, CSV."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import services
from campaigns.models import CallRecord
from reporting.forms import Period
from reporting.selectors import finance
from tests.factories import make_account, make_campaign
from vendors.models import BalanceSnapshot, VendorAccount

pytestmark = pytest.mark.django_db
URL = "/dashboard/finance/"


def login(client, group=None, **fields):
    user = User.objects.create_user(f"u-{group or 'plain'}", password="pw-1234-long", is_staff=True, **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


def snapshots(account, points, unit="CNY"):
    now = timezone.now()
    for hours_ago, amount in points:
        BalanceSnapshot.objects.create(
            account=account,
            amount=Decimal(amount),
            unit=unit,
            taken_at=now - timedelta(hours=hours_ago),
            below_threshold=Decimal(amount) < account.low_balance_threshold,
        )


def billed(campaign, units, account=None, state="answered"):
    services.launch(campaign)
    CallRecord.objects.filter(campaign=campaign).update(
        state=state,
        outcome="answered" if state == "answered" else "busy",
        billed_units=units,
        account=account or campaign.account,
        submitted_at=timezone.now() - timedelta(hours=1),
        reported_at=timezone.now(),
    )


# ---- access
def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("group, status", [("Finance", 200), ("Operators", 200), ("Marketing", 403), (None, 403)])
def test_who_may_see_it(client, group, status):
    login(client, group)
    assert client.get(URL).status_code == status
    assert client.get(URL + "export.csv").status_code == status


@pytest.mark.parametrize("group, linked", [("Finance", True), ("Operators", True), ("Marketing", False)])
def test_the_sidebar_links_to_it_for_those_who_may_see_it(client, group, linked):
    login(client, group)
    for page in ("/admin/", URL) if linked else ("/admin/",):
        sidebar = client.get(page).content.decode().split('id="nav-sidebar-inner"')[1]
        assert (f'href="{URL}"' in sidebar) is linked
        assert ('id="vo-nav-finance"' in sidebar) is linked


def test_superuser_may_see_it(client):
    login(client, None, is_superuser=True)
    assert client.get(URL).status_code == 200


def test_read_only(client):
    login(client, "Finance")
    assert client.post(URL).status_code == 405
    assert client.post(URL + "export.csv").status_code == 405
    page = client.get(URL).content.decode()
    content = page.split('id="vo-finance"')[1]
    assert 'method="post"' not in content.lower()


# ---- balances
def test_balances_threshold_and_days_left(client):
    low = make_account(vendor="simulator", name="low", low_balance_threshold=Decimal("500"))
    points = make_account(vendor="simulator", name="points", low_balance_threshold=Decimal("10"))
    silent = make_account(vendor="simulator", name="never read")
    # 100 a day for 4 days, with a top-up in between that must not count as spend
    snapshots(low, [(96, "1000"), (72, "900"), (60, "2900"), (48, "2800"), (24, "2700"), (0, "450")])
    snapshots(points, [(5, "300")], unit="points")
    login(client, "Finance")
    page = client.get(URL).content.decode()
    row = page.split(f'data-account="{low.pk}"')[1].split("</tr>")[0]
    assert "vo-low" in page.split(f'data-account="{low.pk}"')[0].rsplit("<tr", 1)[1]
    assert "450 CNY" in row and "below threshold" in row
    # used in the last 7 days: 100 + 100 + 100 + 2250 = 2550 over 96 h → 637.5 a day → 0.7 days
    assert "637.50 CNY" in row and ">0.7<" in row
    other = page.split(f'data-account="{points.pk}"')[1].split("</tr>")[0]
    assert "300 points" in other and "below threshold" not in other
    assert "never read" in page.split(f'data-account="{silent.pk}"')[1].split("</tr>")[0]
    assert f'id="vo-balance-chart-{low.pk}"' in page and f'id="vo-balance-chart-{silent.pk}"' not in page


def test_days_left_rules():
    day = timedelta(days=1)
    assert finance.days_left(Decimal("100"), Decimal("50"), day * 2) == Decimal("4.0")
    assert finance.days_left(Decimal("100"), Decimal("0"), day) is None  # no spend, no estimate
    assert finance.days_left(Decimal("100"), Decimal("5"), timedelta(minutes=20)) is None  # too little history
    assert finance.days_left(Decimal("-3"), Decimal("5"), day) == 0
    assert finance.days_left(None, Decimal("5"), day) is None


def test_history_is_the_last_reading_of_each_bucket():
    account = make_account()
    now = timezone.localtime()
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for minutes, amount in ((5, "100"), (35, "90"), (65, "80"), (70, "75")):
        BalanceSnapshot.objects.create(
            account=account, amount=Decimal(amount), unit="CNY", taken_at=start + timedelta(minutes=minutes)
        )
    rows = finance.last_per_bucket(start, start + timedelta(hours=3), hourly=True)
    assert [r["amount"] for r in rows] == [Decimal("90"), Decimal("75")]


# ---- spend
def test_spend_per_campaign_account_and_vendor(client):
    priced = make_account(name="priced", price_per_unit=Decimal("0.05"))
    unpriced = make_account(name="unpriced")
    one = make_campaign(recipients=4, account=priced)
    two = make_campaign(recipients=2, account=unpriced)
    billed(one, 2)  # 4 calls × 2 units × 0.05
    billed(two, 3)  # 2 calls × 3 units, no price
    fallback = make_campaign(recipients=1, account=unpriced)
    billed(fallback, 5, account=priced)  # sent through the priced account: its price applies
    old = make_campaign(recipients=1, account=priced)
    billed(old, 7)
    CallRecord.objects.filter(campaign=old).update(
        submitted_at=timezone.now() - timedelta(days=90)
    )  # outside the period

    data = finance.spend(Period(timezone.localdate() - timedelta(days=29), timezone.localdate()))
    # one row per campaign id (the names repeat: "c"); the old campaign is outside the period
    assert sorted(
        (r["units"], r["cost"], r["calls"], r["answered"], r["unpriced_units"]) for r in data["campaigns"]
    ) == [
        (5, Decimal("0.25"), 1, 1, 0),  # sent through the priced account: its price applies
        (6, Decimal("0.00"), 2, 2, 6),
        (8, Decimal("0.40"), 4, 4, 0),
    ]
    accounts = {row["name"]: row for row in data["accounts"]}
    assert accounts["priced"]["units"] == 13 and accounts["priced"]["cost"] == Decimal("0.65")
    assert (
        accounts["unpriced"]["units"] == 6
        and accounts["unpriced"]["unpriced_units"] == 6
        and accounts["unpriced"]["cost"] == 0
    )
    assert len(data["vendors"]) == 1 and data["vendors"][0]["units"] == 19
    assert data["total"]["cost"] == Decimal("0.65") and data["total"]["unpriced_units"] == 6


def test_period_form_and_csv_export(client):
    account = make_account(name="账户一", price_per_unit=Decimal("0.10"))
    campaign = make_campaign(recipients=2, account=account)
    billed(campaign, 1, state="failed")
    login(client, "Finance")
    today = timezone.localdate()
    # from yesterday: the call was submitted an hour ago, which may be yesterday near midnight
    response = client.get(
        URL + "export.csv",
        {"kind": "accounts", "start": (today - timedelta(days=1)).isoformat(), "end": today.isoformat()},
    )
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:2] == ["vendor account", "vendor"]
    assert rows[1][0] == "账户一" and rows[1][3] == "0" and rows[1][4] == "2" and rows[1][5] == "0.20"
    for kind in ("campaigns", "vendors", "balances"):
        assert client.get(URL + "export.csv", {"kind": kind}).status_code == 200
    page = client.get(URL, {"start": "2026-02-10", "end": "2026-01-01"}).content.decode()
    assert "The start of the period is after its end." in page
    page = client.get(URL, {"start": "2020-01-01", "end": "2026-01-01"}).content.decode()
    assert "at most 366 days" in page


def test_finance_queries_do_not_grow(client):
    account = make_account(price_per_unit=Decimal("0.05"), low_balance_threshold=Decimal("10"))
    snapshots(account, [(h, str(1000 - h)) for h in range(0, 48, 4)])
    billed(make_campaign(recipients=5, account=account), 1)
    login(client, "Finance")
    client.get(URL)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for i in range(5):
        other = make_account(name=f"more-{i}", price_per_unit=Decimal("0.01"))
        snapshots(other, [(h, str(500 - h)) for h in range(0, 100, 2)])
        billed(make_campaign(recipients=20, account=other), 2)
    assert count() == before


def test_vendor_account_names_not_secrets_in_csv(client):
    VendorAccount.objects.create(vendor="ihuyi", name="ih", api_secret="top-secret-123")
    login(client, "Finance")
    body = b"".join(client.get(URL + "export.csv", {"kind": "balances"}).streaming_content).decode("utf-8-sig")
    assert "ih" in body and "top-secret-123" not in body
