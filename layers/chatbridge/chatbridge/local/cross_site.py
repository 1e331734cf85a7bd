"""Which requests to the local stack's operator routes (``/admin``, ``/_local``) a web page could have sent.

The local admin API has no credentials, so any page the operator visits could try to drive it from their
browser: send replies, point a REST API anywhere. Only a browser can be made to do that, and a browser
always says where the page came from (``Origin``, on every cross-origin write, forms and ``no-cors``
fetches included) and which name it resolved (``Host``). So a foreign ``Origin`` is a cross-site request,
a ``Host`` that is a name not of this machine a DNS rebinding, and an admin write that is not JSON is what
an HTML form (or an old browser that sends no ``Origin``) would send. curl and the CLI send no ``Origin``,
the ``Host`` of the URL they were given and JSON. Webhook routes are not operator routes: providers post
forms and text from anywhere. Why this and not a per-run token: docs/local-stack.md, "The HTTP edge".
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_operator_route(path: str) -> bool:
    """``/admin/...`` and ``/_local/...``; the caller answers ``/_local/health`` before asking."""
    return path == "/admin" or path.startswith(("/admin/", "/_local/"))


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    reason: str


class CrossSiteGuard:
    """The rules for one server: ``bound_host`` as given to ``--host``, ``port`` the port it listens on."""

    def __init__(self, bound_host: str, port: int) -> None:
        names = {"localhost", socket.gethostname().lower()}
        try:
            ipaddress.ip_address(bound_host)
        except ValueError:
            if bound_host:
                names.add(bound_host.lower())
        self.own_names = frozenset(names)
        self.port = port

    def refusal(self, method: str, path: str, headers: Mapping[str, str], *, has_body: bool,
                own_url: str) -> Refusal | None:
        """Why this request to an operator route may not come in, or None. ``headers``: case-insensitive."""
        host = headers.get("Host")
        if not self.is_own_host(host):
            return Refusal(403, "foreign_host", f"Host {host!r} is not this stack's address: call it as {own_url} "
                                                "(a name that only resolves here is how DNS rebinding reaches a "
                                                "local API)")
        origin = headers.get("Origin")
        if origin is not None and not self.is_own_origin(origin, host):
            return Refusal(403, "cross_site", f"a page from {origin} may not call {path}: the admin API takes "
                                              f"requests from its own console ({own_url}/console/), curl and "
                                              "the chatbridge CLI")
        content_type = headers.get("Content-Type")
        if (path.startswith("/admin/") and method in _WRITE_METHODS and (has_body or content_type is not None)
                and not is_json(content_type or "")):
            return Refusal(415, "unsupported_media_type", (
                f"{method} {path} takes JSON: send Content-Type: application/json "
                f"(curl: -H 'Content-Type: application/json'), not {content_type or 'none'}"))
        return None

    def is_own_host(self, host_header: str | None) -> bool:
        """A ``Host`` a DNS-rebinding page cannot produce: an IP address (rebinding needs a name), a
        ``localhost`` name, the name the stack was bound to, or this machine's name. No header: not a browser."""
        if host_header is None:
            return True
        name = _host_name(host_header)
        if name is None:
            return False
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in self.own_names or name.endswith(".localhost")

    def is_own_origin(self, origin: str, host_header: str | None) -> bool:
        """The page that sent the request was served by this server: ``http://`` + its ``Host``, this port."""
        if host_header is None or not self.is_own_host(host_header):
            return False
        parts = urlsplit(origin.strip())
        try:
            port = parts.port or 80
        except ValueError:
            return False
        return (parts.scheme == "http" and parts.hostname is not None
                and parts.hostname.lower() == _host_name(host_header)
                and port == _host_port(host_header) == self.port)


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _host_name(host_header: str) -> str | None:
    """The host of a ``Host`` header, lower case, without port or brackets; None when it is not one."""
    try:
        parts = urlsplit("//" + host_header.strip())
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return None
    return parts.hostname.lower() if parts.hostname else None


def _host_port(host_header: str) -> int:
    return urlsplit("//" + host_header.strip()).port or 80
