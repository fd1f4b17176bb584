"""互亿无线 ihuyi voice notification (语音通知).

Implements ihuyi's 《语音通知API接口文档》 (2 语音通知发送, 3 余额查询, and the push sections). All under
one path, ``/webservice/voice.php``, with the operation in ``method``:

- ``Submit``: one number per request (``batch_size = 1``), full content (the rendered text, which
  must match a template filed with the vendor), answers ``code`` / ``msg`` / ``voiceid``;
- ``GetNum``: the remaining number of calls (``num``) → ``Balance(unit="calls")``;
- ``AddTemplate`` / ``DelTemplate``: file and delete voice templates (``【变量】`` placeholders);
- pushes to our callback URL (form-encoded POST, answered with the body ``success``, retried by
  the vendor up to 3 times otherwise): call receipts (``voiceid``, ``code``, ``talktime`` …) and
  template reviews (``templateid``, ``code`` 2 approved / 0 rejected with the reason in ``msg``).

Success is ``code`` 2 everywhere. Answers are XML by default, the root (``SubmitResult``,
``GetNumResult``, …) carrying the default namespace ``http://106.ihuyi.com/`` (parsed
namespace-aware with defusedxml), or JSON when ``format=json`` is sent.

``options`` keys (declared in ``option_specs``, checked when the account is saved):
- ``auth_mode``: ``"dynamic"`` (default) sends ``password = md5(account + apikey + mobile +
  content + time)`` for Submit and ``md5(account + apikey + time)`` for the other methods, with a
  10-digit Unix ``time``; ``"plain"`` sends the APIKEY itself as ``password`` (no ``time``).
- ``format``: ``"xml"`` (default) or ``"json"``: the answer format requested.

Readings chosen where the document is silent or ambiguous:
- The document defines the dynamic password only for Submit and GetNum; AddTemplate and DelTemplate
  (whose parameter tables list no ``time``) use the GetNum form ``md5(account + apikey + time)``.
- The operation goes in the query string (``?method=Submit``, as the document's addresses show);
  every other parameter in a UTF-8 form body (POST), so credentials never sit in a URL.
- ihuyi has no custom message id and does not echo one: receipts are matched by ``voiceid``
  (our ``vendor_message_id``) plus the mobile number; ``custom_id`` in reports is ``None``.
- Content is at most 180 characters (ihuyi's public pages; the document states no limit and no
  error code for it): longer content is refused before sending, per call, with the local code
  ``content_too_long``.
- Request error codes: account-level codes (IP, credentials, frozen account, no contract, no
  balance) raise ``VendorError``; codes about this one number or content (empty/bad/blacklisted
  number, empty/sensitive/unfiled content, per-number rate limits) and the generic ``0 提交失败``
  are a per-call refusal. ``4071 没有提交备案模板`` is read as a content refusal (this content has no
  filed template), not as an account failure.
- Receipt codes: the table has no ``-7``; anything unlisted maps to ``unknown``. ``-8 呼入限制`` and
  ``-10 呼出限制`` (a restriction on the line) both map to ``barred``; ``-11 线路忙`` (the line or
  trunk is busy) to ``network_busy``; ``-4 正在通话`` to ``busy``.
- ``outcome_map`` also holds the Submit refusal codes (they never collide with the receipt codes
  except ``0``, kept as the receipt table's ``unknown``), so ``map_outcome(error_code)`` classifies
  a refused submit too.
- ``report_time`` is Beijing time (Asia/Shanghai); ``talktime`` is the talk time in seconds
  (fractions rounded half up, ``wire.bounded_seconds``). The document states no billing unit per
  call, so ``billed_seconds`` is left ``None``.
- No scheduled sending exists: a ``send_at`` later than now raises ``NotSupported``.
- Templates are filed with the vendor and reviewed (``reviews_templates``): a campaign's template
  must be approved before it is launched.
- Landlines go on the wire with their leading ``0`` (``02151234529``), mobiles as 11 digits. The
  document accepts Chinese mainland numbers only: any other (not ``+86``) is refused before sending
  with the local code ``unsupported_number`` (``+1 312…`` must not become the Chinese ``131…``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import parse_qs

from .base import (
    Balance,
    BaseAdapter,
    CallbackRejected,
    DeliveryReport,
    Option,
    OutboundCall,
    ParsedCallback,
    Refused,
    SubmitResult,
    TemplateReview,
    VendorError,
)
from .wire import (
    bad_response,
    beijing_time,
    bounded_seconds,
    check_http,
    e164_mobile,
    local_mobile,
    md5_hex,
    parse_balance,
    parse_json,
    parse_xml,
)

PATH = "/webservice/voice.php"
NAMESPACE = "http://106.ihuyi.com/"
SUCCESS = "2"
MAX_CONTENT = 180

# 2.5 Submit: code → the document's description.
SUBMIT_ERRORS = {
    "0": "提交失败",
    "2": "提交成功",
    "400": "非法ip访问",
    "401": "帐号不能为空",
    "402": "密码不能为空",
    "403": "手机号码不能为空",
    "4030": "手机号码已被列入黑名单",
    "404": "语音内容不能为空",
    "405": "用户名或密码不正确",
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
# Submit codes that fail the whole request (account-level: not retried); the rest refuse the call.
SUBMIT_REQUEST_FAILURES = frozenset({"400", "401", "402", "405", "4050", "40505", "4051", "4052", "408"})

# 3.5 GetNum, 4.4 AddTemplate, 5.4 DelTemplate: every code but 2 is a request failure.
GETNUM_ERRORS = {
    "2": "查询成功",
    "400": "非法ip访问",
    "401": "帐号不能为空",
    "402": "密码不能为空",
    "405": "用户名或密码不正确",
    "4050": "账号被冻结",
}
ADD_TEMPLATE_ERRORS = {
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
DEL_TEMPLATE_ERRORS = {
    "2": "删除成功",
    "400": "非法ip访问",
    "401": "用户名不能为空",
    "402": "密码不能为空",
    "404": "模板ID不能为空或模板ID不存在",
    "405": "用户名或密码不正确",
    "4050": "账号被冻结",
}

# 6.2 receipt codes → the document's description.
RECEIPT_CODES = {
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
# 4.5 template review codes.
REVIEW_CODES = {"2": "成功", "0": "驳回"}

# Receipt codes and Submit refusals → outcomes (see the module docstring for the readings).
OUTCOME_MAP = {
    # receipt codes (6.2); "-7" is not in the table
    "2": "answered",
    "0": "unknown",
    "-1": "powered_off",
    "-2": "suspended",
    "-3": "unreachable",
    "-4": "busy",
    "-5": "invalid_number",
    "-6": "no_answer",
    "-8": "barred",
    "-9": "network_busy",
    "-10": "barred",
    "-11": "network_busy",
    "-12": "rejected",
    # Submit refusals (2.5)
    "400": "vendor_error",
    "401": "vendor_error",
    "402": "vendor_error",
    "405": "vendor_error",
    "4050": "vendor_error",
    "40505": "vendor_error",
    "4052": "vendor_error",
    "408": "vendor_error",
    "4051": "insufficient_balance",
    "403": "invalid_number",
    "406": "invalid_number",
    "4030": "blacklisted",
    "404": "content_rejected",
    "407": "content_rejected",
    "4071": "content_rejected",
    "4072": "content_rejected",
    "40722": "content_rejected",
    "4077": "content_rejected",
    "4080": "rate_limited",
    "4081": "rate_limited",
    "4082": "rate_limited",
    # refused here, before sending
    "content_too_long": "content_rejected",
    "unsupported_number": "invalid_number",
}


def wire_mobile(e164: str) -> str:
    """E.164 → ihuyi's form: 11-digit mobiles as they are, landlines with their leading 0."""
    number = local_mobile(e164)
    if len(number) == 11 and number.startswith("1"):
        return number
    return number if number.startswith("0") else "0" + number


