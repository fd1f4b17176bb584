"""Recipient import throughput on PostgreSQL: 1,000,000 rows, 5% invalid, 5% duplicates.

Prints rows/s end to end (file → validated recipients committed), peak RSS, and the ratio to a
plain COPY of the same file into a bare table in the same run. Last line: one JSON object.
Usage: python bench/import_recipients.py [rows]
"""

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from _django import peak_rss_mb, setup

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(5)
    prefixes = ["138", "139", "150", "151", "186", "187", "135", "158", "177", "199"]
    emitted = []
    with open(path, "w", encoding="gb18030", newline="") as fh:
        fh.write("手机号,name,order\n")
        for i in range(rows):
            roll = rng.random()
            if roll < 0.05:
                number = f"12{rng.randrange(10**9):09d}"  # invalid
            elif roll < 0.10 and emitted:
                number = rng.choice(emitted)  # duplicate
            else:
                number = f"{rng.choice(prefixes)}{i:08d}"
                if len(emitted) < 100_000:
                    emitted.append(number)
            fh.write(f"{number},王{i % 97},SO{i}\n")


def bare_copy_seconds(path: Path) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS bench_bare; CREATE UNLOGGED TABLE bench_bare (mobile text, name text, code text)"
        )
        started = time.perf_counter()
        with (
            open(path, "rb") as fh,
            cursor.cursor.copy("COPY bench_bare FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'GB18030')") as copy,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_bare")
    return elapsed


def main() -> None:
    setup()
    from django.core.files import File

    from campaigns import services
    from campaigns.models import Campaign, RecipientImport, VoiceTemplate
    from vendors.models import VendorAccount

    account, _ = VendorAccount.objects.get_or_create(name="bench-sim", defaults={"vendor": "simulator"})
    template, _ = VoiceTemplate.objects.get_or_create(
        account=account, name="bench", defaults={"content": "【name】您好，订单【order】", "review_state": "approved"}
    )
    Campaign.objects.filter(name="bench-import").delete()
    campaign = Campaign.objects.create(name="bench-import", account=account, template=template)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recipients.csv"
        write_csv(path, ROWS)
        size_mb = path.stat().st_size / 1e6
        copy_s = bare_copy_seconds(path)
        with open(path, "rb") as fh:
            job = RecipientImport.objects.create(
                campaign=campaign,
                file=File(fh, name="bench.csv"),
                original_name="bench.csv",
                size_bytes=path.stat().st_size,
            )
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        job = services.run_file_import(job.pk)
        elapsed = time.perf_counter() - started
        peak = peak_rss_mb()
        job.file.delete(save=False)
    assert job.state == "done", job.error
    rows_per_s = ROWS / elapsed
    print(f"file: {ROWS:,} rows, {size_mb:.1f} MB (GB18030)")
    print(f"bare COPY into an unindexed table: {copy_s:.2f} s")
    print(f"VoiceOps import: {elapsed:.2f} s = {rows_per_s:,.0f} rows/s ({elapsed / copy_s:.1f}x the bare COPY)")
    print(f"accepted {job.accepted:,}, invalid {job.invalid:,}, duplicates {job.duplicates:,}, blocked {job.blocked:,}")
    print(f"peak RSS {peak:.0f} MB (before import {rss_before:.0f} MB)")
    from django.db import connection

    with connection.cursor() as cursor:  # bulk clean-up without loading rows
        cursor.execute("DELETE FROM campaigns_recipient WHERE campaign_id = %s", [campaign.pk])
    Campaign.objects.filter(pk=campaign.pk).delete()
    print(
        json.dumps(
            {
                "rows_per_s": round(rows_per_s),
                "peak_rss_mb": round(peak),
                "ratio_to_copy": round(elapsed / copy_s, 2),
                "accepted": job.accepted,
                "invalid": job.invalid,
                "duplicates": job.duplicates,
            }
        )
    )


if __name__ == "__main__":
    main()
