"""Claiming due single-call attempts queued → submitting: one statement on PostgreSQL.

A drain claims a batch at a time and, when idle, looks every few milliseconds; on PostgreSQL both
are one ``WITH due AS (SELECT … FOR UPDATE SKIP LOCKED) UPDATE … RETURNING id`` in autocommit,
instead of a transaction of three statements. Concurrent drains skip each other's rows, and the
condition on the state (from ``CallRecord.sources``) keeps a row another writer moved from moving
again. The fallback (SQLite, one writer at a time) reads and moves the rows in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q

from ..models import CallRecord
from . import is_postgresql

SUBMITTING = CallRecord.State.SUBMITTING
QUEUED = CallRecord.State.QUEUED


def claim_due_single_calls(limit: int, now: datetime) -> list[int]:
    """Move up to ``limit`` due single-call attempts to submitting (``submitted_at = now``); their ids."""
    if is_postgresql():
        return _claim_in_one_statement(limit, now)
    return _claim_in_a_transaction(limit, now)


def _claim_in_one_statement(limit: int, now: datetime) -> list[int]:
    table = CallRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            # MATERIALIZED: the due rows are picked once; as an IN (…) subquery the planner may run
            # the LIMIT … SKIP LOCKED select more than once and claim more than the limit.
            f"WITH due AS MATERIALIZED (SELECT id FROM {table} "
            "WHERE state = %s AND campaign_id IS NULL AND (not_before IS NULL OR not_before <= %s) "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"UPDATE {table} AS call SET state = %s, submitted_at = %s FROM due "
            "WHERE call.id = due.id AND call.state = ANY(%s) RETURNING call.id",
            [QUEUED, now, limit, SUBMITTING, now, list(CallRecord.sources(SUBMITTING))],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _claim_in_a_transaction(limit: int, now: datetime) -> list[int]:
    with transaction.atomic():
        due = (
            CallRecord.objects.filter(state=QUEUED, campaign__isnull=True)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .order_by("id")
        )
        ids = list(due.values_list("id", flat=True)[:limit])
        if ids:
            CallRecord.transition(CallRecord.objects.filter(id__in=ids), SUBMITTING, submitted_at=now)
    return ids
