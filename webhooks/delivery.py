"""Sending what is due: claim, sign, post, record — at least once, with growing backoff.

The beat runs ``deliver_due`` every few seconds. Deliveries are claimed with one conditional
UPDATE that moves their ``next_attempt_at`` forward by a lease: a worker that dies mid-batch
leaves them to come due again by themselves, and two workers never claim the same row at once.
Each try is signed afresh (the receiver checks the timestamp) with the event's stable id, posted
to the address checked on connect (``addresses``), without following redirects, under short
timeouts and a cap on what is read back. A 2xx answer delivers; anything else is tried again
after the next gap of ``WEBHOOK_RETRY_SCHEDULE`` (about 32 hours in all), then the delivery fails
and waits for an operator's resend.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import payloads
from .addresses import AddressRefused, PinnedAddressAdapter
from .models import Delivery, DeliveryAttempt, Endpoint, Event
from .rows import update_from_values
from .signing import signature_header

logger = logging.getLogger(__name__)

BATCH = 200  # deliveries claimed at once
SEND_THREADS = 16  # posts in flight per worker process
LANES = 4  # batches claimed, loaded and recorded side by side (see deliver_due)
LEASE = timedelta(minutes=5)  # a claimed batch is someone's for this long
RESPONSE_HEAD_BYTES = 1024  # what is read and kept of an answer
USER_AGENT = "VoiceOps-Webhooks/1"


@dataclass
class TryResult:
    delivery: Delivery
    attempted_at: object
    status: int | None = None
    latency_ms: int = 0
    error: str = ""
    head: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# ---- claim
def claim_due(limit: int = BATCH) -> list[int]:
    """Ids of due deliveries to active endpoints, now leased to the caller (one conditional UPDATE)."""
    now = timezone.now()
    deliveries, endpoints = Delivery._meta.db_table, Endpoint._meta.db_table
    lock = " FOR UPDATE OF d SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {deliveries} SET next_attempt_at = %s WHERE id IN ("
            f" SELECT d.id FROM {deliveries} d JOIN {endpoints} e ON e.id = d.endpoint_id"
            f" WHERE d.state = %s AND d.next_attempt_at <= %s AND e.is_active"
            f" ORDER BY d.next_attempt_at LIMIT %s{lock})"
            " AND state = %s AND next_attempt_at <= %s RETURNING id",
            [now + LEASE, Delivery.State.PENDING, now, limit, Delivery.State.PENDING, now],
        )
        return [row[0] for row in cursor.fetchall()]


def ensure_bodies(events: list[Event]) -> None:
    """Build each event's body once; every later try sends the same bytes (one UPDATE for the batch)."""
    built = []
    for pk, text in payloads.bodies([event for event in events if not event.body]).items():
        if isinstance(text, Exception):  # the object is gone, or a bug: keep the event, say why on the try
            logger.error("webhook event %s could not be built: %s", pk, text)
            next(e for e in events if e.pk == pk).build_error = f"{type(text).__name__}: {text}"
        else:
            built.append((pk, text))
    stored = set(
        update_from_values(
            Event._meta.db_table, {"body": "text"}, built, set_sql="body = v.body", where=" AND t.body = ''"
        )
    )
    by_id = {event.pk: event for event in events}
    for pk, text in built:
        by_id[pk].body = text
    raced = [pk for pk, _text in built if pk not in stored]  # another worker built it first: send its bytes
    for pk, text in Event.objects.filter(pk__in=raced).values_list("pk", "body"):
        by_id[pk].body = text


