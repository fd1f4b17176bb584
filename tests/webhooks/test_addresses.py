"""SSRF: outside DEBUG no webhook reaches an internal address, neither when saved nor when sent."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns import services as campaign_services
from campaigns.models import CallRecord
from tests.factories import make_campaign
from webhooks import delivery, services
from webhooks.addresses import AddressRefused, check_url
from webhooks.models import Delivery, DeliveryAttempt

PUBLIC = "93.184.216.34"


@pytest.fixture
def production(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    settings.WEBHOOK_HOST_OVERRIDES = {"hooks.example.test": [PUBLIC]}
    return settings


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://127.8.9.10/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://172.16.0.9/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://[fd12::1]/hook", "private"),
        ("https://100.64.1.1/hook", "private"),
        ("https://169.254.10.10/hook", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://100.100.100.200/latest/meta-data/", "metadata"),
        ("https://0.0.0.0/hook", "unicast"),
        ("https://224.0.0.1/hook", "unicast"),
        ("http://hooks.example.test/hook", "HTTPS"),
        ("ftp://hooks.example.test/hook", "https://"),
        ("https://no-such-host.invalid/hook", "resolved"),
        ("https://user:secret@hooks.example.test/hook", "password"),
        ("https://token@hooks.example.test/hook", "password"),
    ],
)
def test_internal_and_plain_http_addresses_are_refused_when_saved(production, url, reason):
    with pytest.raises(AddressRefused, match=reason):
        check_url(url)


def test_a_name_is_refused_if_any_of_its_addresses_is_internal(production):
    production.WEBHOOK_HOST_OVERRIDES = {"mixed.example.test": [PUBLIC, "10.0.0.1"]}
    with pytest.raises(AddressRefused, match=r"mixed\.example\.test is refused: 10\.0\.0\.1 is a private"):
        check_url("https://mixed.example.test/hook")


@pytest.mark.django_db
def test_a_password_in_the_address_is_refused_even_on_loopback_in_debug(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    with pytest.raises(ValidationError) as refused:
        services.create_endpoint(name="x", url="http://user:pass@127.0.0.1:8931/hook", event_types=["call.answered"])
    assert "password" in refused.value.message_dict["url"][0]


def test_a_public_https_address_is_accepted(production):
    check_url("https://hooks.example.test/hook")
    check_url(f"https://{PUBLIC}:8443/hook")


@pytest.mark.django_db
def test_the_service_refuses_in_words_and_stores_nothing(production):
    with pytest.raises(ValidationError) as refused:
        services.create_endpoint(name="x", url="https://169.254.169.254/", event_types=["call.answered"])
    assert "metadata" in refused.value.message_dict["url"][0]
    from webhooks.models import Endpoint

    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_a_name_that_turns_to_loopback_after_saving_is_refused_when_connecting(production, receiver):
    """DNS rebinding: checked public when saved, the name now points at 127.0.0.1, where a service listens."""
    hook = receiver()
    endpoint, secret = services.create_endpoint(
        name="rebind", url=f"https://hooks.example.test:{hook.port}/hooks", event_types=["call.answered"]
    )
    production.WEBHOOK_HOST_OVERRIDES = {"hooks.example.test": ["127.0.0.1"]}
    campaign = make_campaign(recipients=1)
    campaign_services.launch(campaign)
    call = CallRecord.objects.get(campaign=campaign)
    CallRecord.objects.filter(pk=call.pk).update(state="submitted", submitted_at=timezone.now())
    call.state = "submitted"
    call.move_to("answered", outcome="answered")
    delivery.deliver_due()
    assert hook.received == []
    d = Delivery.objects.get()
    assert d.state == "pending" and "127.0.0.1 is a loopback address" in d.last_error
    assert "loopback" in DeliveryAttempt.objects.get().error


@pytest.mark.django_db
def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(settings, receiver, endpoint_for):
    """With loopback allowed (DEBUG, tests) a name mapped to 127.0.0.1 is reached there, Host naming the name."""
    settings.WEBHOOK_HOST_OVERRIDES = {"crm.example.test": ["127.0.0.1"]}
    hook = receiver()
    endpoint = endpoint_for(hook)
    endpoint.url = f"http://crm.example.test:{hook.port}/hooks"
    endpoint.save()
    campaign = make_campaign(recipients=1)
    campaign_services.launch(campaign)
    call = CallRecord.objects.get(campaign=campaign)
    CallRecord.objects.filter(pk=call.pk).update(state="submitted", submitted_at=timezone.now())
    call.state = "submitted"
    call.move_to("failed", outcome="busy")
    assert delivery.deliver_due() == 1
    (got,) = hook.received
    assert got.headers["host"] == f"crm.example.test:{hook.port}" and got.verified
