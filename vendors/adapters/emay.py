"""亿美软通 Emay voice: notification, verification code, marketing and voice-SMS on one host.

Implements Emay's 《语音短信接口说明》 (V3.0.1, revision 3.5 "合并金融营销"; chapter 2 语音接口, chapter 3 状态码表):
``/voice/send`` (notify), ``/voice/sendVFCode`` (verify), ``/voice/sendCTCode`` (marketing),
``/join/send`` (voice_sms); ``/voice/getReport`` and ``/join/getReport`` (pull, each report handed out
once, at most 1000 a pull); ``/voice/getBalance`` and ``/join/getBalance``; report pushes, plain JSON
or gzip + AES. Auth: ``sign = md5(appId + secretKey + timestamp)`` with a Beijing-time
``yyyyMMddHHmmss`` timestamp that must be within one minute; balance uses ``md5(appId + secretKey)``.
Our ``custom_id`` travels as ``customVoiceIds`` / ``customVoiceId`` / ``customJoinIds`` and comes back
in submit answers and reports, so reports are matched by it (the vendor id is kept as well).

Readings chosen where the document is ambiguous:
- It says "post" but its examples are query strings: we POST a UTF-8 form body. The examples'
  ``customSmsIds`` / ``customSmsId`` / ``contents`` contradict the parameter tables; the tables win.
- One request carries one ``content`` for up to 500 numbers, so calls are grouped by identical content
  (one request per group, ≤ 500 numbers); ``/voice/sendVFCode`` takes one ``mobile``, so verify is one
  request per call. A number appears at most once per request. The verification code is the first of
  ``content``, ``variables…`` that is 4 or 6 digits (a rendered "您的验证码是1234" sends its
  variable ``1234``); else ``content`` as is.
- Numbers that are not mainland mobiles (``+86 1[3-9]`` + 9 digits; Emay takes no other) are refused
  locally with ``ERROR_MOBILE_ERROR``, so one bad number cannot sink a request of 500.
- Request-level answers (credentials, signature, clock, IP, balance, account type, bad parameters or
  option values) raise ``VendorError``; ``ERROR_OVER_SPEED`` raises ``VendorUnavailable`` (nothing was
  dialled, retry with backoff); content/number/id refusals become per-call ``SubmitResult`` refusals.
  A request failing after an earlier one was answered (accepted or refused per call) is handled by
  ``BaseAdapter.send`` as for every vendor: nothing is raised and the rest comes back as
  ``base.unsent_results`` says.
- Submit answers are matched to calls by ``customVoiceId`` (then by mobile); a call missing from the
  answer gets ``RESULT_UNCERTAIN`` (reconciled by report). There is no vendor batch id: ``batch_id``
  is None. ``outcome_map`` also holds the per-call refusal codes (``ERROR_OVER_SPEED`` → rate_limited).
- Reports: ``callingTime`` (the call's start, the only time given) becomes ``reported_at``; voice-SMS
  reports carry no time (None). ``talk_seconds`` is ``callingDuration`` rounded half-up;
  ``billed_seconds`` is None (no billing unit documented). ``voiceSign`` (recorded message) is ignored.
  ``FAIL_CALL`` (呼叫失败) and voice-SMS ``2`` (失败) do not say why: mapped to ``no_answer`` (retryable).
- ``fetch_reports`` pulls the line named by option ``line``; without that option it pulls both
  (voice, then join, ``limit`` shared), skipping a line that answers ``ERROR_MESSAGE_TYPE``; once one
  line handed out reports a failure of the other is logged, not raised, so no report is lost.
- Balance unit is not documented: option ``balance_unit`` (default ``calls``). Scheduled calls are not
  offered (voice-SMS answers ``ERROR_TIMING``): a ``send_at`` more than a minute ahead is NotSupported.
- Pushes: the ``appId`` header must equal ``api_id`` (constant-time); the items' own ``appId`` is not
  compared (the document prints it with spaces). The ack is undocumented: HTTP 200 ``SUCCESS``.
  A plain push is a JSON body (``{"code", "data": [...]}`` or a bare list) or a form field
  ``reports``; items with ``joinId`` are read as voice-SMS reports. In ``encrypted`` mode only a body
  that decrypts and gunzips is accepted (a plain one is not authenticated); at most 10 MB unzipped.
- Interactive and voice-message parameters exist for notify, marketing and voice-SMS only; the
  document gives ``/voice/sendVFCode`` none, so verify sends none.

``options`` keys (declared in ``option_specs``, checked when the account is saved): ``line``
(``voice`` default, or ``join``: balance and report pulls), ``push_mode``
(``plain`` default, or ``encrypted``), ``balance_unit``; for notify, marketing and voice_sms
``is_interactive`` (bool), ``interactive_content``, ``acoustic_sign_content``; for voice_sms also
``is_acoustic_sign`` (bool), ``sms_content``, ``trigger_conditions`` (3 = key press, 4 = connect
time; required for voice_sms), ``key_content`` (0-9, with 3), ``connect_time`` (6-60 s, with 4).
"""

