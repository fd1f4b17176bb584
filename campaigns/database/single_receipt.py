"""The single-receipt hot path: one prepared statement stores a push and applies its one report.

ihuyi pushes one receipt per request, hundreds a second at peak (other vendors now and then). The general
path (``receipts.events.store_and_apply``) costs an ORM insert, a bulk UPDATE built for 500 rows and
four round trips. Here a push holding exactly one report keyed by our custom id, or by a vendor
message id that names one call, is a single statement: the UPDATE of the call from an open
state and the INSERT of the raw event, whose state says whether the report was applied. It is
prepared once per connection, with server-side parameters.

- An answered report runs the statement on its own (its own transaction, one round trip): the
  event and the call's final state commit together, nothing else is to be done.
- A failed report runs it in a transaction with queueing the next attempt, as the general path.
- When no call changed (a replay, a late receipt, an unknown id, a submit that got no answer)
  the event is stored ``received`` and handed to ``receipts.events.apply_parsed``, which tells these
  apart; should the process die first, the beat's ``apply_stalled_events`` does.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from vendors.adapters import DeliveryReport, ParsedCallback

from ..models import CallbackEvent, CallRecord
from . import is_postgresql
from .bulk import ChangedCall
from .pg import server_cursor

REPORT_COLUMNS = (
    "state",
    "outcome",
    "raw_code",
    "raw_message",
    "talk_seconds",
    "billed_seconds",
    "billed_units",
    "key_pressed",
    "reported_at",
)
# Filled by the statement itself: applied (and when) only if the UPDATE changed a call.
EVENT_OUTCOME_COLUMNS = ("state", "processed_at")


def single_report(parsed: ParsedCallback, shared_message_ids: bool) -> DeliveryReport | None:
    """The push's one report when this path can take it, else None.

    ``shared_message_ids``: the vendor's message id names a whole request, so it alone names no call.
    """
    if not is_postgresql() or len(parsed.reports) != 1 or parsed.replies or parsed.template_reviews:
        return None
    report = parsed.reports[0]
    if report.custom_id or (report.vendor_message_id and not shared_message_ids):
        return report
    return None


@cache
def _event_fields() -> tuple:
    """The event's columns the statement fills from the event object (read once, not per receipt)."""
    return tuple(
        f for f in CallbackEvent._meta.concrete_fields if not f.primary_key and f.column not in EVENT_OUTCOME_COLUMNS
    )


def _cast(model, name: str) -> str:
    return model._meta.get_field(name).db_type(connection)


@cache
def _statement(by_custom_id: bool) -> str:
    """The UPDATE-and-INSERT statement, built once from the models' columns."""
    calls, events = CallRecord._meta.db_table, CallbackEvent._meta.db_table
    assignments = ", ".join(f"{c} = %s::{_cast(CallRecord, c)}" for c in REPORT_COLUMNS)
    match = "custom_id = %s::text" if by_custom_id else "account_id = %s::bigint AND vendor_message_id = %s::text"
    fields = _event_fields()
    columns = ", ".join([f.column for f in fields] + list(EVENT_OUTCOME_COLUMNS))
    values = ", ".join(f"%s::{f.db_type(connection)}" for f in fields)
    return (
        f"WITH upd AS (UPDATE {calls} SET {assignments},"
        " vendor_message_id = CASE WHEN vendor_message_id = '' THEN %s::text ELSE vendor_message_id END"
        f" WHERE {match} AND state = ANY(%s::text[]) RETURNING {', '.join(ChangedCall._fields)}),"
        f" ev AS (INSERT INTO {events} ({columns}) SELECT {values},"
        " CASE WHEN EXISTS (SELECT 1 FROM upd) THEN %s ELSE %s END,"
        " CASE WHEN EXISTS (SELECT 1 FROM upd) THEN %s::timestamptz END RETURNING id)"
        f" SELECT ev.id, {', '.join('upd.' + c for c in ChangedCall._fields)} FROM ev LEFT JOIN upd ON true"
    )


def _params(event: CallbackEvent, report: DeliveryReport, values: dict, from_states, now) -> list:
    key = [report.custom_id] if report.custom_id else [event.account_id, report.vendor_message_id]
    event_values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in _event_fields()]
    return [
        *(values[c] for c in REPORT_COLUMNS),
        (report.vendor_message_id or "")[:100],
        *key,
        list(from_states),
        *event_values,
        CallbackEvent.State.APPLIED,
        CallbackEvent.State.RECEIVED,
        now,
    ]


def store_and_apply(event: CallbackEvent, report: DeliveryReport, *, values: dict, from_states, queue_retries) -> int:
    """Run the statement; returns how many calls changed (0 or 1), with ``event`` stored either way."""
    now = timezone.now()
    event.reports_count = 1
    sql, params = _statement(bool(report.custom_id)), _params(event, report, values, from_states, now)
    # on its own unless there is more to write, or a caller's transaction to keep usable on error
    with transaction.atomic() if not report.answered or connection.in_atomic_block else nullcontext():
        with connection.wrap_database_errors:
            rows = server_cursor().execute(sql, params, prepare=settings.RECEIPT_PREPARED_STATEMENTS).fetchall()
        changed = sum(1 for row in rows if row[1] is not None)
        if changed and not report.answered:
            queue_retries([(ChangedCall(*row[1:]), report) for row in rows])
    event.pk = rows[0][0]
    event.state = CallbackEvent.State.APPLIED if changed else CallbackEvent.State.RECEIVED
    event.processed_at = now if changed else None
    return changed
