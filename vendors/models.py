"""Vendor accounts and their balance history."""

import hmac
import ipaddress
import secrets
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from voiceops.bounds import MAX_CALLBACKS_PER_SECOND, MAX_CALLS_PER_SECOND, MAX_MONEY, at_least, at_most, check_bounds
from voiceops.crypto import mask

from .adapters import ADAPTERS, BAD_OPTION, VENDOR_CHOICES, adapter_class
from .fields import EncryptedTextField


def validate_base_url(value: str) -> None:
    """Scheme, host and (optionally) port: nothing a request could be steered with besides the host."""
    URLValidator(schemes=["http", "https"])(value)
    parts = urlsplit(value)
    if parts.path not in ("", "/") or parts.query or parts.fragment or "#" in value or "?" in value:
        raise ValidationError(
            _("Give only the scheme, host and port (like https://api.example.com:8080), without a path, query or “#”."),
            code="not_origin",
        )
    if parts.username is not None or parts.password is not None:
        raise ValidationError(_("A base URL cannot carry a user name or password."), code="userinfo")


def new_callback_token() -> str:
    return secrets.token_urlsafe(32)


class VendorAccountQuerySet(models.QuerySet):
    def with_latest_balance(self):
        """Annotate ``latest_amount``, ``latest_unit`` and ``latest_at`` in the same query."""
        latest = BalanceSnapshot.objects.filter(account=models.OuterRef("pk")).order_by("-taken_at")
        return self.annotate(
            latest_amount=models.Subquery(latest.values("amount")[:1]),
            latest_unit=models.Subquery(latest.values("unit")[:1]),
            latest_at=models.Subquery(latest.values("taken_at")[:1]),
        )


class Health(models.TextChoices):
    """An account's health: one wording for the admin list, the account page and the home page."""

    HEALTHY = "healthy", _("healthy")
    INACTIVE = "inactive", _("inactive")
    CIRCUIT_OPEN = "circuit_open", _("circuit open")
    ERRORS = "errors", _("errors")
    LAGGING = "lagging", _("receipts lagging")


HEALTH_LEVELS = {
    Health.HEALTHY: "success",
    Health.INACTIVE: "info",
    Health.CIRCUIT_OPEN: "danger",
    Health.ERRORS: "warning",
    Health.LAGGING: "warning",
}


