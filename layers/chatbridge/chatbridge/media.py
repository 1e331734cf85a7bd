"""Media messages: how an image or attachment names its file, and how the stored message links it.

Pure: this module holds the ``fetch`` model of a media kind, renders the request a message stands for
and writes the link (or the failure) into the body. What comes back is decoded and named in
``media_files``; the HTTP call is ``media_fetch``, the S3 calls ``repository.media``, and
``media_ingest`` puts them together.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatbridge.errors import ChatbridgeError, SpecSyntaxError
from chatbridge.locations import Location, compile_location, value_text
from chatbridge.templates import Template, check_template_syntax, compile_template

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MIB
MAX_BYTES_LIMIT = 25 * MIB
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 20.0  # API Gateway gives the whole request 29 s: fetches, S3 and the DynamoDB write
FILE_URL = re.compile(r"\{\{\s*file_url\s*\}\}")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SSM = re.compile(r"\{\{\s*ssm:(.*?)\}\}")
_SSM_NAME = re.compile(r"^/chatbridge/[A-Za-z0-9_.\-/]{1,1000}$")  # the only path chatbridge's functions may read

ResponseFormat = Literal["raw", "base64", "data_url"]


class MediaFetchFailed(ChatbridgeError):
    """A file could not be fetched; the message is stored anyway, its body says why."""


class MediaFetch(BaseModel):
    """How to fetch an image or attachment's file: a URL in the payload, or an API call such as open-wa's
    ``decryptMedia``. Fields documented in README, "Media"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1, max_length=4096,
                     description="template; a placeholder at the very start may give the whole URL")
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict, description="templates; CR/LF removed when rendered")
    body: str = Field("", max_length=65536, description="POST body template; JSON-aware when it is JSON")
    response: ResponseFormat = Field("raw", description="raw: the response is the file; base64 / data_url: "
                                                        "text at `location` of a JSON response (or the whole body)")
    location: str = Field("", description="where the base64 or data URL sits in a JSON response, e.g. 'response'")
    content_type: str = Field("", description="template or fixed type; empty: from the response")
    filename: str = Field("", description="template for the file's name, e.g. {{msg.filename}}")
    hosts: list[str] = Field(default_factory=list, description="the URL's host must be one of these "
                                                               "(exact or *.domain)")
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0, le=MAX_BYTES_LIMIT)
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT, description="seconds for the whole fetch")

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url", "body", "content_type", "filename")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        check_template_syntax(value)
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value.startswith("{{"):
            return value  # the payload gives the whole URL: checked when rendered (and by the URL guard)
        parts = urlsplit(re.sub(r"\{\{.*?\}\}", "x", value))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} must be an http:// or https:// URL with a host, or start with a "
                             "placeholder that gives the whole URL ({{msg.MediaUrl0}})")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if "\r" in header or "\n" in header:
                raise ValueError(f"{name}: line breaks are not allowed in header values")
            secrets = _SSM.findall(header)
            if not secrets:
                check_template_syntax(header)
                continue
            for secret in secrets:
                if not _SSM_NAME.match(secret.strip()):
                    raise ValueError(f"{name}: {{{{ssm:{secret}}}}} must name an SSM parameter under /chatbridge/ "
                                     "(e.g. {{ssm:/chatbridge/openwa/api-key}})")
            if "{{" in _SSM.sub("", header):
                raise ValueError(f"{name}: a header holding an SSM secret may hold no other placeholder")
        return value

    @field_validator("location")
    @classmethod
    def _location_parses(cls, value: str) -> str:
        compile_location(value)
        return value

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
        if self.body and self.method == "GET":
            raise ValueError("body: a GET request has no body; use method POST")
        if self.location and self.response == "raw":
            raise ValueError("location: only base64 and data_url responses are read from a JSON location")
        if self.headers and self.host_from_payload and not self.hosts:
            raise ValueError("hosts: the URL's host comes from the payload and headers are sent; list the hosts "
                             "they may go to (e.g. ['api.twilio.com']) so a forged payload cannot collect them")
        if self.body_is_json and self.body.strip():
            sample = compile_template(self.body, _SampleAttributes(), inline_attributes=False).render_json({})
            try:
                json.loads(sample)
            except ValueError as exc:
                raise ValueError(f"body is not a JSON template ({exc} once placeholders are filled: "
                                 f"{sample[:200]!r})") from None
        return self

    @property
    def host_from_payload(self) -> bool:
        """Does a message placeholder choose the host (a forged payload could then choose it)?"""
        if self.url.startswith("{{"):
            return not re.match(r"\{\{\s*attributes\.", self.url)
        return re.search(r"\{\{\s*msg", urlsplit(self.url).netloc) is not None

    @property
    def body_is_json(self) -> bool:
        content_type = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "").lower()
        if content_type:
            return "json" in content_type
        return self.body.lstrip()[:1] in ("{", "[")


