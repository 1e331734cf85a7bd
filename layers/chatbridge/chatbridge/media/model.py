"""Media messages: how an image or attachment names its file, and how the stored message links it.

Pure: this module holds the ``fetch`` model of a media kind, renders the request a message stands for
and writes the link (or the failure) into the body. A fetch may take two requests (``resolve``, then the
URL its answer gives: WhatsApp Cloud, Telegram); URL slots and secrets are ``media_url``'s. What comes back is
decoded and named in
``media_files``; the HTTP call is ``media_fetch``, the S3 calls ``repository.media``, and
``media_ingest`` puts them together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.fields import LocationText, TemplateText
from chatbridge.lang.locations import Location, compile_location
from chatbridge.lang.templates import Template, check_template_syntax, compile_template, json_template_problem
from chatbridge.media.errors import MediaFetchFailed  # noqa: F401 (re-exported: the fetch modules raise it from here)
from chatbridge.media.urls import (
    CompiledUrl,
    RenderedUrl,
    build_url,
    check_url,
    compile_url,
    render_url,
    secret_names,
    shown_url,
    uses_resolved,
)
from chatbridge.outbound.text import PATH_SEGMENT_SAFE, SSM_PARAMETER_NAME, header_problem, upper_method

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MIB
MAX_BYTES_LIMIT = 25 * MIB
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 20.0  # API Gateway gives the whole request 29 s: fetches, S3 and the DynamoDB write
FILE_URL = re.compile(r"\{\{\s*file_url\s*\}\}")
_SSM = re.compile(r"\{\{\s*ssm:(.*?)\}\}")

ResponseFormat = Literal["raw", "base64", "data_url"]


class _Request(BaseModel):
    """What the fetch and its resolve step share: one HTTP request described by templates."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    _resolved_allowed: ClassVar[bool] = False

    url: str = Field(min_length=1, max_length=4096,
                     description="template; a placeholder at the very start may give the whole URL")
    method: Annotated[Literal["GET", "POST"], BeforeValidator(upper_method)] = "GET"
    headers: dict[str, str] = Field(default_factory=dict, description="templates; CR/LF removed when rendered")
    body: TemplateText = Field("", max_length=65536, description="POST body template; JSON-aware when it is JSON")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        check_url(value, resolved_allowed=cls._resolved_allowed)
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            problem = header_problem(name, header)
            if problem:
                raise ValueError(problem)
            secrets = _SSM.findall(header)
            if not secrets:
                check_template_syntax(header)
                continue
            for secret in secrets:
                if not SSM_PARAMETER_NAME.match(secret.strip()):
                    raise ValueError(f"{name}: {{{{ssm:{secret}}}}} must name an SSM parameter under /chatbridge/ "
                                     "(e.g. {{ssm:/chatbridge/openwa/api-key}})")
            if "{{" in _SSM.sub("", header):
                raise ValueError(f"{name}: a header holding an SSM secret may hold no other placeholder")
        return value

    @model_validator(mode="after")
    def _body_fits(self) -> _Request:
        if self.body and self.method == "GET":
            raise ValueError("body: a GET request has no body; use method POST")
        if self.body_is_json and self.body.strip():
            problem = json_template_problem(
                compile_template(self.body, _SampleAttributes(), inline_attributes=False).render_json({}))
            if problem:
                raise ValueError(problem)
        return self

    @property
    def host_from_payload(self) -> bool:
        """Does a message placeholder (or the resolve step's answer) choose the host? A forged payload or
        a provider's answer could then choose it."""
        if self.url.startswith("{{"):
            return not re.match(r"\{\{\s*attributes\.", self.url)
        return re.search(r"\{\{\s*(msg|resolved)", urlsplit(self.url).netloc) is not None

    @property
    def body_is_json(self) -> bool:
        content_type = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "").lower()
        if content_type:
            return "json" in content_type
        return self.body.lstrip()[:1] in ("{", "[")


class MediaResolve(_Request):
    """A first request whose JSON answer gives the file's URL, or a part of it: WhatsApp Cloud's
    ``GET /<version>/<media id>`` (``url``), Telegram's ``getFile`` (``result.file_path``)."""

    location: LocationText = Field(min_length=1, description="where the URL (or the value for {{resolved}}) sits "
                                                             "in the JSON response, e.g. 'url' or 'result.file_path'")


