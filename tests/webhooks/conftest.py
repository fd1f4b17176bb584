import pytest

from tests.factories import make_account
from tests.fakes.ihuyi import FakeIhuyi
from tests.webhooks.receiver import Receiver


@pytest.fixture
def ihuyi(db, start_fake):
    """A strict fake ihuyi and an account on it: (fake, account)."""
    fake = start_fake(FakeIhuyi())
    account = make_account("ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey)
    return fake, account


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    """Tests receive on 127.0.0.1: loopback allowed, as in DEBUG (the SSRF tests turn it off)."""
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_HOST_OVERRIDES = {}


@pytest.fixture
def receiver():
    started = []

    def start(**kwargs) -> Receiver:
        started.append(Receiver(**kwargs).start())
        return started[-1]

    yield start
    for r in started:
        r.stop()


@pytest.fixture
def endpoint_for(db):
    """An endpoint for a receiver, created through the service (the secret is known to the receiver)."""
    from webhooks import services

    def make(receiver, event_types=None, **fields):
        endpoint, secret = services.create_endpoint(
            name=fields.pop("name", "CRM"),
            url=receiver.url,
            event_types=event_types
            or ["call.answered", "call.failed", "call.expired", "campaign.completed", "import.finished", "balance.low"],
            **fields,
        )
        receiver.secret = secret
        return endpoint

    return make


@pytest.fixture
def make_operator(db):
    from django.contrib.auth.models import Group, User

    def make(username="ops", email="ops@example.com"):
        user = User.objects.create_user(username, email=email, password="pw-ops-12345", is_staff=True)
        group, _created = Group.objects.get_or_create(name="Operators")
        user.groups.add(group)
        return user

    return make
