"""Helpers shared by the drill modules (plain functions; fixtures stay in the test modules):

- ``closed_port_url()``: a loopback URL nothing listens on (a vendor that is down);
- ``ihuyi_account`` / ``emay_account``: vendor accounts pointing at a fake;
- ``install_apply_audit`` / ``applied_per_call``: a row-level trigger that records every write
  that puts a call record into a final receipt state, so a test can prove each receipt was
  applied exactly once (and that nothing ever wrote over a final state);
- ``dialled``: how many times each number was accepted by the fakes (the vendor's side of the truth).
"""

from __future__ import annotations

import socket
from collections import Counter

from django.db import connection

from tests.factories import make_account

TEXT = "您的快递已到，请及时领取。"  # one content for every call: Emay sends up to 500 numbers a request

AUDIT_TABLE = "drill_apply_audit"


def closed_port_url() -> str:
    """A loopback address where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def ihuyi_account(fake, **fields):
    fake.enforce_number_limits = False  # numbers are distinct; the adapter's own per-number hold stays on
    return make_account("ihuyi", **{"base_url": fake.url, "api_id": fake.account, "api_secret": fake.apikey, **fields})


def emay_account(fake, **fields):
    return make_account(
        "emay", **{"base_url": fake.url, "api_id": fake.app_id, "api_secret": fake.secret_key, **fields}
    )


def dialled(*fakes) -> Counter:
    """E.164 number → times a fake accepted a call to it."""
    counts: Counter = Counter()
    for fake in fakes:
        for entry in fake.submitted:
            mobile = entry["mobile"]
            counts[mobile if mobile.startswith("+") else "+86" + mobile] += 1
    return counts


def install_apply_audit() -> None:
    """Record (call id, state before, state after) for every write that leaves a row answered or failed."""
    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE TABLE IF NOT EXISTS {AUDIT_TABLE}
                (call_id bigint, old_state text, new_state text, at timestamptz DEFAULT clock_timestamp());
            CREATE OR REPLACE FUNCTION {AUDIT_TABLE}_fn() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {AUDIT_TABLE} (call_id, old_state, new_state) VALUES (NEW.id, OLD.state, NEW.state);
                RETURN NULL;
            END $$;
            DROP TRIGGER IF EXISTS {AUDIT_TABLE}_trg ON campaigns_callrecord;
            CREATE TRIGGER {AUDIT_TABLE}_trg AFTER UPDATE ON campaigns_callrecord FOR EACH ROW
                WHEN (NEW.state IN ('answered', 'failed')) EXECUTE FUNCTION {AUDIT_TABLE}_fn();
            TRUNCATE {AUDIT_TABLE};
        """)


def remove_apply_audit() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"""
            DROP TRIGGER IF EXISTS {AUDIT_TABLE}_trg ON campaigns_callrecord;
            DROP FUNCTION IF EXISTS {AUDIT_TABLE}_fn();
            DROP TABLE IF EXISTS {AUDIT_TABLE};
        """)


def applied_per_call() -> tuple[Counter, int]:
    """(call id → receipts applied to it, writes made over a row that was already final)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT call_id, old_state FROM {AUDIT_TABLE}")
        rows = cursor.fetchall()
    return Counter(call_id for call_id, _old in rows), sum(1 for _id, old in rows if old in ("answered", "failed"))
