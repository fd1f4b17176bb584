"""Latency of GET /api/campaigns/{id}/stats/ on a campaign of 1,000,000 call records (PostgreSQL).

Records are generated in SQL (a realistic mix of states, outcomes and talk times over 24 hours);
the endpoint is called through Django's test client as a logged-in operator. For scale, the same
run times a plain GROUP BY over the records (what the counters avoid). Last line: one JSON object.
Usage: python bench/stats.py [records] [requests]
"""

import json
import statistics
import sys
import time

from _django import setup

RECORDS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 200


def populate(campaign_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_recipient (campaign_id, mobile, variables, line)"
            " SELECT %s, '+86138' || lpad(g::text, 8, '0'), '[]'::jsonb, g FROM generate_series(1, %s) g",
            [campaign_id, RECORDS],
        )
        cursor.execute(
            """
            INSERT INTO campaigns_callrecord (campaign_id, recipient_id, attempt, mobile, custom_id, vendor_message_id,
                batch_id, state, outcome, raw_code, raw_message, key_pressed, is_test, created_at, submitted_at,
                reported_at, talk_seconds, billed_units)
            SELECT r.campaign_id, r.id, 1, r.mobile, 'R' || r.id || 'A1', 'v' || r.id, '',
                   s.state, s.outcome, '', '', '', false, now(),
                   now() - interval '1 day' + (r.id %% 86400) * interval '1 second',
                   CASE WHEN s.state IN ('answered', 'failed')
                        THEN now() - interval '1 day' + (r.id %% 86400 + 30) * interval '1 second' END,
                   CASE WHEN s.state = 'answered' THEN 5 + r.id %% 80 END,
                   CASE WHEN s.state = 'answered' THEN 1 + r.id %% 3 END
            FROM campaigns_recipient r
            CROSS JOIN LATERAL (SELECT CASE
                WHEN r.id %% 10 < 6 THEN 'answered' WHEN r.id %% 10 < 9 THEN 'failed' ELSE 'submitted' END AS state,
                CASE WHEN r.id %% 10 < 6 THEN 'answered' WHEN r.id %% 10 < 8 THEN 'no_answer'
                     WHEN r.id %% 10 < 9 THEN 'busy' ELSE '' END
                AS outcome) s
            WHERE r.campaign_id = %s
            """,
            [campaign_id],
        )
        cursor.execute("UPDATE campaigns_campaign SET recipient_count = %s WHERE id = %s", [RECORDS, campaign_id])
        cursor.execute("ANALYZE campaigns_callrecord; ANALYZE campaigns_callcounter")


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1] if len(samples) > 1 else samples[0]


def main() -> None:
    setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from campaigns.models import Campaign
    from vendors.models import VendorAccount

    account = VendorAccount.objects.create(vendor="simulator", name="bench-stats", price_per_unit="0.05")
    campaign = Campaign.objects.create(name="bench-stats", account=account, content="您好", state="running")
    started = time.perf_counter()
    populate(campaign.pk)
    print(f"generated {RECORDS:,} call records in {time.perf_counter() - started:.1f} s")

    user = User.objects.create_superuser("bench", password="bench-password-123")
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    url = f"/api/campaigns/{campaign.pk}/stats/"
    first = client.get(url, secure=True)
    assert first.status_code == 200, first.content[:500]
    body = first.json()
    assert body["total"] == RECORDS, body
    api = timed(lambda: client.get(url, secure=True), REQUESTS)

    def group_by():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT state, outcome, count(*) FROM campaigns_callrecord WHERE campaign_id = %s GROUP BY 1, 2",
                [campaign.pk],
            )
            cursor.fetchall()

    baseline = timed(group_by, 10)
    print(f"stats endpoint: p50 {p(api, 50):.1f} ms, p99 {p(api, 99):.1f} ms over {REQUESTS} requests")
    print(
        f"plain GROUP BY over the records (baseline): p50 {statistics.median(baseline):.1f} ms "
        f"(endpoint is {statistics.median(baseline) / p(api, 50):.1f}x faster)"
    )
    print(json.dumps({"records": RECORDS, "p50_ms": round(p(api, 50), 2), "p99_ms": round(p(api, 99), 2)}))


if __name__ == "__main__":
    main()
