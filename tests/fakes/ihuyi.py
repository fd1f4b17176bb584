"""A fake 互亿无线 ihuyi voice-notification server (《语音通知API接口文档》).

Serves ``/webservice/voice.php`` with ``method`` = Submit, GetNum, AddTemplate or DelTemplate (in the
query string or the form), GET or POST, answering XML with the default namespace
``http://106.ihuyi.com/`` or JSON when ``format=json``. As strict as the document:

- credentials: ``account`` must be ours; ``password`` is either the APIKEY or a dynamic password
  ``md5(account + apikey + mobile + content + time)`` (Submit) / ``md5(account + apikey + time)``
  (the other methods, the adapter's reading), with a 10-digit ``time`` within ``time_window``
  seconds of now (the document states no window; 300 s here). Anything else → 405;
- Submit: one number (11-digit mobile or a landline with its ``0`` area code, else 406), content
  not empty (404) and at most 180 characters (longer → 0 提交失败: the document has no code for it),
  blacklist (4030), sensitive words (407), templates when ``require_template`` (4071 / 4072),
  balance (4051) and the per-number limits of the README — 1 a second (4080), 3 a minute (4081),
  10 a Beijing day (4082), sliding windows over ``limits_clock`` (replaceable by tests;
  ``enforce_number_limits = False`` turns them off for load tests);
- any code can be forced for the next requests with ``fail_next(code, method)``.

Accepted calls are kept in ``submitted`` (dicts: custom_id None — ihuyi has none —, mobile,
vendor_message_id, batch_id None, content, time) and in ``by_voiceid``. ``push_body`` and
``template_push_body`` build document-shaped form pushes for callback tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections import defaultdict, deque
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlencode
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from .base import FakeRequest, FakeVendor, Reply

PATH = "/webservice/voice.php"
NAMESPACE = "http://106.ihuyi.com/"
BEIJING = ZoneInfo("Asia/Shanghai")
MOBILE_RE = re.compile(r"1[3-9]\d{9}|0\d{9,11}")
PLACEHOLDER = "【变量】"

SUBMIT_MESSAGES = {
    "0": "提交失败",
    "2": "提交成功",
    "400": "非法ip访问",
    "401": "帐号不能为空",
    "402": "密码不能为空",
    "403": "手机号码不能为空",
    "4030": "手机号码已被列入黑名单",
    "404": "语音内容不能为空",
    "405": "account或password不正确",
    "4050": "账号被冻结",
    "40505": "没有签定合同",
    "4051": "剩余条数不足",
    "4052": "访问 ip 与备案 ip 不符",
    "406": "手机格式不正确",
    "407": "短信内容含有敏感字符",
    "4071": "没有提交备案模板",
    "4072": "提交的语音内容必须与报备过的模板格式相匹配",
    "40722": "变量内容超过指定的长度",
    "4077": "发送内容未在运营商报备",
    "408": "您的帐户疑被恶意利用,已被自动冻结,如有疑问请与客服联系",
    "4080": "同一手机号码同一秒钟之内发送频率不能超过1条",
    "4081": "同一手机号一分钟之内发送超过3条",
    "4082": "超出同一手机号一天之内10条短信限制",
}
GETNUM_MESSAGES = {
    "2": "查询成功",
    "400": "非法ip访问",
    "401": "帐号不能为空",
    "402": "密码不能为空",
    "405": "account或password不正确",
    "4050": "账号被冻结",
}
ADD_TEMPLATE_MESSAGES = {
    "2": "添加成功",
    "400": "非法ip访问",
    "401": "用户名不能为空",
    "402": "密码不能为空",
    "404": "模板内容不能为空",
    "405": "用户名或密码不正确",
    "4050": "账号被冻结",
    "407": "模板内容含有敏感字符",
    "408": "模板己存在",
}
DEL_TEMPLATE_MESSAGES = {
    "2": "删除成功",
    "400": "非法ip访问",
    "401": "用户名不能为空",
    "402": "密码不能为空",
    "404": "模板ID不能为空或模板ID不存在",
    "405": "用户名或密码不正确",
    "4050": "账号被冻结",
}
RECEIPT_MESSAGES = {
    "2": "成功",
    "0": "未知错误",
    "-1": "关机",
    "-2": "停机",
    "-3": "暂时无法接通",
    "-4": "正在通话",
    "-5": "空号",
    "-6": "无人接听",
    "-8": "呼入限制",
    "-9": "网络忙",
    "-10": "呼出限制",
    "-11": "线路忙",
    "-12": "用户拒接",
}
# (root element, message table, the extra field answered, its value on failure)
METHODS = {
    "Submit": ("SubmitResult", SUBMIT_MESSAGES, "voiceid", "0"),
    "GetNum": ("GetNumResult", GETNUM_MESSAGES, "num", "0"),
    "AddTemplate": ("AddTemplateResult", ADD_TEMPLATE_MESSAGES, "templateid", "0"),
    "DelTemplate": ("AddTemplateResult", DEL_TEMPLATE_MESSAGES, None, None),  # the document's own name
}


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class FakeIhuyi(FakeVendor):
    def __init__(
        self, account: str = "test", apikey: str = "1q784322ba1d9bb88d50cf5cdfd89k7d", *, balance: int = 10**9
    ):
        super().__init__()
        self.account = account
        self.apikey = apikey
        self.balance = balance
        self.blacklist: set[str] = set()
        self.sensitive_words: set[str] = set()
        self.templates: dict[str, dict] = {}  # templateid → {"content", "status": pending|approved|rejected}
        self.require_template = False
        self.enforce_number_limits = True
        self.limits_clock = time.time
        self.time_window = 300
        self.submitted: list[dict] = []
        self.by_voiceid: dict[str, dict] = {}
        self.forced: dict[str, deque[str]] = defaultdict(deque)
        self._state = threading.Lock()
        self._voiceid = 60495654
        self._templateid = 1000
        self._recent: dict[str, deque[float]] = {}
        self._daily: dict[str, tuple[str, int]] = {}

    # ---- test helpers
    def fail_next(self, code: str, method: str = "Submit", times: int = 1) -> None:
        """Answer the next ``times`` requests of ``method`` with ``code`` (after the path check)."""
        self.forced[method].extend([str(code)] * times)

    def push_body(
        self,
        voiceid: str,
        code: str = "2",
        *,
        talktime: int | None = None,
        msg: str | None = None,
        report_time: str | None = None,
    ) -> tuple[bytes, dict[str, str], dict[str, str]]:
        """A receipt push (6.2) for an accepted call: (form body, headers, query)."""
        call = self.by_voiceid[str(voiceid)]
        fields = {
            "code": str(code),
            "msg": RECEIPT_MESSAGES.get(str(code), "未知错误") if msg is None else msg,
            "mobilephone": call["mobile"],
            "talktime": str((30 if str(code) == "2" else 0) if talktime is None else talktime),
            "voiceid": str(voiceid),
            "report_time": report_time or datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        }
        return self._form(fields)

    def template_push_body(self, templateid: str, approved: bool = True, msg: str | None = None):
        """A template review push (4.5), also recording the review on the template."""
        with self._state:
            if str(templateid) in self.templates:
                self.templates[str(templateid)]["status"] = "approved" if approved else "rejected"
        fields = {
            "code": "2" if approved else "0",
            "msg": msg if msg is not None else ("审核通过" if approved else "驳回"),
            "templateid": str(templateid),
        }
        return self._form(fields)

    @staticmethod
    def _form(fields: dict[str, str]) -> tuple[bytes, dict[str, str], dict[str, str]]:
        body = urlencode(fields, encoding="utf-8").encode("ascii")
        return body, {"content-type": "application/x-www-form-urlencoded"}, {}

    # ---- the vendor
    def handle(self, request: FakeRequest) -> Reply:
        if request.path != PATH:
            return Reply("<html><body>404 Not Found</body></html>", 404, "text/html")
        method = request.param("method") or ""
        if method not in METHODS:
            return Reply("<html><body>method not found</body></html>", 404, "text/html")
        as_json = request.param("format") == "json"
        forced = self.forced.get(method)
        if forced:
            with self._state:
                code = forced.popleft() if forced else None
            if code is not None:
                return self._answer(method, code, None, as_json)
        code = self._check_auth(method, request)
        if code:
            return self._answer(method, code, None, as_json)
        handler = getattr(self, f"_do_{method.lower()}")
        code, value = handler(request)
        return self._answer(method, code, value, as_json)

    def _check_auth(self, method: str, request: FakeRequest) -> str | None:
        account = request.param("account") or ""
        password = request.param("password") or ""
        if not account:
            return "401"
        if not password:
            return "402"
        if not hmac.compare_digest(account.encode(), self.account.encode()):
            return "405"
        if hmac.compare_digest(password.encode(), self.apikey.encode()):
            return None  # plain APIKEY
        stamp = request.param("time") or ""
        if not (len(stamp) == 10 and stamp.isdigit()) or abs(time.time() - int(stamp)) > self.time_window:
            return "405"
        signed = (request.param("mobile") or "") + (request.param("content") or "") if method == "Submit" else ""
        expected = md5(self.account + self.apikey + signed + stamp)
        return None if hmac.compare_digest(password.lower().encode(), expected.encode()) else "405"

    def _do_submit(self, request: FakeRequest) -> tuple[str, str | None]:
        mobile = (request.param("mobile") or "").strip()
        content = request.param("content") or ""
        if not mobile:
            return "403", None
        if not MOBILE_RE.fullmatch(mobile):
            return "406", None
        if not content:
            return "404", None
        if len(content) > 180:
            return "0", None
        if mobile in self.blacklist:
            return "4030", None
        if any(word in content for word in self.sensitive_words):
            return "407", None
        with self._state:
            if self.require_template:
                approved = [t["content"] for t in self.templates.values() if t["status"] == "approved"]
                if not approved:
                    return "4071", None
                if not any(_template_regex(t).fullmatch(content) for t in approved):
                    return "4072", None
            if self.balance <= 0:
                return "4051", None
            now = self.limits_clock()
            if self.enforce_number_limits:
                code = self._limit(mobile, now)
                if code:
                    return code, None
            self.balance -= 1
            voiceid = str(self._voiceid)
            self._voiceid += 1
            call = {
                "custom_id": None,
                "mobile": mobile,
                "vendor_message_id": voiceid,
                "batch_id": None,
                "content": content,
                "time": now,
            }
            self.submitted.append(call)
            self.by_voiceid[voiceid] = call
        return "2", voiceid

    def _limit(self, mobile: str, now: float) -> str | None:
        """1 a second, 3 a minute, 10 a Beijing day per number; records the call when allowed."""
        recent = self._recent.get(mobile)
        if recent is None:
            recent = self._recent[mobile] = deque(maxlen=3)
        if recent and now - recent[-1] < 1:
            return "4080"
        if len(recent) == 3 and now - recent[0] < 60:
            return "4081"
        day = datetime.fromtimestamp(now, BEIJING).strftime("%Y%m%d")
        seen_day, count = self._daily.get(mobile, (day, 0))
        count = count if seen_day == day else 0
        if count >= 10:
            return "4082"
        recent.append(now)
        self._daily[mobile] = (day, count + 1)
        return None

    def _do_getnum(self, request: FakeRequest) -> tuple[str, str | None]:
        return "2", str(self.balance)

    def _do_addtemplate(self, request: FakeRequest) -> tuple[str, str | None]:
        content = request.param("content") or ""
        if not content:
            return "404", None
        if any(word in content for word in self.sensitive_words):
            return "407", None
        with self._state:
            if any(t["content"] == content for t in self.templates.values()):
                return "408", None
            self._templateid += 1
            templateid = str(self._templateid)
            self.templates[templateid] = {"content": content, "status": "pending"}
        return "2", templateid

    def _do_deltemplate(self, request: FakeRequest) -> tuple[str, str | None]:
        with self._state:
            if self.templates.pop(request.param("templateid") or "", None) is None:
                return "404", None
        return "2", None

    def _answer(self, method: str, code: str, value: str | None, as_json: bool) -> Reply:
        root, messages, field, failed = METHODS[method]
        fields = {"code": code, "msg": messages.get(code, "提交失败")}
        if field:
            fields[field] = value if value is not None else failed
        if as_json:
            data = {k: int(v) if k in ("code", "num", "templateid") else v for k, v in fields.items()}
            return Reply(json.dumps(data, ensure_ascii=False), 200, "application/json; charset=utf-8")
        inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
        xml = f'<?xml version="1.0" encoding="utf-8"?>\n<{root} xmlns="{NAMESPACE}">{inner}</{root}>'
        return Reply(xml, 200, "text/xml; charset=utf-8")


@lru_cache(maxsize=256)
def _template_regex(template: str) -> re.Pattern:
    return re.compile("(.+?)".join(re.escape(part) for part in template.split(PLACEHOLDER)), re.DOTALL)
