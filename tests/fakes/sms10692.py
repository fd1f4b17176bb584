"""A strict fake of the sms10692 platform (《客户接口说明》).

Serves ``/v2sms.aspx`` (UTF-8 form bodies) and ``/v2smsGBK.aspx`` (GBK form bodies, decoded here
from the raw body since the base decodes every form as UTF-8) with ``action=send|overage|
checkkeyword``, and ``/v2statusApi.aspx`` / ``/v2callApi.aspx`` with ``action=query``. Only POST
is served. Every request must carry ``userid``, ``timestamp`` (``yyyyMMddHHmmss``, Beijing time,
within ``timestamp_window`` seconds of now — the window is our assumption, the document states
none) and ``sign = md5(account + password + timestamp)`` recomputed here; failures answer the
documented messages / error codes.

State for other tests:
- ``submitted``: one dict per accepted number: ``custom_id`` (always None: the vendor has none),
  ``mobile`` (as dialled, e.g. "13800138000"), ``mobile_e164``, ``vendor_message_id`` and
  ``batch_id`` (both the taskID), ``content``, ``send_time``, ``extno``, ``endpoint``.
- Status reports: every accepted number queues one report automatically (``auto_report``), with
  ``report_status(mobile)`` deciding status/errorcode (default 10/DELIVRD; set ``report_for`` to
  a dict mobile → (status, errorcode) to fail some). ``queue_report(...)`` adds one by hand. A pull
  hands out at most ``statusNum`` (default 4000) and each report only once.
- Replies: ``queue_reply(...)``; each handed out once.
- ``reset()`` restores all of this, so a module can share one server between tests.
- Knobs: ``points`` (prepaid balance, one point per number), ``forbidden_words``,
  ``sql_markers``, ``max_mobiles`` (1000: the adapter's chosen batch size, not a documented limit),
  ``reports_allowed`` (error 3 when False), ``send_message`` / ``overage_message`` /
  ``keyword_message`` / ``pull_error`` (force a documented failure answer), ``success_spelling``
  and ``overage_spelling`` (the vendor's ``Success`` / ``Sucess``), ``answer_encoding``
  (``"gb2312"`` makes the GBK endpoint answer GB2312 bytes with that XML declaration), and
  ``scripted`` (Replies served verbatim, one per request, before any check: for odd answers).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from .base import FakeRequest, FakeVendor, Reply

BEIJING = ZoneInfo("Asia/Shanghai")
SEND_PATHS = {"/v2sms.aspx": "utf-8", "/v2smsGBK.aspx": "gbk"}
PULL_PATHS = ("/v2statusApi.aspx", "/v2callApi.aspx")

EMPTY_CREDENTIALS = "用户名或密码不能为空"
BAD_CREDENTIALS = "用户名或密码错误"
PULL_ERRORS = {"1": EMPTY_CREDENTIALS, "2": BAD_CREDENTIALS, "3": "该用户不允许查看状态报告", "4": "参数不正确"}


class FakeSms10692(FakeVendor):
    form_encoding = "utf-8"

    def __init__(self, userid: str = "12", account: str = "test", password: str = "mima", points: int = 100_000):
        super().__init__()
        self.userid, self.account, self.password = userid, account, password
        self._initial_points = points
        self._state = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Back to a fresh vendor (one server can then serve many tests)."""
        self.requests.clear()
        self.faults.clear()
        self.points = Decimal(self._initial_points)
        self.send_total = Decimal(self._initial_points)
        self.payinfo = "预付费"
        self.timestamp_window = 300
        self.max_mobiles = 1000
        self.forbidden_words = ("赌博", "代开发票")
        self.sql_markers = ("'", "--", "/*", ";")
        self.reports_allowed = True
        self.auto_report = True
        self.report_for: dict[str, tuple[str, str]] = {}
        self.send_message: str | None = None
        self.overage_message: str | None = None
        self.keyword_message: str | None = None
        self.pull_error: str | None = None
        self.success_spelling = "Success"
        self.overage_spelling = "Sucess"
        self.answer_encoding = "utf-8"
        self.submitted: list[dict] = []
        self.reports: deque[dict] = deque()
        self.replies: deque[dict] = deque()
        self.scripted: deque[Reply] = deque()
        self._task_ids = itertools.count(1212)

    # ---- helpers for tests
    def queue_report(
        self,
        mobile: str,
        taskid: str,
        status: str = "10",
        errorcode: str = "DELIVRD",
        receivetime: str | None = None,
        extno: str = "",
    ) -> None:
        receivetime = receivetime or datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        with self._state:
            self.reports.append(
                {
                    "mobile": mobile,
                    "taskid": str(taskid),
                    "status": status,
                    "receivetime": receivetime,
                    "errorcode": errorcode,
                    "extno": extno,
                }
            )

    def queue_reply(
        self, mobile: str, content: str, taskid: str = "", receivetime: str | None = None, extno: str = ""
    ) -> None:
        receivetime = receivetime or datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        with self._state:
            self.replies.append(
                {
                    "mobile": mobile,
                    "taskid": str(taskid),
                    "content": content,
                    "receivetime": receivetime,
                    "extno": extno,
                }
            )

    def report_status(self, mobile: str) -> tuple[str, str]:
        return self.report_for.get(mobile, ("10", "DELIVRD"))

    def expected_sign(self, timestamp: str) -> str:
        return hashlib.md5(f"{self.account}{self.password}{timestamp}".encode()).hexdigest()

    # ---- dispatch
    def handle(self, request: FakeRequest) -> Reply:
        with self._state:
            scripted = self.scripted.popleft() if self.scripted else None
        if scripted is not None:
            return scripted
        if request.method != "POST":
            return Reply("<html><body>405 Method Not Allowed</body></html>", 405, "text/html")
        if request.path in SEND_PATHS:
            form = self._form(request, SEND_PATHS[request.path])
            if form is None:
                return self._answer(request, self._returnsms(status="Faild", message="其他错误"))
            action = form.get("action")
            handler = {"send": self._send, "overage": self._overage, "checkkeyword": self._checkkeyword}.get(action)
            if handler is None:
                return self._answer(request, self._returnsms(status="Faild", message="其他错误"))
            return self._answer(request, handler(form, request.path))
        if request.path in PULL_PATHS:
            return self._answer(request, self._pull(self._form(request, "utf-8") or {}, request.path))
        return Reply("<html><body>404 Not Found</body></html>", 404, "text/html")

    def _form(self, request: FakeRequest, encoding: str) -> dict[str, str] | None:
        """The form parameters, decoded strictly in the endpoint's encoding (None: undecodable)."""
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return {}
        try:
            parsed = parse_qs(request.body.decode("ascii"), keep_blank_values=True, encoding=encoding, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return None
        return {k: v[-1] for k, v in parsed.items()}

    def _answer(self, request: FakeRequest, xml: str) -> Reply:
        if request.path == "/v2smsGBK.aspx" and self.answer_encoding != "utf-8":
            xml = xml.replace('encoding="utf-8"', f'encoding="{self.answer_encoding}"', 1)
            return Reply(xml.encode("gbk"), 200, f"text/xml; charset={self.answer_encoding}")
        return Reply(xml, 200, "text/xml; charset=utf-8")

    def _auth_error(self, form: dict[str, str]) -> str | None:
        userid, timestamp, sign = form.get("userid", ""), form.get("timestamp", ""), form.get("sign", "")
        if not (userid and timestamp and sign):
            return EMPTY_CREDENTIALS
        try:
            sent = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
        except ValueError:
            return BAD_CREDENTIALS
        if len(timestamp) != 14 or abs(datetime.now(BEIJING) - sent) > timedelta(seconds=self.timestamp_window):
            return BAD_CREDENTIALS
        if userid != self.userid or not hmac.compare_digest(sign, self.expected_sign(timestamp)):
            return BAD_CREDENTIALS
        return None

    @staticmethod
    def _returnsms(**fields: str) -> str:
        tags = {"status": "returnstatus"}
        inner = "".join(f"<{tags.get(k, k)}>{escape(str(v))}</{tags.get(k, k)}>" for k, v in fields.items())
        return f'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>{inner}</returnsms>'

    # ---- chapter 1: send
    def _send(self, form: dict[str, str], path: str) -> str:
        message = self.send_message or self._send_error(form)
        if message:
            return self._returnsms(
                status="Faild", message=message, remainpoint=self.points, taskID="", successCounts="0"
            )
        mobiles = form["mobile"].split(",")
        with self._state:
            self.points -= len(mobiles)
            task_id = str(next(self._task_ids))
            content, send_time, extno = form["content"], form.get("sendTime", ""), form.get("extno", "")
            now = datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
            for mobile in mobiles:
                self.submitted.append(
                    {
                        "custom_id": None,
                        "mobile": mobile,
                        "mobile_e164": "+86" + mobile,
                        "vendor_message_id": task_id,
                        "batch_id": task_id,
                        "content": content,
                        "send_time": send_time,
                        "extno": extno,
                        "endpoint": path,
                    }
                )
                if self.auto_report:
                    status, errorcode = self.report_status(mobile)
                    self.reports.append(
                        {
                            "mobile": mobile,
                            "taskid": task_id,
                            "status": status,
                            "receivetime": now,
                            "errorcode": errorcode,
                            "extno": extno,
                        }
                    )
            remain = self.points
        return self._returnsms(
            status=self.success_spelling,
            message="ok",
            remainpoint=remain,
            taskID=task_id,
            successCounts=str(len(mobiles)),
        )

    def _send_error(self, form: dict[str, str]) -> str | None:
        auth = self._auth_error(form)
        if auth:
            return auth
        mobile, content = form.get("mobile", ""), form.get("content", "")
        if not mobile.strip():
            return "短信号码不能为空"
        if not content:
            return "短信内容不能为空"
        mobiles = mobile.split(",")
        if len(mobiles) > self.max_mobiles or not all(m.isdigit() and m.isascii() for m in mobiles):
            return "其他错误"
        extno, send_time = form.get("extno", ""), form.get("sendTime", "")
        if extno and not (extno.isdigit() and len(extno) <= 10):
            return "其他错误"
        if send_time:
            try:
                datetime.strptime(send_time, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                return "其他错误"
        if any(marker in content for marker in self.sql_markers):
            return "发送内容包含sql注入字符"
        found = [word for word in self.forbidden_words if word in content]
        if found:
            return "包含非法字符：" + ",".join(found)
        if self.payinfo == "预付费" and len(mobiles) > self.points:
            return "对不起，您当前要发送的量大于您当前余额"
        return None

    # ---- chapter 2: balance
    def _overage(self, form: dict[str, str], path: str) -> str:
        message = self.overage_message or self._auth_error(form)
        if message:
            return self._returnsms(status="Faild", message=message, payinfo="", overage="", sendTotal="")
        return self._returnsms(
            status=self.overage_spelling,
            message="",
            payinfo=self.payinfo,
            overage=self.points,
            sendTotal=self.send_total,
        )

    # ---- chapter 3: keyword check
    def _checkkeyword(self, form: dict[str, str], path: str) -> str:
        message = self.keyword_message or self._auth_error(form)
        if not message:
            content = form.get("content", "")
            message = "包含非法字符" if any(word in content for word in self.forbidden_words) else "没有包含屏蔽词"
        return self._returnsms(message=message)

    # ---- chapters 4 and 5: pulls, each item handed out once
    def _pull(self, form: dict[str, str], path: str) -> str:
        error = self.pull_error
        if error is None:
            auth = self._auth_error(form)
            status_num = form.get("statusNum", "")
            if auth:
                error = "1" if auth == EMPTY_CREDENTIALS else "2"
            elif not self.reports_allowed:
                error = "3"
            elif form.get("action") != "query" or (status_num and not status_num.isdigit()):
                error = "4"
        if error:
            remark = PULL_ERRORS[error]
            return (
                f'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms><errorstatus><error>{error}</error>'
                f"<remark>{remark}</remark></errorstatus></returnsms>"
            )
        if path == "/v2statusApi.aspx":
            queue, box, fields = (
                self.reports,
                "statusbox",
                ("mobile", "taskid", "status", "receivetime", "errorcode", "extno"),
            )
            limit = int(form.get("statusNum") or 4000)
        else:
            queue, box, fields = self.replies, "callbox", ("mobile", "taskid", "content", "receivetime", "extno")
            limit = len(self.replies)
        with self._state:
            items = [queue.popleft() for _ in range(min(limit, len(queue)))]
        boxes = "".join(
            f"<{box}>" + "".join(f"<{f}>{escape(item[f])}</{f}>" for f in fields) + f"</{box}>" for item in items
        )
        return f'<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>{boxes}</returnsms>'
