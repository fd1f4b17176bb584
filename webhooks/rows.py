"""Many rows, each with its own values, written in one statement (PostgreSQL and SQLite).

Recording a batch of 200 tries row by row, or with Django's ``bulk_update`` (one CASE per column
per row), costs more than sending them; ``UPDATE … FROM (VALUES …)`` is one short statement.
"""

from __future__ import annotations

from django.db import connection


def update_from_values(
    table: str, columns: dict[str, str], rows: list[tuple], *, set_sql: str, where: str = "", params=()
) -> list[int]:
    """``UPDATE table t SET <set_sql> FROM (VALUES rows) v(id, columns…) WHERE t.id = v.id <where> RETURNING t.id``.

    ``columns`` maps each value column (after the id) to its PostgreSQL type; ``set_sql`` and
    ``where`` refer to them as ``v.<name>``. Returns the ids changed.
    """
    if not rows:
        return []
    names = ["id", *columns]
    if connection.vendor == "postgresql":
        casts = ["bigint", *columns.values()]
        one = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
    else:
        one = "(" + ", ".join(["%s"] * len(names)) + ")"
    values = ", ".join([one] * len(rows))
    flat = [value for row in rows for value in row]
    if connection.vendor == "sqlite":
        # SQLite names VALUES columns column1, column2, …: rename them in a sub-select.
        renamed = ", ".join(f"column{i + 1} AS {name}" for i, name in enumerate(names))
        source = f"(SELECT {renamed} FROM (VALUES {values})) AS v"
    else:
        source = f"(VALUES {values}) AS v({', '.join(names)})"
    returning = "t.id" if connection.vendor == "postgresql" else "id"  # SQLite's RETURNING takes no alias
    sql = f"UPDATE {table} AS t SET {set_sql} FROM {source} WHERE t.id = v.id{where} RETURNING {returning}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*flat, *params])
        return [row[0] for row in cursor.fetchall()]