# ---- send
_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxy or .netrc from the environment: the pinned address is used
        adapter = PinnedAddressAdapter(pool_connections=16, pool_maxsize=4, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def headers_for(event: Event, signing_secrets: Sequence[str], timestamp: int) -> dict[str, str]:
    """The Standard Webhooks headers; ``signing_secrets`` as ``Endpoint.signing_secrets`` gives them
    (during a rotation's grace period the new secret's signature, then the old one's)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(signing_secrets, event.webhook_id, timestamp, event.body),
    }


class Unreachable:
    """Endpoints that did not answer (timeout, no connection) during one batch.

    After ``LIMIT`` such tries, the endpoint's other deliveries in the batch are not posted: they
    count as failed tries and wait their backoff, so one dead receiver cannot hold every sending
    thread for its timeouts while other endpoints' deliveries wait.
    """

    LIMIT = 3

    def __init__(self):
        self._lock = threading.Lock()
        self._count: dict[int, int] = {}

    def given_up(self, endpoint_id: int) -> bool:
        return self._count.get(endpoint_id, 0) >= self.LIMIT

    def add(self, endpoint_id: int) -> None:
        with self._lock:
            self._count[endpoint_id] = self._count.get(endpoint_id, 0) + 1


def post(delivery: Delivery, unreachable: Unreachable | None = None) -> TryResult:
    """One try; never raises (what went wrong is the result's ``error``)."""
    event, endpoint = delivery.event, delivery.endpoint
    result = TryResult(delivery, timezone.now())
    if not event.body:
        result.error = getattr(event, "build_error", "") or "the event has no body"
        return result
    if unreachable is not None and unreachable.given_up(endpoint.pk):
        result.error = f"not sent: the endpoint did not answer {Unreachable.LIMIT} tries just before"
        return result
    started = time.monotonic()
    try:
        signed_at = timezone.now()  # which secrets sign is decided now: an expired one never does
        response = _session().post(
            endpoint.url,
            data=event.body.encode("utf-8"),
            headers=headers_for(event, endpoint.signing_secrets(signed_at), int(signed_at.timestamp())),
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        result.status = response.status_code
        result.head = read_head(response, started + settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT)
        if 300 <= response.status_code < 400:
            result.error = f"redirect to {response.headers.get('Location', '?')[:200]} (not followed)"
    except AddressRefused as exc:
        result.error = str(exc)
    except requests.Timeout:
        result.error = "timed out"
        if unreachable is not None:
            unreachable.add(endpoint.pk)
    except requests.ConnectionError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
        if unreachable is not None:
            unreachable.add(endpoint.pk)
    except requests.RequestException as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
    except Exception as exc:  # a bug must not stop the batch
        logger.exception("webhook delivery %s", delivery.pk)
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
    result.latency_ms = int((time.monotonic() - started) * 1000)
    return result


def read_head(response: requests.Response, deadline: float) -> str:
    """The first bytes of the answer, read until the cap or the deadline; the rest is never read.

    A fully read answer leaves its connection in the pool for the next post; a longer or slower
    one has its connection closed.
    """
    raw, chunks, size, finished = response.raw, [], 0, False
    try:
        while size <= RESPONSE_HEAD_BYTES and time.monotonic() < deadline:
            chunk = raw.read1(RESPONSE_HEAD_BYTES + 1 - size) if size <= RESPONSE_HEAD_BYTES else b""
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
            size += len(chunk)
    except Exception as exc:  # the status is known already; a broken body does not change it
        chunks.append(f" [{type(exc).__name__}]".encode())
    if finished:
        raw.release_conn()
    else:
        response.close()
    return b"".join(chunks)[:RESPONSE_HEAD_BYTES].decode("utf-8", "replace")


# ---- record
def retry_gap(tries: int) -> timedelta | None:
    """How long after try number ``tries`` the next one comes (a little jitter), or None: give up."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if tries > len(schedule):
        return None
    seconds = schedule[tries - 1]
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def record(results: list[TryResult]) -> None:
    """Keep every try, move each delivery on, and keep each endpoint's health (a few statements a batch)."""
    now = timezone.now()
    DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                delivery_id=r.delivery.pk,
                attempted_at=r.attempted_at,
                status_code=r.status,
                latency_ms=r.latency_ms,
                error=r.error[:2000],
                response_head=r.head,
            )
            for r in results
        ]
    )
    rows = []
    for r in results:
        d = r.delivery
        d.tries += 1
        d.last_status, d.last_error = r.status, r.error[:2000]
        if r.ok:
            d.state, d.delivered_at = Delivery.State.DELIVERED, now
        else:
            gap = retry_gap(d.tries)
            if gap is None:
                d.state = Delivery.State.FAILED
            else:
                d.next_attempt_at = now + gap
        rows.append((d.pk, d.state, d.tries, d.last_status, d.last_error, d.delivered_at, d.next_attempt_at))
    update_from_values(
        Delivery._meta.db_table,
        {
            "state": "text",
            "tries": "integer",
            "last_status": "integer",
            "last_error": "text",
            "delivered_at": "timestamptz",
            "next_attempt_at": "timestamptz",
        },
        rows,
        set_sql="state = v.state, tries = v.tries, last_status = v.last_status, last_error = v.last_error,"
        " delivered_at = v.delivered_at, next_attempt_at = v.next_attempt_at",
    )
    healthy = {r.delivery.endpoint_id for r in results if r.ok}
    failing = {r.delivery.endpoint_id for r in results if not r.ok} - healthy
    if healthy:
        Endpoint.objects.filter(pk__in=healthy).update(last_success_at=now, failing_since=None)
    if failing:
        Endpoint.objects.filter(pk__in=failing, failing_since__isnull=True).update(failing_since=now)


