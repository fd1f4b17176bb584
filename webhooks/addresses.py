"""Where a webhook may be sent: a request our servers make on someone's behalf must not reach inside.

Outside DEBUG, loopback, private, link-local, shared (CGNAT), multicast, reserved and cloud
metadata addresses are refused, and only HTTPS is used. The check runs when an endpoint is saved
and again on every delivery, on the address actually connected to: ``PinnedAddressAdapter``
resolves the name once, checks every address it gave, and connects to that address while the
``Host`` header, SNI and certificate check keep the name (DNS may change between save and send,
and a rebinding name may answer differently each time). Redirects are never followed (the
delivery code sends with ``allow_redirects=False``).

``WEBHOOK_ALLOW_LOOPBACK`` (DEBUG and tests) lets loopback through, over plain HTTP too, so a
receiver on 127.0.0.1 can be used; ``WEBHOOK_HOST_OVERRIDES`` maps names to addresses for tests,
without touching /etc/hosts.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _
from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.structures import CaseInsensitiveDict

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Tencent Cloud, most others
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
}
# Not private in Python's tables, yet not the public Internet either.
INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16")
)


class AddressRefused(RequestsConnectionError):
    """The URL's address is not one we send to; the message says why in words an operator can act on."""


def _plain(ip: IPAddress) -> IPAddress:
    """An IPv4 address written as IPv6 (``::ffff:127.0.0.1``) is judged as the IPv4 address it is."""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not receive webhooks, or None if it may."""
    ip = _plain(ip)
    if ip.is_loopback:
        return None if settings.WEBHOOK_ALLOW_LOOPBACK else _("%(ip)s is a loopback address") % {"ip": ip}
    if ip in METADATA_ADDRESSES:
        return _("%(ip)s is a cloud metadata address") % {"ip": ip}
    if ip.is_link_local:
        return _("%(ip)s is a link-local address") % {"ip": ip}
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return _("%(ip)s is not a unicast Internet address") % {"ip": ip}
    if ip.is_private or not ip.is_global or any(ip in net for net in INTERNAL_NETWORKS):
        return _("%(ip)s is a private or internal address") % {"ip": ip}
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` stands for (an address literal stands for itself)."""
    host = host.strip("[]")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    overrides = settings.WEBHOOK_HOST_OVERRIDES
    if host.lower() in overrides:
        return [ipaddress.ip_address(a) for a in overrides[host.lower()]]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(_("%(host)s could not be resolved (%(error)s)") % {"host": host, "error": exc}) from exc
    addresses = []
    for *_rest, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def checked_address(scheme: str, host: str, port: int) -> IPAddress:
    """The address to connect to: every address of ``host`` must be allowed (else AddressRefused)."""
    addresses = resolve(host, port)
    if not addresses:
        raise AddressRefused(_("%(host)s has no address") % {"host": host})
    for ip in addresses:
        reason = refusal(ip)
        if reason:
            raise AddressRefused(
                _("%(host)s is refused: %(reason)s") % {"host": host, "reason": reason}
                if str(ip) != host.strip("[]")
                else reason
            )
    if scheme != "https" and not all(_plain(ip).is_loopback for ip in addresses):
        raise AddressRefused(_("only HTTPS addresses receive webhooks"))
    return addresses[0]


def check_url(url: str) -> None:
    """Raise AddressRefused if ``url`` may not receive webhooks now (when an endpoint is saved)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(_("enter an https:// address"))
    if parts.username is not None or parts.password is not None:  # it would be shown and logged with the URL
        raise AddressRefused(
            _("leave the user name and password out of the address; a receiver checks the signature instead")
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise AddressRefused(_("the port is not a number between 1 and 65535")) from exc
    checked_address(parts.scheme, parts.hostname, port)


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address checked for this very request, keeping the name for Host, SNI and TLS.

    The connection pool is keyed by the address, so a kept-alive connection is reused only for
    the same checked address.
    """

    def build_connection_pool_key_attributes(self, request: PreparedRequest, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        name, port = host_params["host"].strip("[]"), host_params["port"]
        scheme = host_params["scheme"]
        ip = checked_address(scheme, name, port or (443 if scheme == "https" else 80))
        request.headers = CaseInsensitiveDict(request.headers or {})
        host_header = f"[{name}]" if ":" in name else name
        request.headers["Host"] = host_header if port is None else f"{host_header}:{port}"
        if scheme == "https":
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        host_params["host"] = str(ip)
        return host_params, pool_kwargs
