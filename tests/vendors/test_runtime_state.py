"""Saving an account never undoes what its services counted meanwhile (circuit breaker, last error)."""

import pytest

from tests.admin_forms import change_form_data
from tests.factories import make_account
from vendors import services
from vendors.admin import VendorAccountAdmin
from vendors.models import VendorAccount

pytestmark = pytest.mark.django_db


def test_a_stale_account_saved_after_failures_keeps_their_count_and_the_open_circuit():
    account = make_account()
    stale = VendorAccount.objects.get(pk=account.pk)  # read before the failures (a shell, a service)
    services.record_failure(account, "HTTP 503")
    services.record_failure(account, "HTTP 503")
    stale.name = "renamed"
    stale.save()
    saved = VendorAccount.objects.get(pk=account.pk)
    assert saved.name == "renamed" and saved.consecutive_failures == 2  # not the 0 the stale instance held
    assert saved.last_error == "HTTP 503" and saved.last_error_at is not None
    for _ in range(services.CIRCUIT_FAILURES - 2):
        services.record_failure(account, "HTTP 503")
    stale.save()
    assert VendorAccount.objects.get(pk=account.pk).circuit_is_open  # not closed again by the save


def test_an_admin_save_racing_a_vendor_failure_keeps_the_failure(admin_client, monkeypatch):
    account = make_account()
    for _ in range(services.CIRCUIT_FAILURES - 1):
        services.record_failure(account, "HTTP 503")
    url = f"/admin/vendors/vendoraccount/{account.pk}/change/"
    assert f"{services.CIRCUIT_FAILURES - 1}" in admin_client.get(url).content.decode()  # health shown
    sent = change_form_data(admin_client, url, name="renamed", rate_limit_per_second=5, low_balance_threshold="42")
    save_model = VendorAccountAdmin.save_model

    def failure_lands_between_read_and_write(self, request, obj, form, change):
        services.record_failure(obj, "[4051] 余额不足")  # the dispatcher, in another process
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(VendorAccountAdmin, "save_model", failure_lands_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = VendorAccount.objects.get(pk=account.pk)
    assert (saved.name, saved.rate_limit_per_second, saved.low_balance_threshold) == ("renamed", 5, 42)  # edited
    assert saved.circuit_is_open and saved.last_error == "[4051] 余额不足"  # the fifth failure opened it


def test_creating_an_account_still_writes_the_state_given():
    account = make_account(consecutive_failures=3, last_error="HTTP 500")
    saved = VendorAccount.objects.get(pk=account.pk)
    assert (saved.consecutive_failures, saved.last_error) == (3, "HTTP 500")


def test_a_save_naming_runtime_state_writes_it():
    account = make_account()
    services.record_failure(account, "HTTP 503")
    account.consecutive_failures = 0
    account.save(update_fields=["consecutive_failures"])
    assert VendorAccount.objects.get(pk=account.pk).consecutive_failures == 0


def test_an_admin_save_racing_a_token_rotation_keeps_the_new_token(admin_client, monkeypatch):
    account = make_account()
    old_token = account.callback_token
    url = f"/admin/vendors/vendoraccount/{account.pk}/change/"
    sent = change_form_data(admin_client, url, name="renamed", rate_limit_per_second=5, low_balance_threshold="0")
    save_model = VendorAccountAdmin.save_model

    def rotated_between_read_and_write(self, request, obj, form, change):
        services.rotate_callback_token(VendorAccount.objects.get(pk=obj.pk))  # another operator's action
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(VendorAccountAdmin, "save_model", rotated_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = VendorAccount.objects.get(pk=account.pk)
    assert saved.name == "renamed" and saved.rate_limit_per_second == 5  # the edit
    assert saved.callback_token != old_token and saved.previous_callback_token == old_token  # the rotation
    assert saved.previous_token_valid_until is not None


def test_a_stale_account_saved_after_a_rotation_does_not_bring_the_old_token_back():
    account = make_account()
    old_token = account.callback_token
    stale = VendorAccount.objects.get(pk=account.pk)  # read before the rotation
    services.rotate_callback_token(account)
    stale.name = "renamed"
    stale.save()
    saved = VendorAccount.objects.get(pk=account.pk)
    assert saved.name == "renamed" and saved.callback_token == account.callback_token != old_token
    assert saved.previous_callback_token == old_token


def test_two_rotations_at_once_keep_the_first_new_token_for_the_grace_period():
    account = make_account()
    first, second = VendorAccount.objects.get(pk=account.pk), VendorAccount.objects.get(pk=account.pk)
    services.rotate_callback_token(first)  # one operator; its URL is pasted in the vendor's console
    services.rotate_callback_token(second)  # another, holding the account as read before
    saved = VendorAccount.objects.get(pk=account.pk)
    assert saved.callback_token == second.callback_token
    assert saved.previous_callback_token == first.callback_token  # still accepted, not dropped
    assert saved.token_matches(first.callback_token) and not saved.token_matches(account.callback_token)