class VendorAccount(models.Model):
    """One set of credentials at one vendor. The secret is encrypted at rest (AES-GCM)."""

    vendor = models.CharField(_("vendor"), max_length=20, choices=VENDOR_CHOICES)
    name = models.CharField(_("name"), max_length=100, unique=True)
    base_url = models.CharField(
        _("base URL"),
        max_length=200,
        blank=True,
        validators=[validate_base_url],
        help_text=_("Scheme, host and port only, e.g. https://api.example.com:8080; the path is added by VoiceOps."),
    )
    allow_plain_http = models.BooleanField(
        _("allow plain HTTP"),
        default=False,
        help_text=_(
            "Some vendors document only http:// addresses. Outside development an http:// base URL is "
            "refused unless this is ticked: the credentials then cross the network unencrypted."
        ),
    )
    api_id = models.CharField(
        _("account id"),
        max_length=100,
        blank=True,
        help_text=_("ihuyi APIID, Emay appId, VMS57/sms10692 account, fungo CpName."),
    )
    api_secret = EncryptedTextField(
        _("secret"),
        blank=True,
        help_text=_("APIKEY, secretKey or password. Stored encrypted; never shown again after saving."),
    )
    user_id = models.CharField(_("user id"), max_length=100, blank=True, help_text=_("VMS57 and sms10692 userid."))
    options = models.JSONField(
        _("options"),
        default=dict,
        blank=True,
        help_text=_("Vendor extras as a JSON object; each vendor's keys are checked when the account is saved."),
    )
    callback_token = models.CharField(
        _("callback token"), max_length=64, default=new_callback_token, unique=True, editable=False
    )
    previous_callback_token = models.CharField(max_length=64, blank=True, editable=False)
    previous_token_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    callback_allowed_ips = models.TextField(
        _("callback source addresses"),
        blank=True,
        help_text=_(
            "Addresses or networks (CIDR) allowed to push receipts, one per line or comma-separated; empty allows any."
        ),
    )
    callback_rate_limit = models.PositiveIntegerField(
        _("callback rate limit (requests/s)"),
        default=2000,
        validators=[
            at_least(1, _("At least %(limit_value)s request a second.")),
            at_most(MAX_CALLBACKS_PER_SECOND, _("At most %(limit_value)s requests a second.")),
        ],
        help_text=_(
            "Pushes above this rate are answered 429 so the vendor retries later (counted across all web processes)."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    pull_reports = models.BooleanField(
        _("pull reports"),
        default=False,
        help_text=_("Fetch receipts periodically instead of (or besides) receiving pushes."),
    )
    low_balance_threshold = models.DecimalField(
        _("low balance threshold"),
        max_digits=14,
        decimal_places=4,
        default=Decimal("0"),
        validators=[
            at_least(0, _("Must be %(limit_value)s or more.")),
            at_most(MAX_MONEY, _("Must be at most %(limit_value)s.")),
        ],
    )
    price_per_unit = models.DecimalField(
        _("price per billed unit (CNY)"),
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[at_least(0, _("Must be %(limit_value)s or more."))],
        help_text=_("Used for spend figures; leave empty if unknown."),
    )
    rate_limit_per_second = models.PositiveIntegerField(
        _("rate limit (calls/s)"),
        default=10,
        validators=[
            at_least(1, _("At least %(limit_value)s call a second.")),
            at_most(MAX_CALLS_PER_SECOND, _("At most %(limit_value)s calls a second.")),
        ],
        help_text=_("The rate the vendor contract allows; no campaign on this account sends faster."),
    )
    # Health, kept by the dispatcher: the circuit opens after consecutive failures.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    circuit_open_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)
    low_balance_alerted = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = VendorAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("vendor account")
        verbose_name_plural = _("vendor accounts")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_vendor_display()})"

    def save(self, *args, **kwargs):
        check_bounds(self)  # however it is written: admin, API, service or shell
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            # ``low_balance_alerted`` is the once-per-crossing claim of ``vendors.services``, written only
            # by its conditional UPDATEs. Saving an instance read before a balance check would write the
            # old value back: False re-arms the claim (the same crossing is told again, e-mail and
            # ``balance.low`` webhook), True swallows the next crossing.
            skipped = {"low_balance_alerted", *self.get_deferred_fields()}  # deferred: as Django's own save
            kwargs["update_fields"] = [
                f.attname
                for f in self._meta.concrete_fields
                if not f.primary_key and not f.generated and f.attname not in skipped
            ]
        super().save(*args, **kwargs)

    @property
    def masked_secret(self) -> str:
        return mask(self.api_secret or "")

    def token_matches(self, token: str) -> bool:
        """Constant-time check of a callback token, accepting the previous one while it lasts."""
        ok = hmac.compare_digest(self.callback_token.encode(), token.encode())
        if self.previous_callback_token and self.previous_token_valid_until:
            still_valid = self.previous_token_valid_until > timezone.now()
            ok |= still_valid and hmac.compare_digest(self.previous_callback_token.encode(), token.encode())
        return ok

    def rotate_callback_token(self, grace: timedelta = timedelta(days=7)) -> None:
        self.previous_callback_token = self.callback_token
        self.previous_token_valid_until = timezone.now() + grace
        self.callback_token = new_callback_token()
        self.save(
            update_fields=["callback_token", "previous_callback_token", "previous_token_valid_until", "updated_at"]
        )

    def callback_source_allowed(self, address: str | None) -> bool:
        """Whether a push from ``address`` is allowed by the account's allow-list (empty: any)."""
        networks = _allowed_networks(self.callback_allowed_ips)
        if not networks:
            return True
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in network for network in networks)

    def clean(self):
        self.clean_options()
        if (
            self.base_url
            and urlsplit(self.base_url).scheme == "http"
            and not self.allow_plain_http
            and not settings.DEBUG
        ):
            raise ValidationError(
                {
                    "base_url": _(
                        "Use https://, or tick “allow plain HTTP” if this vendor offers no HTTPS "
                        "(its credentials then cross the network unencrypted)."
                    )
                }
            )
        for network in _allow_list_entries(self.callback_allowed_ips):
            if network:
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError as exc:
                    raise ValidationError(
                        {
                            "callback_allowed_ips": _("“%(value)s” is not an address or network.")
                            % {"value": network.strip()}
                        }
                    ) from exc

    def clean_options(self) -> None:
        """Refuse options the vendor's adapter does not declare or cannot use (code ``bad_option``)."""
        if self.vendor not in ADAPTERS:
            return  # the vendor field reports its own error
        errors = adapter_class(self.vendor).validate_options(self.options)
        if errors:
            raise ValidationError({"options": [ValidationError(e.message, code=BAD_OPTION) for e in errors]})

    @property
    def circuit_is_open(self) -> bool:
        return bool(self.circuit_open_until and self.circuit_open_until > timezone.now())

    def health(self, lagging_receipts: int = 0) -> Health:
        """The worst thing true of the account now (``lagging_receipts``: submitted calls overdue)."""
        if not self.is_active:
            return Health.INACTIVE
        if self.circuit_is_open:
            return Health.CIRCUIT_OPEN
        if self.consecutive_failures:
            return Health.ERRORS
        if lagging_receipts:
            return Health.LAGGING
        return Health.HEALTHY


