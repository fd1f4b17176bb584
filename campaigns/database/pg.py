"""A server-side-binding cursor for the receipt hot paths (PostgreSQL).

Django's cursors bind parameters client-side, quoting each array element in Python, and never
prepare. The hot paths (one receipt per push, 500-report pushes) use this cursor instead: arrays
travel in binary (``%b``) and the single-receipt statement is prepared once per connection. It
runs on Django's connection, so it takes part in Django's transactions.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import psycopg
from django.conf import settings
from django.db import connection

PREPARE_ONLY_WHEN_ASKED = 2**31

_cursors: WeakKeyDictionary[psycopg.Connection, psycopg.Cursor] = WeakKeyDictionary()


def server_cursor() -> psycopg.Cursor:
    """The connection's server-side-binding cursor, kept per connection (its type adapters stay warm).

    Run statements inside ``connection.wrap_database_errors`` so failures are Django's errors.
    """
    connection.ensure_connection()
    raw = connection.connection
    cursor = _cursors.get(raw)
    if cursor is None or cursor.closed:
        if settings.RECEIPT_PREPARED_STATEMENTS and raw.prepare_threshold is None:
            # Django turns preparing off; its own cursors bind client-side and never prepare,
            # so this only lets the statements run with prepare=True be prepared.
            raw.prepare_threshold = PREPARE_ONLY_WHEN_ASKED
        cursor = _cursors[raw] = psycopg.Cursor(raw)
    return cursor
