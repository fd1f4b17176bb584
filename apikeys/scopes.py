"""What an API key may do. A view names the scopes that let a key in (``required_scopes``)."""

from django.utils.translation import gettext_lazy as _

SEND_CALLS = "send_calls"
MANAGE_CAMPAIGNS = "manage_campaigns"
READ_STATISTICS = "read_statistics"
MANAGE_WEBHOOKS = "manage_webhooks"

SCOPE_LABELS = {
    SEND_CALLS: _("Send single calls (and read them)"),
    MANAGE_CAMPAIGNS: _("Manage campaigns, recipients and templates"),
    READ_STATISTICS: _("Read campaign statistics and call records"),
    MANAGE_WEBHOOKS: _("Manage webhook endpoints (where results are sent, their secrets)"),
}
SCOPE_CHOICES = list(SCOPE_LABELS.items())
