"""Database triggers that record webhook events in the transaction of the change that causes them.

A call record reaches its final state through many paths: the ORM, one bulk UPDATE for a push of
500 receipts (``campaigns.bulk``), one prepared statement in autocommit (``campaigns.single_receipt``),
the expiry sweep. A trigger on the table sees them all, and writes the event and one delivery
per endpoint that wants it in the same transaction: once the change is committed, so is its
outbox row, and no worker dying between commit and send can lose it (the beat sends what is due).

The same holds for a campaign that completes, an import that finishes and an account whose
balance crosses below its threshold (``VendorAccount.low_balance_alerted`` turning true is the
once-per-crossing claim of ``vendors.services``).

When no active endpoint wants an event, nothing is written: the receipt hot path pays one
indexed lookup. PostgreSQL triggers on call records are per statement (transition tables, one
INSERT per bulk UPDATE); SQLite (the embedded ``make run``) gets row triggers with the same
effect. SQLite drops a table's triggers when a migration rebuilds the table, so they are
installed again after every ``migrate``.
"""

from __future__ import annotations

from django.db import connection as default_connection

from .events import BALANCE_LOW, CALL_STATE_EVENTS, CAMPAIGN_COMPLETED, IMPORT_FINISHED

CALLS = "campaigns_callrecord"
CAMPAIGNS = "campaigns_campaign"
IMPORTS = "campaigns_recipientimport"
ACCOUNTS = "vendors_vendoraccount"
SNAPSHOTS = "vendors_balancesnapshot"
EVENTS = "webhooks_event"
DELIVERIES = "webhooks_delivery"
ENDPOINTS = "webhooks_endpoint"

FINAL_STATES = ", ".join(f"'{state}'" for state in CALL_STATE_EVENTS)
DONE_IMPORT_STATES = "'done', 'failed'"
TRIGGER_NAMES = {
    CALLS: ("webhooks_call_ins", "webhooks_call_upd"),
    CAMPAIGNS: ("webhooks_campaign_completed",),
    IMPORTS: ("webhooks_import_finished",),
    ACCOUNTS: ("webhooks_balance_low",),
}


def _type_case(state: str) -> str:
    whens = " ".join(f"WHEN '{s}' THEN '{t}'" for s, t in CALL_STATE_EVENTS.items())
    return f"CASE {state} {whens} END"


# ---- PostgreSQL
PG_DELIVERY_COLUMNS = "event_id, endpoint_id, state, tries, next_attempt_at, last_error, created_at"
PG_EMIT = f"""
CREATE OR REPLACE FUNCTION webhooks_emit(event_type text, object_id bigint, snapshot jsonb) RETURNS void
LANGUAGE sql AS $$
    WITH ev AS (
        INSERT INTO {EVENTS} (uid, type, object_id, snapshot, created_at, body)
        SELECT gen_random_uuid(), event_type, object_id, snapshot, now(), ''
        WHERE EXISTS (SELECT 1 FROM {ENDPOINTS} e WHERE e.is_active AND e.event_types ? event_type)
        RETURNING id
    )
    INSERT INTO {DELIVERIES} ({PG_DELIVERY_COLUMNS})
    SELECT ev.id, e.id, 'pending', 0, now(), '', now()
    FROM ev JOIN {ENDPOINTS} e ON e.is_active AND e.event_types ? event_type
$$;
CREATE OR REPLACE FUNCTION webhooks_emit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhooks_emit(TG_ARGV[0], NEW.id, NULL);
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION webhooks_emit_balance_low() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM webhooks_emit('{BALANCE_LOW}', NEW.id, (
        SELECT jsonb_build_object('id', s.id, 'amount', s.amount::text, 'unit', s.unit, 'taken_at', s.taken_at)
        FROM {SNAPSHOTS} s WHERE s.account_id = NEW.id ORDER BY s.taken_at DESC, s.id DESC LIMIT 1
    ));
    RETURN NULL;
END $$;
"""


