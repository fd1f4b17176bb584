"""Single calls over the API under load: gunicorn (2 workers), one dispatch worker, PostgreSQL and Redis.

A fake Emay (verification codes, ``/voice/sendVFCode``) on loopback records when each request reaches
it. Three measurements in one run, against the same server:

1. two baselines by the same load generator: the bare Django view (``/bench/bare/``), and the accept
   floor (``/bench/accept-floor/``: DRF with our API-key authentication, scope check and body
   validation, answering 201 without writing anything), the ceiling for any accepting view here;
2. acceptance: Python client processes post single verify calls (each a new number and its own
   ``Idempotency-Key``) as fast as the server takes them: calls accepted/s, p50/p99 accept latency;
3. POST → vendor: calls posted at a steady 50/s, every request sent twice at once from two
   connections with the same key (a client retrying after a timeout), p50/p99 from the first POST
   to the vendor receiving the call, sent by the drain its commit wakes (no beat runs).

Then it waits for the worker to drain and checks that every accepted call reached the vendor once.
For the floor and the acceptance it also prints the CPU one request cost the web workers, the dispatch
worker, PostgreSQL and the benchmark process (fake vendor, load generator), and the ceiling that sets:
the machine's cores divided by the CPU of one accepted call.
The load average is printed first and last (the machine is shared). Last line: one JSON object.
Usage: python bench/calls_api.py [calls for acceptance] [seconds at 50/s]
"""

import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

# A database and Redis db of this benchmark's own: other benchmarks may run at the same time.
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voiceops_bench_calls")

from _cpu import per_request_ms, snapshot  # noqa: E402
from _django import BENCH_DB, ROOT, setup  # noqa: E402

ACCEPT_CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 6_000
PACED_SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
PACED_RATE = 50
CLIENTS = 4
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
SERVER_ENV = {
    "DATABASE_URL": BENCH_DB,
    "CELERY_BROKER_URL": BROKER,
    "CACHE_URL": os.environ.get("BENCH_CACHE_URL", "rediscache://127.0.0.1:6379/10"),  # shared, as in production
    "CELERY_TASK_ALWAYS_EAGER": "False",
    "CONN_MAX_AGE": "60",
    "DEBUG": "False",
    "SECURE_SSL_REDIRECT": "False",
    "ALLOWED_HOSTS": "127.0.0.1",
    "LOG_LEVEL": "WARNING",
    "SINGLE_CALL_DAILY_CAP": "10000000",  # the cap is not what is measured
    "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], settings: str) -> subprocess.Popen:
    env = {**os.environ, **SERVER_ENV, "DJANGO_SETTINGS_MODULE": settings}
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None,
        start_new_session=True,
    )


