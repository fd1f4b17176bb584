"""The callback URL of a vendor account, and what to do with it in each vendor's console.

Push vendors need our URL in their system before any receipt can arrive. It is absolute, built
from ``settings.PUBLIC_BASE_URL`` (the address vendors reach us at, which the server cannot know
behind a proxy), and shown only to those who may change vendor accounts: the token in it is the
credential a vendor pushes with.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .adapters import adapter_class

# Where each vendor's document says the push address goes (one line per vendor).
PASTE_WHERE = {
    "ihuyi": _(
        "互亿无线: in the ihuyi console, bind this URL as the receipt push address (回执推送地址) and as the "
        "template review push address (document sections 4.5 and 6); ihuyi pushes each receipt up to 3 times."
    ),
    "emay": _(
        "亿美软通 Emay: Emay sets the push address on its side; send this URL to Emay customer service and tell "
        "them plain or encrypted push, matching this account's “push_mode” option (document section 2.x.4)."
    ),
    "fungo": _(
        "企信通 fungo: give this URL to fungo as the status report push address and as the reply (上行) push "
        "address (document: 推送状态报告)."
    ),
    "simulator": _("Simulator: nothing to set up; its receipts are pulled in-process."),
}
PULL_ONLY = _("This vendor does not push: receipts are pulled every minute (“pull reports”); no URL is needed.")


def pushes(vendor: str) -> bool:
    return vendor != "simulator" and adapter_class(vendor).supports("parse_callback")


def public_base_url(request=None) -> str:
    """``PUBLIC_BASE_URL``, else the address this request came to (right only without a proxy)."""
    base = (getattr(settings, "PUBLIC_BASE_URL", "") or "").rstrip("/")
    if not base and request is not None:
        base = request.build_absolute_uri("/").rstrip("/")
    return base


def callback_url(account, token: str | None = None, request=None) -> str:
    path = reverse("vendor-callback", kwargs={"vendor": account.vendor, "token": token or account.callback_token})
    return public_base_url(request) + path


def paste_where(vendor: str) -> str:
    return str(PASTE_WHERE.get(vendor, "")) if pushes(vendor) or vendor == "simulator" else str(PULL_ONLY)


def may_see_callback_url(user) -> bool:
    """Those who set vendor accounts up (Operators, superusers); never Marketing or Finance."""
    return bool(user and user.is_active and user.has_perm("vendors.change_vendoraccount"))