def _pg_call_function(name: str, changed_rows: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM {ENDPOINTS} WHERE is_active) THEN
        RETURN NULL;
    END IF;
    WITH changed AS MATERIALIZED (
        SELECT n.id, {_type_case("n.state")} AS type, to_jsonb(n) AS snapshot {changed_rows}
    ), wanted AS MATERIALIZED (
        SELECT c.id, e.id AS endpoint_id FROM changed c
        JOIN {ENDPOINTS} e ON e.is_active AND e.event_types ? c.type
    ), ev AS (
        INSERT INTO {EVENTS} (uid, type, object_id, snapshot, created_at, body)
        SELECT gen_random_uuid(), c.type, c.id, c.snapshot, now(), ''
        FROM changed c WHERE c.id IN (SELECT id FROM wanted)
        RETURNING id, object_id
    )
    INSERT INTO {DELIVERIES} ({PG_DELIVERY_COLUMNS})
    SELECT ev.id, w.endpoint_id, 'pending', 0, now(), '', now()
    FROM ev JOIN wanted w ON w.id = ev.object_id
    ORDER BY ev.id, w.endpoint_id;
    RETURN NULL;
END $$;
"""


PG_INSTALL = "\n".join(
    [
        PG_EMIT,
        _pg_call_function("webhooks_call_ins", f"FROM new_rows n WHERE n.state IN ({FINAL_STATES}) AND NOT n.is_test"),
        _pg_call_function(
            "webhooks_call_upd",
            "FROM new_rows n JOIN old_rows o ON o.id = n.id"
            f" WHERE n.state IN ({FINAL_STATES}) AND n.state IS DISTINCT FROM o.state AND NOT n.is_test",
        ),
        f"""
DROP TRIGGER IF EXISTS webhooks_call_ins ON {CALLS};
CREATE TRIGGER webhooks_call_ins AFTER INSERT ON {CALLS}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhooks_call_ins();
DROP TRIGGER IF EXISTS webhooks_call_upd ON {CALLS};
CREATE TRIGGER webhooks_call_upd AFTER UPDATE ON {CALLS}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION webhooks_call_upd();
DROP TRIGGER IF EXISTS webhooks_campaign_completed ON {CAMPAIGNS};
CREATE TRIGGER webhooks_campaign_completed AFTER UPDATE OF state ON {CAMPAIGNS} FOR EACH ROW
    WHEN (NEW.state = 'completed' AND OLD.state IS DISTINCT FROM 'completed')
    EXECUTE FUNCTION webhooks_emit_row('{CAMPAIGN_COMPLETED}');
DROP TRIGGER IF EXISTS webhooks_import_finished ON {IMPORTS};
CREATE TRIGGER webhooks_import_finished AFTER UPDATE OF state ON {IMPORTS} FOR EACH ROW
    WHEN (NEW.state IN ({DONE_IMPORT_STATES}) AND OLD.state NOT IN ({DONE_IMPORT_STATES}))
    EXECUTE FUNCTION webhooks_emit_row('{IMPORT_FINISHED}');
DROP TRIGGER IF EXISTS webhooks_balance_low ON {ACCOUNTS};
CREATE TRIGGER webhooks_balance_low AFTER UPDATE OF low_balance_alerted ON {ACCOUNTS} FOR EACH ROW
    WHEN (NEW.low_balance_alerted AND NOT OLD.low_balance_alerted)
    EXECUTE FUNCTION webhooks_emit_balance_low();
