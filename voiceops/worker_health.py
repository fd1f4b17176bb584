"""Whether the background worker runs: the beat's tick, run by a worker, notes when it ran, and the
dashboard warns operators when that is too long ago. Without a worker nothing is dialled, no receipt
is pulled and no webhook goes out, while the web keeps accepting calls: that must not go unseen.

The note lives in the shared cache (a file cache in the embedded mode, Redis in production), which
every web process and worker reads.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

KEY = "voiceops.worker.tick_at"
SILENT_AFTER = timedelta(minutes=2)  # the tick runs every 5 s; a minute late is a worker busy, two is none


def note_tick() -> None:
    cache.set(KEY, timezone.now(), None)


def silence(now: datetime | None = None) -> dict | None:
    """None while the worker runs; else ``{"since": when it last ran, or None if never}``."""
    try:
        last = cache.get(KEY)
    except Exception:  # a cache that cannot answer says nothing of the worker
        return None
    now = now or timezone.now()
    if isinstance(last, datetime) and now - last <= SILENT_AFTER:
        return None
    return {"since": last if isinstance(last, datetime) else None}
