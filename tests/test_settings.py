"""Settings come from the environment only, and production settings pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_django(code: str, **env) -> subprocess.CompletedProcess:
    from tests.settings import TEST_ENV

    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in TEST_ENV and k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    clean.update(
        env,
        DJANGO_SETTINGS_MODULE="voiceops.settings",
        VOICEOPS_VAR_DIR=str(ROOT / "var" / "settings-test"),
        VOICEOPS_ENV_FILE=str(ROOT / "var" / "no-such.env"),
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_database_and_broker_come_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['NAME'], s.CELERY_BROKER_URL, s.LANGUAGE_CODE, s.TIME_ZONE)"
    )
    out = run_django(
        code,
        SECRET_KEY="x" * 60,
        FIELD_ENCRYPTION_KEYS="a" * 43,
        DATABASE_URL="postgres://u@db.example:5432/prod",
        CELERY_BROKER_URL="redis://cache:6379/0",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["prod", "redis://cache:6379/0", "zh-hans", "Asia/Shanghai"]


def test_embedded_default_is_sqlite_and_filesystem_broker():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)"
    )
    out = run_django(code, SECRET_KEY="x" * 60, FIELD_ENCRYPTION_KEYS="a" * 43)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["django.db.backends.sqlite3", "filesystem://"]


def test_missing_secret_key_is_a_clear_error():
    out = run_django("import django; django.setup()", FIELD_ENCRYPTION_KEYS="a" * 43, SECRET_KEY="")
    assert out.returncode != 0


def test_production_settings_pass_check_deploy():
    out = run_django(
        "import django, sys; django.setup(); from django.core.management import call_command; "
        "call_command('check', '--deploy', '--fail-level', 'WARNING')",
        SECRET_KEY="k" * 64 + "-prod-Zq8$",
        FIELD_ENCRYPTION_KEYS="a" * 43,
        DEBUG="False",
        ALLOWED_HOSTS="voiceops.example.com",
    )
    assert out.returncode == 0, out.stderr + out.stdout


@pytest.mark.parametrize("moment", ["08:00:03", "21:00:05"])
def test_quiet_hour_defaults_pass_the_system_check_at_any_time_of_day(moment):
    """A fixed ``time`` default made ``check --deploy`` fail within seconds of 08:00 and 21:00 (fields.W161)."""
    from datetime import UTC, datetime, time
    from unittest import mock

    from campaigns.models import Campaign

    # Django compares a time default with the clock in UTC (naive): 21:00:05 UTC is what CI met.
    at = datetime.combine(datetime.now(UTC).date(), time.fromisoformat(moment), tzinfo=UTC)
    with mock.patch("django.db.models.fields.timezone.now", return_value=at):
        for name in ("quiet_hours_start", "quiet_hours_end"):
            assert [w.id for w in Campaign._meta.get_field(name).check()] == []


def test_the_webhook_secret_grace_period_comes_from_the_environment_and_is_bounded():
    code = "import django; django.setup(); from django.conf import settings as s; print(s.WEBHOOK_SECRET_GRACE_HOURS)"
    base = {"SECRET_KEY": "x" * 60, "FIELD_ENCRYPTION_KEYS": "a" * 43}
    default, given = run_django(code, **base), run_django(code, **base, WEBHOOK_SECRET_GRACE_HOURS="1.5")
    assert (default.returncode, given.returncode) == (0, 0), default.stderr + given.stderr
    assert (default.stdout.strip(), given.stdout.strip()) == ("24.0", "1.5")
    refused = run_django(code, **base, WEBHOOK_SECRET_GRACE_HOURS="-1")
    assert refused.returncode != 0 and "WEBHOOK_SECRET_GRACE_HOURS" in refused.stderr