""",
    ]
)

PG_REMOVE = "\n".join(
    [f"DROP TRIGGER IF EXISTS {name} ON {table};" for table, names in TRIGGER_NAMES.items() for name in names]
    + [
        f"DROP FUNCTION IF EXISTS {name};"
        for name in (
            "webhooks_call_ins()",
            "webhooks_call_upd()",
            "webhooks_emit_row()",
            "webhooks_emit_balance_low()",
            "webhooks_emit(text, bigint, jsonb)",
        )
    ]
)


# ---- SQLite
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _sqlite_wanted(event_type: str) -> str:
    return (
        f"SELECT e.id FROM {ENDPOINTS} e WHERE e.is_active"
        f" AND EXISTS (SELECT 1 FROM json_each(e.event_types) WHERE value = {event_type})"
    )


def _sqlite_emit(event_type: str, snapshot: str) -> str:
    """Two statements for a trigger body: the event (only if wanted), then its deliveries."""
    return f"""
    INSERT INTO {EVENTS} (uid, type, object_id, snapshot, created_at, body)
    SELECT lower(hex(randomblob(16))), {event_type}, NEW.id, {snapshot}, {SQLITE_NOW}, ''
    WHERE EXISTS ({_sqlite_wanted(event_type)});
    INSERT INTO {DELIVERIES} ({PG_DELIVERY_COLUMNS})
    SELECT last_insert_rowid(), w.id, 'pending', 0, {SQLITE_NOW}, '', {SQLITE_NOW}
    FROM ({_sqlite_wanted(event_type)}) w;"""


def _sqlite_row_json(model) -> str:
    pairs = ", ".join(f"'{f.column}', NEW.\"{f.column}\"" for f in model._meta.concrete_fields)
    return f"json_object({pairs})"


def sqlite_install() -> list[str]:
    from campaigns.models import CallRecord

    call_type = _type_case("NEW.state")
    call_body = _sqlite_emit(call_type, _sqlite_row_json(CallRecord))
    balance_snapshot = (
        f"(SELECT json_object('id', s.id, 'account_id', s.account_id, 'amount', CAST(s.amount AS TEXT),"
        f" 'unit', s.unit, 'taken_at', s.taken_at) FROM {SNAPSHOTS} s WHERE s.account_id = NEW.id"
        " ORDER BY s.taken_at DESC, s.id DESC LIMIT 1)"
    )
    return [
        *(f"DROP TRIGGER IF EXISTS {name}" for names in TRIGGER_NAMES.values() for name in names),
        f"""CREATE TRIGGER webhooks_call_ins AFTER INSERT ON {CALLS} FOR EACH ROW
    WHEN NEW.state IN ({FINAL_STATES}) AND NOT NEW.is_test
BEGIN{call_body}
END""",
        f"""CREATE TRIGGER webhooks_call_upd AFTER UPDATE OF state ON {CALLS} FOR EACH ROW
    WHEN NEW.state IN ({FINAL_STATES}) AND NEW.state IS NOT OLD.state AND NOT NEW.is_test
BEGIN{call_body}
END""",
        f"""CREATE TRIGGER webhooks_campaign_completed AFTER UPDATE OF state ON {CAMPAIGNS} FOR EACH ROW
    WHEN NEW.state = 'completed' AND OLD.state IS NOT 'completed'
BEGIN{_sqlite_emit(f"'{CAMPAIGN_COMPLETED}'", "NULL")}
END""",
        f"""CREATE TRIGGER webhooks_import_finished AFTER UPDATE OF state ON {IMPORTS} FOR EACH ROW
    WHEN NEW.state IN ({DONE_IMPORT_STATES}) AND OLD.state NOT IN ({DONE_IMPORT_STATES})
BEGIN{_sqlite_emit(f"'{IMPORT_FINISHED}'", "NULL")}
END""",
        f"""CREATE TRIGGER webhooks_balance_low AFTER UPDATE OF low_balance_alerted ON {ACCOUNTS} FOR EACH ROW
    WHEN NEW.low_balance_alerted AND NOT OLD.low_balance_alerted
BEGIN{_sqlite_emit(f"'{BALANCE_LOW}'", balance_snapshot)}
END""",
    ]


# ---- install
def install(connection=default_connection) -> None:
    """Create or replace every trigger (idempotent)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_INSTALL)
        elif connection.vendor == "sqlite":
            for statement in sqlite_install():
                cursor.execute(statement)


def remove(connection=default_connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_REMOVE)
        elif connection.vendor == "sqlite":
            for names in TRIGGER_NAMES.values():
                for name in names:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def reinstall_after_migrate(sender, using="default", **kwargs) -> None:
    """After every ``migrate``: a table rebuilt by a migration (SQLite) gets its triggers back."""
    if sender.label != "webhooks":
        return
    from django.db import connections

    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if {EVENTS, DELIVERIES, ENDPOINTS, CALLS} <= tables:
        install(connection)
