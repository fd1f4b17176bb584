"""Vendor secrets are encrypted in the database row and never shown back in full."""

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection

from tests.admin_forms import change_form_data
from vendors.models import VendorAccount
from voiceops import crypto

SECRET = "ihuyi-api-key-4f2a9c"


@pytest.fixture
def account(db):
    return VendorAccount.objects.create(
        vendor="ihuyi",
        name="main",
        base_url="http://127.0.0.1:1",
        allow_plain_http=True,
        api_id="C123",
        api_secret=SECRET,
    )


def test_secret_is_encrypted_in_the_row(account):
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_secret FROM vendors_vendoraccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
    assert stored.startswith("v1:")
    assert VendorAccount.objects.get(pk=account.pk).api_secret == SECRET


def test_each_encryption_uses_a_fresh_nonce():
    assert crypto.encrypt(SECRET) != crypto.encrypt(SECRET)


def test_tampered_ciphertext_is_refused():
    stored = crypto.encrypt(SECRET)
    tampered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered)


def test_rotation_decrypts_with_an_old_key(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    stored = crypto.encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [crypto.generate_key(), old_key]
    assert crypto.decrypt(stored) == SECRET
    assert crypto.needs_rotation(stored)
    settings.FIELD_ENCRYPTION_KEYS = [crypto.generate_key()]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored)


def test_mask_shows_at_most_two_characters():
    assert crypto.mask(SECRET) == "••••••9c"
    assert crypto.mask("short") == "••••••"


def test_admin_never_renders_the_secret(admin_client, account):
    page = admin_client.get(f"/admin/vendors/vendoraccount/{account.pk}/change/").content.decode()
    assert SECRET not in page
    assert "••••••9c" in page


def test_admin_keeps_the_secret_when_left_empty(admin_client, account):
    response = admin_client.post(
        f"/admin/vendors/vendoraccount/{account.pk}/change/",
        {
            "name": "main",
            "vendor": "ihuyi",
            "is_active": "on",
            "base_url": "http://127.0.0.1:1",
            "allow_plain_http": "on",
            "api_id": "C123",
            "api_secret": "",
            "user_id": "",
            "options": "{}",
            "rate_limit_per_second": 5,
            "low_balance_threshold": "0",
            "price_per_unit": "",
            "callback_rate_limit": 2000,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert VendorAccount.objects.get(pk=account.pk).api_secret == SECRET


def stored_secret(account) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_secret FROM vendors_vendoraccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_saving_the_admin_page_without_a_new_secret_neither_logs_nor_rewrites_it(admin_client, account):
    url = f"/admin/vendors/vendoraccount/{account.pk}/change/"
    before = stored_secret(account)
    response = admin_client.post(url, change_form_data(admin_client, url, name="renamed"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert stored_secret(account) == before  # not even re-encrypted
    assert LogEntry.objects.get(object_id=str(account.pk)).get_change_message() == "Changed Name."


def test_a_new_secret_typed_on_the_admin_page_is_written_and_logged(admin_client, account):
    url = f"/admin/vendors/vendoraccount/{account.pk}/change/"
    response = admin_client.post(url, change_form_data(admin_client, url, api_secret="a-brand-new-key-77"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert VendorAccount.objects.get(pk=account.pk).api_secret == "a-brand-new-key-77"
    assert LogEntry.objects.get(object_id=str(account.pk)).get_change_message() == "Changed secret."
