"""The client's address: the peer that connected, or what a trusted reverse proxy says it was.

``X-Forwarded-For`` is anyone's to write, so it counts only when the peer is one of
``TRUSTED_PROXIES``; then the client is the nearest address in the chain that is not itself a
trusted proxy (each proxy appends the address it received the request from). The chain is parsed
by python-ipware (IPv6, ports, RFC 7239 ``for=`` tokens). Login throttling, the callback
allow-list and the callback rate limit all use this one answer.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from python_ipware.modern.parsers import split_proxy_chain

# Headers only a trusted proxy may set; dropped from any other peer's request.
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED")


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from exc


def _is_trusted(address) -> bool:
    networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or address is None:
        return False
    if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
        try:
            address = ipaddress.ip_address(address)
        except ValueError:
            return False
    return any(address in network for network in networks)


def peer_is_trusted_proxy(request) -> bool:
    return _is_trusted(request.META.get("REMOTE_ADDR"))


def client_address(request) -> str | None:
    """The address to throttle, allow or refuse: the peer unless the peer is a trusted proxy."""
    peer = request.META.get("REMOTE_ADDR")
    if not _is_trusted(peer):
        return peer
    chain = split_proxy_chain(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    for address in reversed(chain):
        if not _is_trusted(address):
            return str(address)
    return str(chain[0]) if chain else peer  # every hop is ours: the first one is the client


class TrustedProxyMiddleware:
    """First in the stack: a request not from a trusted proxy loses the forwarding headers, so
    neither ``SECURE_PROXY_SSL_HEADER`` nor anything else can be told a lie by a client that
    talks to the application server directly."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not peer_is_trusted_proxy(request):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)
