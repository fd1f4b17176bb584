"""Balance snapshots: on demand from the admin, on the beat, and one alert per downward crossing."""

from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.core import mail

from tests.factories import make_account
from tests.fakes.emay import FakeEmay
from vendors import services, tasks
from vendors.models import BalanceSnapshot


def finance_user(email="finance@example.com"):
    user = User.objects.create_user("fin", email=email, password="finance-pw-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    return user


def test_alert_once_per_crossing_below_the_threshold(db, start_fake):
    fake = start_fake(FakeEmay(balance=500))
    account = make_account(
        "emay", base_url=fake.url, api_id=fake.app_id, api_secret=fake.secret_key, low_balance_threshold=Decimal("100")
    )
    finance_user()
    assert services.snapshot_balance(account).snapshot.amount == Decimal("500")
    assert mail.outbox == []
    fake.balances["voice"] = Decimal("42.50")
    for _ in range(3):  # checked again and again while low: one e-mail
        snapshot = services.snapshot_balance(account).snapshot
    assert snapshot.below_threshold and snapshot.amount == Decimal("42.50")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["finance@example.com"]
    assert account.name in mail.outbox[0].subject
    fake.balances["voice"] = Decimal("900")
    services.snapshot_balance(account)
    fake.balances["voice"] = Decimal("10")
    services.snapshot_balance(account)  # a new crossing: a new e-mail
    assert len(mail.outbox) == 2


def test_vendor_failure_is_reported_not_raised(db, start_fake):
    fake = start_fake(FakeEmay())
    account = make_account("emay", base_url=fake.url, api_id=fake.app_id, api_secret="WrongSecret-0000")
    result = services.snapshot_balance(account)
    assert result.snapshot is None and result.error
    account.refresh_from_db()
    assert account.last_error and account.consecutive_failures == 1


def test_beat_task_snapshots_every_active_account(db):
    make_account()
    make_account()
    make_account(is_active=False)
    assert tasks.snapshot_balances() == 2
    assert BalanceSnapshot.objects.count() == 2


def test_admin_check_balance_action(admin_client, db):
    account = make_account()
    response = admin_client.post(
        "/admin/vendors/vendoraccount/", {"action": "check_balance_now", "_selected_action": [account.pk]}, follow=True
    )
    assert response.status_code == 200
    assert BalanceSnapshot.objects.filter(account=account).count() == 1
    assert "10000" in response.content.decode()
