"""A media kind's ``fetch`` compiled, and rendered for each message: pure, and free of pydantic.

``media.model`` holds the ``fetch`` model the admin validates a spec with and compiles it with
``compile_fetch`` here; the ingest path compiles a stored spec's fetch (``spec.stored``) and renders the
request a message stands for (``render_fetch``, ``media_request``) without building those models, so a
cold start pays for no validation it does not run. Names and semantics as described in ``media.model``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.locations import Location, compile_location
from chatbridge.lang.templates import Template, compile_template
from chatbridge.media.urls import CompiledUrl, RenderedUrl, build_url, compile_url, render_url, secret_names, shown_url
from chatbridge.outbound.text import PATH_SEGMENT_SAFE

FILE_URL = re.compile(r"\{\{\s*file_url\s*\}\}")
SSM = re.compile(r"\{\{\s*ssm:(.*?)\}\}")

ResponseFormat = Literal["raw", "base64", "data_url"]


def body_is_json(headers: dict[str, str], body: str) -> bool:
    """Is a request's body JSON (rendered JSON-aware)? Its Content-Type says; without one, its first character."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "").lower()
    if content_type:
        return "json" in content_type
    return body.lstrip()[:1] in ("{", "[")


@dataclass(frozen=True, slots=True)
class CompiledRequest:
    """A request's templates, and what of it is the same for every message, rendered once here: a header whose
    template has no placeholder is its text, and a URL without message placeholders is ``fixed_url``."""

    url: CompiledUrl
    method: str
    headers: tuple[tuple[str, Template | str], ...]  # str: the header's text, rendered when compiled
    secret_headers: tuple[tuple[str, str], ...]  # header text with {{ssm:/chatbridge/...}}, filled at fetch time
    body: Template | None
    body_is_json: bool
    fixed_url: tuple[RenderedUrl, str] | None = None  # (url_parts, shown url) when no message placeholder is in it


@dataclass(frozen=True, slots=True)
class CompiledFetch:
    request: CompiledRequest
    resolve: CompiledRequest | None
    resolve_location: Location | None
    response: ResponseFormat
    location: Location | None
    content_type: Template | None
    filename: Template | None
    hosts: tuple[str, ...]
    max_bytes: int
    timeout: float


def compile_fetch(fetch: Any, attributes: dict[str, Any]) -> CompiledFetch:
    """Compile every template of a fetch against the spec's attributes (unknown ones raise)."""
    def template(source: str) -> Template:
        return compile_template(source, attributes)

    return CompiledFetch(
        request=_compile_request(fetch, attributes),
        resolve=_compile_request(fetch.resolve, attributes) if fetch.resolve else None,
        resolve_location=compile_location(fetch.resolve.location) if fetch.resolve else None,
        response=fetch.response, location=compile_location(fetch.location),
        content_type=template(fetch.content_type) if fetch.content_type else None,
        filename=template(fetch.filename) if fetch.filename else None,
        hosts=tuple(fetch.hosts), max_bytes=fetch.max_bytes, timeout=fetch.timeout)


def _compile_request(request: Any, attributes: dict[str, Any]) -> CompiledRequest:
    is_json = body_is_json(request.headers, request.body)
    body = compile_template(request.body, attributes, inline_attributes=not is_json) if request.body else None
    url = compile_url(request.url, attributes)
    fixed_url = None
    if all(not isinstance(piece, Template) or piece.is_constant for piece in url):
        parts = render_url(url, None, None)
        fixed_url = (parts, shown_url(parts))
    headers: list[tuple[str, Template | str]] = []
    for name, value in request.headers.items():
        if not SSM.search(value):
            template = compile_template(value, attributes)
            headers.append((name, _header_text(template.render(None)) if template.is_constant else template))
    return CompiledRequest(
        url=url, method=request.method, headers=tuple(headers),
        secret_headers=tuple((name, value) for name, value in request.headers.items() if SSM.search(value)),
        body=body, body_is_json=is_json, fixed_url=fixed_url)


# HttpRequest, FetchRequest and MediaRequest are values: nothing changes one in place, ``filled`` and
# ``with_secrets`` make changed copies with ``replace``. They are not ``frozen`` because the mapping engine builds
# them for every media message, and a frozen dataclass's ``__init__`` (``object.__setattr__`` for each field) was
# most of the time of rendering a fetch: 2.6 µs for FetchRequest alone, 0.7 µs unfrozen (docs/benchmarks.md).
@dataclass(slots=True)
class HttpRequest:
    """One rendered request of a fetch. ``url`` is what may be shown (secrets as ``***``); the URL sent is
    ``send_url``, built from ``url_parts`` once the secrets (and the resolve step's answer) are known."""

    method: str
    url: str
    url_parts: RenderedUrl
    headers: dict[str, str]
    body: bytes | None
    secret_headers: dict[str, str] = field(default_factory=dict)

    def send_url(self, secrets: dict[str, str], resolved: str | None = None) -> str:
        return build_url(self.url_parts, secrets, resolved)

    def filled(self, values: dict[str, str]) -> HttpRequest:
        """The request with its secret headers filled in (CR/LF removed: a secret cannot inject a header)."""
        filled = {name: re.sub(r"[\r\n\x00]+", " ", SSM.sub(lambda m: values.get(m.group(1).strip(), ""), text))
                  for name, text in self.secret_headers.items()}
        return replace(self, headers={**self.headers, **filled}, secret_headers={})

    @property
    def secret_names(self) -> set[str]:
        return {name.strip() for text in self.secret_headers.values() for name in SSM.findall(text)} | \
            secret_names(self.url_parts)

    def describe(self) -> dict[str, Any]:
        """What ``simulate`` shows: the request without header values (they may hold keys)."""
        return {"method": self.method, "url": self.url, "headers": sorted({*self.headers, *self.secret_headers}),
                "body": self.body.decode("utf-8") if self.body is not None else None}


