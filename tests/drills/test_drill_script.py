"""The drill script itself, small: a campaign through every fault at once, nothing lost or twice."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def test_bench_drill_runs_clean_on_a_small_campaign():
    from tests.settings import TEST_ENV

    name = f"voiceops_drill_{os.getpid()}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in TEST_ENV and k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env["BENCH_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    try:
        done = subprocess.run(
            [sys.executable, "bench/drill.py", "600"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
        )
    finally:
        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["calls"] == 600 and figures["faults_injected"] >= 8
    assert (figures["lost"], figures["submitted_twice"], figures["applied_twice"], figures["stats_mismatch"]) == (
        0,
        0,
        0,
        0,
    )
