"""A fake VMS57 platform: ``POST /vms.ashx`` with action=audio, overage and report.

As strict as the document: POST only, UTF-8 form body, every credential checked, ``vmsText``
digits only and at most 4, ``attime`` exactly ``yyyy-MM-dd HH:mm:ss``, ``callerNumber`` empty or
verified, ``destNumbers`` comma-separated numbers. The document lists no failure codes (only
"非0表示失败，失败原因见结果说明"), so the non-zero results in ``ERRORS`` are this fake's own; the
adapter must not depend on their values. ``max_numbers`` (100, the adapter's batch size) is also the
fake's choice, so batch splitting is checked.

Accepted numbers land in ``submitted`` and, unless ``auto_report`` is None, queue a call detail
record that a report pull hands out once, at most ``min(statusNum or 500, 50)`` per pull
("状态每次返回50条话单数据"). ``queue_report`` adds one by hand; ``answer_next`` makes the next request
answer a given raw body (an error line, malformed XML, …); ``reset()`` forgets all state so one
running server can serve many tests. ``submitted`` entries carry ``custom_id`` None (the vendor has
no custom id; ``taskname`` holds what the adapter sent, the request's first custom_id), ``mobile``
(as dialled), ``batch_id``, ``vendor_message_id`` (``batch:mobile``), ``content`` (vmsText),
``caller`` and ``attime``. Each accepted number costs ``price`` from ``balance_amount``.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from .base import FakeRequest, FakeVendor, Reply

ERRORS = {
    "-1": "用户编号、账号或密码错误",
    "-2": "余额不足",
    "-3": "号码为空或号码格式错误",
    "-4": "验证码内容，只允许数字，最多允许4位",
    "-5": "定时发送时间格式错误",
    "-6": "任务名称不能为空",
    "-7": "主叫号码未通过验证",
    "-8": "号码数量超过限制",
    "-9": "号码重复",
    "-10": "action参数错误",
}
_NUMBER = re.compile(r"1[0-9]{10}|0[0-9]{9,11}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


class FakeVms57(FakeVendor):
    path = "/vms.ashx"
    max_numbers = 100
    page_size = 50

    def __init__(
        self,
        *,
        userid="1001",
        account="vmsuser",
        password="vmspass",
        balance="1000.00",
        price="0.05",
        caller_numbers=("02160000000",),
        auto_report="10",
    ):
        super().__init__()
        self.credentials = {"userid": userid, "account": account, "password": password}
        self.initial_balance = Decimal(balance)
        self.price = Decimal(price)
        self.caller_numbers = set(caller_numbers)
        self.initial_auto_report = auto_report
        self.reset()

    def reset(self) -> None:
        """Forget everything received and queued (lets one running server serve many tests)."""
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.balance_amount = self.initial_balance
            self.auto_report = self.initial_auto_report  # status for generated records ("10"/"20"), or None
            self.submitted: list[dict] = []
            self.reports: deque[dict] = deque()
            self.handed_out: list[dict] = []
            self.forced: deque[str] = deque()
            self._batches = itertools.count(20140225001)

    # ---- helpers for tests
    def answer_next(self, *bodies: str) -> None:
        """The next requests answer these raw bodies (whatever their action), one each."""
        self.forced.extend(bodies)

    def queue_report(
        self,
        batch_id: str,
        mobile: str,
        status: str = "10",
        *,
        hold_time: str = "15",
        fee_time: str = "60",
        error_code: str = "",
        start: str = "2014-02-25 10:00:00",
        end: str = "2014-02-25 10:00:15",
        report_time: str = "2014-02-25 10:00:16",
    ) -> dict:
        record = {
            "batchID": batch_id,
            "status": status,
            "calledNumber": mobile,
            "reportTime": report_time,
            "reportErrorCode": error_code,
            "holdTime": hold_time,
            "feeTime": fee_time,
            "startTime": start,
            "endTime": end,
        }
        with self.lock:
            self.reports.append(record)
        return record

    # ---- the vendor
    def handle(self, request: FakeRequest) -> Reply:
        if request.path != self.path:
            return Reply("<html><body>404 Not Found</body></html>", 404, "text/html")
        form_post = "application/x-www-form-urlencoded" in request.headers.get("content-type", "")
        if request.method != "POST" or not form_post:
            return Reply("<html><body>405 Method Not Allowed</body></html>", 405, "text/html")
        with self.lock:
            if self.forced:
                body = self.forced.popleft()
                return Reply(body, 200, "text/xml; charset=utf-8" if body.lstrip().startswith("<") else "text/plain")
        action = request.form.get("action")
        if action == "report":
            return self._report(request.form)
        if action not in ("audio", "overage"):
            return self._error("-10")
        if any(request.form.get(k) != v for k, v in self.credentials.items()):
            return self._error("-1")
        if action == "overage":
            with self.lock:
                return Reply(f"0|{self.balance_amount}")
        return self._audio(request.form)

    def _error(self, code: str) -> Reply:
        return Reply(f"{code}|{ERRORS[code]}")

    def _audio(self, form: dict[str, str]) -> Reply:
        taskname, text = form.get("taskname", ""), form.get("vmsText")
        caller, attime = form.get("callerNumber", ""), form.get("attime", "")
        if not taskname.strip():
            return self._error("-6")
        if text is None or not re.fullmatch(r"[0-9]{1,4}", text):
            return self._error("-4")
        if caller and caller not in self.caller_numbers:
            return self._error("-7")
        if attime:
            try:
                if not _TIME.fullmatch(attime):
                    raise ValueError(attime)
                datetime.strptime(attime, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                return self._error("-5")
        numbers = form.get("destNumbers", "").split(",")
        if not all(_NUMBER.fullmatch(n) for n in numbers):
            return self._error("-3")
        if len(numbers) > self.max_numbers:
            return self._error("-8")
        if len(set(numbers)) != len(numbers):
            return self._error("-9")
        with self.lock:
            cost = self.price * len(numbers)
            if cost > self.balance_amount:
                return self._error("-2")
            self.balance_amount -= cost
            batch = str(next(self._batches))
            for number in numbers:
                self.submitted.append(
                    {
                        "custom_id": None,
                        "taskname": taskname,
                        "mobile": number,
                        "batch_id": batch,
                        "vendor_message_id": f"{batch}:{number}",
                        "content": text,
                        "caller": caller,
                        "attime": attime,
                    }
                )
        if self.auto_report:
            for number in numbers:
                self.queue_report(
                    batch,
                    number,
                    self.auto_report,
                    **(
                        {}
                        if self.auto_report == "10"
                        else {"hold_time": "0", "fee_time": "0", "error_code": "NOANSWER"}
                    ),
                )
        return Reply(f"0|{batch}")

    def _report(self, form: dict[str, str]) -> Reply:
        if any(form.get(k) != v for k, v in self.credentials.items()):
            return self._xml(-1, "用户编号、账号或密码错误", [])
        wanted = form.get("statusNum") or "500"
        if not wanted.isdigit() or int(wanted) < 1:
            return self._xml(-1, "statusNum参数错误", [])
        with self.lock:
            n = min(int(wanted), self.page_size, len(self.reports))
            records = [self.reports.popleft() for _ in range(n)]
            self.handed_out.extend(records)
        return self._xml(len(records), "", records)

    @staticmethod
    def _xml(count: int, message: str, records: list[dict]) -> Reply:
        boxes = "".join(
            "<callbox>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in r.items()) + "</callbox>" for r in records
        )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><result><count>{count}</count>'
            f"<reportMsg>{escape(message)}</reportMsg>{boxes}</result>"
        )
        return Reply(body, 200, "text/xml; charset=utf-8")
