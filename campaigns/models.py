"""Campaigns, their recipients and every call attempt, and the raw inbox of vendor callbacks."""

import re
from datetime import time, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apikeys.fields import created_by_field, created_by_key_field
from vendors.adapters import VENDOR_CHOICES
from vendors.adapters.base import DEFAULT_RETRYABLE_OUTCOMES, OUTCOMES, PRODUCTS
from vendors.models import VendorAccount
from voiceops.bounds import MAX_CALLS_PER_SECOND, MAX_DELAY_MINUTES, at_least, at_most, check_bounds
from voiceops.runtime_state import RuntimeStateMixin

VARIABLE_PATTERN = re.compile(r"【([^】]+)】")

PRODUCT_LABELS = {
    "notify": _("Notification"),
    "verify": _("Verification code"),
    "marketing": _("Marketing"),
    "voice_sms": _("Voice SMS"),
}
PRODUCT_CHOICES = [(p, PRODUCT_LABELS[p]) for p in PRODUCTS]
SINGLE_CALL_PRODUCTS = ("verify", "notify", "voice_sms")  # one call to one number: no marketing
SINGLE_CALL_PRODUCT_CHOICES = [(p, PRODUCT_LABELS[p]) for p in SINGLE_CALL_PRODUCTS]

OUTCOME_LABELS = {
    "answered": _("Answered"),
    "no_answer": _("No answer"),
    "busy": _("Busy"),
    "rejected": _("Rejected by callee"),
    "powered_off": _("Powered off"),
    "suspended": _("Suspended"),
    "unreachable": _("Unreachable"),
    "invalid_number": _("Invalid number"),
    "barred": _("Barred"),
    "network_busy": _("Network busy"),
    "blacklisted": _("Blacklisted"),
    "content_rejected": _("Content rejected"),
    "insufficient_balance": _("Insufficient balance"),
    "rate_limited": _("Rate limited"),
    "vendor_error": _("Vendor error"),
    "timeout": _("Timeout"),
    "unknown": _("Unknown"),
}
OUTCOME_CHOICES = [(o, OUTCOME_LABELS[o]) for o in OUTCOMES]


class IllegalTransition(Exception):
    """A state change the state machine does not allow."""


def transitions_of(actions: dict[str, dict[str, set[str]]], states: list[str]) -> dict[str, set[str]]:
    """The transition table (state → states it may become) that named actions add up to."""
    return {
        state: {new for moves in actions.values() for new in moves.get(state, ()) if new != state} for state in states
    }


class StateMachine:
    """The one way a row's state changes: a conditional UPDATE from the states ``TRANSITIONS`` allows.

    A model lists its moves in ``TRANSITIONS`` (state → states it may become). ``transition`` moves
    every row of a queryset that may reach the new state (concurrent writers: the loser changes
    nothing); ``move_to`` does it for one instance; raw SQL paths take their state lists from
    ``sources``, so no write names its own "from" states.
    """

    TRANSITIONS: dict[str, set[str]] = {}

    @classmethod
    def sources(cls, new_state: str) -> tuple[str, ...]:
        """The states that may become ``new_state``, in the table's order."""
        return tuple(old for old, targets in cls.TRANSITIONS.items() if new_state in targets)

    @classmethod
    def check_transition(cls, old: str, new: str) -> None:
        if new not in cls.TRANSITIONS[old]:
            raise IllegalTransition(f"{cls._meta.model_name} state {old} → {new} is not allowed")

    @classmethod
    def transition(cls, queryset, new_state: str, **fields) -> int:
        """Move the rows of ``queryset`` that may become ``new_state``; returns how many moved."""
        return queryset.filter(state__in=cls.sources(new_state)).update(state=new_state, **fields)

    def can_become(self, new_state: str) -> bool:
        return new_state in self.TRANSITIONS[self.state]

    def move_to(self, new_state: str, **fields) -> bool:
        """Conditionally move this row; returns False (and changes nothing) if another writer won."""
        self.check_transition(self.state, new_state)
        model = type(self)
        changed = model._default_manager.filter(pk=self.pk, state=self.state).update(state=new_state, **fields)
        if changed:
            self.state = new_state
            for name, value in fields.items():
                setattr(self, name, value)
        return bool(changed)


