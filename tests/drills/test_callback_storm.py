"""Callback storms: the same receipts replayed, out of order, concurrently from several clients.

Real calls are dispatched to strict fakes (ihuyi: one receipt per push, matched by voiceid; Emay:
batches of reports, matched by our custom id), then every receipt is posted several times, in
shuffled order and in differently composed batches, by concurrent clients over real HTTP to a live
server on PostgreSQL, while a pull of the same Emay reports runs at the same time. Afterwards:

- every call record holds what its receipt says, and the no-answer ones have exactly one retry;
- ``campaign_stats`` (trigger-kept counters) equals the records and the truth;
- a row trigger installed for the test shows each receipt applied exactly once and no write ever
  touched a row already final;
- every push was acknowledged, stored raw and applied (none failed, e.g. on a deadlock).
"""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from campaigns import dispatch, selectors, services
from campaigns.models import CallbackEvent, CallRecord
from campaigns.receipts import pulls
from tests.drills.helpers import (
    TEXT,
    applied_per_call,
    emay_account,
    ihuyi_account,
    install_apply_audit,
    remove_apply_audit,
)
from tests.factories import make_campaign
from tests.fakes.emay import FakeEmay
from tests.fakes.ihuyi import FakeIhuyi
from vendors.adapters import get_adapter

CLIENTS = 8
REPLAYS = 3
EMAY_CALLS = 1500  # enough overlap between concurrent pushes to deadlock when rows are locked in push order


@pytest.fixture
def audit(transactional_db):
    install_apply_audit()
    yield
    remove_apply_audit()


def post_all(base_url: str, requests_: list[tuple[str, bytes, dict]]) -> Counter:
    """Post every (path, body, headers) from CLIENTS threads; a vendor retries 429 and 5xx answers."""
    statuses: Counter = Counter()
    lock = threading.Lock()

    def client(share):
        with requests.Session() as session:
            for path, body, headers in share:
                for _try in range(20):
                    response = session.post(base_url + path, data=body, headers=headers, timeout=30)
                    with lock:
                        statuses[response.status_code] += 1
                    if response.status_code < 429:
                        break

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, [requests_[i::CLIENTS] for i in range(CLIENTS)]))
    return statuses


def expected_records(campaign, reports_by_call: dict) -> dict:
    """custom id → (state, outcome, talk_seconds) that the receipt for it says."""
    return {
        call.custom_id: ("answered" if report.answered else "failed", report.outcome, report.talk_seconds)
        for call in CallRecord.objects.filter(campaign=campaign, attempt=1)
        for report in [reports_by_call[call.custom_id]]
    }


