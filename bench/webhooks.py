"""Webhook delivery throughput to a loopback receiver that fails 20 % of requests.

N call events are made the way receipts make them (one bulk UPDATE of N calls to answered: the
trigger writes N events and N deliveries in that statement). Sender processes then run the
beat task's loop (``webhooks.delivery.deliver_due``: claim, sign, post, record) until every
delivery is delivered; failures are retried on a 1-second schedule. The receiver (its own
process, HTTP/1.1 keep-alive) answers 500 to a random 20 % and counts each event id it accepted.

Baseline in the same run: the same bodies posted by the same thread pool with a bare
``requests`` session and no database (the ceiling of the HTTP path alone).
Prints figures; the last line is one JSON object.
Usage: python bench/webhooks.py [events] [sender_processes]
"""

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ARGS = [] if sys.argv[1:2] in (["--receiver"], ["--sender"]) else sys.argv[1:]
EVENTS = int(ARGS[0]) if ARGS else 20_000
SENDERS = int(ARGS[1]) if len(ARGS) > 1 else 2
FAIL_RATE = 0.2


def _import_the_app_not_this_script() -> None:
    """Celery puts the working directory first on sys.path; run from bench/, ``import webhooks``
    would then find this script. The app package is imported first, from the project root."""
    import importlib

    from _django import ROOT

    sys.path.insert(0, str(ROOT))
    assert importlib.import_module("webhooks").__file__.endswith("__init__.py")


# ---- the receiver (own process)
def receiver_main(port: int) -> None:
    accepted: dict[str, int] = {}
    counts = {"requests": 0, "failed": 0}
    rng = random.Random(7)

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while True:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buffer[:head_end].decode("latin-1")
                lines = head.split("\r\n")
                headers = {k.lower(): v.strip() for k, _s, v in (line.partition(":") for line in lines[1:])}
                length = int(headers.get("content-length", 0))
                if len(self.buffer) < head_end + 4 + length:
                    return
                self.buffer = self.buffer[head_end + 4 + length :]
                self.answer(lines[0], headers)

        def answer(self, request_line, headers):
            if request_line.startswith("GET /stats"):
                full = request_line.startswith("GET /stats/full")
                body = json.dumps({**counts, "accepted": accepted} if full else counts).encode()
                status = "200 OK"
            else:
                counts["requests"] += 1
                if rng.random() < FAIL_RATE:
                    counts["failed"] += 1
                    status, body = "500 Internal Server Error", b"try later"
                else:
                    event_id = headers.get("webhook-id", "")
                    accepted[event_id] = accepted.get(event_id, 0) + 1
                    status, body = "204 No Content", b""
            self.transport.write(
                f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n".encode() + body
            )

    async def serve():
        server = await asyncio.get_running_loop().create_server(Protocol, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


# ---- the benchmark
def stats(port: int, full: bool = False) -> dict:
    """The receiver's counts (and with ``full``, how often it accepted each event id)."""
    import requests

    return requests.get(f"http://127.0.0.1:{port}/stats{'/full' if full else ''}", timeout=30).json()


def make_events(n: int, url: str) -> str:
    """N answered calls through one bulk UPDATE (as a push of receipts applies them)."""
    from django.db import connection
    from django.utils import timezone

    from campaigns import services as campaign_services
    from campaigns.imports import import_records
    from campaigns.models import CallRecord, Campaign
    from vendors.models import VendorAccount
    from voiceops.bounds import MAX_CALLS_PER_SECOND
    from webhooks import services
    from webhooks.models import Delivery

    account = VendorAccount.objects.create(vendor="simulator", name="bench", rate_limit_per_second=MAX_CALLS_PER_SECOND)
    campaign = Campaign.objects.create(
        name="bench", account=account, content="您好", quiet_hours_start="00:00", quiet_hours_end="00:00"
    )
    import_records(campaign, ({"mobile": f"138{i:08d}", "variables": []} for i in range(n)))
    campaign_services.launch(campaign)
    CallRecord.objects.filter(campaign=campaign).update(state="submitted", submitted_at=timezone.now())
    _endpoint, secret = services.create_endpoint(name="bench", url=url, event_types=["call.answered"])
    started = time.perf_counter()
    CallRecord.objects.filter(campaign=campaign).update(state="answered", outcome="answered", talk_seconds=10)
    made = time.perf_counter() - started
    connection.close()
    assert Delivery.objects.count() == n, Delivery.objects.count()
    print(f"{n} events and deliveries written by the trigger in one UPDATE: {made:.2f} s")
    return secret


def sender_main() -> None:
    """One sender process: the beat task's loop until nothing is pending."""
    sys.path.insert(0, os.path.dirname(__file__))
    from _django import setup_existing

    _import_the_app_not_this_script()
    setup_existing()
    from webhooks import delivery
    from webhooks.models import Delivery

    while Delivery.objects.filter(state="pending").exists():
        if not delivery.deliver_due(budget_seconds=30):
            time.sleep(0.2)


def bare_baseline(url: str, bodies: list[str], threads: int) -> float:
    """Posts/s of the same bodies with a bare requests session per thread, no database, no signing."""
    import threading

    import requests

    local = threading.local()

    def post(body):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        local.session.post(url, data=body.encode(), headers={"Content-Type": "application/json", "webhook-id": "bare"})

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, bodies))
    return len(bodies) / (time.perf_counter() - started)


