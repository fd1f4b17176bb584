"""How often one number may be called by single calls, and how many calls one API key may place a day.

Checked when a call is accepted (in the accepting transaction, under a per-number lock, so
concurrent requests from any web worker count each other) and again when a worker claims the
call. Three kinds of limits (DESIGN.md, "Transactional calls"):

- ``SINGLE_CALL_NUMBER_LIMITS``: windows per number across every vendor (1/min, 5/h, 20/day by
  default); every accepted call counts, failed ones included;
- the vendor's own per-number limits (``per_number_limits`` on its adapter), counting every call
  to that number on that account, campaign calls included;
- ``SINGLE_CALL_DAILY_CAP`` per API key (``apikeys.permissions.credential_id``) per local day (``CallQuota``).
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import ngettext

from .models import CallQuota, CallRecord, SingleCall


@dataclass(frozen=True)
class Refusal:
    """Which limit refused a call, and when it frees."""

    limit: str  # "number", "vendor" or "daily_cap"
    window_seconds: int
    most: int
    frees_at: datetime

    def retry_after(self, now: datetime | None = None) -> int:
        return max(1, math.ceil((self.frees_at - (now or timezone.now())).total_seconds()))

    @property
    def window_name(self) -> str:
        return f"{self.limit}:{self.most}/{describe_window(self.window_seconds)}"

    def message(self) -> str:
        frees = timezone.localtime(self.frees_at).isoformat(sep=" ", timespec="seconds")  # with its offset
        values = {"most": self.most, "window": spoken_window(self.window_seconds), "frees": frees}
        if self.limit == "daily_cap":
            return (
                ngettext(
                    "This API key has placed its %(most)d single call for today; it may call again at %(frees)s.",
                    "This API key has placed its %(most)d single calls for today; it may call again at %(frees)s.",
                    self.most,
                )
                % values
            )
        if self.limit == "vendor":
            return (
                ngettext(
                    "The vendor allows at most %(most)d call per %(window)s to one number; "
                    "this number may be called again at %(frees)s.",
                    "The vendor allows at most %(most)d calls per %(window)s to one number; "
                    "this number may be called again at %(frees)s.",
                    self.most,
                )
                % values
            )
        return (
            ngettext(
                "At most %(most)d call per %(window)s may go to one number; "
                "this number may be called again at %(frees)s.",
                "At most %(most)d calls per %(window)s may go to one number; "
                "this number may be called again at %(frees)s.",
                self.most,
            )
            % values
        )

    @property
    def code(self) -> str:
        """The error code an API client can tell the limits apart by."""
        return {"number": "number_limit", "vendor": "vendor_number_limit", "daily_cap": "daily_cap"}[self.limit]


def spoken_window(seconds: int) -> str:
    """The window in words for people: "1 minute", "24 hours" (translated)."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            n = seconds // size
            if unit == "day":
                return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}
            if unit == "hour":
                return ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}
            return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}
    return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}


def describe_window(seconds: int) -> str:
    """The window as a short code for programs: "1min", "1h", "1d", "90s"."""
    for size, name in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"{seconds // size}{name}"
    return f"{seconds}s"


def first_refusal(limit: str, windows, moments: list[datetime], now: datetime) -> Refusal | None:
    """The window that ``moments`` (earlier calls) already fill, the one freeing last; None if all allow one more."""
    worst = None
    for window, most in windows:
        inside = sorted(m for m in moments if m > now - timedelta(seconds=window))
        if len(inside) >= most:
            frees_at = inside[len(inside) - most] + timedelta(seconds=window)
            if worst is None or frees_at > worst.frees_at:
                worst = Refusal(limit, window, most, frees_at)
    return worst


def lock_number(mobile: str) -> None:
    """Serialize acceptance per number until the transaction ends (PostgreSQL; SQLite has one writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5C, zlib.crc32(mobile.encode()) - 2**31])


def number_refusal(mobile: str, now: datetime, *, exclude_call: int | None = None) -> Refusal | None:
    """Our own per-number windows, counting single calls accepted to ``mobile``."""
    windows = settings.SINGLE_CALL_NUMBER_LIMITS
    if not windows:
        return None
    longest = max(window for window, _most in windows)
    calls = SingleCall.objects.filter(mobile=mobile, created_at__gt=now - timedelta(seconds=longest))
    if exclude_call is not None:
        calls = calls.exclude(pk=exclude_call)
    return first_refusal("number", windows, list(calls.values_list("created_at", flat=True)), now)


def vendor_refusal(adapter, account_id: int, mobile: str, now: datetime, *, exclude_record=None) -> Refusal | None:
    """The vendor's stated per-number limits on this account (sent calls and those about to be)."""
    if not adapter.per_number_limits:
        return None
    since = now - timedelta(seconds=max(window for window, _most in adapter.per_number_limits))
    records = CallRecord.objects.filter(account_id=account_id, mobile=mobile).filter(
        Q(submitted_at__gt=since) | Q(submitted_at__isnull=True, state="queued", created_at__gt=since)
    )
    if exclude_record is not None:
        records = records.exclude(pk=exclude_record)
    moments = [submitted or created for submitted, created in records.values_list("submitted_at", "created_at")]
    return first_refusal("vendor", adapter.per_number_limits, moments, now)


def take_daily_quota(credential: str, now: datetime) -> Refusal | None:
    """Count one call against the credential's cap for today (undone if the transaction rolls back)."""
    cap = settings.SINGLE_CALL_DAILY_CAP
    if not cap:
        return None
    day = timezone.localtime(now).date()
    with connection.cursor() as cursor:  # one statement: create today's row or add one, below the cap
        cursor.execute(
            f"INSERT INTO {CallQuota._meta.db_table} (credential, day, calls) VALUES (%s, %s, 1) "
            "ON CONFLICT (credential, day) DO UPDATE SET calls = excluded.calls + "
            f"{CallQuota._meta.db_table}.calls WHERE {CallQuota._meta.db_table}.calls < %s RETURNING calls",
            [credential, day, cap],
        )
        counted = cursor.fetchone()
    if counted is None:
        midnight = timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()))
        return Refusal("daily_cap", 86400, cap, midnight)
    return None


DIALLED_STATES = ("submitting", "submitted", "answered", "failed", "expired")


def dialled_single_calls(mobiles, now: datetime, *, exclude_calls=()) -> dict[str, list[datetime]]:
    """For the windows checked again at claim: when the single calls to ``mobiles`` already sent (or
    being sent) were accepted, by number.

    They are placed in time by when they were accepted, the clock acceptance checked against, so a
    call accepted within the limits is not refused for a neighbour's dispatch jitter.
    """
    moments: dict[str, list[datetime]] = defaultdict(list)
    windows = settings.SINGLE_CALL_NUMBER_LIMITS
    if not windows:
        return moments
    longest = max(window for window, _most in windows)
    others = (
        SingleCall.objects.filter(mobile__in=list(mobiles), created_at__gt=now - timedelta(seconds=longest))
        .exclude(pk__in=list(exclude_calls))
        .filter(attempts__state__in=DIALLED_STATES)
        .distinct()
    )
    for _pk, mobile, created_at in others.values_list("pk", "mobile", "created_at"):
        moments[mobile].append(created_at)
    return moments
