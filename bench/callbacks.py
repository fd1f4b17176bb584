"""Receipt intake under load: gunicorn (2 workers) on PostgreSQL, load generated on loopback.

A campaign of 100,000 submitted ihuyi calls and one of 100,000 submitted Emay calls; the load
generator posts ihuyi-style single receipts (each a different call), then Emay-style pushes of 500
reports; the same run measures a bare Django view that only answers ``success`` (the framework's
ceiling here). Single receipts and the bare view are driven by ``wrk`` when it is installed
(``apt-get install wrk``: a C client leaves the 2 cores to the server), else by Python client
processes. Then it checks every receipt was applied exactly once. Last line: one JSON object.
With wrk, three rounds of 5 s each alternate the bare view and single receipts (this machine is
shared and noisy): the figures are the median rate and p50 and the worst round's p99.
Usage: python bench/callbacks.py [single_receipts] [batched_pushes]   (with wrk: 3 × 5 s rounds instead)
"""

import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode

from _django import BENCH_DB, ROOT, setup

SINGLE = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
PUSHES = int(sys.argv[2]) if len(sys.argv) > 2 else 200  # × 500 reports
CALLS = 100_000
CLIENTS = 4
ROUNDS = 3  # with wrk: bare view and single receipts alternate, 5 s each
USE_WRK = shutil.which("wrk") is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DB,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "CONN_MAX_AGE": "60",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "voiceops.wsgi",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def client(args) -> list[float]:
    """One load process: posts its bodies over one keep-alive connection, returns latencies (ms)."""
    port, path_bodies = args
    conn = http.client.HTTPConnection("127.0.0.1", port)
    latencies = []
    for path, body, headers in path_bodies:
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
    conn.close()
    return latencies


def run_load(port: int, requests: list, clients: int = CLIENTS) -> tuple[float, list[float]]:
    slices = [(port, requests[i::clients]) for i in range(clients)]
    started = time.perf_counter()
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(client, slices)
    elapsed = time.perf_counter() - started
    return elapsed, [ms for part in results for ms in part]


def wrk_run(port: int, path: str, script: str, args: list[str], seconds: int = 5) -> tuple[int, float, float, float]:
    """(requests, seconds, p50 ms, p99 ms) of a wrk run with 2 threads and 8 connections."""
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            "-c8",
            f"-d{seconds}s",
            "-s",
            str(ROOT / "bench" / script),
            f"http://127.0.0.1:{port}{path}",
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("WRK "))
    requests, duration_us, p50, p99, errors = line.split()[1:]
    if int(errors):
        raise RuntimeError(f"wrk saw {errors} errors on {path}:\n{done.stdout}")
    return int(requests), int(duration_us) / 1e6, float(p50), float(p99)


def summary(rounds: list[tuple[int, float, float, float]]) -> tuple[float, float, float]:
    """(median rate, median p50, worst p99) of wrk rounds."""
    return (
        statistics.median(n / s for n, s, _p50, _p99 in rounds),
        statistics.median(p50 for *_, p50, _p99 in rounds),
        max(p99 for *_, p99 in rounds),
    )


def pct(samples, q):
    return statistics.quantiles(samples, n=100)[q - 1]


def seed(account_ihuyi, account_emay) -> tuple[int, int]:
    from django.db import connection

    from campaigns.models import Campaign

    ids = []
    for account in (account_ihuyi, account_emay):
        campaign = Campaign.objects.create(
            name=f"bench-{account.vendor}", account=account, content="您好", state="running"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO campaigns_recipient (campaign_id, mobile, variables, line)"
                " SELECT %s, '+86138' || lpad(g::text, 8, '0'), '[]'::jsonb, g FROM generate_series(1, %s) g",
                [campaign.pk, CALLS],
            )
            cursor.execute(
                "INSERT INTO campaigns_callrecord (campaign_id, recipient_id, account_id, attempt, mobile, custom_id,"
                " vendor_message_id, batch_id, state, outcome, raw_code, raw_message, key_pressed, is_test, created_at,"
                " submitted_at)"
                " SELECT campaign_id, id, %s, 1, mobile, 'R' || id || 'A1', line::text, '', 'submitted',"
                " '', '', '', '', false, now(), now()"
                " FROM campaigns_recipient WHERE campaign_id = %s",
                [account.pk, campaign.pk],
            )
        ids.append(campaign.pk)
    with connection.cursor() as cursor:  # a settled database, as in production: statistics, no pending checkpoint
        cursor.execute("VACUUM ANALYZE campaigns_recipient, campaigns_callrecord, campaigns_callcounter")
        cursor.execute("CHECKPOINT")
    return ids[0], ids[1]


