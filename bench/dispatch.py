"""Dispatch throughput through a real Celery worker (Redis broker) to fake vendors on loopback.

Two runs: Emay-style batched submits (500 numbers a request) and ihuyi-style single submits (one
number a request). Prints calls/s and per-call overhead for each, and checks every call was
submitted exactly once (the fakes record what they accepted). Last line: one JSON object.
Usage: python bench/dispatch.py [batched_calls] [single_calls]
"""

import json
import os
import subprocess
import sys
import time
from collections import Counter

from _django import BENCH_DB, ROOT, setup

BATCHED = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
SINGLE = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13")


def start_worker() -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DB,
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_ALWAYS_EAGER": "False",
        "DJANGO_SETTINGS_MODULE": "voiceops.settings",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "voiceops",
            "worker",
            "-Q",
            "dispatch",
            "-c",
            "1",
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def make_campaign(name, account, calls, content):
    from campaigns import services
    from campaigns.imports import import_records
    from campaigns.models import Campaign
    from voiceops.bounds import MAX_CALLS_PER_SECOND

    campaign = Campaign.objects.create(
        name=name,
        account=account,
        content=content,
        rate_limit_per_second=MAX_CALLS_PER_SECOND,
        quiet_hours_start="00:00",
        quiet_hours_end="00:00",
        report_window_minutes=600,
    )
    import_records(campaign, ({"mobile": f"138{i:08d}", "variables": []} for i in range(calls)))
    services.launch(campaign)
    return campaign


def run(campaign, fake, calls) -> dict:
    from campaigns.models import CallRecord
    from campaigns.tasks import run_campaign

    started = time.perf_counter()
    pending = calls
    while pending and time.perf_counter() - started < 1800:
        run_campaign.apply_async(args=[campaign.pk], queue="dispatch")
        time.sleep(1.0)
        pending = CallRecord.objects.filter(campaign=campaign, state__in=["queued", "submitting"]).count()
    elapsed = time.perf_counter() - started
    accepted_ids = Counter(entry.get("custom_id") or entry.get("vendor_message_id") for entry in fake.submitted)
    submitted = CallRecord.objects.filter(campaign=campaign, state="submitted").count()
    return {
        "calls": calls,
        "seconds": elapsed,
        "calls_per_s": calls / elapsed,
        "overhead_ms": elapsed * 1000 / calls,
        "submitted_twice": sum(1 for n in accepted_ids.values() if n > 1) + max(0, len(fake.submitted) - calls),
        "lost": calls - submitted,
    }


def main() -> None:
    setup(eager=False)
    from voiceops.bounds import MAX_CALLS_PER_SECOND
    from voiceops.celery import app

    app.conf.update(broker_url=BROKER, task_always_eager=False)
    sys.path.insert(0, str(ROOT))
    from tests.fakes.emay import FakeEmay
    from tests.fakes.ihuyi import FakeIhuyi
    from vendors.models import VendorAccount

    emay, ihuyi = FakeEmay(auto_report=False).start(), FakeIhuyi().start()
    ihuyi.enforce_number_limits = False
    emay_account = VendorAccount.objects.create(
        vendor="emay",
        name="bench-dispatch-emay",
        base_url=emay.url,
        api_id=emay.app_id,
        api_secret=emay.secret_key,
        rate_limit_per_second=MAX_CALLS_PER_SECOND,
    )
    ihuyi_account = VendorAccount.objects.create(
        vendor="ihuyi",
        name="bench-dispatch-ihuyi",
        base_url=ihuyi.url,
        api_id=ihuyi.account,
        api_secret=ihuyi.apikey,
        rate_limit_per_second=MAX_CALLS_PER_SECOND,
    )
    worker = start_worker()
    try:
        time.sleep(3)  # worker start-up is not part of the figure
        batched = run(
            make_campaign("bench-batched", emay_account, BATCHED, "您的快递已到，请及时领取。"), emay, BATCHED
        )
        single = run(make_campaign("bench-single", ihuyi_account, SINGLE, "您的快递已到，请及时领取。"), ihuyi, SINGLE)
    finally:
        os.killpg(worker.pid, 15)
        emay.stop()
        ihuyi.stop()
    for label, r in (("batched (Emay, 500/request)", batched), ("single (ihuyi, 1/request)", single)):
        print(
            f"{label}: {r['calls']:,} calls in {r['seconds']:.1f} s = {r['calls_per_s']:,.0f} calls/s, "
            f"{r['overhead_ms']:.2f} ms/call, submitted twice {r['submitted_twice']}, lost {r['lost']}"
        )
    print(
        json.dumps(
            {
                "batched_calls_per_s": round(batched["calls_per_s"]),
                "single_calls_per_s": round(single["calls_per_s"]),
                "submitted_twice": batched["submitted_twice"] + single["submitted_twice"],
                "lost": batched["lost"] + single["lost"],
            }
        )
    )


if __name__ == "__main__":
    main()