def test_replayed_out_of_order_concurrent_receipts_are_applied_once(audit, live_server, start_fake):
    rng = random.Random(7)
    # ---- ihuyi: one receipt per push, matched by voiceid + mobile
    ihuyi = start_fake(FakeIhuyi())
    ihuyi_acc = ihuyi_account(ihuyi)
    single = make_campaign(recipients=150, account=ihuyi_acc, content=TEXT, max_attempts=2, retry_delay_minutes=60)
    services.launch(single)
    assert dispatch.dispatch_campaign(single.pk, budget_seconds=30).submitted == 150
    # ---- Emay: batches of reports, matched by our custom id; the same reports also wait for a pull
    emay = start_fake(FakeEmay(auto_report=True))
    emay_acc = emay_account(emay, pull_reports=True)
    batched = make_campaign(account=emay_acc, content=TEXT, max_attempts=2, retry_delay_minutes=60)
    services.add_recipients(batched, [{"mobile": f"1390013{i:04d}"} for i in range(EMAY_CALLS)])
    for i in range(EMAY_CALLS):
        emay.states[f"1390013{i:04d}"] = "FAIL_CALL" if i % 5 == 0 else "FAIL_MOBILE" if i % 11 == 0 else "SUCCESS"
    services.launch(batched)
    assert dispatch.dispatch_campaign(batched.pk, budget_seconds=30).submitted == EMAY_CALLS

    # ---- what each vendor will say, and the truth it implies (parsed by the adapters themselves)
    ihuyi_adapter, emay_adapter = get_adapter(ihuyi_acc), get_adapter(emay_acc)
    vid_to_custom = dict(CallRecord.objects.filter(campaign=single).values_list("vendor_message_id", "custom_id"))
    posts, truth = [], {}
    codes = ["2"] * 6 + ["-6", "-6", "-1", "-12"]  # answered, no answer (retried), powered off, rejected
    for entry in ihuyi.submitted:
        code = rng.choice(codes)
        body, headers, query = ihuyi.push_body(
            entry["vendor_message_id"], code, talktime=rng.randint(1, 90) if code == "2" else None
        )
        (report,) = ihuyi_adapter.read_callback(body, headers, query).reports
        truth[vid_to_custom[entry["vendor_message_id"]]] = report
        posts += [(f"/api/callbacks/ihuyi/{ihuyi_acc.callback_token}/", body, headers)] * REPLAYS
    emay_reports = [
        emay.report_for(entry, emay.states[entry["wire_mobile"]], duration=rng.randint(1, 90) + 0.5)
        for entry in emay.submitted
    ]
    emay.reports["voice"].clear()
    emay.reports["voice"].extend(emay_reports)  # the pull hands out the very receipts that are pushed
    for item in emay_reports:
        body, headers, _q = emay.push_body([item])
        (report,) = emay_adapter.read_callback(body, headers, {}).reports
        truth[item["customVoiceId"]] = report
    for _round in range(REPLAYS):  # each report in REPLAYS pushes, each time with other neighbours, in another order
        shuffled = rng.sample(emay_reports, len(emay_reports))
        size = rng.choice([100, 200, 300])
        for start in range(0, len(shuffled), size):
            body, headers, _q = emay.push_body(shuffled[start : start + size])
            posts.append((f"/api/callbacks/emay/{emay_acc.callback_token}/", body, headers))
    rng.shuffle(posts)

    # ---- the storm, with a pull of the same Emay reports running at the same time
    pulled = []

    def pull():
        from django.db import connection

        try:
            while len(pulled) < 10 and sum(pulled) < len(emay_reports):
                pulled.append(pulls.pull_account(emay_acc))
        finally:
            connection.close()

    puller = threading.Thread(target=pull)
    puller.start()
    statuses = post_all(live_server.url, posts)
    puller.join(60)
    assert sum(pulled) == len(emay_reports), "the pull should have handed out every Emay report once"
    assert statuses[200] == len(posts) and set(statuses) <= {200, 429}, statuses

    # ---- every push stored raw and applied; nothing failed (a deadlock would show here)
    events = Counter(CallbackEvent.objects.filter(source="push").values_list("state", flat=True))
    assert events == {"applied": len(posts)}, events
    assert not CallbackEvent.objects.exclude(state="applied").exists()

    # ---- each call holds its receipt; no-answer calls have exactly one queued retry
    for campaign in (single, batched):
        expected = expected_records(campaign, truth)
        actual = {
            c: (s, o, t)
            for c, s, o, t in CallRecord.objects.filter(campaign=campaign, attempt=1).values_list(
                "custom_id", "state", "outcome", "talk_seconds"
            )
        }
        assert actual == expected
        retried = {c for c, (_s, outcome, _t) in expected.items() if outcome in campaign.retryable_outcomes}
        assert retried, "the storm should include retryable outcomes"
        seconds = CallRecord.objects.filter(campaign=campaign, attempt=2)
        assert seconds.count() == len(retried) and set(seconds.values_list("state", flat=True)) == {"queued"}
        assert {f"R{rid}A1" for rid in seconds.values_list("recipient_id", flat=True)} == retried
        # ---- statistics from the trigger-kept counters equal the records and the truth
        stats = selectors.campaign_stats(campaign)
        by_state = Counter(CallRecord.objects.filter(campaign=campaign).values_list("state", flat=True))
        truth_states = Counter(state for state, _o, _t in expected.values()) + Counter(queued=len(retried))
        assert stats["by_state"] == dict(by_state) == dict(truth_states)
        assert stats["by_outcome"] == dict(Counter(outcome for _s, outcome, _t in expected.values()))
        assert stats["answered"] == truth_states["answered"]
        talk = [t for s, _o, t in expected.values() if s == "answered"]
        assert stats["avg_talk_seconds"] == round(sum(talk) / len(talk), 1)

    # ---- each receipt applied exactly once; nothing wrote over a final row
    applied, over_final = applied_per_call()
    assert over_final == 0
    assert len(applied) == len(truth) and set(applied.values()) == {1}
