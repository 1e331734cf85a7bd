"""Refuse outbound calls to addresses inside the network (SSRF guard).

A REST API URL is written by an operator, and the dispatcher runs inside AWS: without a guard, a URL could
read the instance metadata service (169.254.169.254) or reach private services. Every address the host
resolves to is checked (a name resolving to one public and one private address is refused). Hosts or
networks named in ``CHATBRIDGE_OUTBOUND_ALLOW`` (comma-separated host names, IPs or CIDRs) are let through,
for a self-hosted third party on a private network or a local test server.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from chatbridge.errors import ChatbridgeError

ALLOW_ENV = "CHATBRIDGE_OUTBOUND_ALLOW"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]


class OutboundUrlRefused(ChatbridgeError):
    """The URL may not be called; permanent (retrying cannot help)."""


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    return [str(info[4][0]) for info in infos]


def parse_allow_list(text: str | None) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    hosts: set[str] = set()
    networks = []
    for entry in (text or "").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry)
    return hosts, networks


def is_internal(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_unspecified or address.is_reserved
            or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local))


def check_url(url: str, *, allow: str | None = None, resolver: Resolver | None = None) -> list[str]:
    """Return the addresses ``url`` resolves to, or raise ``OutboundUrlRefused``.

    ``allow`` defaults to the ``CHATBRIDGE_OUTBOUND_ALLOW`` setting. Resolution failures raise ``OSError``
    (a network error the dispatcher retries: DNS can recover).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundUrlRefused(f"only http and https URLs are called, not {parts.scheme or 'no scheme'!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise OutboundUrlRefused(f"URL {url!r} has no host")
    hosts, networks = parse_allow_list(os.environ.get(ALLOW_ENV) if allow is None else allow)
    if host in hosts:
        return []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in (resolver or _system_resolver)(host, port)]
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    for address in addresses:
        if is_internal(address) and not any(address in network for network in networks):
            raise OutboundUrlRefused(
                f"{host} resolves to {address}, an internal address (private, loopback, link-local, "
                f"multicast or unspecified); add it to {ALLOW_ENV} to allow it")
    return [str(address) for address in addresses]


# -- connecting to the address that was checked -----------------------------------------------------
# Checking a name and then letting the HTTP client resolve it again leaves a gap: a DNS answer that changes
# in between (rebinding) would reach an internal address. These connections go to the checked address.

class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the URL guard checked, still sending the URL's host name."""

    def __init__(self, host: str, port: int | None, *, address: str | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        if self._address is None:
            super().connect()
            return
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As ``PinnedHTTPConnection``; the certificate is still verified against the host name (SNI)."""

    def __init__(self, host: str, port: int | None, *, address: str | None, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        if self._address is None:
            super().connect()
            return
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def pinned_connection(scheme: str, host: str, port: int | None, addresses: list[str], *,
                      timeout: float) -> http.client.HTTPConnection:
    """A connection to the first address ``check_url`` returned (an allow-listed host returns none: resolve it)."""
    kind = PinnedHTTPSConnection if scheme == "https" else PinnedHTTPConnection
    return kind(host, port, address=addresses[0] if addresses else None, timeout=timeout)
