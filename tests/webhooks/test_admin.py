"""The operator's resend buttons say what will really happen: at once, or only once the endpoint is on."""

from datetime import timedelta

import pytest
from django.utils import formats, timezone, translation

from tests.webhooks.test_delivery import answered_call, make_due
from webhooks import delivery
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed(receiver, endpoint_for, settings):
    """An endpoint whose two deliveries ran out of retries."""
    settings.WEBHOOK_RETRY_SCHEDULE = [1]
    endpoint = endpoint_for(receiver(statuses=[500] * 4))
    answered_call(2)
    delivery.deliver_due()
    make_due()
    delivery.deliver_due()
    assert set(Delivery.objects.values_list("state", flat=True)) == {"failed"}
    return endpoint


@pytest.fixture
def ops(client, make_operator):
    client.force_login(make_operator())
    return client


def said(response) -> list[str]:
    """The messages shown on the page the action led to (and so consumed)."""
    return [str(m) for m in response.context["messages"]]


def switch_off(endpoint):
    Endpoint.objects.filter(pk=endpoint.pk).update(is_active=False, disabled_at=timezone.now())


def test_resending_the_failed_deliveries_of_an_active_endpoint(ops, failed):
    response = ops.post(f"/admin/webhooks/endpoint/{failed.pk}/resend-failed/", follow=True)
    assert said(response) == ["2 deliveries will be tried again within seconds."]
    assert set(Delivery.objects.values_list("state", flat=True)) == {"pending"}


def test_resending_to_an_endpoint_that_is_off_says_nothing_goes_until_it_is_on(ops, failed):
    """Not "tried again within seconds" next to "the endpoint is off": only what will happen."""
    switch_off(failed)
    page = ops.get(f"/admin/webhooks/endpoint/{failed.pk}/resend-failed/").content.decode()
    assert "2 deliveries failed (out of retries, or waiting for the next one)" in page
    assert "The endpoint is off: nothing is sent until it is switched on." in page
    response = ops.post(f"/admin/webhooks/endpoint/{failed.pk}/resend-failed/", follow=True)
    assert said(response) == [
        "2 deliveries are queued again but their endpoint is off: switch it on to have them sent."
    ]
    assert delivery.deliver_due() == 0  # indeed nothing is sent


def test_resending_one_delivery_and_a_selection_to_an_endpoint_that_is_off(ops, failed):
    switch_off(failed)
    first, second = Delivery.objects.order_by("id")
    assert (
        "nothing is sent until it is switched on"
        in ops.get(f"/admin/webhooks/delivery/{first.pk}/resend/").content.decode()
    )
    response = ops.post(f"/admin/webhooks/delivery/{first.pk}/resend/", follow=True)
    assert said(response) == [
        "1 delivery is queued again but its endpoint is off: switch the endpoint on to have it sent."
    ]
    response = ops.post(
        "/admin/webhooks/delivery/",
        {"action": "resend_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert said(response) == [
        "2 deliveries are queued again but their endpoint is off: switch it on to have them sent."
    ]


def test_the_resend_messages_are_translated(ops, failed):
    switch_off(failed)
    response = ops.post(
        f"/admin/webhooks/endpoint/{failed.pk}/resend-failed/", HTTP_ACCEPT_LANGUAGE="zh-hans", follow=True
    )
    assert "已停用" in said(response)[0]


def local(moment) -> str:
    with translation.override("en"):
        return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def test_rotating_in_the_admin_says_until_when_the_old_secret_keeps_working(ops, receiver, endpoint_for):
    hook = receiver()
    endpoint = endpoint_for(hook)
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/rotate-secret/"
    asked = ops.get(url).content.decode()
    assert "The current one keeps signing them too for 24 hours" in asked
    page = ops.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/").content.decode()
    assert "valid until" not in page  # no previous secret yet
    response = ops.post(url)
    new = response.context["secret"]
    saved = Endpoint.objects.get(pk=endpoint.pk)
    assert saved.secret == new and saved.previous_secret == hook.secret
    when = local(saved.previous_secret_expires_at)
    assert said(response) == [
        f"The previous secret keeps working until {when}: until then every delivery is signed with both. "
        "Give the receiving system the new secret before that time."
    ]
    page = ops.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/").content.decode()
    assert f"valid until {when}" in page
    assert new not in page and hook.secret not in page  # the time, never a secret
    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    assert "valid until" not in ops.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/").content.decode()


def test_the_rotation_texts_are_translated(ops, receiver, endpoint_for):
    endpoint = endpoint_for(receiver())
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/rotate-secret/"
    asked = ops.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "24 小时" in asked
    response = ops.post(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    saved = Endpoint.objects.get(pk=endpoint.pk)
    with translation.override("zh-hans"):
        when = formats.date_format(timezone.localtime(saved.previous_secret_expires_at), "DATETIME_FORMAT")
    (message,) = said(response)
    assert when in message and "原密钥" in message
    page = ops.get(f"/admin/webhooks/endpoint/{endpoint.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"有效期至 {when}" in page


def test_without_a_grace_period_the_admin_says_the_old_secret_stops_at_once(ops, receiver, endpoint_for, settings):
    settings.WEBHOOK_SECRET_GRACE_HOURS = 0
    endpoint = endpoint_for(receiver())
    url = f"/admin/webhooks/endpoint/{endpoint.pk}/rotate-secret/"
    assert "the current one stops working at once" in ops.get(url).content.decode()
    assert said(ops.post(url)) == ["The previous secret no longer works: give the receiving system the new one now."]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_pending_delivery_shows_its_next_try_in_local_time(admin_client, receiver, endpoint_for, language):
    endpoint_for(receiver())
    answered_call()
    (pending,) = Delivery.objects.filter(state="pending")
    moment = timezone.now().replace(microsecond=593647) + timedelta(hours=2)
    Delivery.objects.filter(pk=pending.pk).update(next_attempt_at=moment)
    page = admin_client.get(
        f"/admin/webhooks/delivery/{pending.pk}/change/", HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    with translation.override(language):
        shown = formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    assert shown in page
    assert "+00:00" not in page and "593647" not in page