def main() -> None:
    setup()
    from django.db.models import Count

    from campaigns.models import CallRecord, Campaign
    from vendors.models import VendorAccount

    ihuyi = VendorAccount.objects.create(
        vendor="ihuyi", name="bench-ihuyi", base_url="http://127.0.0.1:9", api_id="C1", api_secret="k" * 32
    )
    emay = VendorAccount.objects.create(
        vendor="emay",
        name="bench-emay",
        base_url="http://127.0.0.1:9",
        api_id="EUCP-BENCH",
        api_secret="Sk3y-0123456789a",
    )
    ihuyi_campaign, emay_campaign = seed(ihuyi, emay)
    port = free_port()
    server = start_gunicorn(port)
    try:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        bare = [("/bench/bare/", b"x=1", form)] * 10_000
        run_load(port, bare[:500])  # warm up both workers
        ihuyi_path = f"/api/callbacks/ihuyi/{ihuyi.callback_token}/"
        prefix = (
            urlencode(
                {
                    "code": "2",
                    "msg": "接通",
                    "mobilephone": "13800000000",
                    "talktime": "31",
                    "report_time": "2026-11-22 10:00:00",
                }
            )
            + "&voiceid="
        )
        if USE_WRK:
            # interleaved rounds on a shared, noisy machine: median rates, the worst round's p99
            bare_rounds, single_rounds = [], []
            for r in range(ROUNDS):
                bare_rounds.append(wrk_run(port, "/bench/bare/", "wrk_bare.lua", []))
                single_rounds.append(
                    wrk_run(port, ihuyi_path, "wrk_receipts.lua", ["2", prefix, str(r * CALLS // ROUNDS)])
                )
            for name, rounds in (("bare view", bare_rounds), ("ihuyi single", single_rounds)):
                print(
                    f"{name + ' rounds:':<22}"
                    + ", ".join(f"{n / s:,.0f}/s p99 {p99:.1f} ms" for n, s, _p50, p99 in rounds)
                )
            bare_rate, bare_p50, bare_p99 = summary(bare_rounds)
            single_rate, single_p50, single_p99 = summary(single_rounds)
            single_sent = sum(n for n, *_ in single_rounds)
        else:
            bare_s, bare_lat = run_load(port, bare)
            bare_rate, bare_p50, bare_p99 = len(bare_lat) / bare_s, pct(bare_lat, 50), pct(bare_lat, 99)
            singles = [(ihuyi_path, f"{prefix}{n}".encode(), form) for n in range(1, SINGLE + 1)]
            single_s, single_lat = run_load(port, singles)
            single_sent, single_rate, single_p50, single_p99 = (
                SINGLE,
                SINGLE / single_s,
                pct(single_lat, 50),
                pct(single_lat, 99),
            )
        replays = [(ihuyi_path, f"{prefix}{n}".encode(), form) for n in range(1, 2001)]

        emay_path = f"/api/callbacks/emay/{emay.callback_token}/"
        first = Campaign.objects.get(pk=emay_campaign).recipients.order_by("id").values_list("id", flat=True).first()
        pushes = []
        for p in range(PUSHES):
            items = [
                {
                    "appId": "EUCP-BENCH",
                    "voiceId": str(n),
                    "customVoiceId": f"R{first + n - 1}A1",
                    "state": " SUCCESS ",
                    "message": "成功",
                    "callingTime": "2026-11-22 10:00:00",
                    "callingDuration": 20.5,
                    "mobile": f"138{n:08d}",
                }
                for n in range(p * 500 + 1, p * 500 + 501)
            ]
            pushes.append(
                (
                    emay_path,
                    json.dumps({"code": "SUCCESS", "data": items}).encode(),
                    {"Content-Type": "application/json", "appId": "EUCP-BENCH"},
                )
            )
        batched_s, batched_lat = run_load(port, pushes, clients=2)

        replay_s, _ = run_load(port, replays)  # ihuyi retries: must change nothing
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    def answered(campaign_id):
        return CallRecord.objects.filter(campaign_id=campaign_id, state="answered").count()

    single_applied, batched_applied = answered(ihuyi_campaign), answered(emay_campaign)
    counted = dict(CallRecord.objects.filter(campaign_id=ihuyi_campaign).values_list("state").annotate(n=Count("id")))
    from campaigns import selectors

    via_counters = selectors.campaign_stats(Campaign.objects.get(pk=ihuyi_campaign))["by_state"]
    # wrk counts answered requests; a few more may have been in flight when it stopped (and applied)
    lost = max(0, single_sent - single_applied) + (PUSHES * 500 - batched_applied)
    applied_twice = abs(via_counters.get("answered", 0) - counted.get("answered", 0))

    generator = "wrk, 2 threads, 8 connections" if USE_WRK else f"{CLIENTS} Python client processes"
    print(f"load generator:   {generator}")
    print(f"bare view:        {bare_rate:,.0f} req/s, p50 {bare_p50:.1f} ms, p99 {bare_p99:.1f} ms")
    print(
        f"ihuyi single:     {single_rate:,.0f} receipts/s, p50 {single_p50:.1f} ms, p99 {single_p99:.1f} ms "
        f"({single_rate / bare_rate:.2f}x the bare view)"
    )
    print(
        f"Emay 500/push:    {PUSHES * 500 / batched_s:,.0f} reports/s,"
        f" p50 {pct(batched_lat, 50):.0f} ms, p99 {pct(batched_lat, 99):.0f} ms per push"
    )
    print(
        f"replayed 2,000 ihuyi receipts in {replay_s:.1f} s; applied {single_applied:,}/{single_sent:,} single,"
        f" {batched_applied:,}/{PUSHES * 500:,} batched"
    )
    print(
        json.dumps(
            {
                "single_receipts_per_s": round(single_rate),
                "single_p50_ms": round(single_p50, 2),
                "single_p99_ms": round(single_p99, 2),
                "batched_reports_per_s": round(PUSHES * 500 / batched_s),
                "bare_view_per_s": round(bare_rate),
                "single_to_bare": round(single_rate / bare_rate, 3),
                "lost": lost,
                "applied_twice": applied_twice,
            }
        )
    )


if __name__ == "__main__":
    main()