class BalanceSnapshot(models.Model):
    """A balance reading. Amounts are Decimal in the vendor's unit (CNY, calls or points).

    Part of the accounts' history: never deleted by hand (its account is PROTECTed by it).
    """

    account = models.ForeignKey(
        VendorAccount, on_delete=models.PROTECT, related_name="balance_snapshots", verbose_name=_("vendor account")
    )
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=10)
    raw = models.TextField(_("raw answer"), blank=True)
    below_threshold = models.BooleanField(_("below threshold"), default=False)
    taken_at = models.DateTimeField(_("taken at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("balance snapshot")
        verbose_name_plural = _("balance snapshots")
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["account", "-taken_at"], name="balance_account_time")]

    def __str__(self):
        return f"{self.account.name}: {self.amount} {self.unit}"


class SimulatedCall(models.Model):
    """A call the simulator vendor accepted, with the receipt it will hand out when due.

    The simulator keeps its own "vendor side" here so receipts survive restarts and travel
    through the same pull path as a real vendor's.
    """

    account = models.ForeignKey(VendorAccount, on_delete=models.CASCADE, related_name="+")
    vendor_message_id = models.CharField(max_length=40, unique=True)
    custom_id = models.CharField(max_length=40)
    mobile = models.CharField(max_length=20)
    report = models.JSONField()
    report_due_at = models.DateTimeField()
    fetched = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["account", "report_due_at"], name="simulated_due", condition=models.Q(fetched=False))
        ]

    def __str__(self):
        return self.vendor_message_id


class RateBucket(models.Model):
    """A token bucket shared by every worker (``vendors.ratelimit``); tokens in thousandths."""

    key = models.CharField(max_length=60, unique=True)
    milli_tokens = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.key


def _allow_list_entries(text: str) -> list[str]:
    """The entries of a callback allow-list: one per line or comma."""
    return [entry.strip() for entry in text.replace(",", "\n").splitlines()]


@lru_cache(maxsize=256)
def _allowed_networks(text: str) -> tuple:
    """An allow-list parsed once per distinct text, not on every push (entries are checked by ``clean``)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in _allow_list_entries(text) if entry)
