"""Media messages: how an image or attachment names its file, and how the stored message links it.

Pure: this module holds the ``fetch`` model of a media kind (validated when a spec is saved); its compiled
form, the request a message stands for and the link (or the failure) written into the body are
``media.compiled``'s, which the ingest path uses without building these models. A fetch may take two requests (``resolve``, then the
URL its answer gives: WhatsApp Cloud, Telegram); URL slots and secrets are ``media_url``'s. What comes back is
decoded and named in
``media_files``; the HTTP call is ``media_fetch``, the S3 calls ``repository.media``, and
``media_ingest`` puts them together.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from chatbridge.lang.fields import LocationText, TemplateText
from chatbridge.lang.templates import check_template_syntax, compile_template, json_template_problem
from chatbridge.media.compiled import (  # noqa: F401 (re-exported: the compiled forms' home before the split)
    FILE_URL,
    SSM,
    CompiledFetch,
    CompiledRequest,
    FetchRequest,
    HttpRequest,
    MediaRequest,
    ResponseFormat,
    body_is_json,
    compile_fetch,
    media_request,
    render_fetch,
    split_body,
)
from chatbridge.media.errors import MediaFetchFailed  # noqa: F401 (re-exported: the fetch modules raise it from here)
from chatbridge.media.urls import check_url, uses_resolved
from chatbridge.outbound.text import SSM_PARAMETER_NAME, header_problem, upper_method

MIB = 1024 * 1024
DEFAULT_MAX_BYTES = 10 * MIB
MAX_BYTES_LIMIT = 25 * MIB
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 20.0  # API Gateway gives the whole request 29 s: fetches, S3 and the DynamoDB write


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
            secrets = SSM.findall(header)
            if not secrets:
                check_template_syntax(header)
                continue
            for secret in secrets:
                if not SSM_PARAMETER_NAME.match(secret.strip()):
                    raise ValueError(f"{name}: {{{{ssm:{secret}}}}} must name an SSM parameter under /chatbridge/ "
                                     "(e.g. {{ssm:/chatbridge/openwa/api-key}})")
            if "{{" in SSM.sub("", header):
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
        return body_is_json(self.headers, self.body)


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