from __future__ import annotations

import hmac
import logging
import re
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NoReturn
from urllib.parse import parse_qs

from Crypto.Cipher import AES
from Crypto.Util.Padding import unpad
from django.utils.translation import gettext_lazy as _

from .base import (
    RESULT_UNCERTAIN,
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
    VendorUnavailable,
    reject_all,
)
from .wire import (
    bad_response,
    beijing_stamp,
    beijing_time,
    bounded_seconds,
    check_http,
    e164_mobile,
    local_mobile,
    md5_hex,
    parse_balance,
    parse_json,
    parse_json_object,
)

logger = logging.getLogger("vendors")

SEND_PATHS = {
    "notify": "/voice/send",
    "verify": "/voice/sendVFCode",
    "marketing": "/voice/sendCTCode",
    "voice_sms": "/join/send",
}
REPORT_PATHS = {"voice": "/voice/getReport", "join": "/join/getReport"}
BALANCE_PATHS = {"voice": "/voice/getBalance", "join": "/join/getBalance"}
MOBILE_RE = re.compile(r"\+861[3-9][0-9]{9}")  # mainland mobiles, E.164
VERIFY_CODE_RE = re.compile(r"[0-9]{4}|[0-9]{6}")
MAX_PULL = 1000
MAX_PUSH_BYTES = 10 * 1024 * 1024

# 3.1 状态报告表 (voice) and 3.3 语音短信状态报告表 (voice-SMS): state → outcome, and the doc's text.
OUTCOME_MAP = {
    "SUCCESS": "answered",
    "FAIL_CALL": "no_answer",
    "FAIL_ERROR_VOICE": "vendor_error",
    "FAIL_UNKNOWN": "unknown",
    "TIMEOUT": "timeout",
    "FAIL_NEEDMORE_BALANCE": "insufficient_balance",
    "FAIL_MOBILE": "invalid_number",
    "FAIL_BLACKDICTIONARY": "content_rejected",
    "FAIL_AUDITINGFAIL": "content_rejected",
    "FAIL_APPID": "vendor_error",
    "4": "answered",
    "3": "timeout",
    "2": "no_answer",
    # submit refusals (per call), so map_outcome(error_code) classifies a refused submit too
    "ERROR_MOBILE_EMPTY": "invalid_number",
    "ERROR_MOBILE_ERROR": "invalid_number",
    "ERROR_CONTENT_EMPTY": "content_rejected",
    "ERROR_LONG_CONTENT": "content_rejected",
    "ERROR_VERIFICATION_CODE_CONTENT": "content_rejected",
    "ERROR_CUSTOM_VOICE_ID": "vendor_error",
    "ERROR_CUSTOM_JOIN_ID": "vendor_error",
    "ERROR_OVER_SPEED": "rate_limited",
}
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
    "4": "成功",
    "3": "超时",
    "2": "失败",
}
_COMMON_ERRORS = {
    "SUCCESS": "提交成功",
    "ERROR_APPID": "AppId 不存在",
    "ERROR_PARAMS": "请求参数错误",
    "ERROR_CLIENT_IP": "不识别的 Ip",
    "ERROR_TIMESTAMP": "时间戳错误",
    "ERROR_SIGN": "签名错误",
    "ERROR_MOBILE_EMPTY": "手机号为空",
    "ERROR_MOBILE_NUMBER": "号码数量过多",
    "ERROR_MOBILE_ERROR": "手机号码错误",
    "ERROR_CONTENT_EMPTY": "语音内容为空",
    "ERROR_LONG_CONTENT": "语音内容过长",
}
# 3.2 接口状态码表 (voice lines)
VOICE_ERRORS = {
    **_COMMON_ERRORS,
    "ERROR_VERIFICATION_CODE_CONTENT": "短信语音验证码内容错误",
    "ERROR_CUSTOM_VOICE_ID": "自定义语音 ID 错误",
    "ERROR_NEEDMORE_BALANCE": "余额不足",
    "ERROR_CUSTOM_VOICE_ID_NUMBER": "自定义语音 ID 数量错误",
    "ERROR_OVER_SPEED": "请求超速",
    "ERROR_MESSAGE_TYPE": "服务号类型不匹配",
}
# 3.4 语音短信状态码表 (join line)
JOIN_ERRORS = {
    **_COMMON_ERRORS,
    "ERROR_TRIGGERCONDITIONS": "触发条件错误",
    "ERROR_TIMINGTIME": "发送短信定时时间格式错误",
    "ERROR_KEYCONTENT": "按键内容必须为数字",
    "ERROR_CONNECTTIME": "连通时间在 6-60 秒内",
    "ERROR_ISACOUSTICSIGN": "留言标识错误",
    "ERROR_ISINTERACTIVE": "互动标识错误",
    "ERROR_CUSTOM_JOIN_ID": "自定义 ID 错误",
    "ERROR_NEEDMORE_BLANCE": "余额不足",
    "ERROR_CUSTOM_JOIN_ID_NUMBER": "自定义 ID 数量错误",
    "ERROR_TIMING": "暂不支持定时外呼",
    "ERROR_TRIGGER": "无效值",
}
ERRORS = {"voice": VOICE_ERRORS, "join": JOIN_ERRORS}
ALL_ERRORS = {**VOICE_ERRORS, **JOIN_ERRORS}
# Codes that refuse only the calls of that request (their content, numbers or ids); every other
# non-SUCCESS code is a whole-request failure.
PER_CALL_CODES = frozenset(
    {
        "ERROR_MOBILE_EMPTY",
        "ERROR_MOBILE_ERROR",
        "ERROR_CONTENT_EMPTY",
        "ERROR_LONG_CONTENT",
        "ERROR_VERIFICATION_CODE_CONTENT",
        "ERROR_CUSTOM_VOICE_ID",
        "ERROR_CUSTOM_JOIN_ID",
    }
)
RETRY_LATER_CODES = frozenset({"ERROR_OVER_SPEED"})


