"""Security drills: login throttling, audit trail, key rotation, callback guards, headers, no secrets in logs."""

import logging
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection

from campaigns import services, tasks
from tests.callbacks.helpers import dispatched, push
from tests.factories import make_account, make_campaign
from tests.fakes.emay import FakeEmay
from tests.fakes.fungo import FakeFungo
from tests.fakes.ihuyi import FakeIhuyi
from tests.fakes.sms10692 import FakeSms10692
from vendors.models import VendorAccount
from voiceops import crypto


def test_a_login_from_the_login_page_itself_lands_on_the_admin_home(client, db):
    User.objects.create_user("bob", password="correct-horse-battery", is_staff=True)
    response = client.post("/admin/login/", {"username": "bob", "password": "correct-horse-battery"})
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_campaign_actions_leave_an_audit_trail(client, db):
    user = User.objects.create_user("marketer", password="pw-long-enough-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(user)
    campaign = make_campaign(recipients=2)
    assert client.post(f"/api/campaigns/{campaign.pk}/launch/", content_type="application/json").status_code == 200
    assert client.post(f"/api/campaigns/{campaign.pk}/pause/").status_code == 200
    assert client.post(f"/api/campaigns/{campaign.pk}/cancel/").status_code == 200
    trail = list(
        LogEntry.objects.filter(object_id=str(campaign.pk))
        .order_by("id")
        .values_list("user__username", "change_message")
    )
    assert trail == [("marketer", "Launched"), ("marketer", "Paused"), ("marketer", "Cancelled (2 queued calls)")]


def test_rotate_secrets_re_encrypts_with_the_new_key(db, settings):
    account = make_account("ihuyi", api_secret="rotate-me-please")
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [crypto.generate_key(), old_key]
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Re-encrypted 1 of 1" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key is gone
    assert VendorAccount.objects.get(pk=account.pk).api_secret == "rotate-me-please"


def test_callback_source_allow_list(client, db, start_fake):
    fake = start_fake(FakeIhuyi())
    account = make_account(
        "ihuyi",
        base_url=fake.url,
        api_id=fake.account,
        api_secret=fake.apikey,
        callback_allowed_ips="10.1.0.0/16, 192.0.2.7",
    )
    dispatched(account, recipients=1)
    body = fake.push_body(fake.submitted[0]["vendor_message_id"], "2")
    assert push(client, account, *body).status_code == 403  # the test client comes from 127.0.0.1
    account.callback_allowed_ips = "127.0.0.0/8"
    account.save()
    assert push(client, account, *body).status_code == 200


def test_callback_rate_limit_answers_429(client, db, start_fake):
    fake = start_fake(FakeIhuyi())
    account = make_account(
        "ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey, callback_rate_limit=2
    )
    dispatched(account, recipients=1)
    body = fake.push_body(fake.submitted[0]["vendor_message_id"], "2")
    statuses = [push(client, account, *body).status_code for _ in range(5)]
    assert statuses[:2] == [200, 200] and 429 in statuses


def test_security_headers(client, db):
    response = client.get("/admin/login/", secure=True)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "max-age=31536000" in response["Strict-Transport-Security"]


def test_no_secret_reaches_the_logs(db, start_fake, caplog):
    """A run on every vendor with all loggers at DEBUG: no credential appears in what was logged."""
    caplog.set_level(logging.DEBUG)
    ihuyi, emay, fungo, sms = (start_fake(f) for f in (FakeIhuyi(), FakeEmay(), FakeFungo(), FakeSms10692()))
    accounts = [
        make_account("ihuyi", base_url=ihuyi.url, api_id=ihuyi.account, api_secret=ihuyi.apikey),
        make_account("emay", base_url=emay.url, api_id=emay.app_id, api_secret=emay.secret_key, pull_reports=True),
        make_account(
            "fungo",
            base_url=fungo.url,
            api_id="fungo-cp",
            api_secret="fungo-pass",
            options={"app_id": fungo.app_id, "template_id": "1001"},
        ),
        make_account(
            "sms10692",
            base_url=sms.url,
            api_id=sms.account,
            api_secret=sms.password,
            user_id=sms.userid,
            pull_reports=True,
        ),
    ]
    for account in accounts:
        content = "【code】" if account.vendor == "fungo" else "通知【name】【order】"
        services.launch(make_campaign(recipients=2, account=account, content=content))
    fungo.inject("500")
    tasks.tick()
    tasks.pull_all()
    for account in accounts:
        from vendors.services import snapshot_balance

        snapshot_balance(account)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM campaigns_callrecord WHERE state <> 'queued'")
        assert cursor.fetchone()[0] > 0  # the run really talked to the vendors
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in (ihuyi.apikey, emay.secret_key, "fungo-pass", sms.password):
        assert secret not in logged


@pytest.mark.parametrize("path", ["/admin/vendors/vendoraccount/", "/api/vendor-accounts/"])
def test_secrets_never_in_pages_or_api(client, db, path):
    account = make_account("ihuyi", api_secret="very-secret-apikey-123")
    client.force_login(User.objects.create_superuser("root", password="root-password-123"))
    body = client.get(path).content.decode()
    assert "very-secret-apikey-123" not in body and account.name in body