class VoiceTemplate(RuntimeStateMixin, models.Model):
    """Message text with 【变量】 placeholders; vendors that review templates hold an id and a verdict."""

    class Review(models.TextChoices):
        DRAFT = "draft", _("Not submitted")
        PENDING = "pending", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    # Written by ``templates_service`` and the vendor's review push, with conditional UPDATEs. A stale
    # instance saved over them (an admin edit racing the verdict) would leave the template pending
    # forever, the vendor telling its verdict once.
    RUNTIME_STATE_FIELDS = ("vendor_template_id", "review_state", "review_message")

    account = models.ForeignKey(
        VendorAccount, on_delete=models.PROTECT, related_name="templates", verbose_name=_("vendor account")
    )
    name = models.CharField(_("name"), max_length=100)
    content = models.TextField(_("content"), help_text=_("Use 【name】 for each variable, e.g. 您的验证码是【code】。"))
    vendor_template_id = models.CharField(_("vendor template id"), max_length=64, blank=True, db_index=True)
    review_state = models.CharField(_("review"), max_length=10, choices=Review.choices, default=Review.DRAFT)
    review_message = models.TextField(_("review message"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("voice template")
        verbose_name_plural = _("voice templates")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def variable_names(self) -> list[str]:
        return VARIABLE_PATTERN.findall(self.content)

    @property
    def filed_with_vendor(self) -> bool:
        """Whether the vendor has seen this template: then it is re-submitted, never submitted anew."""
        return bool(self.vendor_template_id) or self.review_state != self.Review.DRAFT

    def render(self, variables: list[str]) -> str:
        values = iter(variables)
        return VARIABLE_PATTERN.sub(lambda _m: next(values, ""), self.content)


def default_calls_from() -> time:
    """08:00 Asia/Shanghai. A callable, not a fixed ``time``: Django's check (fields.W161) flags a fixed
    time default whenever the clock is within seconds of it, which made ``check --deploy`` fail at 21:00."""
    return time(8, 0)


def default_calls_until() -> time:
    return time(21, 0)


class Campaign(StateMachine, RuntimeStateMixin, models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    # The campaign's life as named actions, each "from state → the states it may end in". The
    # transition table and the admin's buttons are derived from it.
    ACTIONS = {
        "launch": {"draft": {"running", "scheduled"}, "scheduled": {"running", "scheduled"}},
        "schedule": {"draft": {"scheduled"}, "paused": {"scheduled"}},
        "pause": {"scheduled": {"paused"}, "running": {"paused"}},
        "resume": {"paused": {"running", "scheduled"}},
        "cancel": {state: {"cancelled"} for state in ("draft", "scheduled", "running", "paused")},
        # An operator's retry of the failed calls reopens a completed campaign: it has calls to make again.
        "retry_failed": {"running": {"running"}, "paused": {"paused"}, "completed": {"running"}},
        "start": {"scheduled": {"running"}},  # the beat: its start time has come
        "complete": {"running": {"completed"}},  # the beat or a receipt: no call is open
    }
    USER_ACTIONS = ("launch", "schedule", "pause", "resume", "cancel", "retry_failed")
    TRANSITIONS = transitions_of(ACTIONS, State.values)
    # Written by the state machine's conditional UPDATEs, the dispatcher's lease and the imports'
    # counter. A stale instance saved over them (an admin edit racing a pause, a completion or an
    # upload) would set a paused campaign dialling again, reopen a completed one or lose recipients
    # from its count.
    RUNTIME_STATE_FIELDS = ("state", "launched_at", "completed_at", "dispatch_lease_until", "recipient_count")
    FINISHED_STATES = ("completed", "cancelled")  # takes no more recipients, no test calls
    ACTIVE_STATES = ("running", "paused")  # launched and not finished: on the dashboard

    name = models.CharField(_("name"), max_length=200)
    account = models.ForeignKey(
        VendorAccount, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("vendor account")
    )
    fallback_account = models.ForeignKey(
        VendorAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fallback_campaigns",
        verbose_name=_("fallback account"),
        help_text=_("Takes the remaining calls when the primary account is down or out of balance."),
    )
    product = models.CharField(_("product"), max_length=20, choices=PRODUCT_CHOICES, default="notify")
    template = models.ForeignKey(
        VoiceTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
        verbose_name=_("template"),
    )
    content = models.TextField(
        _("content"), blank=True, help_text=_("Used when no template is chosen; 【name】 marks a variable.")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT, db_index=True)
    scheduled_at = models.DateTimeField(_("start at"), null=True, blank=True)
    quiet_hours_start = models.TimeField(_("calls allowed from"), default=default_calls_from)
    quiet_hours_end = models.TimeField(_("calls allowed until"), default=default_calls_until)
    rate_limit_per_second = models.PositiveIntegerField(
        _("rate limit (calls/s)"),
        default=10,
        validators=[
            at_least(1, _("At least %(limit_value)s call a second.")),
            at_most(MAX_CALLS_PER_SECOND, _("At most %(limit_value)s calls a second.")),
        ],
        help_text=_("Never faster than the vendor account's own rate limit."),
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("max attempts"),
        default=2,
        validators=[
            at_least(1, _("At least %(limit_value)s attempt.")),
            at_most(10, _("At most %(limit_value)s attempts.")),
        ],
    )
    retry_delay_minutes = models.PositiveIntegerField(
        _("retry delay (minutes)"),
        default=30,
        validators=[at_most(MAX_DELAY_MINUTES, _("At most %(limit_value)s minutes (7 days)."))],
    )
    retry_outcomes = models.JSONField(
        _("retry on"),
        default=list,
        blank=True,
        help_text=_("Outcomes that get another attempt; empty means the default set."),
    )
    report_window_minutes = models.PositiveIntegerField(
        _("report window (minutes)"),
        default=24 * 60,
        validators=[
            at_least(1, _("At least %(limit_value)s minute.")),
            at_most(MAX_DELAY_MINUTES, _("At most %(limit_value)s minutes (7 days).")),
        ],
        help_text=_("A call with no receipt this long after it was sent is marked expired."),
    )
    created_by = created_by_field()
    # A campaign created over the API has no person: the key says which system made it.
    created_by_key = created_by_key_field()
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True, editable=False)
    dispatch_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        check_bounds(self)  # however it is written: admin, API, service or shell
        super().save(*args, **kwargs)

    @property
    def message_text(self) -> str:
        return self.template.content if self.template_id else self.content

    @property
    def variable_names(self) -> list[str]:
        return VARIABLE_PATTERN.findall(self.message_text)

    @property
    def retryable_outcomes(self) -> tuple[str, ...]:
        return tuple(self.retry_outcomes) or DEFAULT_RETRYABLE_OUTCOMES

    def clean(self):
        if not self.template_id and not self.content.strip():
            raise ValidationError(_("Choose a template or write the content."))
        from vendors.adapters import adapter_class

        if self.account_id and self.product not in adapter_class(self.account.vendor).products:
            raise ValidationError(
                _("%(vendor)s cannot send “%(product)s” calls.")
                % {"vendor": self.account.get_vendor_display(), "product": self.get_product_display()}
            )
        missing = self.account_id and adapter_class(self.account.vendor).missing_options(
            self.account.options, self.product
        )
        if missing:
            raise ValidationError(
                _("The vendor account “%(account)s” needs the option(s) %(keys)s to send “%(product)s” calls.")
                % {"account": self.account.name, "keys": ", ".join(missing), "product": self.get_product_display()},
                code="bad_option",
            )
        if self.template_id and self.template.account_id != self.account_id:
            raise ValidationError(_("The template belongs to another vendor account."))
        bad = set(self.retry_outcomes) - set(OUTCOMES)
        if bad:
            raise ValidationError(_("Unknown outcomes in retry list: %(names)s") % {"names": ", ".join(sorted(bad))})
        if self.account_id and self.rate_limit_per_second > self.account.rate_limit_per_second:
            raise ValidationError(
                {
                    "rate_limit_per_second": _(
                        "At most %(limit)d calls a second: the rate limit of the vendor account “%(name)s”."
                    )
                    % {"limit": self.account.rate_limit_per_second, "name": self.account.name}
                }
            )

    def action_moves(self, action: str, new_state: str) -> bool:
        """Whether ``action`` may move this campaign from its state to ``new_state``."""
        return new_state in self.ACTIONS[action].get(self.state, ())

    def allowed_actions(self) -> set[str]:
        """The actions this campaign's state allows (the admin shows a button for each)."""
        return {name for name, moves in self.ACTIONS.items() if self.state in moves}

    def in_calling_hours(self, moment=None) -> bool:
        """Whether calls may be made at ``moment`` (Asia/Shanghai wall time); equal bounds mean always."""
        local = timezone.localtime(moment or timezone.now()).time()
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if start == end:
            return True
        return start <= local < end if start <= end else (local >= start or local < end)

    def calls_start_at(self, moment=None):
        """The first moment at or after ``moment`` (default now) when calls are allowed."""
        moment = moment or timezone.now()
        if self.in_calling_hours(moment):
            return moment
        local = timezone.localtime(moment)
        opens = local.replace(
            hour=self.quiet_hours_start.hour, minute=self.quiet_hours_start.minute, second=0, microsecond=0
        )
        return opens if opens > local else opens + timedelta(days=1)


class Recipient(models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="recipients", verbose_name=_("campaign")
    )
    mobile = models.CharField(_("number"), max_length=20)  # E.164
    variables = models.JSONField(_("variables"), default=list, blank=True)
    line = models.PositiveIntegerField(_("source line"), null=True, blank=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        indexes = [models.Index(fields=["campaign", "mobile"], name="recipient_campaign_mobile")]

    def __str__(self):
        return self.mobile


class CallRoute(models.Model):
    """The vendor account a single call of a product goes through when the caller names none."""

    product = models.CharField(_("product"), max_length=20, choices=SINGLE_CALL_PRODUCT_CHOICES, unique=True)
    account = models.ForeignKey(
        VendorAccount,
        on_delete=models.PROTECT,
        related_name="call_routes",
        verbose_name=_("vendor account"),
        help_text=_("Single calls of this product that name no account and no template go through this account."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("single-call route")
        verbose_name_plural = _("single-call routes")
        ordering = ["product"]

    def __str__(self):
        return f"{self.get_product_display()} → {self.account}"

    def clean(self):
        from vendors.adapters import adapter_class

        if not self.account_id:
            return
        if self.product not in adapter_class(self.account.vendor).products:
            raise ValidationError(
                {
                    "account": _("%(vendor)s cannot send “%(product)s” calls; choose an account that can.")
                    % {"vendor": self.account.get_vendor_display(), "product": self.get_product_display()}
                }
            )
        if not self.account.is_active:
            raise ValidationError({"account": _("This account is inactive; activate it or choose another.")})


class SingleCall(models.Model):
    """One call to one number placed over the API, outside any campaign (DESIGN.md, "Transactional calls").

    Its attempts are ``CallRecord`` rows (``attempts``), dispatched and reported exactly as campaign
    calls are; the call's state, outcome and times are those of its latest attempt.
    """

    PRODUCTS = SINGLE_CALL_PRODUCTS
    HIDDEN_CODE = "••••"

    out_id = models.CharField(_("caller's reference"), max_length=64, blank=True)
    product = models.CharField(_("product"), max_length=20, choices=SINGLE_CALL_PRODUCT_CHOICES)
    mobile = models.CharField(_("number"), max_length=20)  # E.164
    account = models.ForeignKey(
        VendorAccount, on_delete=models.PROTECT, related_name="single_calls", verbose_name=_("vendor account")
    )
    template = models.ForeignKey(
        VoiceTemplate,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="single_calls",
        verbose_name=_("template"),
    )
    variables = models.JSONField(_("variables"), default=list, blank=True)
    content = models.TextField(_("content"), blank=True)
    credential = models.CharField(_("placed by"), max_length=100, blank=True, editable=False)
    created_by = created_by_field()
    # The key that placed the call (as on Campaign). No index: single-call inserts are the hot path,
    # and only deleting a key (which the admin does not offer) would look rows up by it.
    created_by_key = created_by_key_field(db_index=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("single call")
        verbose_name_plural = _("single calls")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["out_id"], name="singlecall_out_id", condition=~models.Q(out_id="")),
            models.Index(fields=["mobile", "created_at"], name="singlecall_mobile_recent"),
        ]

    def __str__(self):
        return self.out_id or f"#{self.pk}"

    @property
    def message_text(self) -> str:
        """What is played: the code for ``verify``, else the template or the content."""
        if self.product == "verify":
            return self.variables[0] if self.variables else ""
        return self.template.content if self.template_id else self.content

    @property
    def attempt_records(self) -> list:
        """The attempts in order, read once per instance (prefetched by ``selectors.single_calls``)."""
        if not hasattr(self, "attempt_list"):
            self.attempt_list = list(self.attempts.all())
        return self.attempt_list

    def shown_variables(self) -> str:
        """The variables as staff may see them: a verification code is the callee's secret, never shown."""
        if self.product == "verify":
            return self.HIDDEN_CODE
        return "、".join(self.variables or []) or "—"

    def outbound_text(self) -> str:
        """What the vendor is asked to play: the code, or the message with its variables filled in."""
        if self.product == "verify":
            return self.message_text
        return VoiceTemplate(content=self.message_text).render(list(self.variables))


# Named groups of call states: every query, bulk statement and report uses these, never its own list.
CALL_OPEN_STATES = ("queued", "submitting", "submitted")  # the vendor's work is not done
CALL_IN_FLIGHT_STATES = ("submitting", "submitted")  # handed to the vendor, no verdict yet


class CallRecord(StateMachine, models.Model):
    """One attempt to call one recipient of a campaign, or one attempt of a single call.

    A recipient's (or single call's) next attempt is a new row.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SUBMITTING = "submitting", _("Submitting")
        SUBMITTED = "submitted", _("Submitted")
        ANSWERED = "answered", _("Answered")
        FAILED = "failed", _("Failed")
        SUBMIT_FAILED = "submit_failed", _("Submit failed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    # The only place the call life is defined: every write moves a state through ``transition``,
    # ``move_to`` or a bulk statement given ``sources(new_state)``.
    TRANSITIONS = {
        "queued": {"submitting", "cancelled"},
        "submitting": {"submitted", "submit_failed", "queued", "answered", "failed"},
        "submitted": {"answered", "failed", "expired"},
        "answered": set(),
        "failed": set(),
        "submit_failed": set(),
        "cancelled": set(),
        "expired": {"answered", "failed"},  # a late receipt may still tell the truth
    }
    OPEN_STATES = CALL_OPEN_STATES
    IN_FLIGHT_STATES = CALL_IN_FLIGHT_STATES
    # Nothing left to do (an expired call may still be corrected by a late receipt).
    FINAL_STATES = ("answered", "failed", "submit_failed", "cancelled", "expired")
    FAILED_STATES = ("failed", "submit_failed", "expired")  # an operator may retry these
    RESULT_STATES = ("answered", "failed", "expired")  # the vendor dialled: billed, in results

    # Every receipt rewrites a row's index entries (state changes), so indexes are few and mostly
    # partial: the campaign and account columns are covered by the composite indexes below.
    # PROTECT: every call is accounted for; a campaign or recipient with calls is never deleted.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("campaign"),
        db_index=False,
    )
    recipient = models.ForeignKey(
        Recipient, on_delete=models.PROTECT, null=True, blank=True, related_name="calls", verbose_name=_("recipient")
    )
    single_call = models.ForeignKey(
        SingleCall,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
        verbose_name=_("single call"),
        db_index=False,
    )
    account = models.ForeignKey(
        VendorAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("vendor account"),
        db_index=False,
    )
    is_test = models.BooleanField(
        _("test call"),
        default=False,
        help_text=_("Sent to a staff member's own number before launch; not in statistics."),
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    mobile = models.CharField(_("number"), max_length=20)
    custom_id = models.CharField(_("our call id"), max_length=40, unique=True)
    vendor_message_id = models.CharField(_("vendor message id"), max_length=100, blank=True)
    batch_id = models.CharField(_("vendor batch id"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=15, choices=State.choices, default=State.QUEUED)
    outcome = models.CharField(_("outcome"), max_length=25, choices=OUTCOME_CHOICES, blank=True)
    raw_code = models.CharField(_("vendor code"), max_length=100, blank=True)
    raw_message = models.TextField(_("vendor message"), blank=True)
    talk_seconds = models.PositiveIntegerField(_("talk time (s)"), null=True, blank=True)
    billed_seconds = models.PositiveIntegerField(_("billed time (s)"), null=True, blank=True)
    billed_units = models.PositiveIntegerField(_("billed units"), null=True, blank=True)
    key_pressed = models.CharField(_("key pressed"), max_length=20, blank=True)
    not_before = models.DateTimeField(_("not before"), null=True, blank=True)
    submit_tries = models.PositiveSmallIntegerField(
        _("send tries"),
        default=0,
        db_default=0,
        help_text=_("Times the vendor could not take this call; each wait doubles."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)

    class Meta:
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "attempt"], condition=models.Q(is_test=False), name="call_one_row_per_attempt"
            ),
            models.UniqueConstraint(
                fields=["single_call", "attempt"],
                condition=models.Q(single_call__isnull=False),
                name="single_call_one_row_per_attempt",
            ),
            # A call belongs to a campaign (with a recipient) or is an attempt of a single call, never both.
            models.CheckConstraint(
                condition=(
                    models.Q(campaign__isnull=False, recipient__isnull=False, single_call__isnull=True)
                    | models.Q(campaign__isnull=True, recipient__isnull=True, single_call__isnull=False)
                ),
                name="call_of_campaign_or_single_call",
            ),
        ]
        indexes = [
            # Claiming due work: only queued rows are indexed, so the index stays small.
            models.Index(
                fields=["campaign", "not_before", "id"], name="call_queued", condition=models.Q(state="queued")
            ),
            models.Index(
                fields=["campaign", "id"],
                name="call_open",
                condition=models.Q(state__in=list(CALL_OPEN_STATES)),
            ),
            models.Index(
                fields=["submitted_at"],
                name="call_in_flight",
                condition=models.Q(state__in=list(CALL_IN_FLIGHT_STATES)),
            ),
            models.Index(fields=["account", "vendor_message_id"], name="call_vendor_msg"),
            models.Index(fields=["mobile"], name="call_mobile"),
            models.Index(fields=["campaign", "-id"], name="call_campaign_recent"),
            # Due single calls, for the beat's safety net (the web enqueues each one at once).
            models.Index(
                fields=["not_before", "id"],
                name="call_single_queued",
                condition=models.Q(state="queued", campaign__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.mobile} #{self.attempt}"

    @property
    def is_single(self) -> bool:
        return self.single_call_id is not None

    @classmethod
    def reportable_states(cls) -> tuple[str, ...]:
        """Where a delivery report applies: every state that may become answered (or failed, the same)."""
        return cls.sources(cls.State.ANSWERED)


class CallbackEvent(models.Model):
    """Every vendor push, stored raw before it is parsed, so nothing is ever lost."""

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        APPLIED = "applied", _("Applied")
        UNMATCHED = "unmatched", _("Kept for reconciliation")
        FAILED = "failed", _("Failed to apply")
        REFUSED = "refused", _("Refused")

    vendor = models.CharField(_("vendor"), max_length=20, choices=VENDOR_CHOICES)  # shown by name, not code
    account = models.ForeignKey(
        VendorAccount,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="callback_events",
        verbose_name=_("vendor account"),
    )
    source = models.CharField(
        _("source"), max_length=10, default="push", choices=[("push", _("Push")), ("pull", _("Pull"))]
    )
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    remote_addr = models.GenericIPAddressField(_("from"), null=True, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    query = models.JSONField(_("query"), default=dict, blank=True)
    body = models.BinaryField(_("body"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.RECEIVED, db_index=True)
    error = models.TextField(_("error"), blank=True)
    reports_count = models.PositiveIntegerField(_("reports"), default=0)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("callback event")
        verbose_name_plural = _("callback events")
        ordering = ["-received_at"]

    def __str__(self):
        return f"{self.vendor} {self.received_at:%Y-%m-%d %H:%M:%S}"


class InboundReply(models.Model):
    """A reply or key press a callee sent back (fungo and sms10692 replies, Emay interactive keys)."""

    account = models.ForeignKey(
        VendorAccount, on_delete=models.CASCADE, related_name="+", verbose_name=_("vendor account")
    )
    call = models.ForeignKey(
        CallRecord, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies", verbose_name=_("call")
    )
    mobile = models.CharField(_("number"), max_length=20, db_index=True)
    content = models.TextField(_("content"))
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    event = models.ForeignKey(
        CallbackEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name=_("callback event"),
    )

    class Meta:
        verbose_name = _("inbound reply")
        verbose_name_plural = _("inbound replies")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "mobile", "content", "received_at"], name="reply_once_per_event")
        ]

    def __str__(self):
        return f"{self.mobile}: {self.content[:30]}"


class DoNotCallEntry(models.Model):
    """A number never to be called: checked at import and again when each call is sent.

    The number is stored as E.164, normalized by the same function as every import, so any
    spelling a person types (``137 0013 7000``, ``+86 137…``) blocks every other spelling.
    """

    mobile = models.CharField(
        _("number"),
        max_length=40,
        unique=True,
        help_text=_("Any spelling (137 0013 7000, +86 13700137000…); stored as +8613700137000."),
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("do-not-call entry")
        verbose_name_plural = _("do-not-call list")
        ordering = ["mobile"]

    def __str__(self):
        return self.mobile

    def save(self, *args, **kwargs):
        self.normalize_mobile()  # however the entry is written (shell, service, form)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude=None):
        super().clean_fields(exclude)
        if exclude and "mobile" in exclude:
            return
        self.normalize_mobile()

    def normalize_mobile(self) -> None:
        """E.164 or a ValidationError naming why the text is not a number."""
        from .phones import InvalidNumber, normalize

        try:
            self.mobile = normalize(self.mobile)
        except InvalidNumber as exc:
            raise ValidationError({"mobile": _("“%(number)s”: %(reason)s") % {"number": self.mobile, "reason": exc}})


class RecipientImport(models.Model):
    """One uploaded recipient file and its progress; rejected rows are kept for download."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="imports", verbose_name=_("campaign"))
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    size_bytes = models.PositiveBigIntegerField(_("size"), default=0)
    processed_bytes = models.PositiveBigIntegerField(_("processed"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    invalid = models.PositiveIntegerField(_("invalid"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    blocked = models.PositiveIntegerField(_("blocked"), default=0)
    rejected_rows = models.JSONField(_("rejected rows"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = created_by_field()
    # The key of the system that uploaded the file over the API (as on Campaign), kept with PROTECT.
    created_by_key = created_by_key_field()
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("recipient import")
        verbose_name_plural = _("recipient imports")
        ordering = ["-created_at"]

    def __str__(self):
        return self.original_name

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return int(self.processed_bytes * 100 / self.size_bytes) if self.size_bytes else 0


class CallCounter(models.Model):
    """Running totals of call records per campaign, kept by PostgreSQL triggers (migration 0003).

    Statistics read this small table instead of scanning a campaign's records. Rows are split by
    ``bucket`` (the writing backend's pid modulo 8) so concurrent receipts rarely wait on one
    row; readers sum the buckets. ``hour`` is the hour of the report (epoch for none).
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    bucket = models.SmallIntegerField()
    state = models.CharField(max_length=15)
    outcome = models.CharField(max_length=25)
    hour = models.DateTimeField()
    calls = models.BigIntegerField(default=0)
    talk_seconds = models.BigIntegerField(default=0)
    billed_units = models.BigIntegerField(default=0)
    first_submitted_at = models.DateTimeField(null=True)
    last_reported_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "bucket", "state", "outcome", "hour"], name="callcounter_key")
        ]

    def __str__(self):
        return f"{self.campaign_id}/{self.state}/{self.outcome}: {self.calls}"


class CallQuota(models.Model):
    """Single calls placed per API credential per local day: the daily cap is counted here.

    One row per (credential, day), incremented in the transaction that accepts the call, so
    every web worker shares the count and a refused or rolled-back request counts nothing.
    """

    credential = models.CharField(max_length=100)
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("daily single-call count")
        verbose_name_plural = _("daily single-call counts")
        constraints = [models.UniqueConstraint(fields=["credential", "day"], name="callquota_one_row_per_day")]

    def __str__(self):
        return f"{self.credential} {self.day}: {self.calls}"
