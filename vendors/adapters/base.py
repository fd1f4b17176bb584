"""The contract every vendor adapter follows (docs/architecture.md, "Adding a vendor").

An adapter turns our neutral dataclasses into one vendor's HTTP requests and the vendor's answers
back into them. The pipeline is fixed: build the request → ``request()`` (pooled session, timeouts,
errors classified) → parse. Vendor status codes map to outcomes through plain dicts with an
``unknown`` fallback (``map_outcome``); the raw code and message always travel beside the outcome.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions

logger = logging.getLogger("vendors")

OUTCOMES = (
    "answered",
    "no_answer",
    "busy",
    "rejected",
    "powered_off",
    "suspended",
    "unreachable",
    "invalid_number",
    "barred",
    "network_busy",
    "blacklisted",
    "content_rejected",
    "insufficient_balance",
    "rate_limited",
    "vendor_error",
    "timeout",
    "unknown",
)
# Result codes for calls that were not answered by the vendor (never a vendor's own code).
RESULT_NOT_SENT = "voiceops:requeue"  # the vendor surely does not have it: safe to send later
RESULT_UNCERTAIN = "voiceops:uncertain"  # the vendor may have it: reconcile, never re-send blindly

DEFAULT_RETRYABLE_OUTCOMES = ("no_answer", "busy", "unreachable", "network_busy")
PRODUCTS = ("notify", "verify", "marketing", "voice_sms")
BEIJING = ZoneInfo("Asia/Shanghai")  # every vendor's clock


# ---- errors
class VendorError(Exception):
    """The vendor refused the request (bad credentials, no balance, bad parameter): not retried."""

    def __init__(self, code: str, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = str(code)
        self.message = message


class VendorUnavailable(Exception):
    """The vendor could not be reached or failed (connection, timeout, HTTP 5xx): retried later.

    ``maybe_delivered`` is True when the request may have reached the vendor (read timeout, a
    connection dropped before the answer): such calls are never re-sent blindly but reconciled.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = False):
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class NotSupported(Exception):
    """The vendor's API has no such operation."""


class CallbackRejected(Exception):
    """A pushed body that cannot be authenticated or read (wrong appId, wrong key, not the format).

    The callback view answers it with HTTP 400/403 and applies nothing; the raw body stays stored.
    """


# ---- data
@dataclass(frozen=True)
class OutboundCall:
    custom_id: str
    mobile: str  # E.164, e.g. "+8613800138000"; adapters convert to the vendor's form
    content: str
    variables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubmitResult:
    custom_id: str
    mobile: str
    accepted: bool
    vendor_message_id: str | None = None
    batch_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    vendor_message_id: str | None
    batch_id: str | None
    custom_id: str | None
    mobile: str | None
    outcome: str
    answered: bool
    talk_seconds: int | None
    billed_seconds: int | None
    key_pressed: str | None
    raw_code: str
    raw_message: str
    reported_at: datetime | None
    billed_units: int | None = None  # vendor billing units (fungo: 12-second units), if known


@dataclass(frozen=True)
class Balance:
    amount: Decimal
    unit: str  # "CNY", "calls" or "points"
    raw: str


@dataclass(frozen=True)
class TemplateReview:
    template_id: str
    approved: bool
    message: str
    raw_code: str


@dataclass(frozen=True)
class InboundReply:
    mobile: str
    content: str
    received_at: datetime | None
    vendor_message_id: str | None = None
    raw: str = ""


@dataclass(frozen=True)
class KeywordCheck:
    ok: bool
    keywords: list[str]
    raw: str


@dataclass
class ParsedCallback:
    reports: list[DeliveryReport] = field(default_factory=list)
    template_reviews: list[TemplateReview] = field(default_factory=list)
    replies: list[InboundReply] = field(default_factory=list)
    ack_body: str = "success"
    ack_status: int = 200