# ---- the loop
def load_claimed(ids: list[int]) -> list[Delivery]:
    """The claimed deliveries with their event and endpoint: each endpoint loaded (its secret
    decrypted) once, each event's snapshot read only while its body is still to be built."""
    deliveries = list(
        Delivery.objects.filter(pk__in=ids).only("id", "event_id", "endpoint_id", "state", "tries", "next_attempt_at")
    )
    endpoints = Endpoint.objects.in_bulk({d.endpoint_id for d in deliveries})
    forget_expired_previous_secrets(endpoints.values())
    events = Event.objects.defer("snapshot").in_bulk({d.event_id for d in deliveries})
    unbuilt = [event for event in events.values() if not event.body]
    snapshots = dict(Event.objects.filter(pk__in=[e.pk for e in unbuilt]).values_list("pk", "snapshot"))
    for event in unbuilt:
        event.snapshot = snapshots.get(event.pk)
    ensure_bodies(unbuilt)
    for d in deliveries:
        d.event, d.endpoint = events[d.event_id], endpoints[d.endpoint_id]
    return deliveries


def forget_expired_previous_secrets(endpoints) -> None:
    """Clear the stored previous secret of these endpoints where its grace period is over.

    Signing never uses it after expiry anyway (``Endpoint.signing_secrets``); this only keeps an
    unused secret from lying in the table. Conditional: a rotation committed meanwhile set a new
    previous secret with a later expiry, which this leaves alone. No statement when none expired.
    """
    now = timezone.now()
    expired = [
        e.pk for e in endpoints if e.previous_secret_expires_at is not None and e.previous_secret_expires_at <= now
    ]
    if expired:
        Endpoint.objects.filter(pk__in=expired, previous_secret_expires_at__lte=now).update(
            previous_secret=None, previous_secret_expires_at=None
        )


def send_claimed(ids: list[int], pool: ThreadPoolExecutor | None = None) -> list[TryResult]:
    deliveries = load_claimed(ids)
    unreachable = Unreachable()
    if pool is None:
        results = [post(d, unreachable) for d in deliveries]
    else:
        results = list(pool.map(post, deliveries, [unreachable] * len(deliveries)))
    with transaction.atomic():
        record(results)
    return results


_pool: ThreadPoolExecutor | None = None


def sending_pool() -> ThreadPoolExecutor:
    """The process's posting threads, kept between ticks (their sessions keep connections alive)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="webhook")
    return _pool


def deliver_due(*, budget_seconds: float = 10.0, batch: int = BATCH, lanes: int = LANES) -> int:
    """Send due deliveries until none is due or the budget is spent; returns how many were tried.

    Several lanes (threads, each with its own database connection) claim, load and record
    batches while the others' posts are in flight, so the database round trips and the HTTP
    waits overlap. Inside a transaction (a test, a caller's atomic block) or on SQLite, one lane
    does the work on the caller's connection.
    """
    deadline = time.monotonic() + budget_seconds
    if lanes <= 1 or connection.in_atomic_block or connection.vendor != "postgresql":
        return _lane(deadline, batch)
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="webhook-lane") as pool:
        return sum(pool.map(_lane_with_own_connection, [deadline] * lanes, [batch] * lanes))


def _lane(deadline: float, batch: int) -> int:
    tried = 0
    while time.monotonic() < deadline:
        ids = claim_due(batch)
        if not ids:
            break
        tried += len(send_claimed(ids, sending_pool()))
        if len(ids) < batch:
            break
    return tried


def _lane_with_own_connection(deadline: float, batch: int) -> int:
    try:
        return _lane(deadline, batch)
    finally:
        connection.close()  # this thread's connection, opened by its first query
