"""Rate limits enforced across all workers: a token bucket row per key, taken under a row lock.

Celery's own ``rate_limit`` is per worker process; a vendor's limit is per account, whatever the
number of workers, so the bucket lives in the database (short transaction, never around a vendor
call). Tokens are integers (thousandths of a call) to stay exact.

Every call sent takes from a bucket, so on PostgreSQL taking is one statement (lock, refill, take
and answer in a single round trip); elsewhere (SQLite, one writer) the same arithmetic in Python.
"""

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import RateBucket

TABLE = RateBucket._meta.db_table
# Refill by the milliseconds since the last take (never negative), capped at one second of tokens;
# grant what is whole and wanted; keep the rest. FOR UPDATE serializes takers of the same key and
# hands each the row as the one before it left it. A bucket is not worth a disk flush: its commit
# does not wait for one (synchronous_commit off for this transaction only; a crash loses at most
# the last refills, never anything consistent).
TAKE_SQL = f"""
WITH current AS (
    SELECT id, LEAST(
        %(capacity)s,
        milli_tokens + GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (%(now)s - updated_at)) * 1000))::bigint * %(rate)s
    ) AS tokens
    FROM {TABLE}, (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush
    WHERE key = %(key)s FOR UPDATE OF {TABLE}
)
UPDATE {TABLE} AS bucket
SET milli_tokens = current.tokens - LEAST(%(wanted)s, current.tokens / 1000) * 1000,
    updated_at = GREATEST(bucket.updated_at, %(now)s)
FROM current WHERE bucket.id = current.id
RETURNING LEAST(%(wanted)s, current.tokens / 1000), bucket.milli_tokens
"""
CREATE_SQL = f"INSERT INTO {TABLE} (key, milli_tokens, updated_at) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING"


def take(key: str, wanted: int, rate_per_second: int, *, now: datetime | None = None) -> tuple[int, float]:
    """Take up to ``wanted`` tokens; returns (granted, seconds to wait before more are available).

    The bucket holds at most one second of tokens, so a burst never exceeds the rate.
    """
    now = now or timezone.now()
    capacity = rate_per_second * 1000
    if connection.vendor == "postgresql":
        granted, tokens = _take_in_one_statement(key, wanted, rate_per_second, capacity, now)
    else:
        granted, tokens = _take_in_python(key, wanted, rate_per_second, capacity, now)
    wait = 0.0 if granted else (1000 - tokens) / (rate_per_second * 1000)
    return granted, wait


def _take_in_one_statement(key, wanted, rate, capacity, now) -> tuple[int, int]:
    params = {"key": key, "wanted": wanted, "rate": rate, "capacity": capacity, "now": now}
    with connection.cursor() as cursor:
        for _attempt in range(2):
            cursor.execute(TAKE_SQL, params)
            row = cursor.fetchone()
            if row is not None:
                return int(row[0]), int(row[1])
            cursor.execute(CREATE_SQL, [key, capacity, now])  # first take of this key: a full bucket
    raise RuntimeError(f"rate bucket {key!r} could not be created")


def _take_in_python(key, wanted, rate, capacity, now) -> tuple[int, int]:
    with transaction.atomic():
        bucket, _ = RateBucket.objects.select_for_update().get_or_create(
            key=key, defaults={"milli_tokens": capacity, "updated_at": now}
        )
        elapsed_ms = max(0, int((now - bucket.updated_at).total_seconds() * 1000))
        tokens = min(capacity, bucket.milli_tokens + elapsed_ms * rate)
        granted = min(wanted, tokens // 1000)
        tokens -= granted * 1000
        RateBucket.objects.filter(pk=bucket.pk).update(milli_tokens=tokens, updated_at=max(bucket.updated_at, now))
    return granted, tokens