def main() -> None:
    from _django import peak_rss_mb, setup

    _import_the_app_not_this_script()
    os.environ["WEBHOOK_ALLOW_LOOPBACK"] = "True"
    os.environ["WEBHOOK_RETRY_SCHEDULE"] = ",".join(["1"] * 15)
    port = 18000 + os.getpid() % 1000
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    try:
        setup()
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/hooks"
        make_events(EVENTS, url)
        from webhooks import delivery
        from webhooks.models import Delivery, DeliveryAttempt, Event

        bodies = [json.dumps({"type": "call.answered", "data": {"id": i, "state": "answered"}}) for i in range(5000)]
        bare = bare_baseline(url, bodies, delivery.SEND_THREADS)
        print(f"baseline: bare requests posts to the same receiver: {bare:.0f}/s")
        before = stats(port)

        started = time.perf_counter()
        senders = [subprocess.Popen([sys.executable, __file__, "--sender"], env={**os.environ}) for _ in range(SENDERS)]
        first_pass = None  # when every event had its first try
        while any(proc.poll() is None for proc in senders):
            time.sleep(0.2)
            if first_pass is None and stats(port)["requests"] - before["requests"] >= EVENTS:
                first_pass = time.perf_counter() - started
        elapsed = time.perf_counter() - started
        first_pass = first_pass or elapsed

        after = stats(port, full=True)
        accepted = {k: v for k, v in after["accepted"].items() if k != "bare"}
        ids = {e.webhook_id for e in Event.objects.only("uid")}
        lost = len(ids - set(accepted))
        duplicates = sum(v - 1 for v in accepted.values() if v > 1)
        requests_made = after["requests"] - before["requests"]
        refused = after["failed"] - before["failed"]
        attempts = DeliveryAttempt.objects.count()
        delivered = Delivery.objects.filter(state="delivered").count()
        rate = delivered / elapsed
        print(
            f"{delivered} of {EVENTS} delivered by {SENDERS} sender process(es) in {elapsed:.1f} s: "
            f"{rate:.0f} deliveries/s ({requests_made / elapsed:.0f} requests/s, {refused} answered 500 "
            f"= {refused / max(requests_made, 1):.0%}, {attempts} tries recorded)"
        )
        print(
            f"first tries of all {EVENTS} events in {first_pass:.1f} s ({EVENTS / first_pass:.0f}/s); the rest of the"
            f" run is the retries (1 s apart here) of the 20 % refused"
        )
        print(f"lost after retries: {lost}; delivered twice (at least once): {duplicates}")
        print(f"deliveries/s against the bare baseline: {rate / bare:.2f}x; peak RSS {peak_rss_mb():.0f} MB")
        print(
            json.dumps(
                {
                    "events": EVENTS,
                    "deliveries_per_s": round(rate, 1),
                    "requests_per_s": round(requests_made / elapsed, 1),
                    "first_tries_per_s": round(EVENTS / first_pass, 1),
                    "receiver_failure_rate": round(refused / max(requests_made, 1), 3),
                    "lost": lost,
                    "duplicates": duplicates,
                    "sender_processes": SENDERS,
                    "baseline_bare_posts_per_s": round(bare, 1),
                    "ratio_to_baseline": round(rate / bare, 2),
                }
            )
        )
    finally:
        receiver.terminate()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--receiver"]:
        receiver_main(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--sender"]:
        sender_main()
    else:
        main()