# ---- HTTP
def _build_session() -> requests.Session:
    """One pooled session for every vendor call. No transport retries: a dial is never repeated."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "VoiceOps/1.0"
    return session


SESSION = _build_session()


def _never_connected(exc: BaseException) -> bool:
    """True when the connection was refused or never opened, so the vendor cannot have the request."""
    while exc is not None:
        if isinstance(
            exc, (ConnectionRefusedError, urllib3_exceptions.NewConnectionError, urllib3_exceptions.NameResolutionError)
        ):
            return True
        exc = (
            exc.__cause__
            or exc.__context__
            or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None)
        )
    return False


def chunked(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def local_mobile(e164: str) -> str:
    """ "+8613800138000" → "13800138000": what Chinese vendors expect on the wire."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


BEIJING_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})")


def beijing_time(text: str | None) -> datetime | None:
    """A vendor's "2026-11-22 10:00:00" (Beijing time, as every document uses), else None.

    What ``strptime("%Y-%m-%d %H:%M:%S")`` accepts, at a fraction of its cost: receipts come by the
    hundred thousand.
    """
    match = BEIJING_TIME.fullmatch((text or "").strip())
    if match is None:
        return None
    try:
        return datetime(*map(int, match.groups()), tzinfo=BEIJING)
    except ValueError:  # 2026-02-30
        return None


def e164_mobile(vendor_number: str | None) -> str | None:
    """A vendor's "13800138000" back to "+8613800138000" (landlines keep their area code)."""
    if not vendor_number:
        return None
    number = vendor_number.strip()
    if number.startswith("+"):
        return number
    if number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    return "+86" + number.lstrip("0") if number.startswith("0") else "+86" + number