class MediaFetch(_Request):
    """How to fetch an image or attachment's file: a URL in the payload, an API call such as open-wa's
    ``decryptMedia``, or two calls (``resolve``, then the URL it answers). Fields documented in docs/specs.md, "Media"."""

    _resolved_allowed: ClassVar[bool] = True

    resolve: MediaResolve | None = Field(None, description="a first request whose JSON answer gives the URL "
                                                           "(or the {{resolved}} part of it)")
    response: ResponseFormat = Field("raw", description="raw: the response is the file; base64 / data_url: "
                                                        "text at `location` of a JSON response (or the whole body)")
    location: LocationText = Field("", description="where the base64 or data URL sits in a JSON response, "
                                                   "e.g. 'response'")
    content_type: TemplateText = Field("", description="template or fixed type; empty: from the response")
    filename: TemplateText = Field("", description="template for the file's name, e.g. {{msg.filename}}")
    hosts: list[str] = Field(default_factory=list, description="the URL's host must be one of these "
                                                               "(exact or *.domain)")
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0, le=MAX_BYTES_LIMIT)
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT, description="seconds for the whole fetch, "
                                                                              "resolve step included")

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        cleaned = [host.strip().lower() for host in value]
        for host in cleaned:
            if not re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", host):
                raise ValueError(f"{host!r} is not a host name (use api.twilio.com or *.twilio.com)")
        return cleaned

    @model_validator(mode="after")
    def _consistent(self) -> MediaFetch:
        if self.location and self.response == "raw":
            raise ValueError("location: only base64 and data_url responses are read from a JSON location")
        if self.resolve is None and uses_resolved(self.url):
            raise ValueError("url: {{resolved}} needs a resolve step (fetch.resolve) that answers it")
        if self.resolve is not None and not uses_resolved(self.url):
            raise ValueError("url: with a resolve step, the URL must use {{resolved}} (its whole URL, "
                             "'{{resolved}}', or a part such as 'https://api.telegram.org/file/bot.../{{resolved}}')")
        for what, request in (("", self), ("resolve.", self.resolve)):
            if request is not None and request.headers and request.host_from_payload and not self.hosts:
                raise ValueError(f"hosts: the {what}url's host comes from the payload or the provider's answer and "
                                 "headers are sent; list the hosts they may go to (e.g. ['api.twilio.com']) so a "
                                 "forged payload cannot collect them")
        return self


class _SampleAttributes(dict):
    """Any attribute exists (as a string) while the body's JSON shape is checked."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: Any) -> Any:
        return "x"


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


def compile_fetch(fetch: MediaFetch, attributes: dict[str, Any]) -> CompiledFetch:
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


def _compile_request(request: _Request, attributes: dict[str, Any]) -> CompiledRequest:
    body = (compile_template(request.body, attributes, inline_attributes=not request.body_is_json)
            if request.body else None)
    url = compile_url(request.url, attributes)
    fixed_url = None
    if all(not isinstance(piece, Template) or piece.is_constant for piece in url):
        parts = render_url(url, None, None)
        fixed_url = (parts, shown_url(parts))
    headers: list[tuple[str, Template | str]] = []
    for name, value in request.headers.items():
        if not _SSM.search(value):
            template = compile_template(value, attributes)
            headers.append((name, _header_text(template.render(None)) if template.is_constant else template))
    return CompiledRequest(
        url=url, method=request.method, headers=tuple(headers),
        secret_headers=tuple((name, value) for name, value in request.headers.items() if _SSM.search(value)),
        body=body, body_is_json=request.body_is_json, fixed_url=fixed_url)


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
        filled = {name: re.sub(r"[\r\n\x00]+", " ", _SSM.sub(lambda m: values.get(m.group(1).strip(), ""), text))
                  for name, text in self.secret_headers.items()}
        return replace(self, headers={**self.headers, **filled}, secret_headers={})

    @property
    def secret_names(self) -> set[str]:
        return {name.strip() for text in self.secret_headers.values() for name in _SSM.findall(text)} | \
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
