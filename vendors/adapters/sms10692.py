"""sms10692 platform: submit, balance, keyword check, pulled status reports and pulled replies.

Implements the vendor's 《客户接口说明》 (第一章 发送接口 to 第五章 上行接口). Every request is an
HTTP POST of a form body and every answer is XML with the root ``returnsms``:

- ``/v2sms.aspx`` (UTF-8) or ``/v2smsGBK.aspx`` (GB2312), chosen by the option ``encoding``:
  ``action=send`` (chapter 1), ``action=overage`` (balance, chapter 2) and ``action=checkkeyword``
  (chapter 3);
- ``/v2statusApi.aspx`` ``action=query``: status reports, each handed out only once (chapter 4);
- ``/v2callApi.aspx`` ``action=query``: inbound replies, each handed out only once (chapter 5).

Authentication (``_auth``, the one place it is built): ``userid`` (``account.user_id``), a Beijing
``timestamp`` ``yyyyMMddHHmmss`` and ``sign = md5(account + password + timestamp)`` in lower-case
hex, where account is ``account.api_id`` and password ``account.api_secret``. Neither the account
nor the password is sent on the wire: the document's parameter tables list only userid, timestamp
and sign (its examples write ``sign =`` with a stray space; we send ``sign``).

Matching reports: the vendor has no custom message id. ``send`` answers one ``taskID`` for the
whole request, and every status report carries that ``taskid`` plus the ``mobile``. So a
SubmitResult's ``vendor_message_id`` and ``batch_id`` are both the taskID, shared by every number
of the request, and reports are matched by ``(vendor_message_id, mobile)``; ``custom_id`` in
reports is None (``message_ids = PER_REQUEST``). To keep that pair unique, a number is never twice
in one request (``BaseAdapter``'s grouper puts a repeated number into a further request).

Readings chosen where the document is silent or ambiguous:
- Batch size: the document states no limit on the number of ``mobile`` values. We send at most
  1000 numbers a request (``batch_size``): about 12 KB of form body, and a quarter of the
  report pull's default ``statusNum`` of 4000, so one pull covers several whole batches.
- One ``content`` per request: a batch whose calls carry different texts is split into one request
  per distinct text (results keep the input order). ``variables`` are not used: the vendor has no
  templates, ``content`` is sent as rendered. The product does not change the request (the vendor
  has a single send action), so notify, verify and marketing all go through ``action=send``.
- A request failing after an earlier one was answered is handled by ``BaseAdapter.send`` as for
  every vendor (``base.unsent_results``); only a failure of the first request raises.
- Content length: the document states none, so ``max_content_length`` is None.
- The send answer has one status for the whole request. Whole-request failures raise VendorError:
  empty or wrong credentials, insufficient balance, "其他错误" (a vendor database error) and any
  message the document does not list. Refusals caused by the content or the numbers are per-call
  refusals (SubmitResult accepted=False for every call of the request): SQL-injection characters,
  illegal characters/keywords (the message may carry the words after "包含非法字符："), empty numbers,
  empty content. A text the GBK endpoint cannot encode is refused locally (``unencodable``) before
  any request. If ``successCounts`` is lower than the numbers sent the vendor does not say which
  were dropped: every call stays accepted and the missing ones simply get no report (logged).
- Success is ``Success`` (send) or ``Sucess`` (overage, sic); failure is ``Faild`` (sic). Both
  spellings of each are accepted on every action, case-insensitively.
- Balance: ``overage`` is taken as the remaining balance in points (unit ``points``), whatever the
  ``payinfo`` (后付费/预付费); the whole answer is kept in ``raw``.
- Status codes: 10 (发送成功) → ``answered``; 20 (发送失败) → ``unreachable``: the document gives no
  reason, and the gateway ``errorcode`` is "仅作为参考" (reference only), so it is kept as the
  raw message but not mapped. No talk time, billing or keys are reported.
- Times (``receivetime``, ``sendTime``, ``timestamp``) are Beijing time. A naive ``send_at`` is read
  as Beijing time. A ``receivetime`` that cannot be read gives ``reported_at=None`` rather than
  losing the whole pull.
- Answers are parsed by their XML declaration's encoding (the document shows utf-8; a GB2312
  answer from the GBK endpoint is read as GB18030, its superset). An unreadable pull answer is
  logged in full (it holds no credentials) since the vendor will not hand those reports out again.
- The document describes no pushes: ``parse_callback`` is not supported.

``options`` keys (declared in ``option_specs``, checked when the account is saved):
- ``encoding``: ``"utf-8"`` (default) or ``"gbk"`` (also accepts ``"utf8"``, ``"gb2312"``);
- ``ext_no``: the extension sub-number ``extno`` (digits, at most 10; empty by default — ask the
  vendor whether the channel supports it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlencode
from xml.etree.ElementTree import Element, tostring

from django.utils.translation import gettext_lazy as _

from .base import (
    PER_REQUEST,
    Balance,
    BaseAdapter,
    DeliveryReport,
    InboundReply,
    KeywordCheck,
    Option,
    OutboundCall,
    SubmitResult,
    VendorError,
    reject_all,
)
from .wire import (
    bad_response,
    beijing_stamp,
    beijing_time,
    check_http,
    e164_mobile,
    local_mobile,
    md5_hex,
    parse_balance,
    parse_xml,
)

logger = logging.getLogger("vendors")

UTF8_PATH = "/v2sms.aspx"
GBK_PATH = "/v2smsGBK.aspx"
STATUS_PATH = "/v2statusApi.aspx"
REPLY_PATH = "/v2callApi.aspx"

SUCCESS = {"success", "sucess"}  # "Sucess" (sic) is the balance answer's spelling
FAILURE = {"faild", "failed"}  # "Faild" (sic) is the documented spelling

# 1.3 — send answers: message → the document's description.
SEND_MESSAGES = {
    "ok": "提交成功",
    "用户名或密码不能为空": "提交的用户名或密码为空",
    "发送内容包含sql注入字符": "包含sql注入字符",
    "用户名或密码错误": "表示用户名或密码错误",
    "短信号码不能为空": "提交的被叫号码为空",
    "短信内容不能为空": "发送内容为空",
    "包含非法字符": "表示检查到不允许发送的非法字符",
    "对不起，您当前要发送的量大于您当前余额": "当支付方式为预付费是，检查到账户余额不足",
    "其他错误": "其他数据库操作方面的错误",
}
# Refusals caused by what was sent (content, numbers): every call of the request is refused.
SEND_PER_CALL = {"发送内容包含sql注入字符", "短信号码不能为空", "短信内容不能为空", "包含非法字符"}
# 2.3 — balance answers.
OVERAGE_MESSAGES = {
    "": "查询成功",
    "用户名或密码不能为空": "提交的用户名或密码为空",
    "用户名或密码错误": "表示用户名或密码错误",
}
# 3.3 — keyword check answers.
KEYWORD_OK = "没有包含屏蔽词"
KEYWORD_FOUND = "包含非法字符"
KEYWORD_MESSAGES = {
    "用户名或密码不能为空": "提交的用户名或密码为空",
    "用户名或密码错误": "表示用户名或密码错误",
    KEYWORD_FOUND: "检查出来包含非法关键词",
    KEYWORD_OK: "未检查出非法关键词",
}
# 4.4 / 5.4 — report and reply pull errors (all whole-request failures).
PULL_ERRORS = {
    "1": "用户名或密码不能为空",
    "2": "用户名或密码错误",
    "3": "该用户不允许查看状态报告",
    "4": "参数不正确",
}

_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", re.IGNORECASE)
_KEYWORD_SPLIT = re.compile(r"[,，、;；\s]+")


def make_sign(account: str, password: str, timestamp: str) -> str:
    """``md5(account + password + timestamp)`` in lower-case hex (document 1.2)."""
    return md5_hex(f"{account}{password}{timestamp}")


def lookup(table: dict[str, str], message: str) -> tuple[str, str]:
    """A vendor message → (code, the document's description); prefix match for "包含非法字符：…"."""
    if message in table:
        return message, table[message]
    for code, description in table.items():
        if code and message.startswith(code):
            return code, f"{description}（{message}）"
    return message or "Faild", message or "未知错误"


def _text(element: Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


class Sms10692Adapter(BaseAdapter):
    code = "sms10692"
    label = "sms10692 platform"
    documented_hosts = ("sms10692.com",)  # the document's request URLs
    batch_size = 1000
    products = ("notify", "verify", "marketing")
    free_content = True  # the content is played as sent
    report_delivery = ("pull",)
    outcome_map: ClassVar[dict[str, str]] = {"10": "answered", "20": "unreachable"}
    max_content_length = None
    message_ids = PER_REQUEST  # the taskID names the request; reports match on it plus the number
    schedules = True  # sendTime
    option_specs: ClassVar[dict[str, Option]] = {
        "encoding": Option(choices=("utf-8", "gbk"), aliases={"utf8": "utf-8", "gb2312": "gbk"}, default="utf-8"),
        "ext_no": Option(pattern=r"[0-9]{1,10}", hint=_("at most 10 digits")),
    }

    # ---- request building
    @property
    def charset(self) -> str:
        return self.option("encoding")

    @property
    def send_path(self) -> str:
        return GBK_PATH if self.charset == "gbk" else UTF8_PATH

    def _auth(self) -> dict[str, str]:
        """The authentication parameters of every request (never logged)."""
        timestamp = beijing_stamp()
        sign = make_sign(self.account.api_id, self.account.api_secret, timestamp)
        return {"userid": self.account.user_id, "timestamp": timestamp, "sign": sign}

    @staticmethod
    def _send_time(send_at: datetime | None) -> str:
        return "" if send_at is None else beijing_stamp(send_at, "%Y-%m-%d %H:%M:%S")

    def _post(self, path: str, params: dict[str, str], charset: str = "utf-8") -> tuple[Element, str]:
        """POST a form (encoded in ``charset``) and parse the ``returnsms`` answer."""
        body = urlencode(params, encoding=charset).encode("ascii")
        headers = {"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"}
        response = self.request("POST", path, data=body, headers=headers)
        raw = response.content.removeprefix(b"\xef\xbb\xbf")
        match = _DECLARATION.match(raw)
        declared = match.group(1).decode().lower() if match else "utf-8"
        codec = "gb18030" if declared in ("gb2312", "gbk", "gb18030", "x-gbk") else declared
        try:
            text = raw.decode(codec if _known_codec(codec) else "utf-8", errors="replace")
        except (UnicodeError, LookupError):  # a codec without "replace" (idna, …) or a non-text codec
            text = raw.decode("utf-8", errors="replace")
        check_http(response, text)
        try:
            root = parse_xml(raw.decode(codec), text)
        except (VendorError, ValueError, LookupError):  # ValueError, LookupError: the declared codec fails
            root = None
        if root is None or root.tag != "returnsms":
            if path in (STATUS_PATH, REPLY_PATH):
                logger.error("%s: unreadable answer from %s, its items are lost: %s", self.code, path, text)
            raise bad_response(text)
        return root, text

    # ---- send
    def check_send(self, product: str, send_at: datetime | None) -> None:
        super().check_send(product, send_at)
        for key in ("encoding", "ext_no"):  # an unusable option fails the batch before any request
            self.option(key)

    def submit_request(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        """One ``action=send`` (the product does not change it: the vendor has a single send action)."""
        return self._submit(
            list(calls), calls[0].content, self._send_time(send_at), self.option("ext_no") or "", self.charset
        )

    def _submit(
        self, calls: list[OutboundCall], content: str, send_time: str, ext_no: str, charset: str
    ) -> list[SubmitResult]:
        try:
            content.encode(charset)
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            return reject_all(calls, "unencodable", f"内容含有{charset.upper()}无法编码的字符 {bad!r}")
        params = {
            "action": "send",
            **self._auth(),
            "mobile": ",".join(local_mobile(call.mobile) for call in calls),
            "content": content,
            "sendTime": send_time,
            "extno": ext_no,
        }
        root, text = self._post(self.send_path, params, charset)
        status, message = _text(root, "returnstatus"), _text(root, "message")
        if status.lower() in SUCCESS:
            task_id = _text(root, "taskID") or _text(root, "taskid") or None
            counts = _text(root, "successCounts")
            short = counts.isascii() and counts.isdigit() and len(counts) < 10 and int(counts) < len(calls)
            if task_id is None or short:
                logger.warning("%s: send accepted %s of %d numbers, taskID %s", self.code, counts, len(calls), task_id)
            return [SubmitResult(c.custom_id, c.mobile, True, task_id, task_id) for c in calls]
        if status.lower() not in FAILURE:
            raise bad_response(text)
        code, description = lookup(SEND_MESSAGES, message)
        if code in SEND_PER_CALL:
            return reject_all(calls, code, description)
        raise VendorError(code, description)

    # ---- balance and keywords
    def balance(self) -> Balance:
        root, text = self._post(self.send_path, {"action": "overage", **self._auth()}, self.charset)
        status, message = _text(root, "returnstatus"), _text(root, "message")
        if status.lower() in SUCCESS:
            return Balance(parse_balance(_text(root, "overage"), text), "points", text)
        if status.lower() not in FAILURE:
            raise bad_response(text)
        raise VendorError(*lookup(OVERAGE_MESSAGES, message))

    def check_keywords(self, content: str) -> KeywordCheck:
        charset = self.charset
        try:
            content.encode(charset)
        except UnicodeEncodeError as exc:
            raise VendorError("unencodable", f"内容含有{charset.upper()}无法编码的字符") from exc
        root, text = self._post(self.send_path, {"action": "checkkeyword", **self._auth(), "content": content}, charset)
        message = _text(root, "message")
        if message == KEYWORD_OK:
            return KeywordCheck(True, [], text)
        if message.startswith(KEYWORD_FOUND):
            words = message[len(KEYWORD_FOUND) :].lstrip("：:")
            return KeywordCheck(False, [w for w in _KEYWORD_SPLIT.split(words) if w], text)
        if message in KEYWORD_MESSAGES:
            raise VendorError(message, KEYWORD_MESSAGES[message])
        raise bad_response(text)

    # ---- pulls
    def _pull(self, path: str, box: str, extra: dict[str, str] | None = None) -> list[Element]:
        root, _raw = self._post(path, {"action": "query", **self._auth(), **(extra or {})})
        error = root.find("errorstatus")
        if error is not None:
            code, remark = _text(error, "error"), _text(error, "remark")
            raise VendorError(code or "error", PULL_ERRORS.get(code) or remark or "未知错误")
        return root.findall(box)

    def fetch_reports(self, limit: int | None = None) -> list[DeliveryReport]:
        """Pull status reports; ``limit`` becomes ``statusNum`` (vendor default 4000)."""
        extra = {}
        if limit is not None:
            if int(limit) < 1:
                raise ValueError("limit must be a positive number")
            extra["statusNum"] = str(int(limit))
        return [self._report(box) for box in self._pull(STATUS_PATH, "statusbox", extra)]

    def _report(self, box: Element) -> DeliveryReport:
        status, task_id = _text(box, "status"), _text(box, "taskid") or None
        return DeliveryReport(
            vendor_message_id=task_id,
            batch_id=task_id,
            custom_id=None,
            mobile=e164_mobile(_text(box, "mobile")),
            outcome=self.map_outcome(status),
            talk_seconds=None,
            billed_seconds=None,
            key_pressed=None,
            raw_code=status,
            raw_message=_text(box, "errorcode"),
            reported_at=beijing_time(_text(box, "receivetime")),
        )

    def fetch_replies(self) -> list[InboundReply]:
        """Pull inbound replies; ``raw`` keeps the vendor's ``callbox`` element (taskid, extno…)."""
        return [
            InboundReply(
                mobile=e164_mobile(_text(box, "mobile")) or "",
                content=_text(box, "content"),
                received_at=beijing_time(_text(box, "receivetime")),
                vendor_message_id=_text(box, "taskid") or None,
                raw=_raw_element(box),
            )
            for box in self._pull(REPLY_PATH, "callbox")
        ]


def _raw_element(box: Element) -> str:
    """The element as XML text; its direct children only if it nests too deep to serialize."""
    try:
        return tostring(box, encoding="unicode").strip()
    except RecursionError:  # hostile nesting: ElementTree serializes recursively
        return "".join(f"<{child.tag}>{child.text or ''}</{child.tag}>" for child in box)


def _known_codec(name: str) -> bool:
    try:
        "".encode(name)
    except LookupError:
        return False
    return True
