"""Fault drill: one campaign through real Celery workers while faults are injected; nothing lost, nothing twice.

A campaign of N calls (default 50,000; at most 2 attempts: every tenth number does not answer and
gets a second attempt) runs on an Emay fake (500 numbers a request, receipts pushed *and* pulled)
with an ihuyi fake as fallback account (one number a request, receipts pushed). Two Celery worker
processes (dispatch; reports) run on a private Redis; gunicorn (2 workers) takes the pushes; this
script plays the beat (a tick every second, a pull every second) and the vendors' push clients
(3 processes posting every receipt twice: once when the call is accepted, once more later inside
other batches and in another order, while the pull hands out the same receipts).

Faults injected, in this order as the campaign progresses: a burst of HTTP 500s; an HTML error
page and a dropped connection; a read timeout; answers slower than the read timeout for batches
the vendor did take; a SIGKILL of the dispatch worker mid-batch; a restart of the broker (Redis
shut down without saving, started again); HTTP 500s until the account's circuit opens and the
fallback account takes over. Dead workers are restarted, as a process manager would.

Then it checks, against what the fakes accepted and the receipts they sent:
- ``submitted_twice``: calls a vendor accepted more often than there are call records for them;
- ``lost``: expected attempts missing, calls not final at the end, calls a vendor accepted whose
  record does not hold their receipt, records that disagree with their receipt;
- ``applied_twice``: receipts applied more than once (a row trigger records every write that
  leaves a row answered or failed), plus statistics (trigger-kept counters) differing from the
  records; ``flagged_for_operator``: calls no vendor has, left by timeouts, garbage and the kill,
  which reconciliation marked for an operator instead of dialling them again.
Last line: one JSON object.
Usage: python bench/drill.py [calls]     (``--shared-redis`` uses and restarts 127.0.0.1:6379 db 13)
"""

import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from datetime import timedelta

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voiceops_drill")
os.environ.setdefault("VENDOR_READ_TIMEOUT", "1")
os.environ.setdefault("VENDOR_CONNECT_TIMEOUT", "1")

from _django import BENCH_DB, ROOT, setup  # noqa: E402

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
CALLS = int(ARGS[0]) if ARGS else 50_000
SHARED_REDIS = "--shared-redis" in sys.argv
EMAY_RATE = max(50, CALLS // 100)  # calls/s: about 100 s of dialling whatever N, so faults land mid-campaign
IHUYI_RATE = 100
CLIENT_PROCESSES = 3
DEADLINE_S = 45 * 60
TEXT = "您的快递已到，请及时领取。"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def no_answer(mobile: str) -> bool:
    """Every tenth number never answers (so it gets a second attempt, which fails too)."""
    return int(mobile[-8:]) % 10 == 0


# ---- the broker
class Redis:
    def __init__(self):
        self.private = not SHARED_REDIS
        self.port = free_port() if self.private else 6379
        self.dir = tempfile.mkdtemp(prefix="drill-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/13"

    def up(self) -> bool:
        result = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, timeout=5)
        return result.stdout.strip() == "PONG"

    def start(self) -> "Redis":
        if not self.up():
            subprocess.run(
                [
                    "redis-server",
                    "--daemonize",
                    "yes",
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self.dir,
                ],
                capture_output=True,
                timeout=10,
                check=True,
            )
            for _ in range(100):
                if self.up():
                    break
                time.sleep(0.1)
        return self

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10)
        for _ in range(100):
            if not self.up():
                return
            time.sleep(0.1)

    def close(self) -> None:
        if self.private:
            self.stop()
        else:
            self.start()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- processes