@dataclass(slots=True)  # not frozen: see HttpRequest
class FetchRequest:
    """One rendered fetch, ready for ``media_fetch.fetch``."""

    request: HttpRequest
    response: ResponseFormat
    location: Location | None
    hosts: tuple[str, ...]
    max_bytes: int
    timeout: float
    content_type: str  # the spec's hint, rendered ('' when none)
    filename: str
    resolve: HttpRequest | None = None
    resolve_location: Location | None = None
    secrets: dict[str, str] = field(default_factory=dict, repr=False)  # filled by ``with_secrets``, never stored

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def url(self) -> str:
        return self.request.url

    @property
    def headers(self) -> dict[str, str]:
        return self.request.headers

    @property
    def body(self) -> bytes | None:
        return self.request.body

    @property
    def secret_names(self) -> list[str]:
        """SSM parameters the headers and URLs need (read through ``repository.secrets`` at fetch time, never
        stored)."""
        names = self.request.secret_names | (self.resolve.secret_names if self.resolve else set())
        return sorted(names)

    def with_secrets(self, values: dict[str, str]) -> FetchRequest:
        """The request with its secrets at hand: header secrets filled in, URL secrets kept for ``send_url``."""
        return replace(self, request=self.request.filled(values),
                       resolve=self.resolve.filled(values) if self.resolve else None,
                       secrets={name: values.get(name, "") for name in self.secret_names})

    def mask(self, text: str) -> str:
        """``text`` (an error) with every secret of this fetch, as read and as sent in a URL, shown as ``***``."""
        for secret in sorted({variant for value in self.secrets.values() if len(value) >= 4
                              for variant in (value, quote(value, safe=PATH_SEGMENT_SAFE), quote(value, safe=""))},
                             key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def describe(self) -> dict[str, Any]:
        """What ``simulate`` shows: the requests without header values (they may hold keys)."""
        described = {**self.request.describe(), "response": self.response}
        if self.resolve is not None:
            described["resolve"] = {**self.resolve.describe(), "location": self.resolve_location.source
                                    if self.resolve_location else ""}
        return described


@dataclass(slots=True)  # not frozen: see HttpRequest
class MediaRequest:
    """A mapped message's file: the fetch, and the body text around its link."""

    fetch: FetchRequest
    before: str
    after: str
    markup: bool  # no {{file_url}} in the body: the link is appended as [file=URL]

    def body_with(self, link: str) -> str:
        return f"{self.before}{link}{self.after}"

    def linked(self, url: str) -> str:
        return self.body_with(f"[file={url}]" if self.markup else url)

    def failed(self, reason: str) -> str:
        reason = re.sub(r"\s+", " ", reason).strip()[:300]
        return self.body_with(f"[file not fetched: {reason}]" if self.markup else f"(file not fetched: {reason})")

    @property
    def preview(self) -> str:
        """The body as ``simulate`` shows it: the link is only known once the file is stored."""
        return self.body_with("[file={{file_url}}]" if self.markup else "{{file_url}}")


def split_body(body: str) -> tuple[str, str | None]:
    """Split a media kind's body at ``{{file_url}}``: (before, after), after None when it is not there."""
    found = FILE_URL.findall(body)
    if len(found) > 1:
        raise SpecSyntaxError("{{file_url}} may appear once")
    if not found:
        return body, None
    before, after = FILE_URL.split(body)
    return before, after


_LINE_BREAKS = re.compile(r"[\r\n\x00]+")  # a header value is one line


def render_fetch(fetch: CompiledFetch, message: Any, root: Any) -> FetchRequest:
    """The request a message stands for; never raises (a bad URL is refused when fetched)."""
    return FetchRequest(
        request=_render_request(fetch.request, message, root), response=fetch.response, location=fetch.location,
        hosts=fetch.hosts, max_bytes=fetch.max_bytes, timeout=fetch.timeout,
        content_type=fetch.content_type.render(message, root).strip() if fetch.content_type else "",
        filename=fetch.filename.render(message, root).strip() if fetch.filename else "",
        resolve=_render_request(fetch.resolve, message, root) if fetch.resolve else None,
        resolve_location=fetch.resolve_location)


def _header_text(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text).strip()


def _render_request(request: CompiledRequest, message: Any, root: Any) -> HttpRequest:
    if request.fixed_url is not None:
        url, shown = request.fixed_url
    else:
        url = render_url(request.url, message, root)
        shown = shown_url(url)
    headers = {name: template if type(template) is str else _header_text(template.render(message, root))
               for name, template in request.headers}
    body: bytes | None = None
    if request.body is not None:
        text = (request.body.render_json(message, root) if request.body_is_json
                else request.body.render(message, root))
        body = text.encode("utf-8")
        if request.body_is_json and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    return HttpRequest(method=request.method, url=shown, url_parts=url, headers=headers, body=body,
                       secret_headers=dict(request.secret_headers))


def media_request(fetch: CompiledFetch, before: str, after: str | None, message: Any, root: Any) -> MediaRequest:
    if after is None:
        text = before.rstrip()
        return MediaRequest(render_fetch(fetch, message, root), f"{text}\n" if text else "", "", markup=True)
    return MediaRequest(render_fetch(fetch, message, root), before, after, markup=False)
