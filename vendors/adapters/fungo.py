"""企信通 fungo voice platform (语音验证码 / 语音通知).

Implements fungo's 《语音验证码平台接口说明（HTTP）》 (sections 群发短信recv_center, 推送状态报告, 查询余额QueryBlance):

- ``Recv_center`` (GET ``/Recv_center``): submit one content to up to 200 numbers
  (``batch_size = 200``, code ``-1007`` above that); answers JSON ``{"smsid": …, "code": "0"}`` or
  ``{"code": "-1000"}``;
- ``QueryBlance`` (GET ``/QueryBlance``, sic): a bare number — the balance in fen (分) for a main
  account, the remaining count (剩余条数) for a sub-account — or a negative code;
- a status push to our callback URL (POST, ``args=key,phone,status;key,phone,status;…``), where
  ``key`` is the submit's ``smsid``;
- an inbound-message push to our callback URL (``userMoblie``, ``content``, ``cpMoblie``, sic),
  which also carries key presses of key-press notifications ("按键以上行方式推送给合作方").

Credentials: ``CpName`` = ``account.api_id``, ``CpPassword`` = ``account.api_secret`` (plain, no
signature), built only in ``_credentials``. The documented calls are GET URLs, so they are sent as
GET query strings (keep the ``urllib3`` logger above DEBUG: it logs request lines).

``options`` keys (declared in ``option_specs``, checked when the account is saved):
- ``content_format`` (product ``notify``): ``"template"`` (default; alias ``"tts"``) — a filed TTS
  template, ``APPID|模板ID|参数``; ``"keypress"`` — a key-press template, same shape; ``"recording"``
  — a filed recording, ``APPID|模板ID|录音文件名``;
- ``app_id`` (APPID) and ``template_id`` (模板ID): required for ``notify``;
- ``recording_file``: the recording's file name (``recording`` format); default: the call's content;
- ``ext_code``: ExtCode, the outbound long number (外呼长号码), sent only when set;
- ``content_labels`` (bool, default true): ``Content`` starts with the document's label for its
  format, as the document writes it: ``【语音验证码】1234``, ``【语音通知】APPID|模板ID|参数``,
  ``【语音通知按键】APPID|模板ID|参数``, ``【语音通知文件】APPID|模板ID|录音文件名``; false leaves the
  label out, for a platform that takes the bare format;
- ``sub_account`` (bool, default false): the account is a sub-account, so ``QueryBlance`` answers a
  remaining count (``Balance(unit="calls")``) instead of fen (``Balance(unit="CNY")``).

Readings chosen where the document is silent or ambiguous:
- Products: ``verify`` sends the code (``call.variables[0]``, else ``call.content``), which must be
  4 to 6 digits (else refused locally, code ``invalid_code``); ``notify`` sends the template format
  chosen by ``content_format``. The 【…】 labels are part of ``Content`` in the document's format
  lines, so they are sent by default (``content_labels``).
- A template takes at most one variable ("语音通知中可以包含一个变量"): ``call.variables[0]`` or empty
  (``APPID|模板ID|``); more than one, or a ``|`` inside it, is refused locally (``invalid_variables``).
  A recording takes none ("语音通知文件不支持变量"): variables are ignored.
- One content per request: calls are grouped by their wire content (``request_key``), and a number
  appears at most once per request, so a report's (key, phone) names exactly one call
  (``message_ids = PER_REQUEST``). Several numbers in ``DesMobile`` are separated by commas (the
  document does not say).
- The answer has one code for the whole request: account-level codes raise ``VendorError``; codes
  about numbers or content refuse every call of that request (``SubmitResult(accepted=False)``).
  Unlisted codes raise ``VendorError``. A request failing after an earlier one was answered is
  handled by ``BaseAdapter.send`` as for every vendor (``base.unsent_results``).
- No custom id exists: ``vendor_message_id`` and ``batch_id`` are both the ``smsid``; reports are
  matched by ``smsid`` (= ``key``) plus the mobile number; ``custom_id`` in reports is ``None``.
- Status ``0`` ("返回状态推送0表示下发成功") is the only success code and is read as ``answered``.
  ``9995 消息处于中间状态`` is not final: such records are left out of the parsed reports (the raw
  body is stored by the caller). The push has no time and no duration: ``reported_at``,
  ``talk_seconds``, ``billed_seconds`` and ``billed_units`` are ``None``. Where a talk time is known,
  ``billed_units(talk) = ceil(talk / 12)`` ("每12秒一个计费时长"), ``billed_seconds = 12 × units``.
- The push answer is ours to define (由各合作方自行定义): HTTP 200 ``success``. ``args`` is read from
  the form body or the query string; replies from either too (also spelled ``userMobile``).
- ``QueryBlance`` codes are printed with an en dash (``–1``) in the document: both dashes are read.
- There is no scheduled sending: a ``send_at`` in the future raises ``NotSupported``.
- An answer other than HTTP 200 is the vendor's refusal (``http_<status>``), before any parsing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import parse_qs, urlencode

from .base import (
    PER_REQUEST,
    Balance,
    BaseAdapter,
    CallbackRejected,
    DeliveryReport,
    InboundReply,
    Option,
    OutboundCall,
    ParsedCallback,
    Refused,
    SubmitResult,
    VendorError,
    reject_all,
)
from .wire import bad_response, check_http, e164_mobile, local_mobile, parse_balance, parse_json

logger = logging.getLogger("vendors")

BILLING_SECONDS = 12  # "计费方式为每12秒一个计费时长"

# 附：常见状态对照表 — the same table serves the submit answer and the status push.
STATUS_MESSAGES = {
    "0": "消息被发送到目的地",
    "-1000": "用户账号不存在",
    "-1003": "IP不合法",
    "-1004": "用户账号已注销",
    "-1005": "用户账号已禁用",
    "-1006": "账户余额不足（配置条数0）",
    "-1007": "一次批量发送消息条数太多（限制200条）",
    "-1008": "提交结构不合法，无效的发送方式",
    "-1009": "消息内容为空",
    "-1010": "发送目的地手机号码无效",
    "-1011": "余额不足",
    "-1012": "黑名单",
    "-1013": "内容包含过滤字",
    "-1014": "无效的扩展码",
    "-1015": "签名不通过",
    "-1016": "营销模板审核不通过",
    "-1017": "单用户接收日上限",
    "-1018": "找不到对应的通道（没有配置通道）",
    "-1019": "不在允许的下发时间段",
    "-1020": "通道关停",
    "-1021": "行业模板审核不通过",
    "-1022": "未找到对应的网关消息队列",
    "-1025": "无签名",
    "-1026": "签名不存在",
    "-1027": "签名存在，但没有对应的扩展码",
    "-1050": "模糊审核不通过",
    "-1051": "精确审核不通过",
    "-2001": "加密签名不正确",
    "-1099": "系统异常",
    "9992": "消息有效时间已过期",
    "9993": "消息已被删除",
    "9994": "消息无法递交(用户未开户)",
    "9995": "消息处于中间状态",
    "9996": "消息无效",
    "9997": "消息被拒绝(短消息业务被禁止)",
    "9998": "查找路由失败",
    "-9999": "提交通道速度上限",
    "-9990": "提交运营商后，运营商没有返回状态",
    "-111": "提交运营商网关速度太快",
}
# Submit codes that fail the whole request (account, configuration, our own bug): raise.
REQUEST_FAILURES = frozenset(
    {
        "-1000",
        "-1003",
        "-1004",
        "-1005",
        "-1006",
        "-1007",
        "-1008",
        "-1011",
        "-1014",
        "-1018",
        "-1020",
        "-1022",
        "-1027",
        "-2001",
        "-1099",
    }
)
# Every other listed non-zero code refuses the numbers / content of that request.
NON_FINAL_STATUSES = frozenset({"9995"})
BALANCE_ERRORS = {
    "-1": "账号或密码错误",
    "-2": "1分钟之内只能查询一次余额",
    "-3": "该账号未开通",
    "-99": "余额不足",
}
LOCAL_ERRORS = {
    "invalid_code": "验证码须为4位至6位的数字",
    "invalid_variables": "语音通知中可以包含一个变量（不含“|”）",
    "invalid_mobile": "发送目的地手机号码无效",
    "empty_content": "消息内容为空",
}
LABELS = {
    "verify": "【语音验证码】",
    "template": "【语音通知】",
    "keypress": "【语音通知按键】",
    "recording": "【语音通知文件】",
}
CODE_RE = re.compile(r"\d{4,6}")
MOBILE_RE = re.compile(r"\d{5,20}")
AMOUNT_RE = re.compile(r"\d+(\.\d+)?")
DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\uff0d": "-"})


def billed_units(talk_seconds: int | None) -> int | None:
    """fungo bills every started 12 seconds of talk time: ceil(talk / 12); unknown stays None."""
    if talk_seconds is None:
        return None
    return -(-max(int(talk_seconds), 0) // BILLING_SECONDS)


def _refused(code: str) -> Refused:
    return Refused(code, LOCAL_ERRORS[code])


class FungoAdapter(BaseAdapter):
    code = "fungo"
    label = "fungo 企信通"
    documented_hosts = ("qxt.fungo.cn",)  # the document's request URLs
    batch_size = 200
    products = ("verify", "notify")
    report_delivery = ("push",)
    max_content_length = None
    message_ids = PER_REQUEST  # the smsid names the request; reports match on it plus the number
    option_specs = {
        "content_format": Option(
            choices=("template", "keypress", "recording"), aliases={"tts": "template"}, default="template"
        ),
        "app_id": Option(required_for=("notify",)),
        "template_id": Option(required_for=("notify",)),
        "recording_file": Option(),
        "ext_code": Option(),
        "content_labels": Option(bool, default=True),
        "sub_account": Option(bool, default=False),
    }
    outcome_map = {
        "0": "answered",
        "-1000": "vendor_error",
        "-1003": "vendor_error",
        "-1004": "vendor_error",
        "-1005": "vendor_error",
        "-1006": "insufficient_balance",
        "-1007": "vendor_error",
        "-1008": "vendor_error",
        "-1009": "content_rejected",
        "-1010": "invalid_number",
        "-1011": "insufficient_balance",
        "-1012": "blacklisted",
        "-1013": "content_rejected",
        "-1014": "vendor_error",
        "-1015": "content_rejected",
        "-1016": "content_rejected",
        "-1017": "rate_limited",
        "-1018": "vendor_error",
        "-1019": "rate_limited",
        "-1020": "vendor_error",
        "-1021": "content_rejected",
        "-1022": "vendor_error",
        "-1025": "content_rejected",
        "-1026": "content_rejected",
        "-1027": "vendor_error",
        "-1050": "content_rejected",
        "-1051": "content_rejected",
        "-2001": "vendor_error",
        "-1099": "vendor_error",
        "9992": "unreachable",
        "9993": "vendor_error",
        "9994": "invalid_number",
        "9995": "unknown",
        "9996": "vendor_error",
        "9997": "barred",
        "9998": "unreachable",
        "-9999": "rate_limited",
        "-9990": "timeout",
        "-111": "rate_limited",
        # local refusals (never sent)
        "invalid_code": "content_rejected",
        "invalid_variables": "content_rejected",
        "invalid_mobile": "invalid_number",
        "empty_content": "content_rejected",
    }

    # ---- auth
    def _credentials(self) -> dict[str, str]:
        """The only place the credentials go into a request."""
        return {"CpName": self.account.api_id or "", "CpPassword": self.account.api_secret or ""}

    # ---- submit (the loop is BaseAdapter.send)
    def precheck(self, call: OutboundCall, product: str) -> None:
        if not MOBILE_RE.fullmatch(local_mobile(call.mobile)):
            raise _refused("invalid_mobile")
        self._content(call, product)

    def request_key(self, call: OutboundCall, product: str) -> str:
        return self._content(call, product)

    def _content(self, call: OutboundCall, product: str) -> str:
        """The call's ``Content``, label first unless ``content_labels`` is off; ``Refused`` if it cannot be built."""
        if product == "verify":
            code = (call.variables[0] if call.variables else call.content or "").strip()
            if not CODE_RE.fullmatch(code):
                raise _refused("invalid_code")
            kind, body = "verify", code
        else:
            kind = self.option("content_format")
            if kind == "recording":
                param = str(self.option("recording_file") or call.content or "").strip()
                if not param:
                    raise _refused("empty_content")
            else:
                if len(call.variables) > 1:
                    raise _refused("invalid_variables")
                param = str(call.variables[0]) if call.variables else ""
            if "|" in param:
                raise _refused("invalid_variables")
            body = f"{self.option('app_id')}|{self.option('template_id')}|{param}"
        return LABELS[kind] + body if self.option("content_labels") else body

    def submit_request(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        params = {
            **self._credentials(),
            "DesMobile": ",".join(local_mobile(c.mobile) for c in calls),
            "Content": self._content(calls[0], product),
        }
        if self.option("ext_code"):
            params["ExtCode"] = self.option("ext_code")
        response = self.request("GET", "/Recv_center", params=params)
        text = response.text
        check_http(response, text)
        data = parse_json(text)
        code = data.get("code") if isinstance(data, dict) else None
        if not isinstance(code, (str, int)) or isinstance(code, bool):  # no code, or not a string or number
            raise bad_response(text)
        code = str(code).strip().translate(DASHES)
        if code == "0":
            smsid = str(data.get("smsid") or "").strip()
            if not smsid:
                raise bad_response(text)
            return [SubmitResult(c.custom_id, c.mobile, True, vendor_message_id=smsid, batch_id=smsid) for c in calls]
        message = STATUS_MESSAGES.get(code)
        if message is None or code in REQUEST_FAILURES:
            raise VendorError(code, message or f"未知返回码: {text[:200]}")
        return reject_all(calls, code, message)

    # ---- balance
    def balance(self) -> Balance:
        response = self.request("GET", "/QueryBlance", params=self._credentials())
        check_http(response, response.text)
        raw = response.text.strip().lstrip("\ufeff").strip()
        value = raw.translate(DASHES)
        if value in BALANCE_ERRORS:
            raise VendorError(value, BALANCE_ERRORS[value])
        if not AMOUNT_RE.fullmatch(value) or not value.isascii():
            raise bad_response(response.text)
        amount = parse_balance(value, response.text)  # fen or calls: either way bounded
        if self.option("sub_account"):
            return Balance(amount=amount, unit="calls", raw=raw)
        return Balance(amount=amount.scaleb(-2), unit="CNY", raw=raw)  # fen → yuan, exact

    # ---- pushes
    def parse_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> ParsedCallback:
        params: dict[str, str] = {}
        if body:
            try:
                text = body.decode("utf-8")
                form = parse_qs(text, keep_blank_values=True, encoding="utf-8", errors="strict")
            except (UnicodeDecodeError, ValueError):
                raise CallbackRejected("fungo push body is not UTF-8 form data") from None
            params.update({k: v[-1] for k, v in form.items()})
        for key, value in (query or {}).items():
            params.setdefault(key, value)

        if "args" in params:
            reports = self._parse_reports(params["args"])
            return ParsedCallback(reports=reports, ack_body="success", ack_status=200)
        mobile = params.get("userMoblie") or params.get("userMobile")
        if mobile and "content" in params:
            reply = InboundReply(
                mobile=e164_mobile(mobile) or mobile,
                content=params["content"],
                received_at=None,
                vendor_message_id=None,
                raw=urlencode(params),
            )
            return ParsedCallback(replies=[reply], ack_body="success", ack_status=200)
        raise CallbackRejected("fungo push has neither args nor userMoblie/content")

    def _parse_reports(self, args: str) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        records = [r for r in args.split(";") if r.strip()]
        skipped = 0
        for record in records:
            parts = [p.strip() for p in record.split(",")]
            if len(parts) != 3 or not all(parts):
                skipped += 1
                continue
            key, phone, status = parts
            status = status.translate(DASHES)
            if status in NON_FINAL_STATUSES:
                continue
            reports.append(self._report(key, phone, status))
        if records and skipped == len(records):
            raise CallbackRejected("fungo status push: no readable key,phone,status record")
        if skipped:
            logger.warning("fungo status push: %d malformed record(s) skipped", skipped)
        return reports

    def _report(self, key: str, phone: str, status: str, talk_seconds: int | None = None) -> DeliveryReport:
        units = billed_units(talk_seconds)
        return DeliveryReport(
            vendor_message_id=key,
            batch_id=key,
            custom_id=None,
            mobile=e164_mobile(phone),
            outcome=self.map_outcome(status),
            talk_seconds=talk_seconds,
            billed_seconds=None if units is None else units * BILLING_SECONDS,
            key_pressed=None,
            raw_code=status,
            raw_message=STATUS_MESSAGES.get(status, ""),
            reported_at=None,
            billed_units=units,
        )
