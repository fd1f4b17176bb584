import pytest

from tests.factories import make_account
from tests.fakes.ihuyi import FakeIhuyi


@pytest.fixture
def ihuyi(db, start_fake):
    """A strict fake ihuyi and an account on it: (fake, account)."""
    fake = start_fake(FakeIhuyi())
    account = make_account("ihuyi", base_url=fake.url, api_id=fake.account, api_secret=fake.apikey)
    return fake, account
