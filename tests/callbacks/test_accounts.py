"""The callback view's account cache: kept per process, cleared by any saved account."""

import pytest

from campaigns.callbacks import accounts
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def test_active_accounts_are_kept_until_an_account_is_saved(django_assert_num_queries):
    account = make_account("ihuyi")
    accounts.forget_accounts()
    with django_assert_num_queries(1):
        assert accounts.active_accounts("ihuyi") == [account]
        assert accounts.active_accounts("ihuyi") == [account]  # the second read is the process's copy
    account.is_active = False
    account.save()  # post_save, connected in CampaignsConfig.ready, drops the copy
    with django_assert_num_queries(1):
        assert accounts.active_accounts("ihuyi") == []


def test_a_copy_older_than_its_seconds_is_read_again():
    account = make_account("ihuyi")
    accounts._accounts["ihuyi"] = (-accounts.ACCOUNT_CACHE_SECONDS - 1, [])  # another process's stale view
    assert accounts.active_accounts("ihuyi") == [account]
