"""The shared token bucket: exact integer tokens, refilled by elapsed time, never over-granted."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from vendors import ratelimit
from vendors.models import RateBucket

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture(params=["one statement", "python"])
def take(request, monkeypatch):
    """Both ways of taking: PostgreSQL's single statement, and the portable one SQLite uses."""
    if request.param == "one statement" and connection.vendor != "postgresql":
        pytest.skip("the single statement is PostgreSQL's")
    if request.param == "python":
        monkeypatch.setattr(ratelimit, "_take_in_one_statement", ratelimit._take_in_python)
    return ratelimit.take


@pytest.mark.django_db
def test_a_new_bucket_holds_one_second_of_calls(take):
    assert take("account:1", 3, 5, now=T0) == (3, 0.0)
    assert take("account:1", 3, 5, now=T0) == (2, 0.0)  # 5 a second: only 2 left
    granted, wait = take("account:1", 1, 5, now=T0)
    assert granted == 0 and wait == pytest.approx(0.2)  # one token is 200 ms away
    assert RateBucket.objects.get(key="account:1").milli_tokens == 0


@pytest.mark.django_db
def test_tokens_refill_with_time_up_to_the_capacity(take):
    take("account:2", 10, 10, now=T0)
    assert take("account:2", 10, 10, now=T0 + timedelta(milliseconds=350)) == (3, 0.0)
    bucket = RateBucket.objects.get(key="account:2")
    assert bucket.milli_tokens == 500  # half a token kept, exactly
    assert take("account:2", 100, 10, now=T0 + timedelta(hours=1)) == (10, 0.0)  # never more than a second's worth


@pytest.mark.django_db
def test_a_clock_behind_the_bucket_neither_refills_nor_rewinds_it(take):
    take("account:3", 4, 4, now=T0)
    assert take("account:3", 1, 4, now=T0 - timedelta(seconds=5))[0] == 0
    assert RateBucket.objects.get(key="account:3").updated_at == T0


@pytest.mark.django_db(transaction=True)
def test_concurrent_takers_share_the_bucket_without_over_granting():
    ratelimit.take("account:4", 0, 10, now=T0)  # create it full: 10 tokens
    barrier, granted = threading.Barrier(8), []

    def worker():
        barrier.wait()
        for _ in range(5):
            granted.append(ratelimit.take("account:4", 1, 10, now=T0)[0])
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 10 and len(granted) == 40
