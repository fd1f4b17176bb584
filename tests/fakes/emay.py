"""A fake 亿美软通 Emay voice platform (《语音短信接口说明》 V3.0.1), as strict as the document.

Checks: POST only; the documented paths; ``appId`` (``ERROR_APPID``); the Beijing-time timestamp
within one minute (``ERROR_TIMESTAMP``; shift the fake's clock with ``clock_skew``); the signature
recomputed (``ERROR_SIGN``; md5 hex, compared case-insensitively; balance without timestamp); the
account's service type per line (``lines``, else ``ERROR_MESSAGE_TYPE``); at most 500 mainland mobiles
(``ERROR_MOBILE_NUMBER`` / ``ERROR_MOBILE_ERROR``); content ≤ 200 characters, content + interactive +
message ≤ 500 (``ERROR_LONG_CONTENT``); verification code 4 or 6 digits; custom ids one per number,
≤ 64 characters; voice-SMS flags, trigger, key and connect time; the balance; ``number`` ≤ 1000.

``submitted`` holds one dict per accepted number: custom_id, mobile (E.164), wire_mobile,
vendor_message_id, batch_id (None: Emay has none), content, product, line. Each accepted number
queues a report for the pulls (``auto_report``; state from ``states[wire_mobile]``, default success);
``queue_report`` adds one by hand; a pull hands each report out once. ``force(code, ...)`` answers the
next requests with the given codes (None = answer normally; "HTTP_500" and "HTTP_TIMEOUT" = faults,
so a fault can hit the n-th request). ``echo_custom_ids = False`` and ``omit_from_answer`` bend the
submit answer. ``report_for`` and ``push_body`` build document-shaped pushes: plain JSON, form field
``reports``, or gzip then AES/ECB/PKCS5 (key = the secretKey's bytes).
The base's 0.5 s shutdown poll is cut short in ``stop`` so a test module with many fakes stays fast.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import itertools
import json
import re
import time
from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad

from .base import FakeRequest, FakeVendor, Reply

BEIJING = ZoneInfo("Asia/Shanghai")
ROUTES = {
    "/voice/send": ("voice", "notify"),
    "/voice/sendVFCode": ("voice", "verify"),
    "/voice/sendCTCode": ("voice", "marketing"),
    "/voice/getReport": ("voice", "report"),
    "/voice/getBalance": ("voice", "balance"),
    "/join/send": ("join", "voice_sms"),
    "/join/getReport": ("join", "report"),
    "/join/getBalance": ("join", "balance"),
}
MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
CODE_RE = re.compile(r"[0-9]{4}|[0-9]{6}")
STATE_TEXT = {
    "SUCCESS": "成功",
    "FAIL_CALL": "呼叫失败",
    "FAIL_ERROR_VOICE": "错误工单",
    "FAIL_UNKNOWN": "未知失败",
    "TIMEOUT": "状态报告超时",
    "FAIL_NEEDMORE_BALANCE": "余额不足",
    "FAIL_MOBILE": "手机号错误",
    "FAIL_BLACKDICTIONARY": "内容有黑词",
    "FAIL_AUDITINGFAIL": "审核失败",
    "FAIL_APPID": "APPID 错误",
    "4": "success",
    "3": "timeout",
    "2": "fail",
}


class Refused(Exception):
    def __init__(self, code: str):
        self.code = code


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class FakeEmay(FakeVendor):
    def __init__(
        self,
        app_id: str = "EUCP-EMY-TEST-00001",
        secret_key: str = "Sk3y-0123456789a",
        *,
        balance: Decimal | int | str = 10_000_000,
        join_balance: Decimal | int | str = 10_000_000,
        lines=("voice", "join"),
        auto_report: bool = True,
    ):
        super().__init__()
        self.app_id, self.secret_key = app_id, secret_key
        self.balances = {"voice": Decimal(balance), "join": Decimal(join_balance)}
        self.balance_as_string = False  # the doc's table says String, its example a bare number
        self.lines = set(lines)
        self.auto_report = auto_report
        self.states: dict[str, str] = {}  # wire mobile → report state for auto reports
        self.submitted: list[dict] = []
        self.reports: dict[str, deque] = {"voice": deque(), "join": deque()}
        self.forced: deque[str | None] = deque()
        self.clock_skew = timedelta(0)
        self.echo_custom_ids = True  # False: answer customVoiceId = voiceId, as the doc's send example shows
        self.omit_from_answer: set[str] = set()  # wire mobiles accepted but left out of the submit answer
        self._ids = itertools.count(1)
        self._id_prefix = datetime.now(BEIJING).strftime("%Y%m%d%H%M")

    # ---- helpers for tests
    def force(self, *codes: str | None) -> None:
        self.forced.extend(codes)

    def queue_report(self, line: str = "voice", **item) -> dict:
        self.reports[line].append(item)
        return item

    def report_for(
        self, entry: dict, state: str | None = None, *, duration: float = 68.02, key: str | None = None
    ) -> dict:
        """A document-shaped report item for a submitted entry (state padded as the doc shows)."""
        if entry["line"] == "join":
            state = state or "4"
            return {
                "appId": self.app_id,
                "joinId": entry["vendor_message_id"],
                "customJoinId": entry["custom_id"] or "",
                "state": f" {state} ",
                "desc": STATE_TEXT.get(state, ""),
                "mobile": entry["wire_mobile"],
                "keyContent": key or "",
                "voiceSign": "",
            }
        state = state or "SUCCESS"
        item = {
            "appId": self.app_id,
            "voiceId": entry["vendor_message_id"],
            "customVoiceId": entry["custom_id"] or "",
            "state": f" {state} ",
            "message": STATE_TEXT.get(state, ""),
            "callingTime": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            "callingDuration": duration if state == "SUCCESS" else 0,
            "mobile": entry["wire_mobile"],
        }
        if key is not None:
            item["keyContent"] = int(key)
        return item

    def push_body(
        self,
        reports: list[dict],
        *,
        encrypted: bool = False,
        secret_key: str | None = None,
        app_id: str | None = None,
        form: bool = False,
    ) -> tuple[bytes, dict[str, str], dict[str, str]]:
        """What Emay POSTs to our callback URL: (body, headers, query)."""
        headers = {"appId": self.app_id if app_id is None else app_id}
        document = json.dumps({"code": "SUCCESS", "data": reports}, ensure_ascii=False).encode("utf-8")
        if encrypted:
            key = (self.secret_key if secret_key is None else secret_key).encode("utf-8")
            body = AES.new(key, AES.MODE_ECB).encrypt(pad(gzip.compress(document), AES.block_size))
            headers["Content-Type"] = "application/octet-stream"
        elif form:
            body = urlencode({"reports": json.dumps(reports, ensure_ascii=False)}).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=UTF-8"
        else:
            body = document
            headers["Content-Type"] = "application/json; charset=UTF-8"
        return body, headers, {}

    # ---- the server side
    def handle(self, request: FakeRequest) -> Reply:
        if request.method != "POST":
            return Reply("Method Not Allowed", 405, "text/html")
        route = ROUTES.get(request.path)
        if route is None:
            return Reply("<html><body>404 Not Found</body></html>", 404, "text/html")
        line, operation = route
        with self.lock:
            forced = self.forced.popleft() if self.forced else None
        try:
            if forced == "HTTP_500":
                return Reply("Internal Server Error", 500)
            if forced == "HTTP_TIMEOUT":
                time.sleep(self.timeout_sleep)
                return Reply("late", 200)
            if forced:
                raise Refused(forced)
            self._check_auth(request, timestamped=operation != "balance")
            if line not in self.lines:
                raise Refused("ERROR_MESSAGE_TYPE")
            if operation == "balance":
                return self._balance(line)
            if operation == "report":
                return self._pull(request, line)
            return self._send(request, line, operation)
        except Refused as refusal:
            key = "responseCode" if (line, operation) == ("voice", "balance") else "code"
            return self._json({key: refusal.code})

    @staticmethod
    def _json(document) -> Reply:
        return Reply(json.dumps(document, ensure_ascii=False), 200, "application/json;charset=UTF-8")

    def _check_auth(self, request: FakeRequest, *, timestamped: bool) -> None:
        app_id, sign = request.param("appId"), request.param("sign")
        if not app_id or not sign:
            raise Refused("ERROR_PARAMS")
        if app_id != self.app_id:
            raise Refused("ERROR_APPID")
        if timestamped:
            timestamp = request.param("timestamp") or ""
            if len(timestamp) != 14 or not timestamp.isdigit():
                raise Refused("ERROR_TIMESTAMP")
            try:
                when = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
            except ValueError:
                raise Refused("ERROR_TIMESTAMP") from None
            if abs(datetime.now(BEIJING) + self.clock_skew - when) > timedelta(minutes=1):
                raise Refused("ERROR_TIMESTAMP")
            expected = md5(app_id + self.secret_key + timestamp)
        else:
            expected = md5(app_id + self.secret_key)
        if not hmac.compare_digest(sign.lower().encode(), expected.encode()):
            raise Refused("ERROR_SIGN")

    def _balance(self, line: str) -> Reply:
        amount = self.balances[line]
        value = f'"{amount}"' if self.balance_as_string else str(amount)
        if line == "voice":
            return Reply(f'{{"balance":{value},"responseCode":"SUCCESS"}}', 200, "application/json")
        return Reply(f'{{"data":{value},"code":"SUCCESS"}}', 200, "application/json")

    def _pull(self, request: FakeRequest, line: str) -> Reply:
        number = request.param("number") or "200"
        if not number.isdigit() or not 1 <= int(number) <= 1000:
            raise Refused("ERROR_PARAMS")
        queue = self.reports[line]
        with self.lock:
            items = [queue.popleft() for _ in range(min(int(number), len(queue)))]
        return self._json({"code": "SUCCESS", "data": items})

    def _send(self, request: FakeRequest, line: str, product: str) -> Reply:
        p = request.param
        join = line == "join"
        if product == "verify":
            mobiles = [p("mobile") or ""]
            custom_raw = p("customVoiceId") or ""
            content = p("content") or ""
        else:
            mobiles = (p("mobiles") or "").split(",")
            custom_raw = p("customJoinIds" if join else "customVoiceIds") or ""
            content = p("voiceContent" if join else "content") or ""
        if mobiles == [""]:
            raise Refused("ERROR_MOBILE_EMPTY")
        if len(mobiles) > 500:
            raise Refused("ERROR_MOBILE_NUMBER")
        if not all(MOBILE_RE.fullmatch(m) for m in mobiles):
            raise Refused("ERROR_MOBILE_ERROR")
        if not content:
            raise Refused("ERROR_CONTENT_EMPTY")
        extras = p("interactiveContent") or "", p("acousticSignContent") or ""
        if product == "verify":
            if not CODE_RE.fullmatch(content):
                raise Refused("ERROR_VERIFICATION_CODE_CONTENT")
        elif (not join and len(content) > 200) or len(content) + sum(map(len, extras)) > 500:
            raise Refused("ERROR_LONG_CONTENT")
        customs = custom_raw.split(",") if custom_raw else [None] * len(mobiles)
        if len(customs) != len(mobiles):
            raise Refused("ERROR_CUSTOM_JOIN_ID_NUMBER" if join else "ERROR_CUSTOM_VOICE_ID_NUMBER")
        if custom_raw and not all(0 < len(c) <= 64 for c in customs):
            raise Refused("ERROR_CUSTOM_JOIN_ID" if join else "ERROR_CUSTOM_VOICE_ID")
        if join:
            self._check_join_options(p)
        elif (p("isInteractive") or "0") not in ("0", "1"):
            raise Refused("ERROR_PARAMS")
        with self.lock:
            if self.balances[line] < len(mobiles):
                raise Refused("ERROR_NEEDMORE_BLANCE" if join else "ERROR_NEEDMORE_BALANCE")
            self.balances[line] -= len(mobiles)
            data = []
            for mobile, custom in zip(mobiles, customs, strict=True):
                vid = f"{self._id_prefix}{next(self._ids):08d}"
                entry = {
                    "custom_id": custom,
                    "mobile": "+86" + mobile,
                    "wire_mobile": mobile,
                    "vendor_message_id": vid,
                    "batch_id": None,
                    "content": content,
                    "product": product,
                    "line": line,
                }
                self.submitted.append(entry)
                if self.auto_report:
                    self.reports[line].append(self.report_for(entry, self.states.get(mobile)))
                if mobile in self.omit_from_answer:
                    continue
                echoed = (custom or "") if self.echo_custom_ids else vid
                if join:
                    data.append({"mobile": mobile, "joinId": vid, "customJoinId": echoed})
                else:
                    data.append({"mobile": mobile, "voiceId": vid, "customVoiceId": echoed})
        return self._json({"code": "SUCCESS", "data": data})

    @staticmethod
    def _check_join_options(p) -> None:
        if (p("isInteractive") or "0") not in ("0", "1"):
            raise Refused("ERROR_ISINTERACTIVE")
        if (p("isAcousticSign") or "0") not in ("0", "1"):
            raise Refused("ERROR_ISACOUSTICSIGN")
        trigger = p("triggerConditions")
        if trigger not in ("3", "4"):
            raise Refused("ERROR_TRIGGERCONDITIONS")
        if trigger == "3" and not re.fullmatch(r"[0-9]", p("keyContent") or ""):
            raise Refused("ERROR_KEYCONTENT")
        connect = p("connectTime") or ""
        if trigger == "4" and not (connect.isdigit() and 6 <= int(connect) <= 60):
            raise Refused("ERROR_CONNECTTIME")
