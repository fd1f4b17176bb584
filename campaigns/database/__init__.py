"""The database seam: every PostgreSQL-only path of the campaigns app, each with its SQLite fallback.

Production runs on PostgreSQL; ``make run`` and a newcomer's first look run on SQLite. What only
PostgreSQL can do lives in this package, and each caller asks ``is_postgresql()`` here rather than
looking at the connection itself:

- ``bulk``: one conditional ``UPDATE … FROM unnest(…)`` for many call records (fallback: one
  conditional UPDATE per row; ``update_calls_by_key`` has no fallback, its callers look rows up);
- ``pg``: the server-side-binding cursor those statements run on;
- ``single_receipt``: one prepared statement that stores a push and applies its one report
  (fallback: ``single_report`` answers None and the general path runs);
- ``claim``: due single-call attempts claimed by one ``UPDATE … RETURNING`` (fallback: a
  transaction that reads and moves them);
- ``counters_sql``: the triggers that keep ``CallCounter`` (fallback: the selectors count the
  call records themselves).

Both sides are tested: the suite runs on PostgreSQL, and ``make test`` runs the flow, demo and
callback tests again on SQLite (``tests/settings_sqlite.py``).
"""

from django.db import connection


def is_postgresql() -> bool:
    """Whether the fast paths of this package may run (else their fallbacks do)."""
    return connection.vendor == "postgresql"
