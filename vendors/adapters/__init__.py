"""Vendor adapters: one module per vendor, all behind ``base.BaseAdapter``.

``ADAPTERS`` is the registry: account field choices, the admin and the capability table are
derived from it. Adapters are imported lazily so a broken optional module cannot stop start-up.
"""

from functools import cache

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .base import (  # noqa: F401  (re-exported: the public contract)
    BAD_OPTION,
    PER_CALL,
    PER_REQUEST,
    Balance,
    BaseAdapter,
    CallbackRejected,
    DeliveryReport,
    InboundReply,
    KeywordCheck,
    NotSupported,
    Option,
    OptionError,
    OutboundCall,
    ParsedCallback,
    Refused,
    SubmitResult,
    TemplateReview,
    VendorError,
    VendorUnavailable,
)

ADAPTERS = {
    "simulator": ("vendors.adapters.simulator.SimulatorAdapter", _("Simulator (no vendor contract)")),
    "ihuyi": ("vendors.adapters.ihuyi.IhuyiAdapter", _("ihuyi 互亿无线")),
    "emay": ("vendors.adapters.emay.EmayAdapter", _("Emay 亿美软通")),
    "vms57": ("vendors.adapters.vms57.Vms57Adapter", _("VMS57 platform")),
    "fungo": ("vendors.adapters.fungo.FungoAdapter", _("fungo 企信通")),
    "sms10692": ("vendors.adapters.sms10692.Sms10692Adapter", _("sms10692 platform")),
}

VENDOR_CHOICES = [(code, label) for code, (_path, label) in ADAPTERS.items()]


@cache
def adapter_class(vendor: str) -> type[BaseAdapter]:
    try:
        path, _label = ADAPTERS[vendor]
    except KeyError:
        raise NotSupported(f"No adapter for vendor {vendor!r}") from None
    return import_string(path)


def get_adapter(account) -> BaseAdapter:
    """The adapter for a VendorAccount."""
    return adapter_class(account.vendor)(account)
