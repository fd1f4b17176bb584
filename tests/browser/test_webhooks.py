"""An operator adds a webhook endpoint (the secret shown once), finds its failed deliveries and resends them."""

import pytest
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import CallRecord
from tests.factories import make_campaign
from tests.webhooks.receiver import Receiver
from webhooks import delivery
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.browser


@pytest.fixture
def hook(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    receiver = Receiver(statuses=[500] * 6).start()
    yield receiver
    receiver.stop()


def answered_calls(n):
    campaign = make_campaign(recipients=n)
    campaign_services.launch(campaign)
    for call in CallRecord.objects.filter(campaign=campaign):
        CallRecord.objects.filter(pk=call.pk).update(state="submitted", submitted_at=timezone.now())
        call.state = "submitted"
        call.move_to("answered", outcome="answered", talk_seconds=8)


def test_operator_adds_an_endpoint_sees_the_secret_once_and_resends_failed_deliveries(web, make_user, hook, settings):
    make_user("olivia", "Operators")
    tab = web("olivia")
    page = tab.page

    tab.go("/admin/webhooks/endpoint/add/")
    page.fill("input[name=name]", "CRM 生产")
    page.fill("input[name=url]", hook.url)
    page.click("button[name=_save], input[name=_save]")
    page.wait_for_selector("#webhook-secret")
    tab.shot("webhooks-secret-once")
    secret = page.inner_text("#webhook-secret").strip()
    endpoint = Endpoint.objects.get()
    assert secret.startswith("whsec_") and secret == endpoint.secret
    assert set(endpoint.event_types) >= {"call.answered", "balance.low"}  # every event by default
    page.click("text=I have copied it")
    page.wait_for_load_state("networkidle")
    assert secret not in page.content()  # never shown again

    hook.secret = secret
    settings.WEBHOOK_RETRY_SCHEDULE = [1]
    answered_calls(2)
    for _ in range(2):
        delivery.deliver_due()
        Delivery.objects.filter(state="pending").update(next_attempt_at=timezone.now())
    assert set(Delivery.objects.values_list("state", flat=True)) == {"failed"}

    tab.go("/admin/webhooks/endpoint/", shot="webhooks-endpoints")
    row = page.locator("#result_list tbody tr").first
    assert "failing" in row.inner_text().lower() and "2" in row.inner_text()
    row.locator("a", has_text="2").click()
    page.wait_for_load_state("networkidle")
    tab.shot("webhooks-failed-deliveries")
    assert page.locator("#result_list tbody tr").count() == 2
    page.locator("#result_list tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    tab.shot("webhooks-delivery-attempts")
    body = page.content()
    assert "500" in body and "call.answered" in body

    tab.go(f"/admin/webhooks/endpoint/{endpoint.pk}/change/")
    page.click("text=Resend failed deliveries")
    page.wait_for_load_state("networkidle")
    assert "2 deliveries failed (out of retries" in page.content()
    page.click("button[name=confirm]")
    page.wait_for_load_state("networkidle")
    tab.shot("webhooks-resent")
    assert "2 deliveries will be tried again" in page.content()

    hook.statuses.clear()  # the receiver is fixed
    assert delivery.deliver_due() == 2
    assert set(Delivery.objects.values_list("state", flat=True)) == {"delivered"}
    assert sum(r.verified for r in hook.received) == 6 and all(r.verified for r in hook.received)


def test_operator_rotates_the_secret_and_the_old_one_keeps_working_until_the_time_shown(web, make_user, hook):
    """In Chinese: the confirm page says for how long, the secret page until when, the endpoint page too;
    a receiver still holding the old secret verifies the next delivery."""
    from webhooks import services

    endpoint, old = services.create_endpoint(name="CRM", url=hook.url, event_types=["call.answered"])
    hook.secret, hook.statuses = old, []
    make_user("olivia", "Operators")
    tab = web("olivia", language="zh-hans")
    page = tab.page
    tab.go(f"/admin/webhooks/endpoint/{endpoint.pk}/change/")
    page.click("text=轮换密钥")
    page.wait_for_load_state("networkidle")
    assert "24 小时" in page.content()
    page.click("button[name=confirm]")
    page.wait_for_selector("#webhook-secret")
    tab.shot("webhooks-secret-rotated")
    new = page.inner_text("#webhook-secret").strip()
    saved = Endpoint.objects.get()
    assert new == saved.secret != old and saved.previous_secret == old
    assert "原密钥在" in page.content() and "之前仍然有效" in page.content()
    tab.go(f"/admin/webhooks/endpoint/{endpoint.pk}/change/", shot="webhooks-previous-secret-valid-until")
    assert "有效期至" in page.content() and old not in page.content() and new not in page.content()

    answered_calls(1)
    assert delivery.deliver_due() == 1
    assert hook.received[0].verified, hook.received[0].error  # with the old secret, by the library