class BaseAdapter:
    """Base of every vendor adapter; subclasses override what their vendor offers.

    Class attributes describe the vendor: ``code`` (registry key), ``label``, ``batch_size``
    (numbers per submit request), ``products`` it can send, ``report_delivery`` ("push", "pull"
    or both) and ``outcome_map`` (vendor status → outcome).
    """

    code = ""
    label = ""
    batch_size = 1
    products: tuple[str, ...] = ("notify",)
    report_delivery: tuple[str, ...] = ()
    outcome_map: Mapping[str, str] = {}
    max_content_length: int | None = None
    # (window in seconds, most calls to one number in that window) that the vendor states
    per_number_limits: tuple[tuple[int, int], ...] = ()
    # Whether the vendor plays any text we send, without a template filed with it first
    free_content = False

    def __init__(self, account):
        self.account = account

    # ---- helpers shared by every adapter
    @property
    def options(self) -> dict:
        return self.account.options or {}

    def url(self, path: str) -> str:
        return self.account.base_url.rstrip("/") + path

    def map_outcome(self, raw_code) -> str:
        """Vendor status → normalized outcome; anything not in the table is ``unknown``."""
        return self.outcome_map.get(str(raw_code).strip(), "unknown")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send one HTTP request through the pooled session, classifying failures.

        Connection errors, timeouts and HTTP 5xx raise VendorUnavailable; other statuses are
        returned for the adapter to parse. Only the method and path are logged, never parameters
        (they carry credentials).
        """
        timeout = (settings.VENDOR_CONNECT_TIMEOUT, settings.VENDOR_READ_TIMEOUT)
        where = {"vendor": self.code, "path": path}  # the messages are kept as the account's last error
        try:
            response = SESSION.request(method, self.url(path), timeout=timeout, **kwargs)
        except requests.ConnectTimeout as exc:
            raise VendorUnavailable(_("%(vendor)s: %(path)s connect timed out") % where) from exc
        except requests.Timeout as exc:
            raise VendorUnavailable(_("%(vendor)s: %(path)s timed out") % where, maybe_delivered=True) from exc
        except requests.ConnectionError as exc:
            sent = not _never_connected(exc)
            raise VendorUnavailable(
                _("%(vendor)s: %(path)s unreachable (%(error)s)") % {**where, "error": type(exc).__name__},
                maybe_delivered=sent,
            ) from exc
        except requests.RequestException as exc:
            raise VendorUnavailable(
                _("%(vendor)s: %(path)s failed (%(error)s)") % {**where, "error": type(exc).__name__},
                maybe_delivered=True,
            ) from exc
        logger.debug("%s %s %s -> %s", self.code, method, path, response.status_code)
        if response.status_code >= 500:
            raise VendorUnavailable(
                _("%(vendor)s: %(path)s answered HTTP %(status)s") % {**where, "status": response.status_code}
            )
        return response

    def check_product(self, product: str) -> None:
        if product not in self.products:
            raise NotSupported(f"{self.label} cannot send product {product!r}")

    # ---- the contract
    def send(
        self, calls: Sequence[OutboundCall], *, product: str = "notify", send_at: datetime | None = None
    ) -> list[SubmitResult]:
        """Submit calls, split into the vendor's batch size; one SubmitResult per call, in order."""
        self.check_product(product)
        calls = list(calls)
        results: list[SubmitResult] = []
        for start in range(0, len(calls), self.batch_size):
            batch = calls[start : start + self.batch_size]
            try:
                results.extend(self.send_batch(batch, product=product, send_at=send_at))
            except (VendorError, VendorUnavailable) as exc:
                if not results:
                    raise  # nothing was accepted: the caller handles the whole request
                # Earlier batches were accepted: keep them, and say what became of the rest.
                results.extend(unsent_results(exc, batch, calls[start + self.batch_size :]))
                break
        return results

    def send_batch(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        raise NotSupported(f"{self.label}: send")

    def balance(self) -> Balance:
        raise NotSupported(f"{self.label}: balance")

    def add_template(self, content: str) -> str:
        raise NotSupported(f"{self.label}: add_template")

    def delete_template(self, template_id: str) -> None:
        raise NotSupported(f"{self.label}: delete_template")

    def fetch_reports(self, limit: int | None = None) -> list[DeliveryReport]:
        raise NotSupported(f"{self.label}: fetch_reports")

    def fetch_replies(self) -> list[InboundReply]:
        raise NotSupported(f"{self.label}: fetch_replies")

    def check_keywords(self, content: str) -> KeywordCheck:
        raise NotSupported(f"{self.label}: check_keywords")

    def parse_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> ParsedCallback:
        raise NotSupported(f"{self.label}: parse_callback")

    # ---- introspection for the capability table and the admin
    @classmethod
    def supports(cls, operation: str) -> bool:
        return getattr(cls, operation) is not getattr(BaseAdapter, operation)


def reject_all(calls: Iterable[OutboundCall], code: str, message: str) -> list[SubmitResult]:
    """Every call of a batch refused with the same vendor answer."""
    return [SubmitResult(c.custom_id, c.mobile, False, error_code=str(code), error_message=message) for c in calls]


def unsent_results(
    exc: VendorError | VendorUnavailable, failed: Iterable[OutboundCall], untried: Iterable[OutboundCall]
) -> list[SubmitResult]:
    """What became of the rest of a batch when a request failed after earlier ones were accepted.

    The failed request's calls as ``unsent_code`` says (uncertain ones are reconciled, never
    re-sent); the calls never tried are ``RESULT_NOT_SENT``: back to the queue. The message says
    what failed.
    """
    return reject_all(failed, unsent_code(exc), str(exc)) + reject_all(untried, RESULT_NOT_SENT, str(exc))


def unsent_code(exc: VendorError | VendorUnavailable) -> str:
    """A failed request's calls: uncertain when the vendor may have them (a read timeout, a dropped
    connection, an answer we could not read), else not sent (refused in words, HTTP 5xx, no connection)."""
    if isinstance(exc, VendorUnavailable):
        return RESULT_UNCERTAIN if exc.maybe_delivered else RESULT_NOT_SENT
    return RESULT_UNCERTAIN if exc.code == "bad_response" else RESULT_NOT_SENT
