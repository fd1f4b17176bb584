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