class Processes:
    def __init__(self, broker_url: str):
        self.broker_url = broker_url
        self.env = {
            **os.environ,
            "DATABASE_URL": BENCH_DB,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "False",
            "DJANGO_SETTINGS_MODULE": "voiceops.settings",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        self.workers: dict[str, subprocess.Popen] = {}
        self.restarts = 0
        self.gunicorn = None

    def start_worker(self, name: str) -> None:
        queues = {"dispatch": "dispatch", "reports": "reports,default,imports"}[name]
        logfile = open(ROOT / "var" / f"drill-worker-{name}.log", "ab")
        self.workers[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "voiceops",
                "worker",
                "-Q",
                queues,
                "-c",
                "2" if name == "dispatch" else "1",
                "-n",
                f"drill-{name}@%h",
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_worker(self, name: str, sig=signal.SIGKILL) -> None:
        process = self.workers[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)
            process.wait(timeout=60)

    def supervise(self) -> list[str]:
        """Restart every worker that exited (what systemd's Restart=always does)."""
        restarted = []
        for name, process in list(self.workers.items()):
            if process.poll() is not None:
                self.start_worker(name)
                self.restarts += 1
                restarted.append(name)
        return restarted

    def start_gunicorn(self, port: int) -> None:
        env = {
            **self.env,
            "CONN_MAX_AGE": "60",
            "DEBUG": "False",
            "SECURE_SSL_REDIRECT": "False",
            "ALLOWED_HOSTS": "127.0.0.1",
        }
        logfile = open(ROOT / "var" / "drill-gunicorn.log", "ab")
        self.gunicorn = subprocess.Popen(
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
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def stop_all(self) -> None:
        for name in list(self.workers):
            self.kill_worker(name, signal.SIGTERM)
        if self.gunicorn and self.gunicorn.poll() is None:
            os.killpg(self.gunicorn.pid, signal.SIGTERM)
            self.gunicorn.wait(timeout=30)


# ---- the vendor's push clients
def post_batch(args) -> Counter:
    """One push client (a separate process): posts its receipts, retrying what was not answered 200."""
    port, items = args
    statuses: Counter = Counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path, body, headers in items:
        for _try in range(50):
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                statuses["connection error"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                time.sleep(0.2)
                continue
            statuses[response.status] += 1
            if response.status == 200:
                break
            time.sleep(0.2)
        else:
            statuses["gave up"] += 1
    conn.close()
    return statuses


def main() -> None:
    setup(eager=False)
    sys.path.insert(0, str(ROOT))
    from django.db import close_old_connections, connection
    from django.db.models import Count

    from campaigns import dispatch, lifecycle, selectors, services
    from campaigns.imports import import_records
    from campaigns.models import CallbackEvent, CallRecord, Campaign
    from campaigns.tasks import pull_all, tick
    from tests.drills.helpers import applied_per_call, install_apply_audit
    from tests.fakes.base import Reply
    from tests.fakes.emay import FakeEmay
    from tests.fakes.ihuyi import FakeIhuyi
    from vendors.models import VendorAccount
    from vendors.services import CIRCUIT_FAILURES
    from voiceops.bounds import MAX_CALLS_PER_SECOND
    from voiceops.celery import app

    connection.close()  # the push clients are forked now, before any thread or connection they must not share
    pool = multiprocessing.get_context("fork").Pool(CLIENT_PROCESSES)

    class DrillEmay(FakeEmay):
        """The Emay fake with faults aimed at submits only (pulls stay healthy) and a count of requests in flight."""

        def __init__(self):
            super().__init__(auto_report=True)
            self.send_faults: deque[str] = deque()
            self.send_delay = 0.0
            self.in_flight = 0

        def start(self):
            super().start()
            self._server.socket.listen(128)
            base, fake = self._server.RequestHandlerClass, self

            class Handler(base):
                def _serve(self):
                    if self.command == "POST" and self.path.startswith("/voice/send") and fake.next_fault("drop"):
                        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the request arrived
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    super()._serve()

                do_POST = _serve
                do_GET = _serve

            self._server.RequestHandlerClass = Handler
            return self

        def next_fault(self, kind: str | None = None) -> str | None:
            with self.lock:
                if self.send_faults and (kind is None or self.send_faults[0] == kind):
                    return self.send_faults.popleft()
            return None

        def handle(self, request):
            if request.path != "/voice/send":
                return super().handle(request)
            with self.lock:
                self.in_flight += 1
            try:
                if self.send_delay:
                    time.sleep(self.send_delay)
                fault = self.next_fault()
                if fault == "500":
                    return Reply("Internal Server Error", 500)
                if fault == "garbage":
                    return Reply("<html><body><h1>502 Bad Gateway</h1></body></html>", 200, "text/html")
                if fault == "timeout":  # never processed, answered after the client gave up
                    time.sleep(self.timeout_sleep)
                    return Reply("late", 200)
                if fault == "slow_accept":  # processed, answered after the client gave up
                    time.sleep(1.5)
                return super().handle(request)
            finally:
                with self.lock:
                    self.in_flight -= 1

    broker = Redis().start()
    processes = Processes(broker.url)
    emay, ihuyi = DrillEmay().start(), FakeIhuyi().start()
    ihuyi._server.socket.listen(128)
    ihuyi.enforce_number_limits = False
    try:
        # ---- the campaign
        install_apply_audit()
        emay_account = VendorAccount.objects.create(
            vendor="emay",
            name="drill-emay",
            base_url=emay.url,
            api_id=emay.app_id,
            api_secret=emay.secret_key,
            rate_limit_per_second=EMAY_RATE,
            pull_reports=True,
        )
        ihuyi_account = VendorAccount.objects.create(
            vendor="ihuyi",
            name="drill-ihuyi",
            base_url=ihuyi.url,
            api_id=ihuyi.account,
            api_secret=ihuyi.apikey,
            rate_limit_per_second=IHUYI_RATE,
        )
        campaign = Campaign.objects.create(
            name="drill",
            account=emay_account,
            fallback_account=ihuyi_account,
            content=TEXT,
            rate_limit_per_second=MAX_CALLS_PER_SECOND,
            quiet_hours_start="00:00",
            quiet_hours_end="00:00",
            max_attempts=2,
            retry_delay_minutes=0,
            report_window_minutes=600,
        )
        mobiles = [f"139{i:08d}" for i in range(CALLS)]
        for mobile in mobiles:
            if no_answer(mobile):
                emay.states[mobile] = "FAIL_CALL"
        started = time.perf_counter()
        result = import_records(campaign, ({"mobile": m} for m in mobiles))
        assert result.accepted == CALLS, result.as_dict()
        services.launch(campaign)
        log(
            f"{CALLS:,} recipients imported and queued in {time.perf_counter() - started:.1f} s; Emay {EMAY_RATE}/s, "
            f"fallback ihuyi {IHUYI_RATE}/s"
        )

        # ---- processes
        port = free_port()
        processes.start_gunicorn(port)
        processes.start_worker("dispatch")
        processes.start_worker("reports")
        app.conf.update(broker_url=broker.url, task_always_eager=False)

        emay_path = f"/api/callbacks/emay/{emay_account.callback_token}/"
        ihuyi_path = f"/api/callbacks/ihuyi/{ihuyi_account.callback_token}/"
        rng = random.Random(20)
        seen = {"emay": 0, "ihuyi": 0}
        replay: dict[str, list] = {"emay": [], "ihuyi": []}
        pending, statuses = [], Counter()
        posted = {"first": 0, "replayed": 0}

        def push_round(final: bool = False) -> None:
            """Receipts for calls accepted since the last round, and once more the previous round's."""
            posts = []
            new_emay = emay.submitted[seen["emay"] :]
            seen["emay"] += len(new_emay)
            items = [emay.report_for(entry, emay.states.get(entry["wire_mobile"])) for entry in new_emay]
            new_ihuyi = ihuyi.submitted[seen["ihuyi"] :]
            seen["ihuyi"] += len(new_ihuyi)
            singles = []
            for entry in new_ihuyi:
                body, headers, _q = ihuyi.push_body(
                    entry["vendor_message_id"], "-6" if no_answer(entry["mobile"]) else "2"
                )
                singles.append((ihuyi_path, body, headers))
            for start in range(0, len(items), 200):
                body, headers, _q = emay.push_body(items[start : start + 200])
                posts.append((emay_path, body, headers))
            posts += singles
            posted["first"] += len(items) + len(singles)
            # the previous round again: other batches, other order, mixed with the new ones
            old_items, old_singles = replay["emay"], replay["ihuyi"]
            rng.shuffle(old_items)
            size = rng.choice([50, 150, 300])
            for start in range(0, len(old_items), size):
                body, headers, _q = emay.push_body(old_items[start : start + size])
                posts.append((emay_path, body, headers))
            posts += old_singles
            posted["replayed"] += len(old_items) + len(old_singles)
            replay["emay"], replay["ihuyi"] = ([], []) if final else (items, singles)
            if posts:
                rng.shuffle(posts)
                pending.append(
                    pool.map_async(post_batch, [(port, posts[i::CLIENT_PROCESSES]) for i in range(CLIENT_PROCESSES)])
                )

        def collect(block: bool = False) -> None:
            for job in list(pending):
                if block or job.ready():
                    for part in job.get():
                        statuses.update(part)
                    pending.remove(job)

        publish_failures = Counter()

        def publish(task, queue: str) -> None:
            try:
                task.apply_async(queue=queue, retry=False)
            except Exception:  # the broker is down: the beat's tick is lost, the next one comes
                publish_failures[task.name] += 1

        def accepted_first_attempts() -> int:
            """Numbers some vendor has dialled at least once."""
            return len({e["wire_mobile"] for e in emay.submitted} | {e["mobile"] for e in ihuyi.submitted})

        # ---- faults, each fired once the campaign has progressed far enough
        faults: list[tuple[str, str]] = []

        def fault(kind: str, detail: str) -> None:
            faults.append((kind, detail))
            log(f"FAULT {kind}: {detail}")

        def http_500_burst():
            emay.send_faults.extend(["500"] * 3)
            fault("5xx burst", "3 submits answered HTTP 500 (calls requeued with backoff, one-call probes)")

        def garbage_and_drop():
            emay.send_faults.extend(["garbage", "drop"])
            fault("garbage", "a submit answered with an HTML error page")
            fault("dropped connection", "a submit's connection closed without an answer")

        def read_timeout():
            emay.send_faults.append("timeout")
            fault("timeout", "a submit answered after the read timeout, not processed")

        def slow_accept():
            emay.send_faults.extend(["slow_accept"] * 2)
            fault("timeout", "2 submits processed but answered after the read timeout (to reconcile by receipt)")

        def kill_worker():
            emay.send_delay = 0.6
            deadline = time.monotonic() + 30
            while emay.in_flight == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.1)
            in_flight = emay.in_flight
            processes.kill_worker("dispatch")
            emay.send_delay = 0
            processes.start_worker("dispatch")
            fault(
                "worker SIGKILL",
                f"dispatch worker killed with {in_flight} submit(s) in flight; the campaign's lease "
                f"lets a new dispatcher in after {dispatch.LEASE.total_seconds():.0f} s",
            )

        def restart_broker():
            broker.stop()
            down, lost_before = time.perf_counter(), sum(publish_failures.values())
            while time.perf_counter() - down < 3:  # the beat keeps ticking into a broker that is not there
                publish(tick, "dispatch")
                time.sleep(0.5)
            broker.start()
            fault(
                "broker restart",
                f"Redis shut down without saving (queued tasks gone), started again "
                f"{time.perf_counter() - down:.0f} s later; {sum(publish_failures.values()) - lost_before} "
                "tick(s) could not be published meanwhile",
            )

        def open_circuit():
            emay.send_faults.extend(["500"] * CIRCUIT_FAILURES)
            fault(
                "5xx burst",
                f"{CIRCUIT_FAILURES} submits in a row answered HTTP 500: the circuit opens, the fallback "
                "account takes over for 2 min",
            )

        schedule = deque(
            [
                (0.05, http_500_burst),
                (0.10, garbage_and_drop),
                (0.15, read_timeout),
                (0.20, slow_accept),
                (0.30, kill_worker),
                (0.45, restart_broker),
                (0.60, open_circuit),
            ]
        )
        last_fault = 0.0

        # ---- run: the beat, the pushes, the faults, until every call is settled
        log("dispatching")
        started = time.perf_counter()
        while time.perf_counter() - started < DEADLINE_S:
            for name in processes.supervise():
                log(f"worker '{name}' had exited and was started again")
            publish(tick, "dispatch")
            publish(pull_all, "reports")
            push_round()
            collect()
            progress = accepted_first_attempts() / CALLS
            if schedule and progress >= schedule[0][0] and time.perf_counter() - last_fault > 3:
                schedule.popleft()[1]()
                last_fault = time.perf_counter()
            close_old_connections()
            open_states = Counter(
                dict(
                    CallRecord.objects.filter(campaign=campaign, state__in=["queued", "submitted"])
                    .values_list("state")
                    .annotate(n=Count("id"))
                )
            )
            if int(time.perf_counter() - started) % 15 == 0:
                log(
                    f"{accepted_first_attempts():,}/{CALLS:,} numbers dialled; open {dict(open_states)}; "
                    f"posts {posted}; workers restarted {processes.restarts}"
                )
            if not schedule and not open_states and not pending and not emay.reports["voice"]:
                break
            time.sleep(1.0)
        push_round(final=True)
        collect(block=True)
        elapsed = time.perf_counter() - started

        # ---- settle: what is still awaiting reconciliation is flagged for an operator, never re-sent
        Campaign.objects.filter(pk=campaign.pk).update(report_window_minutes=0)
        flagged = dispatch.reconcile_stuck(older_than=timedelta(0))
        lifecycle.complete_if_done(campaign.pk)
        campaign.refresh_from_db()
    finally:
        pool.terminate()
        processes.stop_all()
        emay.stop()
        ihuyi.stop()
        broker.close()

    # ---- check everything against the vendors' side
    rows = list(
        CallRecord.objects.filter(campaign=campaign).values_list(
            "id",
            "recipient_id",
            "attempt",
            "mobile",
            "custom_id",
            "vendor_message_id",
            "account_id",
            "state",
            "outcome",
            "raw_message",
        )
    )
    recipients = dict(campaign.recipients.values_list("id", "mobile"))
    by_recipient: dict[int, dict[int, tuple]] = {}
    for row in rows:
        by_recipient.setdefault(row[1], {})[row[2]] = row
    emay_ids = Counter(e["custom_id"] for e in emay.submitted)
    ihuyi_ids = {e["vendor_message_id"] for e in ihuyi.submitted}
    dials = Counter("+86" + e["wire_mobile"] for e in emay.submitted) + Counter(
        "+86" + e["mobile"] for e in ihuyi.submitted
    )

    submitted_twice = sum(1 for n in emay_ids.values() if n > 1)
    lost = Counter()
    for rid, mobile in recipients.items():
        attempts = by_recipient.get(rid, {})
        submitted_twice += max(0, dials[mobile] - len(attempts))
        if 1 not in attempts:
            lost["recipient without a first attempt"] += 1
        for attempt, (_id, _r, _a, _m, custom_id, vmid, _acc, state, outcome, _raw) in attempts.items():
            accepted = emay_ids[custom_id] > 0 or vmid in ihuyi_ids
            if state in (*CallRecord.OPEN_STATES, "expired"):
                lost[f"left {state}"] += 1
            elif accepted and state not in ("answered", "failed"):
                lost["accepted by a vendor, receipt never applied"] += 1
            elif state in ("answered", "failed"):
                if (state, outcome) != (("failed", "no_answer") if no_answer(mobile) else ("answered", "answered")):
                    lost["record disagrees with its receipt"] += 1
                if state == "failed" and attempt < campaign.max_attempts and attempt + 1 not in attempts:
                    lost["retry attempt missing"] += 1
    flagged_rows = [r for r in rows if r[7] == "submit_failed"]
    unexplained = [r for r in flagged_rows if r[8] != "timeout" or emay_ids[r[4]] or r[5] in ihuyi_ids]
    if unexplained:
        lost["flagged, but a vendor has it or for another reason"] += len(unexplained)

    applied, over_final = applied_per_call()
    finished = sum(1 for r in rows if r[7] in ("answered", "failed"))
    applied_twice = sum(1 for n in applied.values() if n > 1) + over_final
    stats = selectors.campaign_stats(campaign)
    actual_states = Counter(r[7] for r in rows)
    stats_mismatch = sum(abs(stats["by_state"].get(s, 0) - n) for s, n in actual_states.items()) + sum(
        n for s, n in stats["by_state"].items() if s not in actual_states
    )
    events = Counter(CallbackEvent.objects.values_list("source", "state"))

    print()
    print(
        f"campaign: {CALLS:,} recipients, {len(rows):,} call records (attempts), state {campaign.state}, "
        f"settled in {elapsed:.0f} s"
    )
    print(f"faults injected ({len(faults)}): " + "; ".join(f"{k}" for k, _d in faults))
    print(
        f"workers restarted after exiting: {processes.restarts}; beat publishes lost while the broker was down: "
        f"{sum(publish_failures.values())}"
    )
    print(
        f"vendors accepted {len(emay.submitted):,} calls (Emay) + {len(ihuyi.submitted):,} (ihuyi fallback); "
        f"submitted twice: {submitted_twice}"
    )
    print(f"records by state: {dict(actual_states)}")
    print(
        f"flagged for an operator (no vendor has them; not re-sent): {len(flagged_rows) - len(unexplained)} "
        f"(reconcile_stuck flagged {flagged} at the end)"
    )
    print(
        f"receipts: {posted['first']:,} posted once + {posted['replayed']:,} replays, HTTP {dict(statuses)}; "
        f"events {dict((f'{s}/{t}', n) for (s, t), n in events.items())}"
    )
    print(
        f"receipts applied: {sum(applied.values()):,} to {finished:,} finished calls; applied twice: {applied_twice}; "
        f"statistics differing from the records: {stats_mismatch}"
    )
    print(f"lost: {sum(lost.values())} {dict(lost) if lost else ''}")
    print(
        json.dumps(
            {
                "calls": CALLS,
                "lost": sum(lost.values()),
                "submitted_twice": submitted_twice,
                "applied_twice": applied_twice,
                "faults_injected": len(faults),
                "attempts": len(rows),
                "flagged_for_operator": len(flagged_rows) - len(unexplained),
                "stats_mismatch": stats_mismatch,
                "worker_restarts": processes.restarts,
                "seconds": round(elapsed),
            }
        )
    )


if __name__ == "__main__":
    main()
