"""Media fetch URLs with slots filled only at fetch time: SSM secrets in the path, and the resolve step's answer.

Why slots instead of text substitution: a payload value that starts a URL is sent as it is, so if secrets
were substituted as text afterwards, a forged payload holding ``{{ssm:...}}`` could pull a secret into a URL
of its choosing. The spec's own pieces are compiled apart from the slots, and a slot is filled only where
the spec put it. The URL shown by ``simulate`` and in errors carries ``***`` for a secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from chatbridge.lang.core import value_text
from chatbridge.lang.templates import Template, check_template_syntax, compile_template
from chatbridge.media.errors import MediaFetchFailed
from chatbridge.outbound.text import PATH_SEGMENT_SAFE, SSM_PARAMETER_NAME
from chatbridge.outbound.url_guard import split_url

_SLOT = re.compile(r"\{\{\s*(ssm:[^{}]*?|resolved)\s*\}\}")
RESOLVED = "{{resolved}}"


@dataclass(frozen=True, slots=True)
class Slot:
    kind: Literal["ssm", "resolved"]
    name: str = ""  # the SSM parameter


CompiledUrl = tuple[Template | Slot, ...]
RenderedUrl = tuple[str | Slot, ...]


def check_url(value: str, *, resolved_allowed: bool) -> None:
    """Raise ``ValueError`` saying what is wrong with a fetch or resolve URL template."""
    for match in _SLOT.finditer(value):
        name = match.group(1).strip()
        if name == "resolved" and not resolved_allowed:
            raise ValueError("{{resolved}} is the resolve step's answer: it belongs in fetch.url, not here")
        if name.startswith("ssm:") and not SSM_PARAMETER_NAME.match(name[4:].strip()):
            raise ValueError(f"{match.group(0)} must name an SSM parameter under /chatbridge/ "
                             "(e.g. {{ssm:/chatbridge/telegram/token}})")
        if match.start() == 0:
            if name != "resolved":
                raise ValueError("an SSM secret may sit in the URL's path only, not start the URL")
            continue
        prefix = value[:match.start()]
        if value.startswith("{{"):
            if name != "resolved":
                raise ValueError("an SSM secret in the URL needs a URL whose host the spec names")
        elif "?" in prefix or "#" in prefix or not urlsplit(re.sub(r"\{\{.*?\}\}", "x", prefix)).path:
            raise ValueError(f"{match.group(0)} may sit in the URL's path only, not its host or query")
    rest = _SLOT.sub("x", value)
    check_template_syntax(rest)
    if value.startswith("{{"):
        return  # the payload or the resolve step gives the whole URL: checked when rendered (and by the URL guard)
    parts = urlsplit(re.sub(r"\{\{.*?\}\}", "x", value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} must be an http:// or https:// URL with a host, or start with a "
                         "placeholder that gives the whole URL ({{msg.MediaUrl0}})")


def uses_resolved(value: str) -> bool:
    return any(match.group(1).strip() == "resolved" for match in _SLOT.finditer(value))


def compile_url(source: str, attributes: dict[str, Any]) -> CompiledUrl:
    parts: list[Template | Slot] = []
    position = 0
    for match in _SLOT.finditer(source):
        if match.start() > position:
            parts.append(compile_template(source[position:match.start()], attributes))
        name = match.group(1).strip()
        parts.append(Slot("resolved") if name == "resolved" else Slot("ssm", name[4:].strip()))
        position = match.end()
    if position < len(source):
        parts.append(compile_template(source[position:], attributes))
    return tuple(parts)


def render_url(url: CompiledUrl, message: Any, root: Any) -> RenderedUrl:
    """A placeholder that starts the URL gives it whole (``{{msg.MediaUrl0}}``); later ones are path or
    query parts and are percent-encoded, so a value cannot change the host or add parameters."""
    out: list[str | Slot] = []
    text: list[str] = []
    for piece in url:
        if isinstance(piece, Slot):
            if text:
                out.append("".join(text))
                text = []
            out.append(piece)
            continue
        for part in piece.parts:
            if type(part) is str:
                text.append(part)
                continue
            value = value_text(part.first(message, root))  # type: ignore[union-attr]
            text.append(quote(value, safe="") if "".join(text) or out else value.strip())
    if text:
        out.append("".join(text))
    return tuple(out)


def shown_url(url: RenderedUrl) -> str:
    """The URL as ``simulate`` and errors show it: a secret as ``***``, the resolve answer as ``{{resolved}}``."""
    return "".join(part if isinstance(part, str) else ("***" if part.kind == "ssm" else RESOLVED) for part in url)


def secret_names(url: RenderedUrl) -> set[str]:
    return {part.name for part in url if isinstance(part, Slot) and part.kind == "ssm"}


def build_url(url: RenderedUrl, secrets: dict[str, str], resolved: str | None) -> str:
    """The URL to send; raises ``MediaFetchFailed`` for a resolve answer that cannot be used."""
    out: list[str] = []
    for index, part in enumerate(url):
        if isinstance(part, str):
            out.append(part)
        elif part.kind == "ssm":
            out.append(quote(re.sub(r"[\r\n\x00]+", "", secrets.get(part.name, "")), safe=PATH_SEGMENT_SAFE))
        else:
            out.append(_resolved_text(resolved or "", whole=index == 0))
    return "".join(out)


def _resolved_text(value: str, *, whole: bool) -> str:
    """The resolve step's answer as the URL (``whole``) or a path; ``split_url`` raises ``OutboundUrlRefused``
    for an answer that cannot be parsed, which the fetch reports like any refused URL."""
    value = value.strip()
    if whole:
        parts = split_url(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MediaFetchFailed(f"the resolve step answered {value[:80]!r}, not an http(s) URL")
        return value
    if any(segment in (".", "..") for segment in value.split("/")):
        raise MediaFetchFailed(f"the resolve step answered {value[:80]!r}, a path with '.' or '..' segments")
    return quote(value, safe="/")  # a path such as Telegram's photos/file_0.jpg; '?' and '#' are encoded


def host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """True when ``hosts`` is empty or names the URL's host (``*.twilio.com`` covers its subdomains);
    ``OutboundUrlRefused`` when the URL cannot be parsed."""
    if not hosts:
        return True
    host = (split_url(url).hostname or "").lower()
    return any(host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])) for allowed in hosts)
