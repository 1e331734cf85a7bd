"""REST API definitions and how a reply is rendered into one HTTP request.

Placeholders: ``{{args.chat.<path>}}``, ``{{args.msg.<path>}}``, ``{{msg}}`` (the text), ``{{msg_url}}``
(file markup turned into plain URLs), ``{{msg_clean}}`` (markup dropped), ``{{incoming_webhook.attributes.<k>}}``,
``{{chat_id_template}}`` (the spec's ``chat_id_template`` with ``{chat_id}`` filled in), and in headers and the
URL's path only ``{{ssm:/parameter/name}}`` (a secret read from SSM Parameter Store at send time, never stored
here). The URL may *start* with ``{{incoming_webhook.attributes.<key>}}``: the chat's spec attribute (set by an
admin, never by a payload) then gives the scheme and host, as Live Helper Chat's
``{{args.chat.incoming_chat.incoming.attributes.host}}/sendText`` does; the URL guard checks it at dispatch like
any other host, and a chat whose spec does not set it to an http(s) URL fails without a call. A URL secret exists for APIs that put the key in the path (Telegram's ``/bot<token>/``); the rendered
request keeps a copy of the URL with each secret shown as ``***``, which is all a delivery record or an error
message may show.

Where a placeholder sits decides how it is escaped, so no message text can break the request:
a bare placeholder in a JSON body is a JSON value (strings quoted); inside a JSON string it is escaped
without quotes (LHC's habit of quoting placeholders keeps working); in the URL it is percent-encoded;
query values are encoded by ``urlencode``; header values lose CR/LF so nothing injects a header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from chatbridge.errors import ChatbridgeError, OutboundUrlRefused
from chatbridge.lang.core import MISSING, resolve, value_text
from chatbridge.lang.templates import json_string_state_after, json_template_problem
from chatbridge.outbound.text import PATH_SEGMENT_SAFE, SSM_PARAMETER_NAME, SSM_PREFIX, header_problem, upper_method
from chatbridge.outbound.url_guard import split_url
from chatbridge.repository.values import plain

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")  # never spans another {{ (lang.templates)
_SIMPLE = ("msg", "msg_url", "msg_clean", "chat_id_template")
# the one placeholder that may choose the host: a spec attribute an admin set (LHC's {{...attributes.host}}/sendText),
# never a payload's value; the URL guard still checks what it gives, at dispatch
_HOST_ATTRIBUTE = re.compile(r"^\{\{\s*incoming_webhook\.attributes\.([^\s{}]+?)\s*\}\}")
_ORIGIN = re.compile(r"^https?://[^\s/?#@\\]+(/[^\s?#\\]*)?$", re.IGNORECASE)
_FILE_PLACEHOLDERS = ("file_url", "file_name", "file_type", "file_kind", "file_size")  # args.file (reply.events)

_FILE = re.compile(r"\[file=([^\]\s]+)\]")
_IMG = re.compile(r"\[img\]\s*(\S+?)\s*\[/img\]", re.IGNORECASE)
_URL = re.compile(r"\[url=([^\]\s]+)\](.*?)\[/url\]", re.IGNORECASE | re.DOTALL)


class RestApiSyntaxError(ChatbridgeError, ValueError):
    """A REST API definition cannot be rendered (a ``ValueError`` so pydantic names the field)."""


def msg_url(text: str) -> str:
    """``[file=URL]``, ``[img]URL[/img]`` and ``[url=URL]label[/url]`` become the plain URL."""
    text = _FILE.sub(lambda m: m.group(1), text)
    text = _IMG.sub(lambda m: m.group(1), text)
    return _URL.sub(lambda m: m.group(1), text)


def msg_clean(text: str) -> str:
    """The text without file markup: files and images dropped, links keep their label."""
    text = _FILE.sub("", text)
    text = _IMG.sub("", text)
    text = _URL.sub(lambda m: m.group(2), text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


class RenderContext(BaseModel):
    """Everything a placeholder can name; built by the dispatcher from stored chat, message and spec."""

    args: dict[str, Any]
    attributes: dict[str, Any] = Field(default_factory=dict)
    chat_id_template: str | None = None
    secrets: dict[str, str] = Field(default_factory=dict)

    def value(self, name: str) -> Any:
        """The raw value of a placeholder, or MISSING."""
        text = value_text(resolve(self.args, "msg.msg"))
        if name == "msg":
            return text
        if name == "msg_url":
            return msg_url(text)
        if name == "msg_clean":
            return msg_clean(text)
        if name == "chat_id_template":
            external = value_text(resolve(self.args, "chat.incoming_chat.chat_external_id"))
            if not self.chat_id_template:
                return external
            return self.chat_id_template.replace("{chat_id}", external)
        if name in _FILE_PLACEHOLDERS:
            return resolve(self.args, "file." + name[len("file_"):])
        if name.startswith("args."):
            return resolve(self.args, name[len("args."):])
        if name.startswith("incoming_webhook.attributes."):
            return self.attributes.get(name[len("incoming_webhook.attributes."):], MISSING)
        if name.startswith("ssm:"):
            return self.secrets.get(_ssm_name(name), MISSING)
        return MISSING


def _ssm_name(placeholder: str) -> str:
    return placeholder[len("ssm:"):].strip()


def _check_placeholders(field: str, text: str, *, allow_ssm: bool) -> None:
    for match in _PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name in _SIMPLE or name in _FILE_PLACEHOLDERS:
            continue
        if name == "args.chat.raw" or name.startswith("args.chat.raw."):
            raise RestApiSyntaxError(f"{field}: {match.group(0)} - a reply does not carry the chat's raw payload; "
                                     "keep what it needs with the incoming webhook's chat_attributes and read "
                                     "{{args.chat.incoming_chat.attributes.<name>}}")
        if re.fullmatch(r"args\.(chat|msg)(\.[^.\s{}]+)+", name) or \
                re.fullmatch(r"incoming_webhook\.attributes\.[^\s{}]+", name):
            continue
        if name.startswith("ssm:"):
            if not allow_ssm:
                raise RestApiSyntaxError(f"{field}: {match.group(0)} - SSM secrets are allowed in headers and the "
                                         "URL's path only")
            if not SSM_PARAMETER_NAME.match(_ssm_name(name)):
                raise RestApiSyntaxError(f"{field}: {match.group(0)} must name an SSM parameter under {SSM_PREFIX} "
                                         "(e.g. {{ssm:/chatbridge/openwa/api-key}})")
            continue
        raise RestApiSyntaxError(
            f"{field}: unknown placeholder {match.group(0)} (use {{{{args.chat.<path>}}}}, {{{{args.msg.<path>}}}}, "
            "{{msg}}, {{msg_url}}, {{msg_clean}}, {{chat_id_template}}, {{incoming_webhook.attributes.<key>}}, "
            "{{file_url}}, {{file_name}}, {{file_type}}, {{file_kind}}, {{file_size}})")


def _render(text: str, escape: Callable[[Any], str], context: RenderContext) -> str:
    return _PLACEHOLDER.sub(lambda m: escape(context.value(m.group(1))), text)


def _json_value(value: Any) -> str:
    if value is MISSING:
        return "null"
    return json.dumps(plain(value), ensure_ascii=False)


def _json_inside_string(value: Any) -> str:
    return json.dumps(value_text(value), ensure_ascii=False)[1:-1]


def render_json(template: str, context: RenderContext) -> str:
    """Render a JSON body template, escaping each placeholder for where it sits (in a string or not)."""
    out: list[str] = []
    in_string = False
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        literal = template[position:match.start()]
        out.append(literal)
        in_string = json_string_state_after(literal, in_string)
        value = context.value(match.group(1))
        out.append(_json_inside_string(value) if in_string else _json_value(value))
        position = match.end()
    out.append(template[position:])
    return "".join(out)


def _header_value(value: Any) -> str:
    """No CR/LF/NUL (header injection); non-Latin-1 text is sent as its UTF-8 bytes (http.client speaks Latin-1)."""
    text = re.sub(r"[\r\n\x00]+", " ", value_text(value)).strip()
    return text.encode("utf-8").decode("latin-1")


class RenderedRequest(BaseModel):
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    timeout: float
    shown_url: str = Field("", description="the URL with its secrets as *** (what records and errors show); "
                                           "empty: the URL holds none")
    url_secrets: list[str] = Field(default_factory=list, exclude=True, repr=False,
                                   description="the secrets as they appear in the URL, to scrub from any text")
    refusal: str | None = Field(None, description="why this request cannot be sent (a host attribute the chat's "
                                                  "spec does not set to an http(s) URL); never retried")

    def shown(self, text: str) -> str:
        """``text`` (an error, a response excerpt) with the URL's secrets masked."""
        for secret in self.url_secrets:
            text = text.replace(secret, "***")
        return text


