"""VMS57 platform (``vms57``): voice verification codes through ``/vms.ashx``.

Implements 《VMS57 语音标准规范接口说明文档V1.0》 (2014-02-25; sections 语音提交接口, 余额查询接口 and
the report query). Every request is an HTTP POST, form-encoded UTF-8, to
``{base_url}/vms.ashx`` with ``action`` and the credentials ``userid`` / ``account`` / ``password``
(built in ``_auth_params``, the only place that touches them):

- ``action=audio`` — submit: ``destNumbers`` (comma separated), ``taskname``, ``callerNumber``,
  ``attime`` (scheduled time), ``vmsText`` (the code read out). Answer ``result|description``.
- ``action=overage`` — balance. Answer ``result|description``.
- ``action=report`` — pull call detail records (XML ``<result><count/><reportMsg/><callbox/>*``).
- ``getCode`` / ``validateCode`` (verifying a caller number) are marked 暂时停用 (disabled) by the
  vendor and are deliberately not implemented; a caller number is verified with the vendor by hand.

Readings chosen where the document is silent or ambiguous:

- Content: ``vmsData`` / ``vmsFormat`` (recorded files) and ``tsrNumbers`` are 暂不使用, so the only
  content the platform plays is ``vmsText`` — "验证码内容，只允许数字，最多允许4位". The adapter offers
  the ``verify`` product only. The code is ``variables[0]`` when the call has variables, otherwise the
  whole ``content``; a code that is not 1–4 digits is refused locally (``invalid_code``) without a
  request, as is a number that is not plain digits on the wire (``invalid_number``).
- One ``vmsText`` per request: calls of a batch are grouped by code (a number appears at most once
  per request), one request per group, so verification codes that differ per recipient cost one
  request each. ``batch_size`` is 100: the document states no limit; 100 keeps a POST small and one
  vendor answer (which covers the whole request) from failing more than 100 calls.
- ``taskname`` (a label in the vendor's console, never echoed in reports) is the first custom_id of
  the request, so an operator can find the task from our side.
- ``callerNumber`` is the option ``caller_number``; empty lets the vendor pick one at random.
- ``attime`` is ``send_at`` in Beijing time, ``yyyy-MM-dd HH:mm:ss`` (a naive ``send_at`` is taken as
  Beijing wall time); omitted for an immediate call.
- Answers: ``0|<task batch number>`` is success. The document lists no failure codes ("非0表示失败，
  失败原因见结果说明"), so ``ERROR_CODES`` is empty and the vendor's own description is the message.
  One answer covers the whole request and names no number, so a non-zero result is a whole-request
  failure: ``VendorError(result, description)`` when it is the first request of the batch (nothing
  was dialled yet). After an accepted request, a failure (``VendorError`` or ``VendorUnavailable``)
  stops the batch, the accepted calls keep their results and the rest comes back as
  ``base.unsent_results`` says: uncertain when the request may have reached the vendor (reconcile,
  never re-send), else not sent (queued again).
  A body that is not ``<integer>|<text>`` (HTML, empty, truncated) → ``VendorError("bad_response")``.
- No custom message id exists: reports carry only the task batch number (``batchID``) and the
  called number. ``SubmitResult.batch_id`` is the batch number and ``vendor_message_id`` is
  ``"<batch>:<local number>"``; reports rebuild the same key from ``batchID`` + ``calledNumber``, so
  matching is exact (a number is never twice in one request). ``DeliveryReport.custom_id`` is None.
- Balance: "结果说明为余额" names no unit; 余额 is read as money in CNY (option ``balance_unit``
  overrides it with ``calls`` or ``points`` for count-billed contracts).
- Reports: status 10 (成功) → ``answered``; 20 (失败) carries no reason beyond ``reportErrorCode``
  (上级返回值, undocumented values, kept in ``raw_message``) and is read as ``no_answer``.
  ``holdTime`` (通话时长) → talk_seconds and ``feeTime`` (结算时长) → billed_seconds, both read as
  seconds (fractions rounded); when ``holdTime`` is missing it is ``endTime - startTime``.
  ``reported_at`` is ``reportTime`` (接收时间), else ``endTime``; times are Beijing time in
  ``yyyy-MM-dd HH:mm:ss`` or the .NET ``yyyy/M/d H:mm:ss`` form; an unreadable field becomes None
  rather than losing the record. ``count`` -1 is an error with ``reportMsg`` → VendorError("-1").
  ``statusNum`` defaults to 500 but "每次返回50条": ``fetch_reports`` pulls again while a pull comes
  back full (≥ min(statusNum, 50) records), up to ``report_max_pulls`` pulls (or as many as ``limit``
  needs). Each record is handed out once, so a failed later pull returns the records already
  received instead of raising.

``options`` keys: ``caller_number`` (verified caller number, optional), ``balance_unit`` (``CNY`` by
default), ``report_max_pulls`` (pulls per ``fetch_reports`` without a limit; default 100, i.e.
5,000 records at 50 a pull).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .base import (
    BEIJING,
    Balance,
    BaseAdapter,
    DeliveryReport,
    OutboundCall,
    SubmitResult,
    VendorError,
    VendorUnavailable,
    beijing_time,
    e164_mobile,
    local_mobile,
    unsent_results,
)

logger = logging.getLogger("vendors")

PATH = "/vms.ashx"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPORT_PAGE = 50  # "状态每次返回50条话单数据"
REPORT_DEFAULT = 500  # "每次取多少个报告，可以不填，默认500个"
MAX_SECONDS = 10**6  # a longer hold or fee time is not a real call: read as unknown
MAX_BALANCE = Decimal(10) ** 12  # what a balance snapshot holds (16 digits, 4 decimals)

# The document lists no result codes: "非0表示失败，失败原因见结果说明". The vendor's description is the message.
ERROR_CODES: dict[str, str] = {}
# Codes this adapter produces itself, with the document's wording where it has one.
LOCAL_ERRORS = {
    "invalid_code": "验证码内容，只允许数字，最多允许4位",
    "invalid_number": "须要发送的号码格式错误（只允许数字）",
    "bad_response": "无法识别的应答",
}
# Report <status>: "状态 10成功 20失败".
OUTCOME_MAP = {"10": "answered", "20": "no_answer"}
STATUS_TEXT = {"10": "成功", "20": "失败"}

_CODE_RE = re.compile(r"[0-9]{1,4}")
_NUMBER_RE = re.compile(r"[0-9]{5,20}")
_RESULT_RE = re.compile(r"(-?[0-9]+)\|(.*)", re.DOTALL)


def _bad(text: str) -> VendorError:
    return VendorError("bad_response", text[:200])


def _message_id(batch: str, number: str) -> str:
    """The key submit and report share: task batch number + the called number in local form."""
    return f"{batch}:{local_mobile(e164_mobile(number) or number)}"


def _beijing(value: str | None) -> datetime | None:
    text = (value or "").strip().replace("T", " ").replace("/", "-").split(".")[0]
    if not text:
        return None
    return beijing_time(text)


def _seconds(value: str | None) -> int | None:
    """Whole seconds, or None; bounded before ``int()`` (a hostile ``1e1000000`` costs minutes of CPU)."""
    try:
        seconds = Decimal((value or "").strip())
    except InvalidOperation:
        return None
    return int(seconds.to_integral_value()) if seconds.is_finite() and 0 <= seconds <= MAX_SECONDS else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Vms57Adapter(BaseAdapter):
    code = "vms57"
    label = "VMS57 platform"
    batch_size = 100
    products = ("verify",)
    report_delivery = ("pull",)
    outcome_map = OUTCOME_MAP
    max_content_length = 4

    # ---- wire
    def _auth_params(self) -> dict[str, str]:
        """The credentials every action carries (the vendor has no signature)."""
        return {
            "userid": self.account.user_id or "",
            "account": self.account.api_id or "",
            "password": self.account.api_secret or "",
        }

    def _post(self, action: str, params: dict[str, str]) -> tuple[str, bytes]:
        """POST one action; the answer as text (UTF-8, as the document says) and as raw bytes."""
        data = {"action": action, **self._auth_params(), **params}
        response = self.request("POST", PATH, data=data)
        text = response.content.decode("utf-8-sig", errors="replace")
        if response.status_code != 200:
            raise VendorError(f"http_{response.status_code}", text[:200])
        return text, response.content

    def _call(self, action: str, params: dict[str, str]) -> str:
        """POST an action answered ``result|description``; the description on success, else VendorError."""
        text, _raw = self._post(action, params)
        match = _RESULT_RE.fullmatch(text.strip())
        if not match:
            raise _bad(text)
        result, description = match.group(1), match.group(2).strip()
        if result != "0":
            raise VendorError(result, ERROR_CODES.get(result) or description or text.strip()[:200])
        return description

    # ---- submit
    def _code(self, call: OutboundCall) -> str:
        return (call.variables[0] if call.variables else call.content or "").strip()

    def send_batch(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        results: dict[int, SubmitResult] = {}
        groups: dict[tuple[str, int], list[int]] = {}  # (code, nth time the number has that code) → indexes
        seen: dict[tuple[str, str], int] = {}
        for index, call in enumerate(calls):
            code, number = self._code(call), local_mobile(call.mobile)
            if not _CODE_RE.fullmatch(code):
                results[index] = self._refused(call, "invalid_code")
            elif not _NUMBER_RE.fullmatch(number):
                results[index] = self._refused(call, "invalid_number")
            else:
                nth = seen.get((code, number), 0)
                seen[(code, number)] = nth + 1
                groups.setdefault((code, nth), []).append(index)

        common = {"callerNumber": str(self.options.get("caller_number") or "")}
        if send_at is not None:
            moment = send_at.astimezone(BEIJING) if send_at.tzinfo else send_at
            common["attime"] = moment.strftime(TIME_FORMAT)

        requests_ = list(groups.items())
        for n, ((code, _nth), indexes) in enumerate(requests_):
            group = [calls[i] for i in indexes]
            try:
                outcome = self._submit(group, code, common)
            except (VendorError, VendorUnavailable) as exc:
                if n == 0:
                    raise  # nothing was dialled yet: the whole batch failed
                logger.warning("%s: request failed mid-batch, %s calls not confirmed", self.code, len(group))
                untried = [i for _key, rest in requests_[n + 1 :] for i in rest]
                results.update(
                    zip(indexes + untried, unsent_results(exc, group, [calls[i] for i in untried]), strict=True)
                )
                break
            results.update(zip(indexes, outcome, strict=True))
        return [results[i] for i in range(len(calls))]

    def _submit(self, group: list[OutboundCall], code: str, common: dict[str, str]) -> list[SubmitResult]:
        numbers = [local_mobile(c.mobile) for c in group]
        params = {"taskname": group[0].custom_id, "destNumbers": ",".join(numbers), "vmsText": code, **common}
        batch = self._call("audio", params)
        if not batch:
            raise _bad("empty task batch number")
        return [
            SubmitResult(c.custom_id, c.mobile, True, vendor_message_id=_message_id(batch, n), batch_id=batch)
            for c, n in zip(group, numbers, strict=True)
        ]

    @staticmethod
    def _refused(call: OutboundCall, code: str) -> SubmitResult:
        return SubmitResult(call.custom_id, call.mobile, False, error_code=code, error_message=LOCAL_ERRORS[code])

    # ---- balance
    def balance(self) -> Balance:
        raw = self._call("overage", {})
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise _bad(raw) from None
        if not amount.is_finite() or amount.copy_abs() >= MAX_BALANCE:
            raise _bad(raw)
        return Balance(amount=amount, unit=str(self.options.get("balance_unit") or "CNY"), raw=raw)

    # ---- reports
    def fetch_reports(self, limit: int | None = None) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        try:
            max_pulls = int(self.options.get("report_max_pulls") or 100)
        except (TypeError, ValueError):
            raise VendorError(
                "config",
                f"options.report_max_pulls must be a whole number, not {self.options.get('report_max_pulls')!r}",
            ) from None
        if limit is not None:  # an explicit limit may need more pulls of 50
            max_pulls = max(max_pulls, -(-limit // REPORT_PAGE))
        for pull in range(max_pulls):
            wanted = REPORT_DEFAULT if limit is None else min(limit - len(reports), REPORT_DEFAULT)
            if wanted <= 0:
                break
            try:
                page = self._pull(wanted)
            except (VendorError, VendorUnavailable) as exc:
                if pull == 0:
                    raise
                # Records already received are handed out only once: keep them, pull again later.
                logger.warning("%s: report pull %s failed (%s); keeping %s reports", self.code, pull, exc, len(reports))
                break
            reports.extend(page)
            if len(page) < min(wanted, REPORT_PAGE):
                break
        return reports

    def _pull(self, wanted: int) -> list[DeliveryReport]:
        text, raw = self._post("report", {"statusNum": str(wanted)})
        try:
            root = fromstring(raw)
        except (ParseError, DefusedXmlException, ValueError, LookupError):  # LookupError: unknown encoding
            raise _bad(text) from None
        if _local(root.tag) != "result":
            raise _bad(text)
        fields = {_local(child.tag): (child.text or "").strip() for child in root if _local(child.tag) != "callbox"}
        count = fields.get("count", "")
        if not re.fullmatch(r"-?[0-9]{1,18}", count):
            raise _bad(text)
        if int(count) < 0:
            raise VendorError(count, fields.get("reportMsg") or text.strip()[:200])
        return [self._report(box) for box in root if _local(box.tag) == "callbox"]

    def _report(self, box) -> DeliveryReport:
        f = {_local(child.tag): (child.text or "").strip() for child in box}
        status, batch, number = f.get("status", ""), f.get("batchID") or None, f.get("calledNumber") or None
        outcome = self.map_outcome(status)
        start, end = _beijing(f.get("startTime")), _beijing(f.get("endTime"))
        talk = _seconds(f.get("holdTime"))
        if talk is None and start and end and timedelta(0) <= end - start <= timedelta(seconds=MAX_SECONDS):
            talk = int((end - start).total_seconds())
        message = STATUS_TEXT.get(status, "")
        if f.get("reportErrorCode"):
            message = f"{message} 上级返回值={f['reportErrorCode']}".strip()
        return DeliveryReport(
            vendor_message_id=_message_id(batch, number) if batch and number else None,
            batch_id=batch,
            custom_id=None,
            mobile=e164_mobile(number),
            outcome=outcome,
            answered=outcome == "answered",
            talk_seconds=talk,
            billed_seconds=_seconds(f.get("feeTime")),
            key_pressed=None,
            raw_code=status,
            raw_message=message,
            reported_at=_beijing(f.get("reportTime")) or end,
        )
