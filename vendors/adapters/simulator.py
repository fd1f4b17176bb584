"""Simulator: an in-process vendor that accepts every well-formed call and reports realistically.

It needs no contract, so a new user can run a whole campaign, and demos and benchmarks exercise
the real pipeline: receipts are held in ``SimulatedCall`` rows and handed out once each by
``fetch_reports`` (the periodic pull), exactly as a pull vendor would; ``parse_callback`` reads
the same report JSON pushed to the callback URL.

Each call's fate is drawn from ``random.Random(f"{seed}:{custom_id}")``, so a campaign replays
identically. ``options`` (declared in ``option_specs``, checked when the account is saved):
- ``answer_rate`` (default 0.6): share of calls answered;
- ``failure_mix`` (default below): relative weights of the failure outcomes;
- ``seed`` (default 1);
- ``report_delay`` (default [1, 20]): seconds between submit and receipt, min and max;
- ``talk_seconds`` (default [5, 90]): talk time range of answered calls;
- ``balance`` (default "10000"): starting balance in CNY; each accepted call costs ``price``
  (default "0.05").
A number that is not a Chinese number (+86…) is refused at submit with ``invalid_number``.
"""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .base import (
    PRODUCTS,
    Balance,
    BaseAdapter,
    CallbackRejected,
    DeliveryReport,
    Option,
    OutboundCall,
    ParsedCallback,
    Refused,
    SubmitResult,
    VendorError,
)
from .wire import parse_json

DEFAULT_FAILURE_MIX = {"no_answer": 50, "busy": 20, "powered_off": 10, "unreachable": 10, "rejected": 10}
RAW_CODES = {
    "answered": ("0", "接通"),
    "no_answer": ("1", "无人接听"),
    "busy": ("2", "用户忙"),
    "powered_off": ("3", "关机"),
    "unreachable": ("4", "无法接通"),
    "rejected": ("5", "用户拒接"),
    "invalid_number": ("6", "空号"),
    "suspended": ("7", "停机"),
    "network_busy": ("8", "网络忙"),
}


class SimulatorAdapter(BaseAdapter):
    code = "simulator"
    label = "Simulator"
    batch_size = 500
    products = PRODUCTS
    free_content = True  # the content is played as sent
    report_delivery = ("pull", "push")
    outcome_map = {code: outcome for outcome, (code, _msg) in RAW_CODES.items()}
    schedules = True
    option_specs = {
        "answer_rate": Option(Decimal, default=Decimal("0.6"), low=0, high=1),
        "failure_mix": Option("weights", allowed=tuple(o for o in RAW_CODES if o != "answered")),
        "seed": Option(default="1"),
        "report_delay": Option("pair", default=(1, 20), low=0, high=86400),
        "talk_seconds": Option("pair", default=(5, 90), low=0, high=86400),
        "balance": Option(Decimal, default=Decimal("10000"), low=0, high=10**11),
        "price": Option(Decimal, default=Decimal("0.05"), low=0, high=10**6),
    }

    def _draw(self, custom_id: str) -> dict:
        rng = random.Random(f"{self.option('seed')}:{custom_id}")
        answered = rng.random() < float(self.option("answer_rate"))
        if answered:
            outcome = "answered"
            low, high = self.option("talk_seconds")
            talk = rng.randint(int(low), int(high))
        else:
            mix = self.option("failure_mix") or DEFAULT_FAILURE_MIX
            outcome = rng.choices(list(mix), weights=[int(w) for w in mix.values()])[0]
            talk = 0
        low, high = self.option("report_delay")
        code, message = RAW_CODES.get(outcome, ("99", outcome))
        return {
            "outcome": outcome,
            "code": code,
            "message": message,
            "talk_seconds": talk,
            "billed_seconds": -(-talk // 60) * 60,
            "delay": rng.uniform(float(low), float(high)),
            "key": str(rng.randint(1, 2)) if answered and rng.random() < 0.3 else "",
        }

    def precheck(self, call: OutboundCall, product: str) -> None:
        if not (call.mobile.startswith("+86") and call.mobile[3:].isdigit()):
            raise Refused("6", "空号")

    def request_key(self, call: OutboundCall, product: str) -> str:
        return ""  # any contents share a request

    def submit_request(self, calls, *, product, send_at):
        from vendors.models import SimulatedCall

        start = max(send_at or timezone.now(), timezone.now())
        results, rows = [], []
        for call in calls:
            message_id = f"sim-{call.custom_id}"
            fate = self._draw(call.custom_id)
            due = start + timedelta(seconds=fate.pop("delay"))
            fate.update(vendor_message_id=message_id, custom_id=call.custom_id, mobile=call.mobile, at=due.isoformat())
            rows.append(
                SimulatedCall(
                    account=self.account,
                    vendor_message_id=message_id,
                    custom_id=call.custom_id,
                    mobile=call.mobile,
                    report=fate,
                    report_due_at=due,
                )
            )
            results.append(SubmitResult(call.custom_id, call.mobile, True, vendor_message_id=message_id))
        SimulatedCall.objects.bulk_create(rows, ignore_conflicts=True)
        return results

    def balance(self) -> Balance:
        from vendors.models import SimulatedCall

        start, price = self.option("balance"), self.option("price")
        used = SimulatedCall.objects.filter(account=self.account).count()
        amount = start - price * used
        return Balance(amount=amount, unit="CNY", raw=str(amount))

    def fetch_reports(self, limit=None):
        """Hand out due receipts once each (rows claimed with SKIP LOCKED, then marked fetched)."""
        from vendors.models import SimulatedCall

        with transaction.atomic():
            due = (
                SimulatedCall.objects.select_for_update(skip_locked=True)
                .filter(account=self.account, fetched=False, report_due_at__lte=timezone.now())
                .order_by("report_due_at")
                .values_list("id", "report")[: limit or 1000]
            )
            due = list(due)
            SimulatedCall.objects.filter(id__in=[pk for pk, _r in due]).update(fetched=True)
        return [self._report(report) for _pk, report in due]

    def _report(self, item: dict) -> DeliveryReport:
        return DeliveryReport(
            vendor_message_id=item["vendor_message_id"],
            batch_id=None,
            custom_id=item.get("custom_id"),
            mobile=item.get("mobile"),
            outcome=self.map_outcome(item["code"]),
            talk_seconds=item.get("talk_seconds"),
            billed_seconds=item.get("billed_seconds"),
            key_pressed=item.get("key") or None,
            raw_code=str(item["code"]),
            raw_message=item.get("message", ""),
            reported_at=parse_datetime(item["at"]) if item.get("at") else None,
            billed_units=-(-(item.get("billed_seconds") or 0) // 60),
        )

    def parse_callback(self, body, headers, query):
        try:
            items = parse_json(body.decode("utf-8"))["reports"]
            return ParsedCallback(reports=[self._report(item) for item in items], ack_body="ok")
        except (VendorError, ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(f"not a simulator report body: {exc}") from exc
