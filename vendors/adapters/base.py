"""The contract every vendor adapter follows (docs/architecture.md, "Adding a vendor").

An adapter turns our neutral dataclasses into one vendor's HTTP requests and the vendor's answers
back into them. The base owns the fixed pipelines, the adapters fill hooks and hold only their
vendor's quirks:

- sending (``send``): ``check_send`` (product, options, scheduling) → ``precheck`` each call (a call
  the vendor cannot take is refused here, alone) → ``plan_requests`` (one grouper: calls with the
  same ``request_key``, each number once per request, at most ``batch_size``) → ``submit_request``
  each → once a request has been answered, a failing later one no longer raises: its calls and
  the untried rest come back as ``unsent_results`` says;
- callbacks (``read_callback``): ``verify_callback`` (authenticate, decrypt) → ``parse_callback``;
- every request through ``request()`` (pooled session, timeouts, failures classified), every answer
  through the helpers of ``wire``.

Vendor status codes map to outcomes through plain dicts with an ``unknown`` fallback
(``map_outcome``); the raw code and message always travel beside the outcome. What a vendor is
(products, batch size, whether its message ids name a call or a request, whether it reviews
templates, whether it schedules, its options) is said once, on its adapter class.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3 import exceptions as urllib3_exceptions

from .errors import BAD_OPTION, CallbackRejected, NotSupported, Refused, VendorError, VendorUnavailable
from .options import Option, OptionError, missing_options, validate_options
from .wire import BEIJING, beijing_time, e164_mobile, local_mobile

__all__ = [
    "BAD_OPTION",
    "BEIJING",
    "CallbackRejected",
    "NotSupported",
    "Option",
    "OptionError",
    "Refused",
    "VendorError",
    "VendorUnavailable",
    "beijing_time",
    "e164_mobile",
    "local_mobile",
]

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
# What a vendor's message id names: one call, or a whole request (reports then match on id + mobile).
PER_CALL, PER_REQUEST = "per_call", "per_request"
SCHEDULE_SLACK = timedelta(minutes=1)  # a send_at this close to now is "now" for a vendor that cannot schedule


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
    """A vendor's report on one call. ``answered`` is derived from ``outcome``, never set by hand."""

    vendor_message_id: str | None
    batch_id: str | None
    custom_id: str | None
    mobile: str | None
    outcome: str
    answered: bool = field(init=False)
    talk_seconds: int | None
    billed_seconds: int | None
    key_pressed: str | None
    raw_code: str
    raw_message: str
    reported_at: datetime | None
    billed_units: int | None = None  # vendor billing units (fungo: 12-second units), if known

    def __post_init__(self):
        object.__setattr__(self, "answered", self.outcome == "answered")

    @classmethod
    def from_dict(cls, item: Mapping) -> DeliveryReport:
        """A report from ``dataclasses.asdict`` output (``answered``, derived, is left out)."""
        return cls(**{k: v for k, v in item.items() if k != "answered"})


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


def group_requests(keys: Iterable[tuple[int, tuple[Hashable | None, str]]], batch_size: int) -> list[list[int]]:
    """The one grouper: call indexes → requests, each number at most once and at most ``batch_size``.

    ``keys`` pairs each call's index with its request key and number, ``(index, (key, number))``:
    calls with the same key may share a request (a key of None: a request of its own). A number's
    second call with one key goes to a second request for that key (so a vendor's per-request id
    plus the number names one call). Requests come in the order their first call came.
    """
    groups: dict[Hashable, list[int]] = {}
    occurrences: dict[tuple[Hashable, str], int] = {}
    for index, (key, number) in keys:
        if key is None:
            groups[("voiceops:alone", index)] = [index]
            continue
        nth = occurrences.get((key, number), 0)
        occurrences[(key, number)] = nth + 1
        groups.setdefault((key, nth), []).append(index)
    return [list(chunk) for group in groups.values() for chunk in chunked(group, batch_size)]


