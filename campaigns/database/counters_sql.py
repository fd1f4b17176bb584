"""PostgreSQL statement-level triggers that keep ``CallCounter`` equal to the call records.

Statement-level with transition tables: one bulk UPDATE of 500 receipts costs one aggregated
upsert, not 500. Deltas are grouped and ordered by key so concurrent writers lock counter rows in
the same order (no deadlocks), and rows that cancel out (+1 −1 on the same key) are not written.
"""

EPOCH = "'1970-01-01 00:00:00+00'::timestamptz"

DELTA = f"""
INSERT INTO campaigns_callcounter (campaign_id, bucket, state, outcome, hour, calls, talk_seconds, billed_units,
                                   first_submitted_at, last_reported_at)
SELECT campaign_id, (pg_backend_pid() % 8)::smallint, state, outcome,
       coalesce(date_trunc('hour', reported_at), {EPOCH}),
       sum(sign), sum(sign * coalesce(talk_seconds, 0)), sum(sign * coalesce(billed_units, 0)),
       min(submitted_at) FILTER (WHERE sign = 1), max(reported_at) FILTER (WHERE sign = 1)
FROM ({{rows}}) AS delta
GROUP BY 1, 2, 3, 4, 5
HAVING sum(sign) <> 0 OR sum(sign * coalesce(talk_seconds, 0)) <> 0 OR sum(sign * coalesce(billed_units, 0)) <> 0
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (campaign_id, bucket, state, outcome, hour) DO UPDATE SET
    calls = campaigns_callcounter.calls + EXCLUDED.calls,
    talk_seconds = campaigns_callcounter.talk_seconds + EXCLUDED.talk_seconds,
    billed_units = campaigns_callcounter.billed_units + EXCLUDED.billed_units,
    first_submitted_at = LEAST(campaigns_callcounter.first_submitted_at, EXCLUDED.first_submitted_at),
    last_reported_at = GREATEST(campaigns_callcounter.last_reported_at, EXCLUDED.last_reported_at)
"""
COLUMNS = "campaign_id, state, outcome, submitted_at, reported_at, talk_seconds, billed_units"
# Test calls and single calls (no campaign) are in no campaign's statistics.
COUNTED = "NOT is_test AND campaign_id IS NOT NULL"
NEW_ROWS = f"SELECT {COLUMNS}, 1 AS sign FROM new_rows WHERE {COUNTED}"
OLD_ROWS = f"SELECT {COLUMNS}, -1 AS sign FROM old_rows WHERE {COUNTED}"


def _function(name: str, rows: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{DELTA.format(rows=rows)};
RETURN NULL;
END $$;
"""


FUNCTIONS = "\n".join(
    [
        _function("campaigns_callcounter_ins", NEW_ROWS),
        _function("campaigns_callcounter_upd", f"{NEW_ROWS} UNION ALL {OLD_ROWS}"),
        _function("campaigns_callcounter_del", OLD_ROWS),
    ]
)
INSTALL = "\n".join(
    [
        FUNCTIONS,
        """
CREATE TRIGGER callcounter_ins AFTER INSERT ON campaigns_callrecord
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns_callcounter_ins();
CREATE TRIGGER callcounter_upd AFTER UPDATE ON campaigns_callrecord
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_callcounter_upd();
CREATE TRIGGER callcounter_del AFTER DELETE ON campaigns_callrecord
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaigns_callcounter_del();
""",
        f"""
INSERT INTO campaigns_callcounter (campaign_id, bucket, state, outcome, hour, calls, talk_seconds, billed_units,
                                   first_submitted_at, last_reported_at)
SELECT campaign_id, 0, state, outcome, coalesce(date_trunc('hour', reported_at), {EPOCH}),
       count(*), sum(coalesce(talk_seconds, 0)), sum(coalesce(billed_units, 0)), min(submitted_at), max(reported_at)
FROM campaigns_callrecord WHERE {COUNTED} GROUP BY 1, 2, 3, 4, 5;
""",
    ]
)

REMOVE = """
DROP TRIGGER IF EXISTS callcounter_ins ON campaigns_callrecord;
DROP TRIGGER IF EXISTS callcounter_upd ON campaigns_callrecord;
DROP TRIGGER IF EXISTS callcounter_del ON campaigns_callrecord;
DROP FUNCTION IF EXISTS campaigns_callcounter_ins();
DROP FUNCTION IF EXISTS campaigns_callcounter_upd();
DROP FUNCTION IF EXISTS campaigns_callcounter_del();
DELETE FROM campaigns_callcounter;
"""