def start_gunicorn(port: int) -> subprocess.Popen:
    process = start(
        ["gunicorn", "voiceops.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning"], "bench_settings"
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def start_worker() -> subprocess.Popen:
    args = [
        "celery",
        "-A",
        "voiceops",
        "worker",
        "-Q",
        "dispatch",
        "-c",
        "4",
        "-l",
        "warning",
    ]  # as README, "Production"
    return start([*args, "--without-gossip", "--without-mingle"], "voiceops.settings")


def make_fake():
    """A fake Emay that notes when each verification request arrives (by our custom id)."""
    from tests.fakes.emay import FakeEmay

    class TimedEmay(FakeEmay):
        def __init__(self):
            super().__init__(auto_report=False)
            self.arrivals: dict[str, float] = {}

        def handle(self, request):
            arrived = time.time()
            if request.path == "/voice/sendVFCode":
                with self.lock:
                    self.arrivals.setdefault(request.param("customVoiceId") or "", arrived)
            return super().handle(request)

    return TimedEmay().start()


def post_calls(args) -> list[tuple[int, float]]:
    """One load process: posts its calls over one keep-alive connection; (status, ms) per request."""
    port, token, requests = args
    conn = http.client.HTTPConnection("127.0.0.1", port)
    results = []
    for path, body, key in requests:
        headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {token}"}
        if key:
            headers["Idempotency-Key"] = key
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        results.append((response.status, (time.perf_counter() - started) * 1000))
    conn.close()
    return results


def run_load(port: int, token: str, requests: list) -> tuple[float, list[tuple[int, float]]]:
    slices = [(port, token, requests[i::CLIENTS]) for i in range(CLIENTS)]
    started = time.perf_counter()
    with multiprocessing.Pool(CLIENTS) as pool:
        results = pool.map(post_calls, slices)
    return time.perf_counter() - started, [r for part in results for r in part]


def verify_body(mobile: str, out_id: str) -> bytes:
    return json.dumps({"mobile": mobile, "product": "verify", "code": "482193", "out_id": out_id}).encode()


def paced(port: int, token: str, seconds: int) -> tuple[dict[str, float], Counter]:
    """50 calls/s, each sent twice at once (two connections, one key); returns first-POST times by out_id."""
    local = threading.local()
    posted: dict[str, float] = {}
    statuses: Counter = Counter()
    lock = threading.Lock()

    def send(out_id: str, body: bytes):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {token}", "Idempotency-Key": out_id}
        started = time.time()
        with lock:
            posted[out_id] = min(posted.get(out_id, started), started)
        conn.request("POST", "/api/calls/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        with lock:
            statuses[response.status] += 1

    with ThreadPoolExecutor(max_workers=16) as pool:
        begin = time.monotonic()
        for n in range(seconds * PACED_RATE):
            delay = begin + n / PACED_RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            out_id = f"paced-{n}"
            body = verify_body(f"1370{n:07d}", out_id)
            pool.submit(send, out_id, body)
            pool.submit(send, out_id, body)  # the same request again, at the same moment
    return posted, statuses


def pct(samples, q):
    return statistics.quantiles(samples, n=100)[q - 1]


def main() -> None:
    load_before = os.getloadavg()
    setup()
    from apikeys.models import ApiKey
    from apikeys.scopes import SEND_CALLS
    from campaigns.models import CallRecord, CallRoute, SingleCall
    from vendors.models import VendorAccount

    fake = make_fake()
    account = VendorAccount.objects.create(
        vendor="emay",
        name="bench-emay",
        base_url=fake.url,
        api_id=fake.app_id,
        api_secret=fake.secret_key,
        rate_limit_per_second=2000,
        options={},
    )
    CallRoute.objects.create(product="verify", account=account)
    _key, token = ApiKey.objects.create_key(name="bench", scopes=[SEND_CALLS])  # as an integrating system calls

    from voiceops.celery import app

    app.conf.broker_url = BROKER
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("dispatch")

    port = free_port()
    server, worker = start_gunicorn(port), start_worker()
    try:
        time.sleep(3)  # worker start-up is not part of any figure
        bare = [("/bench/bare/", b"{}", None)] * 6000
        run_load(port, token, bare[:400])  # warm up both web workers
        bare_s, bare_results = run_load(port, token, bare)
        bare_rate = len(bare_results) / bare_s
        cpu_of = {"web": server.pid, "worker": worker.pid}, {"postgres": "postgres"}
        floor = [("/bench/accept-floor/", verify_body("13700000000", "floor"), None)] * 6000
        cpu_before = snapshot(*cpu_of)
        floor_s, floor_results = run_load(port, token, floor)
        floor_cpu = per_request_ms(cpu_before, snapshot(*cpu_of), len(floor_results))
        assert all(status == 201 for status, _ms in floor_results), Counter(s for s, _ms in floor_results)
        floor_rate = len(floor_results) / floor_s

        # The dispatch worker's processes connect and load on their first drain: not part of any figure.
        warm = [("/api/calls/", verify_body(f"1360{n:07d}", f"warm-{n}"), f"warm-{n}") for n in range(20)]
        run_load(port, token, warm)
        deadline = time.monotonic() + 30
        while len(fake.arrivals) < len(warm) and time.monotonic() < deadline:
            time.sleep(0.1)

        # 2. POST → vendor at a steady 50/s, every request twice
        posted, paced_statuses = paced(port, token, PACED_SECONDS)
        deadline = time.monotonic() + 60
        while len(fake.arrivals) < len(posted) + len(warm) and time.monotonic() < deadline:
            time.sleep(0.2)
        custom_of = dict(
            SingleCall.objects.filter(out_id__in=list(posted)).values_list("out_id", "attempts__custom_id")
        )
        to_vendor = [
            (fake.arrivals[custom_of[out_id]] - posted_at) * 1000
            for out_id, posted_at in posted.items()
            if custom_of.get(out_id) in fake.arrivals
        ]

        # 3. acceptance as fast as the server takes it (each call a new number and its own key)
        calls = [("/api/calls/", verify_body(f"1390{n:07d}", f"load-{n}"), f"load-{n}") for n in range(ACCEPT_CALLS)]
        cpu_before = snapshot(*cpu_of)
        accept_s, accept_results = run_load(port, token, calls)
        accepted = sum(1 for status, _ms in accept_results if status == 201)
        accept_cpu = per_request_ms(cpu_before, snapshot(*cpu_of), accepted)
        accept_ms = [ms for _status, ms in accept_results]

        expected = SingleCall.objects.count()
        deadline = time.monotonic() + 300
        while len(fake.submitted) < expected and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # anything sent twice would arrive by now
    finally:
        for process in (server, worker):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (server, worker):
            process.wait(timeout=60)
        fake.stop()

    dialled = Counter(item["mobile"] for item in fake.submitted)
    dialled_twice = sum(1 for n in dialled.values() if n > 1)
    created = SingleCall.objects.count()
    not_dialled = created - len(dialled)
    states = Counter(CallRecord.objects.values_list("state", flat=True))
    load_after = os.getloadavg()

    print(f"load average:     before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores, shared)")
    print(f"load generator:   {CLIENTS} Python client processes (keep-alive); paced: 16 threads")
    print(f"bare view:        {bare_rate:,.0f} req/s")
    print(f"accept floor:     {floor_rate:,.0f} req/s (DRF, key, scope, validation; no writes)")
    print(
        f"accepted:         {accepted:,}/{ACCEPT_CALLS:,} calls in {accept_s:.1f} s = {accepted / accept_s:,.0f}/s "
        f"({accepted / accept_s / bare_rate:.3f}x the bare view, {accepted / accept_s / floor_rate:.2f}x the floor), "
        f"p50 {pct(accept_ms, 50):.1f} ms, p99 {pct(accept_ms, 99):.1f} ms"
    )
    print(
        f"POST -> vendor:   at {PACED_RATE}/s for {PACED_SECONDS} s, each request twice ({dict(paced_statuses)}): "
        f"p50 {pct(to_vendor, 50):.1f} ms, p99 {pct(to_vendor, 99):.1f} ms, {len(to_vendor)}/{len(posted)} arrived"
    )
    print(f"calls created:    {created:,}; dialled {len(dialled):,}; twice {dialled_twice}; states {dict(states)}")
    ceiling = None
    if accept_cpu and floor_cpu:
        cores = os.cpu_count() or 1
        ceiling = round(cores * 1000 / sum(accept_cpu.values()))
        print(f"CPU per floor request (ms):   {floor_cpu}")
        print(f"CPU per accepted call (ms):   {accept_cpu} (while the worker sends them)")
        total = sum(accept_cpu.values())
        print(f"CPU ceiling:      {cores} cores / {total:.1f} ms a call = {ceiling}/s accepted at most, any load")
    print(
        json.dumps(
            {
                "accepted_per_s": round(accepted / accept_s),
                "accept_p50_ms": round(pct(accept_ms, 50), 2),
                "accept_p99_ms": round(pct(accept_ms, 99), 2),
                "post_to_vendor_p50_ms": round(pct(to_vendor, 50), 2),
                "post_to_vendor_p99_ms": round(pct(to_vendor, 99), 2),
                "paced_calls_per_s": PACED_RATE,
                "bare_view_per_s": round(bare_rate),
                "accepted_to_bare": round(accepted / accept_s / bare_rate, 3),
                "accept_floor_per_s": round(floor_rate),
                "accepted_to_floor": round(accepted / accept_s / floor_rate, 3),
                "cpu_ms_per_accepted_call": accept_cpu,
                "cpu_ms_per_floor_request": floor_cpu,
                "cpu_ceiling_accepted_per_s": ceiling,
                "dialled_twice": dialled_twice,
                "not_dialled": not_dialled,
                "load_before": round(load_before[0], 2),
                "load_after": round(load_after[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
