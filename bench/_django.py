"""Shared set-up for the benchmark scripts: a PostgreSQL database of their own, migrated."""

import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voiceops_bench")


def setup(*, eager: bool = True) -> None:
    _environment(eager)
    _create_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def setup_existing(*, eager: bool = True) -> None:
    """Django on the benchmark database another process of the same run created (no reset)."""
    _environment(eager)
    import django

    django.setup()


def _environment(eager: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voiceops.settings")
    os.environ["DATABASE_URL"] = BENCH_DB
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2gta2V5LTMyLWJ5dGVzLWxvbmctMTIzNDU2Nzg")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", str(eager))
    os.environ.setdefault("VOICEOPS_ENV_FILE", "/nonexistent/.env")
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def _create_database() -> None:
    """A fresh database every run: figures never depend on what an earlier run left."""
    import psycopg

    name = BENCH_DB.rsplit("/", 1)[1]
    admin = BENCH_DB.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
