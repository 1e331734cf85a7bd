"""Refuse outbound calls to addresses inside the network (SSRF guard).

A REST API URL is written by an operator, and the dispatcher runs inside AWS: without a guard, a URL could
read the instance metadata service (169.254.169.254) or reach private services. Every address the host
resolves to is checked (a name resolving to one public and one private address is refused). Hosts or
networks named in ``CHATBRIDGE_OUTBOUND_ALLOW`` (comma-separated host names, IPs or CIDRs) are let through,
for a self-hosted third party on a private network or a local test server.

Beyond what ``ipaddress`` calls private, loopback, link-local, multicast, reserved or unspecified, three
ranges are refused because they lead inside too:

* 100.64.0.0/10, carrier-grade NAT (RFC 6598): neither private nor global to ``ipaddress``, yet a cloud's
  metadata service lives there (Alibaba Cloud: 100.100.100.200), and so do carriers' internal hosts.
* 6to4, 2002::/16 (RFC 3056), when the IPv4 address it embeds (bits 16-48) is itself internal: the packet is
  relayed to that IPv4 address, so ``2002:7f00:1::`` is a way of writing 127.0.0.1.
* Teredo, 2001::/32 (RFC 4380), outright, whatever it embeds. A Teredo address names a relay server and an
  obfuscated client address and UDP port behind a NAT; checking "the" embedded address would mean trusting
  two addresses and a relay path the guard cannot see, and no API a reply or media fetch calls is served
  from one (Teredo is a last-resort tunnel for clients). Refusing the prefix cannot be fooled by any
  encoding; an operator who really needs one lists it in ``CHATBRIDGE_OUTBOUND_ALLOW``.

A URL that cannot be parsed (``http://[::1/x``), has a port outside 1-65535, or names a host DNS cannot
encode is refused the same way, with ``OutboundUrlRefused``: the same URL fails every time, so callers must
treat it as permanent (a failed media fetch, a failed delivery), never as a ``ValueError`` that escapes as
a retryable crash. ``split_url`` and ``join_url`` are the parser every outbound caller uses, so a redirect
``Location`` or a resolve step's answer is held to the same rule.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from urllib.parse import SplitResult, urljoin, urlsplit

from chatbridge.errors import OutboundUrlRefused
from chatbridge.settings import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]


CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
TEREDO = ipaddress.ip_network("2001::/32")
_SHOWN_URL_CHARS = 200


def split_url(url: str) -> SplitResult:
    """``urlsplit`` for an outbound call: its parts with a usable port, or ``OutboundUrlRefused``.

    ``urlsplit`` raises ``ValueError`` for an unbalanced ``[`` or a bracketed host that is no IP address, and
    ``.port`` for a port out of range or not a number; port 0 cannot be connected to. All are the URL's own
    fault, so they are refused (permanent), here once, rather than by each caller's own handler.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundUrlRefused(f"URL {url[:_SHOWN_URL_CHARS]!r} cannot be called: {exc}") from None
    if port == 0:
        raise OutboundUrlRefused(f"URL {url[:_SHOWN_URL_CHARS]!r} cannot be called: port 0 is not a port to "
                                 "connect to")
    return parts


def join_url(base: str, location: str) -> str:
    """A redirect's ``Location`` resolved against the URL that answered, held to ``split_url``'s rule."""
    try:
        joined = urljoin(base, location)
    except ValueError as exc:
        raise OutboundUrlRefused(f"redirect to {location[:_SHOWN_URL_CHARS]!r} cannot be called: {exc}") from None
    split_url(joined)
    return joined


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    except UnicodeError as exc:  # the IDNA codec: an empty or 64+ character label, a lone surrogate
        raise OutboundUrlRefused(f"{host[:_SHOWN_URL_CHARS]!r} is not a valid host name: {exc}") from None
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


def internal_reason(address: Address) -> str | None:
    """Why ``address`` leads inside the network (the words an error shows), or ``None`` for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address):
        if address in TEREDO:
            return "Teredo 2001::/32, a tunnel to an address behind a NAT"
        if address in SIX_TO_FOUR and address.sixtofour is not None:
            inner = internal_reason(address.sixtofour)
            if inner is not None:
                return f"6to4 2002::/16, which embeds {address.sixtofour}: {inner}"
    if address in CARRIER_GRADE_NAT:
        return "carrier-grade NAT 100.64.0.0/10, where cloud metadata services such as 100.100.100.200 live"
    if (address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
            or address.is_unspecified or address.is_reserved
            or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)):
        return "private, loopback, link-local, multicast or unspecified"
    return None


def is_internal(address: Address) -> bool:
    return internal_reason(address) is not None


def check_url(url: str, *, allow: str | None = None, resolver: Resolver | None = None) -> list[str]:
    """Return the addresses ``url`` resolves to, or raise ``OutboundUrlRefused``.

    ``allow`` defaults to the ``CHATBRIDGE_OUTBOUND_ALLOW`` setting; an entry matches the address as resolved
    (``100.64.0.0/10`` lets carrier-grade NAT through, ``2002::/16`` 6to4). Resolution failures raise
    ``OSError`` (a network error the dispatcher retries: DNS can recover); a URL or host name that can never
    be called raises ``OutboundUrlRefused``, never ``ValueError``.
    """
    parts = split_url(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundUrlRefused(f"only http and https URLs are called, not {parts.scheme or 'no scheme'!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise OutboundUrlRefused(f"URL {url!r} has no host")
    hosts, networks = parse_allow_list(settings().outbound_allow if allow is None else allow)
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
        reason = internal_reason(address)
        if reason is not None and not any(address in network for network in networks):
            raise OutboundUrlRefused(f"{host} resolves to {address}, an internal address ({reason}); "
                                     f"add it to CHATBRIDGE_OUTBOUND_ALLOW to allow it")
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