class _SampleAttributes(dict):
    """Any attribute exists (as a string) while the body's JSON shape is checked."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: Any) -> Any:
        return "x"


@dataclass(frozen=True, slots=True)
class CompiledFetch:
    url: Template
    method: str
    headers: tuple[tuple[str, Template], ...]
    secret_headers: tuple[tuple[str, str], ...]  # header text with {{ssm:/chatbridge/...}}, filled at fetch time
    body: Template | None
    body_is_json: bool
    response: ResponseFormat
    location: Location | None
    content_type: Template | None
    filename: Template | None
    hosts: tuple[str, ...]
    max_bytes: int
    timeout: float


def compile_fetch(fetch: MediaFetch, attributes: dict[str, Any]) -> CompiledFetch:
    """Compile every template of a fetch against the spec's attributes (unknown ones raise)."""
    def template(source: str, *, json_body: bool = False) -> Template:
        return compile_template(source, attributes, inline_attributes=not json_body)

    return CompiledFetch(
        url=template(fetch.url), method=fetch.method,
        headers=tuple((name, template(value)) for name, value in fetch.headers.items() if not _SSM.search(value)),
        secret_headers=tuple((name, value) for name, value in fetch.headers.items() if _SSM.search(value)),
        body=template(fetch.body, json_body=fetch.body_is_json) if fetch.body else None,
        body_is_json=fetch.body_is_json, response=fetch.response, location=compile_location(fetch.location),
        content_type=template(fetch.content_type) if fetch.content_type else None,
        filename=template(fetch.filename) if fetch.filename else None,
        hosts=tuple(fetch.hosts), max_bytes=fetch.max_bytes, timeout=fetch.timeout)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """One rendered fetch, ready for ``media_fetch.fetch``."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    response: ResponseFormat
    location: Location | None
    hosts: tuple[str, ...]
    max_bytes: int
    timeout: float
    content_type: str  # the spec's hint, rendered ('' when none)
    filename: str
    secret_headers: dict[str, str] = field(default_factory=dict)  # filled by ``with_secrets`` before sending

    @property
    def secret_names(self) -> list[str]:
        """SSM parameters the headers need (read through ``repository.secrets`` at fetch time, never stored)."""
        return sorted({name.strip() for text in self.secret_headers.values() for name in _SSM.findall(text)})

    def with_secrets(self, values: dict[str, str]) -> FetchRequest:
        """The request with its secret headers filled in (CR/LF removed: a secret cannot inject a header)."""
        filled = {name: re.sub(r"[\r\n\x00]+", " ", _SSM.sub(lambda m: values.get(m.group(1).strip(), ""), text))
                  for name, text in self.secret_headers.items()}
        return replace(self, headers={**self.headers, **filled}, secret_headers={})

    def describe(self) -> dict[str, Any]:
        """What ``simulate`` shows: the request without header values (they may hold keys)."""
        return {"method": self.method, "url": self.url, "headers": sorted({*self.headers, *self.secret_headers}),
                "body": self.body.decode("utf-8") if self.body is not None else None, "response": self.response}


@dataclass(frozen=True, slots=True)
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


def render_fetch(fetch: CompiledFetch, message: Any, root: Any) -> FetchRequest:
    """The request a message stands for; never raises (a bad URL is refused when fetched)."""
    url = _render_url(fetch.url, message, root)
    headers = {name: re.sub(r"[\r\n\x00]+", " ", template.render(message, root)).strip()
               for name, template in fetch.headers}
    body: bytes | None = None
    if fetch.body is not None:
        text = fetch.body.render_json(message, root) if fetch.body_is_json else fetch.body.render(message, root)
        body = text.encode("utf-8")
        if fetch.body_is_json and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    return FetchRequest(
        method=fetch.method, url=url, headers=headers, body=body, response=fetch.response, location=fetch.location,
        hosts=fetch.hosts, max_bytes=fetch.max_bytes, timeout=fetch.timeout,
        content_type=fetch.content_type.render(message, root).strip() if fetch.content_type else "",
        filename=fetch.filename.render(message, root).strip() if fetch.filename else "",
        secret_headers=dict(fetch.secret_headers))


def _render_url(template: Template, message: Any, root: Any) -> str:
    """A placeholder that starts the URL gives it whole (``{{msg.MediaUrl0}}``); later ones are path or
    query parts and are percent-encoded, so a value cannot change the host or add parameters."""
    out: list[str] = []
    for part in template.parts:
        if type(part) is str:
            out.append(part)
            continue
        text = value_text(part.first(message, root))  # type: ignore[union-attr]
        out.append(quote(text, safe="") if "".join(out) else text.strip())
    return "".join(out)


def media_request(fetch: CompiledFetch, before: str, after: str | None, message: Any, root: Any) -> MediaRequest:
    if after is None:
        text = before.rstrip()
        return MediaRequest(render_fetch(fetch, message, root), f"{text}\n" if text else "", "", markup=True)
    return MediaRequest(render_fetch(fetch, message, root), before, after, markup=False)


def host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """True when ``hosts`` is empty or names the URL's host (``*.twilio.com`` covers its subdomains)."""
    if not hosts:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:])) for allowed in hosts)