class BaseAdapter:
    """Base of every vendor adapter; subclasses fill the hooks their vendor offers.

    Class attributes say what the vendor is, once: ``code`` (registry key), ``label``,
    ``batch_size`` (numbers per submit request), ``products`` it can send, ``report_delivery``
    ("push", "pull" or both), ``outcome_map`` (vendor status → outcome), ``message_ids``
    (``PER_CALL`` or ``PER_REQUEST``: what a vendor message id names), ``reviews_templates``
    (templates are filed with the vendor and approved before use), ``schedules`` (``send_at``
    is honoured; else a later one is NotSupported) and ``option_specs`` (the account options).
    """

    code = ""
    label = ""
    batch_size = 1
    products: tuple[str, ...] = ("notify",)
    report_delivery: tuple[str, ...] = ()
    outcome_map: Mapping[str, str] = {}
    max_content_length: int | None = None
    # Hosts the vendor's document names (the admin warns when an account points elsewhere) and the
    # options that change how the secret is sent (changing one requires the secret to be typed again).
    documented_hosts: tuple[str, ...] = ()
    secret_options: tuple[str, ...] = ()
    # (window in seconds, most calls to one number in that window) that the vendor states
    per_number_limits: tuple[tuple[int, int], ...] = ()
    message_ids = PER_CALL
    reviews_templates = False
    schedules = False
    option_specs: Mapping[str, Option] = {}
    # Whether the vendor plays any text we send, without a template filed with it first
    free_content = False

    def __init__(self, account):
        self.account = account
        self._cleaned: dict[str, object] = {}

    # ---- options
    @property
    def options(self) -> dict:
        """The account's options as stored; read a value through ``option()``."""
        options = self.account.options
        return options if isinstance(options, dict) else {}

    def option(self, key: str):
        """A declared option's value, cleaned (or its default); ``VendorError("bad_option")`` if unusable.

        Values are checked when the account is saved; this catches one stored before that.
        """
        if key not in self._cleaned:
            spec = self.option_specs[key]
            value = self.options.get(key)
            if value is None:
                self._cleaned[key] = spec.default
            else:
                try:
                    self._cleaned[key] = spec.clean(key, value)
                except OptionError as error:
                    raise VendorError(BAD_OPTION, str(error.message)) from None
        return self._cleaned[key]

    @classmethod
    def validate_options(cls, options) -> list[OptionError]:
        """Every problem of ``options`` for this vendor (unknown keys, types, allowed values)."""
        return validate_options(cls.option_specs, options, cls.label)

    @classmethod
    def missing_options(cls, options, product: str) -> list[str]:
        """The option keys ``product`` needs that ``options`` leaves empty."""
        return missing_options(cls.option_specs, options, product)

    # ---- helpers shared by every adapter
    def url(self, path: str) -> str:
        return self.account.base_url.rstrip("/") + path

    def map_outcome(self, raw_code) -> str:
        """Vendor status → normalized outcome; anything not in the table is ``unknown``."""
        return self.outcome_map.get(str(raw_code).strip(), "unknown")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send one HTTP request through the pooled session, classifying failures.

        Connection errors, timeouts and HTTP 5xx raise VendorUnavailable; other statuses are
        returned for the adapter to check (``wire.check_http``) and parse. Only the method and
        path are logged, never parameters (they carry credentials).
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

    # ---- sending: the one loop
    def send(
        self, calls: Sequence[OutboundCall], *, product: str = "notify", send_at: datetime | None = None
    ) -> list[SubmitResult]:
        """Submit calls; one SubmitResult per call, in order.

        Raises (VendorError, VendorUnavailable) only when no request was answered: the caller then
        treats the whole batch alike. After an answered request nothing is raised (that would hide
        calls already dialled): the failing request's calls and the untried rest come back as
        ``unsent_results`` says.
        """
        self.check_send(product, send_at)
        calls = list(calls)
        results: list[SubmitResult | None] = [None] * len(calls)
        sendable = []
        for index, call in enumerate(calls):
            try:
                self.precheck(call, product)
            except Refused as refused:
                results[index] = refused_result(call, refused.code, refused.message)
            else:
                sendable.append((index, call))
        planned = self.plan_requests(sendable, product)
        answered = False
        for number, indexes in enumerate(planned):
            group = [calls[i] for i in indexes]
            try:
                answers = self.submit_request(group, product=product, send_at=send_at)
            except (VendorError, VendorUnavailable) as exc:
                if not answered:
                    raise  # nothing reached the vendor's books yet: the caller handles the whole batch
                logger.warning(
                    "%s: request %d of %d failed after answered ones: %s", self.code, number + 1, len(planned), exc
                )
                untried = [i for rest in planned[number + 1 :] for i in rest]
                unsent = unsent_results(exc, group, [calls[i] for i in untried])
                for index, result in zip(indexes + untried, unsent, strict=True):
                    results[index] = result
                break
            answered = True
            for index, result in zip(indexes, answers, strict=True):
                results[index] = result
        return results  # type: ignore[return-value]

    def check_send(self, product: str, send_at: datetime | None) -> None:
        """What fails the whole batch before any request: the product, its options, scheduling."""
        self.check_product(product)
        missing = self.missing_options(self.options, product)
        if missing:
            raise VendorError(
                BAD_OPTION,
                _("%(vendor)s needs the option(s) %(keys)s to send “%(product)s” calls.")
                % {"vendor": self.label, "keys": ", ".join(missing), "product": product},
            )
        if send_at is not None and not self.schedules:
            moment = send_at if send_at.tzinfo else send_at.replace(tzinfo=BEIJING)
            if moment > datetime.now(BEIJING) + SCHEDULE_SLACK:
                raise NotSupported(_("%(vendor)s cannot schedule calls.") % {"vendor": self.label})

    def precheck(self, call: OutboundCall, product: str) -> None:
        """Raise ``Refused`` for a call the vendor cannot take (its number, its content), before any request."""

    def plan_requests(self, calls: Sequence[tuple[int, OutboundCall]], product: str) -> list[list[int]]:
        """``(index, call)`` pairs → the requests to send, as lists of indexes (``group_requests``)."""
        keys = [(index, (self.request_key(call, product), call.mobile)) for index, call in calls]
        return group_requests(keys, self.batch_size)

    def request_key(self, call: OutboundCall, product: str) -> Hashable | None:
        """Calls with equal keys may share a request (default: the same content); None: a request of its own."""
        return call.content

    def submit_request(
        self, calls: Sequence[OutboundCall], *, product: str, send_at: datetime | None
    ) -> list[SubmitResult]:
        """One request for ``calls`` (same key, distinct numbers, ≤ batch_size); a result per call, in order.

        Raise VendorError / VendorUnavailable when the vendor refuses or fails the whole request.
        """
        raise NotSupported(f"{self.label}: send")

    # ---- the other operations
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

    # ---- callbacks: authenticate, then parse
    def read_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> ParsedCallback:
        """A push as the vendor sent it → what it says (``verify_callback``, then ``parse_callback``)."""
        return self.parse_callback(self.verify_callback(body, headers, query), headers, query)

    def verify_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> bytes:
        """Authenticate a push and return the body to parse (decrypted where the vendor encrypts).

        The account was found by the unguessable token of its callback URL (``VendorAccount.token_matches``,
        constant time) before an adapter exists; here a vendor adds its own proof (Emay: the appId
        header, and a body that decrypts with the account's key). Raise ``CallbackRejected``.
        """
        return body

    def parse_callback(self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> ParsedCallback:
        """Read an authenticated push body; raise ``CallbackRejected`` for one that is not the format."""
        raise NotSupported(f"{self.label}: parse_callback")

    # ---- introspection for the capability table and the admin
    @classmethod
    def supports(cls, operation: str) -> bool:
        return getattr(cls, operation) is not getattr(BaseAdapter, operation)


def refused_result(call: OutboundCall, code: str, message: str) -> SubmitResult:
    return SubmitResult(call.custom_id, call.mobile, False, error_code=str(code), error_message=message)


def reject_all(calls: Iterable[OutboundCall], code: str, message: str) -> list[SubmitResult]:
    """Every call of a request refused with the same vendor answer."""
    return [refused_result(c, code, message) for c in calls]


def unsent_results(
    exc: VendorError | VendorUnavailable, failed: Iterable[OutboundCall], untried: Iterable[OutboundCall]
) -> list[SubmitResult]:
    """What became of the rest of a batch when a request failed after earlier ones were answered.

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
