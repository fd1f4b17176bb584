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
  failure: ``VendorError(result, description)``. A request failing after an earlier one was
  answered is handled by ``BaseAdapter.send`` as for every vendor (``base.unsent_results``).
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
  seconds (fractions rounded half up, ``wire.bounded_seconds``); when ``holdTime`` is missing it is
  ``endTime - startTime``.
  ``reported_at`` is ``reportTime`` (接收时间), else ``endTime``; times are Beijing time in
  ``yyyy-MM-dd HH:mm:ss`` or the .NET ``yyyy/M/d H:mm:ss`` form; an unreadable field becomes None
  rather than losing the record. ``count`` -1 is an error with ``reportMsg`` → VendorError("-1").
  ``statusNum`` defaults to 500 but "每次返回50条": ``fetch_reports`` pulls again while a pull comes
  back full (≥ min(statusNum, 50) records), up to ``report_max_pulls`` pulls (or as many as ``limit``
  needs). Each record is handed out once, so a failed later pull returns the records already
  received instead of raising.

``options`` keys (declared in ``option_specs``, checked when the account is saved):
``caller_number`` (verified caller number, optional), ``balance_unit`` (``CNY`` by
default), ``report_max_pulls`` (pulls per ``fetch_reports`` without a limit; default 100, i.e.
5,000 records at 50 a pull).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _

from .base import (
    Balance,
    BaseAdapter,
    DeliveryReport,
    Option,
    OutboundCall,
    Refused,
    SubmitResult,
    VendorError,
    VendorUnavailable,
)
from .wire import (
    MAX_SECONDS,
    bad_response,
    beijing_stamp,
    beijing_time,
    bounded_seconds,
    check_http,
    e164_mobile,
    local_mobile,
    parse_balance,
    parse_xml,
)

logger = logging.getLogger("vendors")

PATH = "/vms.ashx"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPORT_PAGE = 50  # "状态每次返回50条话单数据"
REPORT_DEFAULT = 500  # "每次取多少个报告，可以不填，默认500个"

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


def _message_id(batch: str, number: str) -> str:
    """The key submit and report share: task batch number + the called number in local form."""
    return f"{batch}:{local_mobile(e164_mobile(number) or number)}"


def _beijing(value: str | None) -> datetime | None:
    text = (value or "").strip().replace("T", " ").replace("/", "-").split(".")[0]
    if not text:
        return None
    return beijing_time(text)


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
    schedules = True  # attime
    option_specs = {
        "caller_number": Option(pattern=r"[0-9]{3,20}", hint=_("digits only")),
        "balance_unit": Option(choices=("CNY", "calls", "points"), default="CNY"),
        "report_max_pulls": Option(int, default=100, low=1, high=10_000),
    }

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
        check_http(response, text)
        return text, response.content

    def _call(self, action: str, params: dict[str, str]) -> str:
        """POST an action answered ``result|description``; the description on success, else VendorError."""
        text, _raw = self._post(action, params)
        match = _RESULT_RE.fullmatch(text.strip())
        if not match:
            raise bad_response(text)
        result, description = match.group(1), match.group(2).strip()
        if result != "0":
            raise VendorError(result, ERROR_CODES.get(result) or description or text.strip()[:200])
        return description

    # ---- submit
    def _code(self, call: OutboundCall) -> str:
        return (call.variables[0] if call.variables else call.content or "").strip()

    def precheck(self, call: OutboundCall, product: str) -> None:
        if not _CODE_RE.fullmatch(self._code(call)):
            raise Refused("invalid_code", LOCAL_ERRORS["invalid_code"])
        if not _NUMBER_RE.fullmatch(local_mobile(call.mobile)):
            raise Refused("invalid_number", LOCAL_ERRORS["invalid_number"])

    def request_key(self, call: OutboundCall, product: str) -> str:
        return self._code(call)  # one vmsText per request

    def submit_request(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        common = {"callerNumber": self.option("caller_number") or ""}
        if send_at is not None:
            common["attime"] = beijing_stamp(send_at, TIME_FORMAT)
        return self._submit(list(calls), self._code(calls[0]), common)

    def _submit(self, group: list[OutboundCall], code: str, common: dict[str, str]) -> list[SubmitResult]:
        numbers = [local_mobile(c.mobile) for c in group]
        params = {"taskname": group[0].custom_id, "destNumbers": ",".join(numbers), "vmsText": code, **common}
        batch = self._call("audio", params)
        if not batch:
            raise bad_response("empty task batch number")
        return [
            SubmitResult(c.custom_id, c.mobile, True, vendor_message_id=_message_id(batch, n), batch_id=batch)
            for c, n in zip(group, numbers, strict=True)
        ]

    # ---- balance
    def balance(self) -> Balance:
        raw = self._call("overage", {})
        return Balance(amount=parse_balance(raw, raw), unit=self.option("balance_unit"), raw=raw)

    # ---- reports
    def fetch_reports(self, limit: int | None = None) -> list[DeliveryReport]:
        reports: list[DeliveryReport] = []
        max_pulls = self.option("report_max_pulls")
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
        root = parse_xml(raw, text)
        if _local(root.tag) != "result":
            raise bad_response(text)
        fields = {_local(child.tag): (child.text or "").strip() for child in root if _local(child.tag) != "callbox"}
        count = fields.get("count", "")
        if not re.fullmatch(r"-?[0-9]{1,18}", count):
            raise bad_response(text)
        if int(count) < 0:
            raise VendorError(count, fields.get("reportMsg") or text.strip()[:200])
        return [self._report(box) for box in root if _local(box.tag) == "callbox"]

    def _report(self, box) -> DeliveryReport:
        f = {_local(child.tag): (child.text or "").strip() for child in box}
        status, batch, number = f.get("status", ""), f.get("batchID") or None, f.get("calledNumber") or None
        start, end = _beijing(f.get("startTime")), _beijing(f.get("endTime"))
        talk = bounded_seconds(f.get("holdTime"))
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
            outcome=self.map_outcome(status),
            talk_seconds=talk,
            billed_seconds=bounded_seconds(f.get("feeTime")),
            key_pressed=None,
            raw_code=status,
            raw_message=message,
            reported_at=_beijing(f.get("reportTime")) or end,
        )
