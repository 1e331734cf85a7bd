"""Media messages: how an image or attachment names its file, and how the stored message links it.

Pure: this module renders the fetch request a message stands for, checks and decodes what came back,
names the S3 object and writes the link into the body. The HTTP call is ``media_fetch``, the S3 calls
``repository.media``, and ``ingest`` puts them together.

Why the object key is ``media/<spec id>/<sha256(spec id, dedup id, content hash)>.<ext>``: the same delivery
retried gives the same key (the object is overwritten, never duplicated), and the key cannot be guessed by
anyone who does not already hold the file, so the public ``GET /media/...`` link needs no other secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import mimetypes
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
KEY_PREFIX = "media/"
FILE_URL = re.compile(r"\{\{\s*file_url\s*\}\}")
KEY_PATTERN = re.compile(r"^media/(?P<spec_id>[0-9]{1,12})/(?P<name>[0-9a-f]{64}(?:\.[a-z0-9]{1,10})?)$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SSM = re.compile(r"\{\{\s*ssm:(.*?)\}\}")
_SSM_NAME = re.compile(r"^/chatbridge/[A-Za-z0-9_.\-/]{1,1000}$")  # the only path chatbridge's functions may read
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}$")
_DATA_URL = re.compile(r"^data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*?)(?P<b64>;base64)?,", re.IGNORECASE)
_INLINE_TYPES = ("image/", "audio/", "video/", "application/pdf")
_NOT_INLINE = ("image/svg+xml",)  # scriptable: a browser must download it, not render it
GENERIC_TYPE = "application/octet-stream"

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


# -- what came back -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FetchedFile:
    content: bytes
    content_type: str
    filename: str


def decode_response(request: FetchRequest, content: bytes, response_type: str) -> FetchedFile:
    """The file a response holds, per the request's ``response`` format; raises ``MediaFetchFailed``."""
    declared = clean_media_type(request.content_type)
    if request.response == "raw":
        if not content:
            raise MediaFetchFailed("the response was empty")
        return FetchedFile(content, declared or clean_media_type(response_type) or GENERIC_TYPE, request.filename)
    text = _encoded_text(request, content)
    media_type = ""
    if request.response == "data_url":
        match = _DATA_URL.match(text)
        if match is None:
            raise MediaFetchFailed(f"expected a data URL (data:<type>;base64,...), got {text[:40]!r}")
        if not match.group("b64"):
            raise MediaFetchFailed("the data URL is not base64-encoded")
        media_type = clean_media_type(match.group("type"))
        text = text[match.end():]
    try:
        data = base64.b64decode(re.sub(r"\s+", "", text), validate=True)
    except (binascii.Error, ValueError):
        raise MediaFetchFailed("the response does not hold valid base64") from None
    if not data:
        raise MediaFetchFailed("the response holds an empty file")
    if len(data) > request.max_bytes:
        raise MediaFetchFailed(f"the file is larger than max_bytes ({request.max_bytes} bytes)")
    return FetchedFile(data, declared or media_type or GENERIC_TYPE, request.filename)


def _encoded_text(request: FetchRequest, content: bytes) -> str:
    """The base64 or data URL text: at ``location`` in a JSON response, or the whole body."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise MediaFetchFailed(f"expected {request.response} text, got binary data") from None
    if request.location is None:
        stripped = text.strip()
        if stripped.startswith('"'):  # a JSON string
            try:
                return str(json.loads(stripped))
            except ValueError:
                pass
        return stripped
    try:
        document = json.loads(text)
    except ValueError:
        raise MediaFetchFailed(f"expected a JSON response holding the file at {request.location.source!r}") from None
    value = request.location.first(document, document)
    if not isinstance(value, str) or not value:
        raise MediaFetchFailed(f"the response has no text at {request.location.source!r} "
                               f"(response starts {text[:120]!r})")
    return value.strip()


def clean_media_type(value: str | None) -> str:
    """``type/subtype`` in lower case, parameters dropped; '' for anything else (then it is not trusted)."""
    media_type = (value or "").split(";")[0].strip().lower()
    return media_type if _MEDIA_TYPE.match(media_type) else ""


def extension_for(file: FetchedFile) -> str:
    """A short extension from the file name, else from the media type; '' when neither says."""
    suffix = re.search(r"\.([A-Za-z0-9]{1,10})$", file.filename or "")
    if suffix:
        return suffix.group(1).lower()
    guessed = mimetypes.guess_extension(file.content_type) if file.content_type != GENERIC_TYPE else None
    return guessed.lstrip(".").lower() if guessed and re.fullmatch(r"\.[A-Za-z0-9]{1,10}", guessed) else ""


def object_key(spec_id: int, dedup_id: str, file: FetchedFile) -> str:
    content_hash = hashlib.sha256(file.content).hexdigest()
    name = hashlib.sha256(f"{spec_id}\n{dedup_id}\n{content_hash}".encode()).hexdigest()
    extension = extension_for(file)
    return f"{KEY_PREFIX}{spec_id}/{name}{'.' + extension if extension else ''}"


def content_disposition(file: FetchedFile) -> str:
    """Images, audio, video and PDF open in the browser; anything else (HTML, SVG...) is downloaded."""
    inline = file.content_type.startswith(_INLINE_TYPES) and file.content_type not in _NOT_INLINE
    name = re.sub(r'[\x00-\x1f"\\/]+', "_", file.filename)[:200]
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename*=UTF-8''{quote(name, safe='')}" if name else disposition


def media_link(base_url: str, key: str) -> str:
    """The stable link a message body carries: ``<API>/media/<spec id>/<name>`` (``GET`` answers 302)."""
    return f"{base_url.rstrip('/')}/{key}"


def public_base_url(*, configured: str | None, local_url: str | None, domain_name: str | None,
                    stage: str | None) -> str:
    """Where the API is reachable from outside: the configured base (custom domain), the local stack's
    URL, or the execute-api domain and stage the request came in on; '' (relative links) when unknown."""
    for explicit in (configured, local_url):
        if explicit:
            return explicit.rstrip("/")
    if domain_name:
        return f"https://{domain_name}/{stage}" if stage and domain_name.endswith(".amazonaws.com") \
            else f"https://{domain_name}"
    return ""
