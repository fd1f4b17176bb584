"""``Idempotency-Key`` on the API's creating POSTs: the same key and body answer the first answer again.

The key row is claimed in the transaction that does the work: a concurrent request with the same
key waits on the unique index until the first commits (then replays its answer) or rolls back
(then does the work itself). A request that fails or dies leaves no key, so retrying it is safe;
only successful (2xx) answers are kept. Keys are scoped per credential and kept
``IDEMPOTENCY_KEY_HOURS`` hours (24 by default).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from apikeys.permissions import credential_id
from voiceops.api.errors import error_body
from voiceops.crypto import mask

from .models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
IN_PROGRESS = 0  # status of a row whose request has not finished (never committed as such)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired


class KeyInProgress(Exception):
    """Another request holds this key and did not finish within ``IDEMPOTENCY_WAIT_SECONDS``."""


def idempotent(handler=None, *, secret_fields: tuple[str, ...] = ()):
    """Decorate a view handler that creates something; without the header it runs as before.

    ``secret_fields`` name top-level fields of the answer shown only once (a signing secret): they
    are kept masked, so a replay answers with the rest and never stores the secret in the clear.
    """

    def decorate(handler):
        @functools.wraps(handler)
        def wrapper(view, request, *args, **kwargs):
            key = request.headers.get(HEADER)
            if key is None:
                return handler(view, request, *args, **kwargs)
            return run_once(request, key, lambda: handler(view, request, *args, **kwargs), secret_fields)

        wrapper.idempotent = True
        return wrapper

    return decorate(handler) if handler is not None else decorate


def run_once(request, key: str, handler, secret_fields: tuple[str, ...] = ()) -> Response:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        return Response(
            error_body(
                "client_error",
                "invalid_idempotency_key",
                gettext("The Idempotency-Key header must be 1 to 255 printable characters."),
            ),
            status=status.HTTP_400_BAD_REQUEST,
        )
    credential = credential_id(request) or "anonymous"
    fingerprint = request_fingerprint(request)
    with transaction.atomic():
        try:
            claimed, existing = _claim(credential, key, request, fingerprint)
        except KeyInProgress:  # waited longer than IDEMPOTENCY_WAIT_SECONDS for the first request
            logger.info("idempotency key %r still held by another request", key, exc_info=True)
            transaction.set_rollback(True)
            return _in_progress()
        if existing is not None:
            return _answer_existing(existing, fingerprint)
        response = handler()
        if status.is_success(response.status_code):
            IdempotencyKey.objects.filter(pk=claimed).update(
                status_code=response.status_code,
                response_body=_kept_body(response.data, secret_fields),
                location=response.headers.get("Location", "")[:500],
            )
        else:  # nothing created: the key stays free for a corrected or later retry
            transaction.set_rollback(True)
        return response


def _kept_body(data, secret_fields: tuple[str, ...]):
    body = json.loads(json.dumps(data, cls=JSONEncoder))
    for name in secret_fields:
        if isinstance(body, dict) and body.get(name):
            body[name] = mask(body[name])
    return body


def _claim(credential: str, key: str, request, fingerprint: str):
    """Insert the key row (waiting for a concurrent holder of the key); returns (row id, None) or (None, existing)."""
    values = [credential, key, request.method, request.path[:500], fingerprint, IN_PROGRESS, timezone.now()]
    for _try in range(3):
        try:
            with connection.cursor() as cursor:
                cursor.execute(_insert_sql(), [*_lock_timeout_param(), *values])
                inserted = cursor.fetchone()
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise KeyInProgress from exc
            raise
        if inserted is not None:
            return inserted[0], None
        existing = IdempotencyKey.objects.filter(credential=credential, key=key).first()
        if existing is None:  # the holder rolled back meanwhile: claim it again
            continue
        if existing.created_at < timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS):
            IdempotencyKey.objects.filter(pk=existing.pk).delete()  # expired, not yet swept
            continue
        return None, existing
    raise KeyInProgress


COLUMNS = "credential, key, method, path, fingerprint, status_code, created_at, location"


def _insert_sql() -> str:
    """One statement: insert unless the key exists. On PostgreSQL a concurrent uncommitted insert of
    the same key makes it wait; ``lock_timeout`` (set in the same statement, for the rest of the
    transaction) bounds that wait to ``IDEMPOTENCY_WAIT_SECONDS``."""
    table = IdempotencyKey._meta.db_table
    if connection.vendor == "postgresql":
        return (
            f"INSERT INTO {table} ({COLUMNS}) SELECT new.* "
            "FROM (SELECT set_config('lock_timeout', %s, true)) AS wait, "
            "(VALUES (%s, %s, %s, %s, %s, %s::smallint, %s::timestamptz, '')) AS new "
            "ON CONFLICT (credential, key) DO NOTHING RETURNING id"
        )
    return (
        f"INSERT INTO {table} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, '') "
        "ON CONFLICT (credential, key) DO NOTHING RETURNING id"
    )


def _lock_timeout_param() -> list[str]:
    if connection.vendor != "postgresql":
        return []  # SQLite serializes writers itself
    return [f"{int(settings.IDEMPOTENCY_WAIT_SECONDS * 1000)}ms"]


def _answer_existing(existing: IdempotencyKey, fingerprint: str) -> Response:
    if existing.fingerprint != fingerprint:
        detail = gettext(
            "This Idempotency-Key was already used with a different request (%(method)s %(path)s "
            "or another body). Send a new key for a new request."
        ) % {"method": existing.method, "path": existing.path}
        return Response(
            error_body("client_error", "idempotency_key_reused", detail),
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if existing.status_code == IN_PROGRESS:
        return _in_progress()
    headers = {REPLAYED_HEADER: "true"}
    if existing.location:
        headers["Location"] = existing.location
    return Response(existing.response_body, status=existing.status_code, headers=headers)


def _in_progress() -> Response:
    return Response(
        error_body(
            "client_error",
            "idempotency_key_in_progress",
            gettext("A request with this Idempotency-Key is still being processed; retry in a moment."),
        ),
        status=status.HTTP_409_CONFLICT,
        headers={"Retry-After": "1"},
    )


def request_fingerprint(request) -> str:
    """SHA-256 of the method, path and body as parsed (key order and multipart boundaries do not matter)."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    data = request.data
    if hasattr(data, "getlist"):  # a form: every field's values, and each file's name, size and bytes
        for name in sorted(data.keys()):
            for value in data.getlist(name):
                if hasattr(value, "chunks"):
                    digest.update(f"{name}=file:{value.name}:{value.size}\n".encode())
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                else:
                    digest.update(f"{name}={value}\n".encode())
    else:
        digest.update(json.dumps(data, sort_keys=True, ensure_ascii=False, cls=JSONEncoder).encode())
    return digest.hexdigest()


def delete_expired() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