class RestApi(BaseModel):
    """A third party's API that replies are sent to."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    name: str = Field("", max_length=200)
    method: Annotated[Literal["GET", "POST", "PUT", "PATCH", "DELETE"], BeforeValidator(upper_method)] = "POST"
    url: str = Field(min_length=1, max_length=4096)
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = Field("", max_length=65536)
    body_format: Literal["json", "form", "text"] | None = Field(
        None, description="how placeholders are escaped in the body; default: json when Content-Type says so "
                          "or the body starts with { or [, else text")
    timeout: float = Field(10, gt=0, le=30, description="seconds; at most 30: a batch of jobs must fit the "
                                                         "dispatcher's Timeout")
    success_codes: list[int] = Field(default_factory=list, description="empty: any 2xx")
    save_response_as_message: bool = False

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        _check_placeholders("url", value, allow_ssm=True)
        host_attribute = _HOST_ATTRIBUTE.match(value)
        if host_attribute:  # the rest is checked as a path under a host the attribute will give
            rest = value[host_attribute.end():]
            if rest and rest[0] not in "/?":
                raise RestApiSyntaxError(f"url: after {host_attribute.group(0)} (which gives scheme and host, e.g. "
                                         "https://wa.example.com) the URL goes on with '/' or '?'")
            value_checked = "https://attribute-host.invalid" + rest
        elif value.lstrip().startswith("{{"):
            raise RestApiSyntaxError("url: placeholders may not choose the host; only a spec attribute may start the "
                                     "URL ({{incoming_webhook.attributes.host}}/sendText), never a chat's or "
                                     "message's value")
        else:
            value_checked = value
        scheme_and_host = _PLACEHOLDER.sub("x", value_checked)
        try:
            parts = split_url(scheme_and_host)  # the dispatcher's own parser: a port it could never use is refused now
        except OutboundUrlRefused as exc:
            raise RestApiSyntaxError(f"url: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RestApiSyntaxError(f"url {value!r} must be an http:// or https:// URL with a host")
        if "{{" in urlsplit(value_checked).netloc:
            raise RestApiSyntaxError("url: placeholders may not choose the host, except a spec attribute that starts "
                                     "the URL ({{incoming_webhook.attributes.host}}/sendText)")
        outside_path = "".join(urlsplit(value_checked)[3:])  # query and fragment: logged by proxies, easily shown
        if any(m.group(1).startswith("ssm:") for m in _PLACEHOLDER.finditer(outside_path)):
            raise RestApiSyntaxError("url: an SSM secret may sit in the URL's path only, not its query "
                                     "(put it in a header if the API takes one)")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header in value.items():
            problem = header_problem(name, header)
            if problem:
                raise RestApiSyntaxError(f"headers: {problem}")
            _check_placeholders(f"headers.{name}", header, allow_ssm=True)
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: dict[str, str]) -> dict[str, str]:
        for name, item in value.items():
            _check_placeholders(f"query.{name}", item, allow_ssm=False)
        return value

    @field_validator("success_codes")
    @classmethod
    def _codes(cls, value: list[int]) -> list[int]:
        bad = [code for code in value if not 100 <= code <= 599]
        if bad:
            raise RestApiSyntaxError(f"success_codes: {bad} are not HTTP status codes")
        return value

    @model_validator(mode="after")
    def _body_renders(self) -> RestApi:
        _check_placeholders("body", self.body, allow_ssm=False)
        if self.effective_body_format == "json" and self.body.strip():
            problem = json_template_problem(render_json(self.body, RenderContext(args={})))
            if problem:
                raise RestApiSyntaxError(problem)
        return self

    @property
    def effective_body_format(self) -> str:
        if self.body_format:
            return self.body_format
        content_type = next((v for k, v in self.headers.items() if k.lower() == "content-type"), "").lower()
        if "json" in content_type:
            return "json"
        if "x-www-form-urlencoded" in content_type:
            return "form"
        if not content_type and self.body.lstrip()[:1] in ("{", "["):
            return "json"
        return "text"

    def secret_names(self) -> list[str]:
        """SSM parameter names the headers and the URL reference (resolved by the dispatcher through the
        repository)."""
        return sorted({_ssm_name(m.group(1)) for text in (self.url, *self.headers.values())
                       for m in _PLACEHOLDER.finditer(text) if m.group(1).startswith("ssm:")})

    def is_success(self, status: int) -> bool:
        return status in self.success_codes if self.success_codes else 200 <= status < 300

    def render(self, context: RenderContext) -> RenderedRequest:
        origin, refusal, rest = _origin_of(self.url, context)
        url, shown_url, url_secrets = _render_url(rest, context)
        url, shown_url = origin + url, origin + shown_url
        query = {name: _render(item, value_text, context) for name, item in self.query.items()}
        if query:
            url += ("&" if urlsplit(url).query else "?") + urlencode(query)
            shown_url += ("&" if urlsplit(shown_url).query else "?") + urlencode(query)
        headers = {name: _render(header, _header_value, context) for name, header in self.headers.items()}
        body: str | None = None
        if self.body and self.method != "GET":
            body_format = self.effective_body_format
            if body_format == "json":
                body = render_json(self.body, context)
                if not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = "application/json"
            elif body_format == "form":
                body = _render(self.body, lambda v: quote(value_text(v), safe=""), context)
            else:
                body = _render(self.body, value_text, context)
        return RenderedRequest(method=self.method, url=url, headers=headers, body=body, timeout=self.timeout,
                               shown_url=shown_url if url_secrets else "", url_secrets=url_secrets, refusal=refusal)


def _origin_of(template: str, context: RenderContext) -> tuple[str, str | None, str]:
    """(the scheme and host a leading spec attribute gives, why it cannot be used or None, the rest of the URL)."""
    host_attribute = _HOST_ATTRIBUTE.match(template)
    if not host_attribute:
        return "", None, template
    name, rest = host_attribute.group(1), template[host_attribute.end():]
    origin = value_text(context.value(f"incoming_webhook.attributes.{name}")).strip()
    if not _ORIGIN.match(origin):
        return "", (f"the URL's host comes from the incoming webhook's attribute {name!r}, which is "
                    f"{repr(origin[:100]) if origin else 'not set'}: set it to the API's base URL, e.g. "
                    "https://wa.example.com"), rest
    return (origin.rstrip("/") if rest.startswith("/") else origin), None, rest


def _render_url(template: str, context: RenderContext) -> tuple[str, str, list[str]]:
    """(the URL, the URL with secrets as ``***``, each secret as sent and as read); values percent-encoded."""
    secrets: list[str] = []

    def value(match: re.Match[str], *, shown: bool) -> str:
        name = match.group(1)
        text = value_text(context.value(name))
        if not name.startswith("ssm:"):
            return quote(text, safe="")
        encoded = quote(text, safe=PATH_SEGMENT_SAFE)  # one path segment: '/', '?', '#' and '%' are encoded
        if not shown:
            secrets.extend(secret for secret in (encoded, text) if secret)
        return "***" if shown else encoded

    url = _PLACEHOLDER.sub(lambda m: value(m, shown=False), template)
    shown_url = _PLACEHOLDER.sub(lambda m: value(m, shown=True), template)
    return url, shown_url, sorted(set(secrets), key=len, reverse=True)


def context_for(args: dict[str, Any], *, attributes: Mapping[str, Any] | None = None,
                chat_id_template: str | None = None, secrets: Mapping[str, str] | None = None) -> RenderContext:
    return RenderContext(args=args, attributes=dict(attributes or {}), chat_id_template=chat_id_template,
                         secrets=dict(secrets or {}))
