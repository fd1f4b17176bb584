"""Per-username slow-down of admin logins: never a lock anyone could trigger for someone else.

django-axes locks an ADDRESS after repeated failures (the trusted client address). A USERNAME
tried from many addresses is slowed instead: after ``LOGIN_SLOWDOWN_AFTER`` failures within the
cool-off window, every further attempt for it waits 0.25 s, doubling per failure, at most
``LOGIN_SLOWDOWN_MAX_SECONDS``, before its password is checked. Its owner still gets in (a few
seconds later); a guesser gets a few guesses a second at most. Failures are counted in the shared
cache, so every web process sees the same count; a successful login clears it.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver

FIRST_DELAY = 0.25


def _key(username: str) -> str:
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"voiceops.login-failures.{digest}"


def _window_seconds() -> int:
    return max(60, int(float(settings.AXES_COOLOFF_TIME) * 3600))


def failures(username: str) -> int:
    return int(cache.get(_key(username)) or 0)


def delay_for(failure_count: int) -> float:
    """Seconds an attempt waits after ``failure_count`` failures for its username."""
    over = failure_count - settings.LOGIN_SLOWDOWN_AFTER
    if over < 0:
        return 0.0
    return min(settings.LOGIN_SLOWDOWN_MAX_SECONDS, FIRST_DELAY * 2**over)


def record_failure(username: str) -> None:
    key = _key(username)
    if cache.add(key, 1, timeout=_window_seconds()):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, timeout=_window_seconds())


def clear(username: str) -> None:
    cache.delete(_key(username))


class UsernameSlowdownBackend:
    """Waits before the next backend checks the password; authenticates nobody itself."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username:
            wait = delay_for(failures(username))
            if wait:
                time.sleep(wait)
        return None  # no ``get_user``: a session is never tied to this backend


@receiver(user_login_failed, dispatch_uid="voiceops.login_throttle.failed")
def _count_failure(sender, credentials, request=None, **kwargs):
    username = (credentials or {}).get("username")
    if username:
        record_failure(username)


@receiver(user_logged_in, dispatch_uid="voiceops.login_throttle.succeeded")
def _clear_on_success(sender, request, user, **kwargs):
    clear(user.get_username())


def lockout_response(request, original_response=None, credentials=None):
    """The page for a locked-out address (django-axes' ``AXES_LOCKOUT_CALLABLE``): says how long, truly."""
    from axes.helpers import get_cool_off
    from django.shortcuts import render

    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0
    return render(
        request,
        settings.AXES_LOCKOUT_TEMPLATE,
        {"cooloff_minutes": minutes, "site_title": settings.UNFOLD.get("SITE_TITLE")},
        status=429,
    )
