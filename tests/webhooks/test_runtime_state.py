"""Saving an endpoint never undoes what delivery recorded meanwhile (its failure clock, its switching off)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apikeys.scopes import MANAGE_WEBHOOKS
from tests.admin_forms import change_form_data
from tests.webhooks.test_api import key_client
from tests.webhooks.test_delivery import answered_call, make_due
from webhooks import delivery, services
from webhooks.admin import EndpointAdmin
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db
DAYS_AGO = timedelta(days=6)  # beyond WEBHOOK_DISABLE_AFTER_DAYS


def failing_for_days(endpoint) -> None:
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - DAYS_AGO)


def test_an_admin_save_racing_a_successful_delivery_does_not_bring_the_failure_clock_back(
    receiver, endpoint_for, admin_client, monkeypatch
):
    endpoint = endpoint_for(receiver(statuses=[500]), name="ERP")
    answered_call()
    delivery.deliver_due()  # the receiver fails
    failing_for_days(endpoint)
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/change/"
    sent = change_form_data(admin_client, url, name="ERP production")
    save_model = EndpointAdmin.save_model

    def delivery_succeeds_between_read_and_write(self, request, obj, form, change):
        make_due()
        assert delivery.deliver_due() == 1  # the beat, in another process: the receiver is back
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(EndpointAdmin, "save_model", delivery_succeeds_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "ERP production" and saved.failing_since is None and saved.last_success_at
    assert services.disable_failing_endpoints() == 0 and Endpoint.objects.get(pk=endpoint.pk).is_active


def test_a_change_read_before_the_endpoint_was_switched_off_leaves_it_off(receiver, endpoint_for):
    endpoint = endpoint_for(receiver())
    stale = Endpoint.objects.get(pk=endpoint.pk)  # a PATCH's read, before the beat's
    failing_for_days(endpoint)
    assert services.disable_failing_endpoints() == 1
    services.update_endpoint(stale, name="renamed")
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "renamed" and not saved.is_active
    assert saved.failing_since and saved.disabled_at and saved.disabled_reason  # the record of why


def test_switching_an_endpoint_back_on_clears_its_failure_record(receiver, endpoint_for, admin_client):
    by_api, by_admin = endpoint_for(receiver(), name="api"), endpoint_for(receiver(), name="admin")
    failing_for_days(by_api)
    failing_for_days(by_admin)
    assert services.disable_failing_endpoints() == 2
    switched = key_client(MANAGE_WEBHOOKS).patch(f"/api/webhooks/{by_api.pk}/", {"is_active": True}, format="json")
    assert switched.status_code == 200, switched.json()
    url = f"/admin/webhooks/endpoint/{by_admin.pk}/change/"
    response = admin_client.post(url, change_form_data(admin_client, url, is_active="on"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    for endpoint in Endpoint.objects.all():
        assert endpoint.is_active, endpoint.name
        assert (endpoint.failing_since, endpoint.disabled_at, endpoint.disabled_reason) == (None, None, "")
    assert services.disable_failing_endpoints() == 0


def test_a_delivery_page_is_read_only_and_resends(receiver, endpoint_for, client, make_operator):
    client.force_login(make_operator())  # Operators hold the change permission on deliveries
    endpoint_for(receiver(statuses=[500]))
    answered_call()
    delivery.deliver_due()
    pending = Delivery.objects.get()
    url = f"/admin/webhooks/delivery/{pending.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and not page.context["has_change_permission"]  # no Save button
    assert f"/admin/webhooks/delivery/{pending.pk}/resend/" in page.content.decode()
    assert client.post(url, {}).status_code == 403  # a save would write the delivery back as read
    assert client.post(f"/admin/webhooks/delivery/{pending.pk}/resend/").status_code == 302
    assert Delivery.objects.get(pk=pending.pk).tries == 0  # a new round


def test_an_admin_save_racing_a_secret_rotation_keeps_the_new_secret(receiver, endpoint_for, admin_client, monkeypatch):
    endpoint = endpoint_for(receiver(), name="ERP")
    old_secret = Endpoint.objects.get(pk=endpoint.pk).secret
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/change/"
    sent = change_form_data(admin_client, url, name="ERP production")
    save_model = EndpointAdmin.save_model
    rotated = []

    def rotated_between_read_and_write(self, request, obj, form, change):
        rotated.append(services.rotate_secret(Endpoint.objects.get(pk=obj.pk)))  # over the API, meanwhile
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(EndpointAdmin, "save_model", rotated_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "ERP production"
    assert saved.secret == rotated[0] != old_secret  # the receiver was given this one


def test_a_stale_endpoint_saved_after_a_rotation_keeps_the_new_secret(receiver, endpoint_for):
    endpoint = endpoint_for(receiver())
    stale = Endpoint.objects.get(pk=endpoint.pk)  # read before the rotation
    secret = services.rotate_secret(endpoint)
    stale.name = "renamed"
    stale.save()
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "renamed" and saved.secret == secret


def test_a_stale_endpoint_saved_after_a_second_rotation_keeps_its_previous_secret(receiver, endpoint_for):
    """Read between two rotations, saved after both: the first rotation's secret (some receiver holds it)
    stays the previous one, with its own grace period, instead of the secret before it coming back."""
    endpoint = endpoint_for(receiver())
    original = Endpoint.objects.get(pk=endpoint.pk).secret
    first = services.rotate_secret(endpoint)
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now() + timedelta(hours=1))
    stale = Endpoint.objects.get(pk=endpoint.pk)  # previous secret: the original one, for an hour more
    assert stale.previous_secret == original
    second = services.rotate_secret(Endpoint.objects.get(pk=endpoint.pk))
    rotated = Endpoint.objects.get(pk=endpoint.pk)
    stale.name = "renamed"
    stale.save()
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "renamed"
    assert (saved.secret, saved.previous_secret) == (second, first)
    assert saved.previous_secret_expires_at == rotated.previous_secret_expires_at
    assert saved.previous_secret_expires_at > stale.previous_secret_expires_at + timedelta(hours=20)


def test_a_rotation_changes_the_secrets_and_nothing_else(receiver, endpoint_for, admin_user):
    endpoint = endpoint_for(receiver(), name="ERP", event_types=["call.failed", "balance.low"])
    a_day_ago = timezone.now() - timedelta(days=1)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        failing_since=a_day_ago,
        last_success_at=a_day_ago - timedelta(hours=1),
        disabled_at=a_day_ago,
        disabled_reason="switched off",
        created_by=admin_user,
    )
    rotated_fields = {*Endpoint.ROTATED_SECRET_FIELDS, "updated_at"}

    def the_rest():
        row = Endpoint.objects.filter(pk=endpoint.pk).values().get()
        return {name: value for name, value in row.items() if name not in rotated_fields}

    before = the_rest()
    old_secret = Endpoint.objects.get(pk=endpoint.pk).secret
    stale = Endpoint.objects.get(pk=endpoint.pk)
    stale.name = "changed in memory, never saved"  # what the caller holds is not written
    new_secret = services.rotate_secret(stale, actor=admin_user)
    assert the_rest() == before
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert (saved.secret, saved.previous_secret) == (new_secret, old_secret) and saved.previous_secret_expires_at
    assert {"secret", "previous_secret", "previous_secret_expires_at"} <= set(Endpoint.ROTATED_SECRET_FIELDS)


def test_an_admin_rename_racing_the_switch_off_leaves_the_endpoint_off(
    receiver, endpoint_for, admin_client, monkeypatch
):
    endpoint = endpoint_for(receiver(), name="ERP")
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/change/"
    sent = change_form_data(admin_client, url, name="ERP production")  # the page showed it active
    save_model = EndpointAdmin.save_model

    def switched_off_between_read_and_write(self, request, obj, form, change):
        failing_for_days(endpoint)
        assert services.disable_failing_endpoints() == 1  # the beat, in another process
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(EndpointAdmin, "save_model", switched_off_between_read_and_write)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "ERP production" and not saved.is_active
    assert saved.failing_since and saved.disabled_at and saved.disabled_reason  # the record of why, kept


def test_a_page_opened_before_the_switch_off_and_saved_after_it_leaves_the_endpoint_off(
    receiver, endpoint_for, admin_client
):
    endpoint = endpoint_for(receiver(), name="ERP")
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/change/"
    sent = change_form_data(admin_client, url, name="ERP production")  # the page showed it active
    failing_for_days(endpoint)
    assert services.disable_failing_endpoints() == 1  # while the operator types
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "ERP production" and not saved.is_active and saved.disabled_reason


def test_switching_an_endpoint_off_in_the_admin_is_written_with_or_without_the_shown_values(
    receiver, endpoint_for, admin_client
):
    for shown in (True, False):  # a browser sends the values the page showed; a client of its own may not
        endpoint = endpoint_for(receiver(), name=f"ERP {shown}")
        url = f"/admin/webhooks/endpoint/{endpoint.pk}/change/"
        sent = change_form_data(admin_client, url, name="renamed")
        del sent["is_active"]  # unticked
        if not shown:
            sent = {name: value for name, value in sent.items() if not name.startswith("initial-")}
        response = admin_client.post(url, sent)
        assert response.status_code == 302, response.context["adminform"].form.errors
        saved = Endpoint.objects.get(pk=endpoint.pk)
        assert saved.name == "renamed" and not saved.is_active, shown


def test_a_field_save_model_sets_besides_the_form_is_written(receiver, endpoint_for, admin_client, monkeypatch):
    endpoint = endpoint_for(receiver(), name="ERP")
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/change/"
    sent = change_form_data(admin_client, url, name="ERP production")
    save_model = EndpointAdmin.save_model

    def sets_the_creator(self, request, obj, form, change):
        obj.created_by = request.user  # not a field of the form
        save_model(self, request, obj, form, change)

    monkeypatch.setattr(EndpointAdmin, "save_model", sets_the_creator)
    response = admin_client.post(url, sent)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.name == "ERP production" and saved.created_by.username == "admin"
