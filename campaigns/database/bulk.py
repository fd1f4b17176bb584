"""One conditional UPDATE for many call records, each with its own values.

On PostgreSQL the rows travel as arrays (``UPDATE … FROM unnest(…)``), so a push of 500 receipts
or a submit of 500 calls is one statement — and one run of the statistics trigger. The condition
on the current state is what keeps a final state from moving back.

Rows are sent sorted by their key, so concurrent statements over overlapping rows (the same
receipts replayed in differently ordered pushes, a pull racing a push) lock them in the same
order instead of deadlocking. Outside a transaction a statement that still loses a deadlock is
simply run again (it is conditional, so running it again is harmless); inside one, the caller
retries the whole transaction (``is_retryable``).
"""

from __future__ import annotations

import random
import time
from typing import NamedTuple

from django.db import DatabaseError, connection

from ..models import CallRecord
from . import is_postgresql
from .pg import server_cursor

SQL_TYPES = {
    "talk_seconds": "integer",
    "billed_seconds": "integer",
    "billed_units": "integer",
    "submit_tries": "integer",
    "reported_at": "timestamptz",
    "submitted_at": "timestamptz",
    "not_before": "timestamptz",
}


# deadlock detected, serialization failure: the statement or transaction can simply run again
RETRYABLE_SQLSTATES = ("40P01", "40001")
STATEMENT_TRIES = 5


def is_retryable(exc: BaseException) -> bool:
    """A database error that says "run me again" (a deadlock victim, a serialization failure)."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def pause_before_retry(tries: int) -> None:
    time.sleep(random.uniform(0, 0.02 * 2**tries))


def _run(statement, *args):
    """Run one statement; outside a transaction, again if it lost a deadlock."""
    for tries in range(STATEMENT_TRIES):
        try:
            return statement(*args)
        except DatabaseError as exc:
            if connection.in_atomic_block or not is_retryable(exc) or tries == STATEMENT_TRIES - 1:
                raise
            pause_before_retry(tries)
    raise AssertionError("unreachable")


def update_calls(rows: list[tuple[int, dict]], *, from_states: tuple[str, ...]) -> list[int]:
    """Set each row's values where its state is still one of ``from_states``; returns the ids changed."""
    if not rows:
        return []
    rows = sorted(rows, key=lambda row: row[0])
    if not is_postgresql():
        return [
            cid for cid, values in rows if CallRecord.objects.filter(id=cid, state__in=from_states).update(**values)
        ]
    return _run(_update_calls_pg, rows, from_states)


def _unnest(first_type: str, rows: list[tuple], columns: list[str]) -> tuple[str, list[list]]:
    """``unnest(…)`` arguments and their arrays: the rows' keys, then one array per column (sent in binary)."""
    arrays = [[key for key, _v in rows]] + [[values[c] for _key, values in rows] for c in columns]
    return ", ".join([f"%b::{first_type}[]"] + [f"%b::{SQL_TYPES.get(c, 'text')}[]" for c in columns]), arrays


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.wrap_database_errors:
        return server_cursor().execute(sql, params).fetchall()


def _update_calls_pg(rows: list[tuple[int, dict]], from_states: tuple[str, ...]) -> list[int]:
    columns = list(rows[0][1])
    unnest, arrays = _unnest("bigint", rows, columns)
    assignments = ", ".join(f"{c} = v.{c}" for c in columns)
    return [
        row[0]
        for row in _fetch(
            f"UPDATE {CallRecord._meta.db_table} t SET {assignments}"
            f" FROM unnest({unnest}) AS v(id, {', '.join(columns)})"
            " WHERE t.id = v.id AND t.state = ANY(%s) RETURNING t.id",
            [*arrays, list(from_states)],
        )
    ]


class ChangedCall(NamedTuple):
    """What deciding a retry needs of a call a report just changed (500 of these cost less than models)."""

    id: int
    campaign_id: int
    recipient_id: int
    attempt: int
    mobile: str
    is_test: bool


CHANGED_CALL_COLUMNS = ", ".join(f"t.{name}" for name in ChangedCall._fields)


def update_calls_by_key(
    column: str,
    rows: list[tuple[str, dict]],
    *,
    from_states: tuple[str, ...],
    extra_where: str = "",
    extra_params: list | None = None,
) -> list[tuple[str, ChangedCall]]:
    """PostgreSQL only: like ``update_calls`` but matching ``column`` (custom_id or vendor_message_id).

    Returns (key, call) for each row changed.
    """
    rows = sorted(rows, key=lambda row: row[0])
    return _run(_update_calls_by_key_pg, column, rows, from_states, extra_where, extra_params)


def _update_calls_by_key_pg(column, rows, from_states, extra_where, extra_params) -> list[tuple[str, ChangedCall]]:
    columns = list(rows[0][1])
    unnest, arrays = _unnest("text", rows, columns)
    assignments = ", ".join(
        # a vendor message id learnt from the report only where the row had none
        "vendor_message_id = CASE WHEN t.vendor_message_id = '' THEN v.vendor_message_id ELSE t.vendor_message_id END"
        if c == "vendor_message_id"
        else f"{c} = v.{c}"
        for c in columns
    )
    changed = _fetch(
        f"UPDATE {CallRecord._meta.db_table} t SET {assignments}"
        f" FROM unnest({unnest}) AS v(key, {', '.join(columns)})"
        f" WHERE t.{column} = v.key AND t.state = ANY(%s){extra_where}"
        f" RETURNING v.key, {CHANGED_CALL_COLUMNS}",
        [*arrays, list(from_states), *(extra_params or [])],
    )
    return [(key, ChangedCall(*fields)) for key, *fields in changed]
