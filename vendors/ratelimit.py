"""Rate limits enforced across all workers: a token bucket row per key, taken under a row lock.

Celery's own ``rate_limit`` is per worker process; a vendor's limit is per account, whatever the
number of workers, so the bucket lives in the database (short transaction, never around a vendor
call). Tokens are integers (thousandths of a call) to stay exact.
"""

from django.db import transaction
from django.utils import timezone

from .models import RateBucket


def take(key: str, wanted: int, rate_per_second: int) -> tuple[int, float]:
    """Take up to ``wanted`` tokens; returns (granted, seconds to wait before more are available).

    The bucket holds at most one second of tokens, so a burst never exceeds the rate.
    """
    capacity = rate_per_second * 1000
    with transaction.atomic():
        bucket, _ = RateBucket.objects.select_for_update().get_or_create(key=key, defaults={"milli_tokens": capacity})
        now = timezone.now()
        elapsed_ms = max(0, int((now - bucket.updated_at).total_seconds() * 1000))
        tokens = min(capacity, bucket.milli_tokens + elapsed_ms * rate_per_second)
        granted = min(wanted, tokens // 1000)
        tokens -= granted * 1000
        RateBucket.objects.filter(pk=bucket.pk).update(milli_tokens=tokens, updated_at=now)
    wait = 0.0 if granted else (1000 - tokens) / (rate_per_second * 1000)
    return granted, wait
