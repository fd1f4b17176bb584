"""The event types we tell the customer's systems about: the one list choices, triggers and docs derive from."""

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

CALL_ANSWERED = "call.answered"
CALL_FAILED = "call.failed"
CALL_EXPIRED = "call.expired"
CAMPAIGN_COMPLETED = "campaign.completed"
IMPORT_FINISHED = "import.finished"
BALANCE_LOW = "balance.low"

EVENT_TYPES = {
    CALL_ANSWERED: _("A call was answered"),
    CALL_FAILED: _("A call failed (not answered, or the vendor refused it)"),
    CALL_EXPIRED: _("A call had no report within its report window"),
    CAMPAIGN_COMPLETED: _("A campaign completed"),
    IMPORT_FINISHED: _("A recipient file import finished (done or failed)"),
    BALANCE_LOW: _("A vendor balance fell below its threshold"),
}
EVENT_TYPE_CHOICES = [(value, format_lazy("{} — {}", value, label)) for value, label in EVENT_TYPES.items()]

# A call record reaching one of these states is told as this event (cancelled calls are not).
CALL_STATE_EVENTS = {
    "answered": CALL_ANSWERED,
    "failed": CALL_FAILED,
    "submit_failed": CALL_FAILED,
    "expired": CALL_EXPIRED,
}