def make_sign(app_id: str, secret_key: str, timestamp: str = "") -> str:
    """``md5(appId + secretKey + timestamp)`` in lower-case hex (balance queries sign without a timestamp)."""
    return md5_hex(app_id + secret_key + timestamp)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _code(value) -> str:
    """A status code is a string; anything else (a number, a list, an object) reads as no code (bad_response)."""
    return value.strip() if isinstance(value, str) else ""


def _flag(value: bool) -> str:
    return "1" if value else "0"


class EmayAdapter(BaseAdapter):
    code = "emay"
    label = "Emay 亿美软通"
    batch_size = 500
    products = ("notify", "verify", "marketing", "voice_sms")
    free_content = True  # the content is played as sent
    report_delivery = ("push", "pull")
    outcome_map = OUTCOME_MAP
    max_content_length = 200
    option_specs = {
        "line": Option(choices=("voice", "join")),
        "push_mode": Option(choices=("plain", "encrypted"), default="plain"),
        "balance_unit": Option(choices=("calls", "CNY", "points"), default="calls"),
        "is_interactive": Option(bool, default=False),
        "interactive_content": Option(),
        "acoustic_sign_content": Option(),
        "is_acoustic_sign": Option(bool, default=False),
        "sms_content": Option(),
        "trigger_conditions": Option(choices=("3", "4"), required_for=("voice_sms",)),
        "key_content": Option(pattern=r"[0-9]", hint=_("one digit, 0 to 9")),
        "connect_time": Option(int, low=6, high=60),
    }

    # ---- auth: the one place signatures are built
    def _auth(self, *, timestamped: bool = True) -> dict[str, str]:
        app_id, secret = self.account.api_id or "", self.account.api_secret or ""
        if not timestamped:  # getBalance: md5(appId + secretKey)
            return {"appId": app_id, "sign": make_sign(app_id, secret)}
        timestamp = beijing_stamp()
        return {"appId": app_id, "timestamp": timestamp, "sign": make_sign(app_id, secret, timestamp)}

    # ---- HTTP + JSON
    def _call(self, path: str, params: Mapping[str, str]) -> tuple[dict, str]:
        response = self.request("POST", path, data=dict(params))
        text = response.content.decode("utf-8", errors="replace")
        check_http(response, text)
        return parse_json_object(text), text

    @staticmethod
    def _fail(code: str, line: str) -> NoReturn:
        message = ERRORS[line].get(code) or ALL_ERRORS.get(code, f"未知状态码 {code}")
        if code in RETRY_LATER_CODES:
            raise VendorUnavailable(f"emay: [{code}] {message}")
        raise VendorError(code, message)

    def _line(self) -> str:
        return self.option("line") or "voice"

    # ---- sending (the loop is BaseAdapter.send)
    def precheck(self, call: OutboundCall, product: str) -> None:
        if not MOBILE_RE.fullmatch(call.mobile):
            raise Refused("ERROR_MOBILE_ERROR", VOICE_ERRORS["ERROR_MOBILE_ERROR"])

    def request_key(self, call: OutboundCall, product: str) -> str | None:
        return None if product == "verify" else call.content  # sendVFCode takes one mobile

    def submit_request(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        line = "join" if product == "voice_sms" else "voice"
        params = {**self._auth(), **self._send_params(product, calls)}
        payload, text = self._call(SEND_PATHS[product], params)
        code = _code(payload.get("code"))
        if not code:
            raise bad_response(text)
        if code != "SUCCESS":
            if code in PER_CALL_CODES:
                return reject_all(calls, code, ERRORS[line].get(code) or ALL_ERRORS.get(code, code))
            self._fail(code, line)
        entries = payload.get("data")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise bad_response(text)
        return self._match(calls, entries, line)

    def _send_params(self, product: str, calls: Sequence[OutboundCall]) -> dict[str, str]:
        if product == "verify":
            call = calls[0]
            candidates = [_text(c) for c in (call.content, *call.variables)]
            code = next((c for c in candidates if VERIFY_CODE_RE.fullmatch(c)), candidates[0])
            return {"content": code, "mobile": local_mobile(call.mobile), "customVoiceId": call.custom_id}
        params = {
            "mobiles": ",".join(local_mobile(c.mobile) for c in calls),
            "isInteractive": _flag(self.option("is_interactive")),
        }
        for key, name in (
            ("interactive_content", "interactiveContent"),
            ("acoustic_sign_content", "acousticSignContent"),
        ):
            if self.option(key):
                params[name] = self.option(key)
        ids = ",".join(c.custom_id for c in calls)
        if product != "voice_sms":
            return {"content": calls[0].content, "customVoiceIds": ids, **params}
        params.update(
            voiceContent=calls[0].content, customJoinIds=ids, isAcousticSign=_flag(self.option("is_acoustic_sign"))
        )
        for key, name in (
            ("sms_content", "smsContent"),
            ("trigger_conditions", "triggerConditions"),
            ("key_content", "keyContent"),
            ("connect_time", "connectTime"),
        ):
            value = self.option(key)
            if value is not None and value != "":
                params[name] = str(value)
        return params

    def _match(self, calls: Sequence[OutboundCall], entries: list[dict], line: str) -> list[SubmitResult]:
        id_key, custom_key = ("joinId", "customJoinId") if line == "join" else ("voiceId", "customVoiceId")
        by_custom: dict[str, dict] = {}
        by_mobile: dict[str, list[dict]] = {}
        for entry in entries:
            by_custom.setdefault(_text(entry.get(custom_key)), entry)
            by_mobile.setdefault(_text(entry.get("mobile")), []).append(entry)
        used: set[int] = set()
        results = []
        for call in calls:
            entry = by_custom.get(call.custom_id)
            if entry is None or id(entry) in used:
                candidates = by_mobile.get(local_mobile(call.mobile), ())
                entry = next((e for e in candidates if id(e) not in used), None)
            if entry is None:  # maybe accepted, maybe not: reconcile by report, never re-send blindly
                results.extend(reject_all([call], RESULT_UNCERTAIN, "亿美应答中没有此号码"))
                continue
            used.add(id(entry))
            results.append(SubmitResult(call.custom_id, call.mobile, True, _text(entry.get(id_key)) or None, None))
        return results

    # ---- balance and reports
    def balance(self) -> Balance:
        line = self._line()
        payload, text = self._call(BALANCE_PATHS[line], self._auth(timestamped=False))
        code_key, value_key = ("responseCode", "balance") if line == "voice" else ("code", "data")
        code = _code(payload.get(code_key))
        if not code:
            raise bad_response(text)
        if code != "SUCCESS":
            self._fail(code, line)
        amount = parse_balance(_text(payload.get(value_key)), text)
        return Balance(amount=amount, unit=self.option("balance_unit"), raw=text[:500])

    def fetch_reports(self, limit: int | None = None) -> list[DeliveryReport]:
        lines = [self._line()] if self.option("line") else ["voice", "join"]
        reports: list[DeliveryReport] = []
        skipped = []
        for line in lines:
            wanted = MAX_PULL if limit is None else min(MAX_PULL, limit - len(reports))
            if wanted <= 0:
                break
            try:
                payload, text = self._call(REPORT_PATHS[line], {**self._auth(), "number": str(wanted)})
                code = _code(payload.get("code"))
                if code == "ERROR_MESSAGE_TYPE" and len(lines) > 1:
                    skipped.append(line)
                    continue
                if code != "SUCCESS":
                    if not code:
                        raise bad_response(text)
                    self._fail(code, line)
                items = payload.get("data") or []
                if not isinstance(items, list):
                    raise bad_response(text)
            except (VendorError, VendorUnavailable) as exc:
                if not reports:
                    raise
                logger.warning("emay: %s report pull failed after the other line handed out reports: %s", line, exc)
                break
            reports.extend(self._report(item, line) for item in items if isinstance(item, dict))
        if len(skipped) == len(lines):
            self._fail("ERROR_MESSAGE_TYPE", "voice")
        return reports

    def _report(self, item: Mapping, line: str | None) -> DeliveryReport:
        join = line == "join" or (line is None and "joinId" in item)
        state = _text(item.get("state"))
        return DeliveryReport(
            vendor_message_id=_text(item.get("joinId" if join else "voiceId")) or None,
            batch_id=None,
            custom_id=_text(item.get("customJoinId" if join else "customVoiceId")) or None,
            mobile=e164_mobile(_text(item.get("mobile"))),
            outcome=self.map_outcome(state),
            talk_seconds=bounded_seconds(_text(item.get("callingDuration"))),
            billed_seconds=None,
            key_pressed=_text(item.get("keyContent")) or None,
            raw_code=state,
            raw_message=_text(item.get("desc" if join else "message")) or STATE_TEXT.get(state, ""),
            reported_at=beijing_time(_text(item.get("callingTime"))),
        )

    # ---- pushes: authenticate (appId header, decryption), then parse
    def verify_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> bytes:
        app_id = next((_text(v) for k, v in headers.items() if k.lower() in ("appid", "http_appid")), "")
        expected = self.account.api_id or ""
        if not app_id or not expected or not hmac.compare_digest(app_id.encode(), expected.encode()):
            raise CallbackRejected("emay push: appId header missing or not this account's")
        return self._decrypt(body) if self._push_mode() == "encrypted" else body

    def parse_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> ParsedCallback:
        """Read a verified push: decrypted JSON in ``encrypted`` mode, a JSON body or form field when ``plain``."""
        raw = body if self._push_mode() == "encrypted" else self._plain(body, query)
        try:
            payload = parse_json(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
        except (VendorError, UnicodeDecodeError):
            raise CallbackRejected("emay push: body is not JSON") from None
        items = payload.get("data") if isinstance(payload, dict) else payload
        if isinstance(payload, dict) and items is None:
            items = []
        if not isinstance(items, list):
            raise CallbackRejected("emay push: no report list")
        reports = [self._report(item, None) for item in items if isinstance(item, dict)]
        return ParsedCallback(reports=reports, ack_body="SUCCESS", ack_status=200)

    def _push_mode(self) -> str:
        try:
            return self.option("push_mode")
        except VendorError as exc:
            raise CallbackRejected(f"emay push: {exc.message}") from None

    @staticmethod
    def _plain(body: bytes, query: Mapping[str, str]) -> bytes:
        if body.lstrip()[:1] in (b"{", b"["):
            return body
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True) if body else {}
        except UnicodeDecodeError:
            raise CallbackRejected("emay push: body is neither JSON nor a UTF-8 form") from None
        reports = form["reports"][-1] if "reports" in form else query.get("reports")
        if not reports:
            raise CallbackRejected("emay push: no JSON body and no 'reports' field")
        return reports.encode("utf-8")

    def _decrypt(self, body: bytes) -> bytes:
        """AES/ECB/PKCS5Padding with the secretKey's own bytes, then gunzip (as the sender did the reverse)."""
        key = (self.account.api_secret or "").encode("utf-8")
        if len(key) not in (16, 24, 32):
            raise CallbackRejected("emay push: the account's secretKey is not an AES key (16, 24 or 32 bytes)")
        if not body or len(body) % AES.block_size:
            raise CallbackRejected("emay push: body is not AES ciphertext")
        try:
            compressed = unpad(AES.new(key, AES.MODE_ECB).decrypt(body), AES.block_size)
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(compressed, MAX_PUSH_BYTES)
        except (ValueError, zlib.error):
            raise CallbackRejected("emay push: body does not decrypt with this account's secretKey") from None
        if inflater.unconsumed_tail or not inflater.eof:
            raise CallbackRejected("emay push: compressed body truncated or too large")
        return data