class IhuyiAdapter(BaseAdapter):
    code = "ihuyi"
    label = "ihuyi 互亿无线"
    documented_hosts = ("api.vm.ihuyi.com",)  # the document's request URLs
    secret_options = ("auth_mode",)  # plain sends the APIKEY itself, dynamic only a hash of it
    batch_size = 1
    products = ("notify",)
    report_delivery = ("push",)
    max_content_length = MAX_CONTENT
    outcome_map = OUTCOME_MAP
    per_number_limits = ((1, 1), (60, 3), (86400, 10))  # the vendor's stated limits per number
    reviews_templates = True  # AddTemplate, then a review pushed back
    option_specs = {
        "auth_mode": Option(choices=("dynamic", "plain"), default="dynamic"),
        "format": Option(choices=("xml", "json"), default="xml"),
    }

    # ---- options
    @property
    def auth_mode(self) -> str:
        return self.option("auth_mode")

    @property
    def response_format(self) -> str:
        return self.option("format")

    # ---- the one place credentials are built
    def auth_params(self, *signed: str, now: int | None = None) -> dict[str, str]:
        """``account``, ``password`` (and ``time``) for a request.

        Dynamic mode: ``md5(account + apikey + *signed + time)`` — Submit signs ``mobile, content``,
        the other methods sign nothing extra. Plain mode sends the APIKEY.
        """
        account, apikey = self.account.api_id, self.account.api_secret
        if self.auth_mode == "plain":
            return {"account": account, "password": apikey}
        stamp = str(int(time.time()) if now is None else now)
        return {"account": account, "password": md5_hex(account + apikey + "".join(signed) + stamp), "time": stamp}

    # ---- transport and parsing
    def _call(self, method: str, params: dict[str, str]) -> tuple[dict[str, str], str]:
        """POST one operation; answer the result fields (strings, stripped) and the raw text."""
        data = dict(params)
        if self.response_format == "json":
            data["format"] = "json"
        response = self.request("POST", PATH, params={"method": method}, data=data)
        response.encoding = "utf-8"
        text = response.text
        check_http(response, text)
        return self.parse_result(text), text

    @staticmethod
    def parse_result(text: str) -> dict[str, str]:
        """An XML (namespaced) or JSON result → its fields as stripped strings; must hold ``code``."""
        body = text.lstrip("\ufeff \t\r\n")
        fields: dict[str, str] = {}
        if body.startswith("{"):
            data = parse_json(body)
            if not isinstance(data, dict):
                raise bad_response(text)
            fields = {str(k): "" if v is None else str(v).strip() for k, v in data.items()}
        elif body.startswith("<"):
            root = parse_xml(body.encode("utf-8"), text)
            for child in root:
                if not isinstance(child.tag, str):
                    continue
                namespace, _, local = child.tag[1:].partition("}") if child.tag.startswith("{") else ("", "", child.tag)
                if namespace in (NAMESPACE, ""):
                    fields[local] = (child.text or "").strip()
        code = fields.get("code", "")
        if not code.lstrip("-").isdigit():
            raise bad_response(text)
        return fields

    @staticmethod
    def _message(fields: Mapping[str, str], table: Mapping[str, str]) -> str:
        code = fields["code"]
        return table.get(code) or fields.get("msg") or "未知返回码"

    # ---- operations
    def precheck(self, call: OutboundCall, product: str) -> None:
        if len(call.content) > MAX_CONTENT:
            raise Refused("content_too_long", f"语音内容超过{MAX_CONTENT}个字符 ({len(call.content)})")
        if not call.mobile.startswith("+86"):
            raise Refused("unsupported_number", "只支持中国内地手机号码及固话号码")

    def submit_request(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        (call,) = calls  # one number a request (batch_size = 1)
        mobile = wire_mobile(call.mobile)
        params = {**self.auth_params(mobile, call.content), "mobile": mobile, "content": call.content}
        fields, _text = self._call("Submit", params)
        code = fields["code"]
        message = self._message(fields, SUBMIT_ERRORS)
        if code == SUCCESS:
            voiceid = fields.get("voiceid") or None
            return [
                SubmitResult(call.custom_id, call.mobile, True, vendor_message_id=None if voiceid == "0" else voiceid)
            ]
        if code in SUBMIT_REQUEST_FAILURES:
            raise VendorError(code, message)
        return [SubmitResult(call.custom_id, call.mobile, False, error_code=code, error_message=message)]

    def balance(self) -> Balance:
        fields, text = self._call("GetNum", self.auth_params())
        if fields["code"] != SUCCESS:
            raise VendorError(fields["code"], self._message(fields, GETNUM_ERRORS))
        return Balance(amount=parse_balance(fields.get("num", ""), text), unit="calls", raw=text)

    def add_template(self, content: str) -> str:
        fields, text = self._call("AddTemplate", {**self.auth_params(), "content": content})
        if fields["code"] != SUCCESS:
            raise VendorError(fields["code"], self._message(fields, ADD_TEMPLATE_ERRORS))
        template_id = fields.get("templateid", "")
        if not template_id or template_id == "0":
            raise bad_response(text)
        return template_id

    def delete_template(self, template_id: str) -> None:
        fields, _text = self._call("DelTemplate", {**self.auth_params(), "templateid": str(template_id)})
        if fields["code"] != SUCCESS:
            raise VendorError(fields["code"], self._message(fields, DEL_TEMPLATE_ERRORS))

    # ---- pushes
    def parse_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> ParsedCallback:
        """A receipt (has ``voiceid``) or a template review (has ``templateid``); acked ``success``."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackRejected("ihuyi push is not UTF-8") from None
        fields = {k: v[-1].strip() for k, v in parse_qs(text, keep_blank_values=True).items()}
        if not fields:
            fields = {str(k): str(v).strip() for k, v in query.items()}
        code = fields.get("code", "")
        if not code.lstrip("-").isdigit():
            raise CallbackRejected(f"ihuyi push without a valid code: {text[:200]!r}")
        if fields.get("voiceid"):
            return ParsedCallback(reports=[self._report(fields)])
        if fields.get("templateid"):
            review = TemplateReview(
                template_id=fields["templateid"],
                approved=code == SUCCESS,
                message=fields.get("msg") or REVIEW_CODES.get(code, ""),
                raw_code=code,
            )
            return ParsedCallback(template_reviews=[review])
        raise CallbackRejected(f"ihuyi push is neither a receipt nor a template review: {text[:200]!r}")

    def _report(self, fields: Mapping[str, str]) -> DeliveryReport:
        code = fields["code"]
        return DeliveryReport(
            vendor_message_id=fields["voiceid"],
            batch_id=None,
            custom_id=None,
            mobile=e164_mobile(fields.get("mobilephone")),
            outcome=self.map_outcome(code),
            talk_seconds=bounded_seconds(fields.get("talktime")),
            billed_seconds=None,
            key_pressed=None,
            raw_code=code,
            raw_message=fields.get("msg") or RECEIPT_CODES.get(code, ""),
            reported_at=beijing_time(fields.get("report_time")),
        )
