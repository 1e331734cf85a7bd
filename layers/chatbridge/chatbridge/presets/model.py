"""What a provider preset is, and how ``--set key=value`` parameters turn it into stored objects.

A preset is data: an incoming webhook spec and a REST API definition in which ``<<name>>`` marks where a
parameter goes (``<<`` never occurs in chatbridge's own languages, so a spec's ``{{msg.x}}`` templates and
``$root`` locations pass through untouched). Every parameter declares a pattern its value must match in
full; the patterns are what make plain text substitution safe (no quote can reach a JSON body, no slash
can reach a URL path segment it should not). Secrets for REST API headers (and URL paths,
where an API such as Telegram's wants its key) are never substituted as text: they become
``{{ssm:/chatbridge/...}}`` references that the dispatcher reads at send time.

Media fetching is an overlay (``Preset.media``): with ``--set media=on`` (the default) the image and
attachment kinds get a ``fetch`` and a body made for the stored file's link; ``media=off`` keeps the kinds
naming the file as text. The overlay uses only secrets the reply already needs, so no preset asks for an
extra secret because of media. Every ``url`` parameter also gives a ``<<name_host>>`` slot (its host name),
so a fetch's ``hosts`` list follows the provider host the operator chose instead of being fixed; every
``ssm`` parameter a ``<<name_ssm>>`` slot (the parameter's name) for setup steps.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chatbridge.errors import PresetError
from chatbridge.outbound.text import SSM_PREFIX
from chatbridge.reply.rest_api import RestApi
from chatbridge.reply.webhooks import OutgoingWebhook
from chatbridge.spec.model import IDENTIFIER_PATTERN, IncomingWebhookSpec

_SLOT = re.compile(r"<<([a-z_]+)>>")
_SSM_NAME = re.compile(r"^/chatbridge/[A-Za-z0-9_.\-/]{1,200}$")


class Parameter(BaseModel):
    """One ``--set`` value a preset needs.

    ``kind``: ``text`` is substituted as given, ``url`` loses a trailing ``/``, ``ssm`` names an SSM
    SecureString parameter (``ssm:/chatbridge/x`` or ``/chatbridge/x``; default
    ``/chatbridge/<identifier>/<name>``) and is substituted as a ``{{ssm:...}}`` reference.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z_]+$")
    description: str
    kind: Literal["text", "url", "ssm"] = "text"
    required: bool = False
    default: str | None = None
    pattern: str = Field(r"[^\s\"\\<>{}]{1,512}", description="the value must match it in full")
    example: str = ""


class FileReply(BaseModel):
    """How a preset sends an operator's file (LHC's pattern: one webhook for text, others for files).

    Each is an outgoing webhook on the operator message event whose ``conditions`` (over ``args.file``) pick
    the files it takes, calling ``rest_api``, or the preset's text REST API when that is None: its
    ``{{msg_url}}`` sends the file's link as text, for files the provider cannot take by URL.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z-]+$", description="names the stored REST API and webhook")
    conditions: tuple[str, ...] = Field(description="rule clauses over args.file, besides the chat's spec id")
    rest_api: dict[str, Any] | None = None


FILE_MESSAGE = "{args.file.url} notempty"
TEXT_MESSAGE = "{args.file.url} empty"


class Preset(BaseModel):
    """A provider's incoming webhook + reply REST API, with parameters; the outgoing webhook is derived."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    provider: str
    supports: str = Field(description="what the preset handles, one line for `presets list` and docs/presets.md")
    ignores: str = Field(description="what it deliberately leaves out (receipts, echoes, statuses...)")
    parameters: tuple[Parameter, ...]
    incoming_webhook: dict[str, Any]
    rest_api: dict[str, Any]
    media: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="kind ('image', 'attachment') -> fields replacing the kind's own "
                                          "(fetch, body, ...) when the `media` parameter is on")
    webhook_url: str = Field("<<webhook_url>>", description="the URL to give the provider (may add a query)")
    setup: tuple[str, ...] = Field(description="steps on the provider's side; <<slots>> are filled in")
    files: tuple[FileReply, ...] = Field((), description="operator files; none: the text reply sends the link")

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @model_validator(mode="after")
    def _media_needs_its_switch(self) -> Preset:
        if self.media and self.parameter("media") is None:
            raise ValueError(f"preset {self.name} fetches media but has no `media` parameter to turn it off")
        return self


def media_parameter(fetches: str) -> Parameter:
    """The switch every preset with a media overlay declares; ``fetches`` says what is fetched, from where."""
    return Parameter(name="media", default="on", pattern="on|off", example="off",
                     description=f"on: store images and attachments in the media bucket and link them ({fetches}); "
                                 "off: the message names the file as text")


class SsmSecret(BaseModel):
    name: str
    parameter: str
    description: str


class PresetSetup(BaseModel):
    """A preset made concrete for one identifier: exactly what `presets apply` stores and prints."""

    preset: str
    identifier: str
    incoming_webhook: dict[str, Any]
    rest_api: dict[str, Any]
    webhook_url: str
    ssm_secrets: list[SsmSecret]
    setup: list[str]
    files: list[FileReply] = Field(default_factory=list, description="filled in: each rest_api is complete")

    @property
    def rest_api_id(self) -> str:
        return str(self.rest_api["id"])

    @property
    def webhook_id(self) -> str:
        return f"{self.identifier}-replies"

    def outgoing_webhook(self, iwh_id: int) -> dict[str, Any]:
        """Operator replies in chats of *this* incoming webhook (its stored id, as LHC's guide does)."""
        webhook = {"id": self.webhook_id, "event": "chat.web_add_msg_admin", "rest_api_id": self.rest_api_id,
                   "conditions": [f"{{args.chat.iwh_id}} = {iwh_id}", *([TEXT_MESSAGE] if self.files else [])],
                   "enabled": True}
        OutgoingWebhook.model_validate(webhook)
        return webhook

    def file_rest_apis(self) -> list[dict[str, Any]]:
        """The REST APIs that send files (stored before the webhooks that name them)."""
        return [reply.rest_api for reply in self.files if reply.rest_api is not None]

    def file_webhooks(self, iwh_id: int) -> list[dict[str, Any]]:
        """One outgoing webhook per way of sending a file, in this incoming webhook's chats."""
        webhooks = []
        for reply in self.files:
            webhook = {"id": f"{self.identifier}-files-{reply.name}", "event": "chat.web_add_msg_admin",
                       "rest_api_id": reply.rest_api["id"] if reply.rest_api else self.rest_api_id,
                       "conditions": [f"{{args.chat.iwh_id}} = {iwh_id}", FILE_MESSAGE, *reply.conditions],
                       "enabled": True}
            OutgoingWebhook.model_validate(webhook)
            webhooks.append(webhook)
        return webhooks


def build(preset: Preset, *, identifier: str, values: dict[str, str], webhook_base: str) -> PresetSetup:
    """Fill a preset's slots; raises ``PresetError`` naming every missing or malformed parameter.

    ``webhook_base`` is the API's base URL; the provider posts to ``<base>/webhooks/incoming/<identifier>``.
    """
    if not re.match(IDENTIFIER_PATTERN, identifier):
        raise PresetError(f"identifier {identifier!r} must be 4-64 letters, digits, '-' or '_'")
    slots, secrets = _resolve(preset, identifier, values)
    slots["identifier"] = identifier
    slots["webhook_url"] = f"{webhook_base.rstrip('/')}/webhooks/incoming/{identifier}"
    slots["webhook_url"] = fill(preset.webhook_url, slots)
    incoming = fill(preset.incoming_webhook, slots)
    if slots.get("media") == "on":
        for kind, fields in fill(preset.media, slots).items():
            incoming[kind] = {**incoming[kind], **fields}
    incoming = {"identifier": identifier, **incoming, "preset": preset.name}  # the mark `apply` checks
    rest_api = {"id": f"{identifier}-send", **fill(preset.rest_api, slots)}
    _validate(preset.name, incoming, rest_api)
    files = [reply.model_copy(update={"rest_api": {"id": f"{identifier}-send-{reply.name}",
                                                   **fill(reply.rest_api, slots)}} if reply.rest_api else {})
             for reply in preset.files]
    for reply in files:
        if reply.rest_api is not None:
            _validate(preset.name, incoming, reply.rest_api)
    return PresetSetup(preset=preset.name, identifier=identifier, incoming_webhook=incoming, rest_api=rest_api,
                       webhook_url=slots["webhook_url"], ssm_secrets=secrets,
                       setup=[fill(step, slots) for step in preset.setup], files=files)


def _resolve(preset: Preset, identifier: str, values: dict[str, str]) -> tuple[dict[str, str], list[SsmSecret]]:
    known = {p.name for p in preset.parameters}
    unknown = sorted(set(values) - known)
    if unknown:
        raise PresetError(f"preset {preset.name} has no parameter {', '.join(map(repr, unknown))} "
                          f"(parameters: {', '.join(sorted(known)) or 'none'})")
    missing = [p for p in preset.parameters if p.required and not values.get(p.name)]
    if missing:
        raise PresetError("missing required parameter" + ("s" if len(missing) > 1 else "") + ": " +
                          "; ".join(f"{p.name} ({p.description}; --set {p.name}={p.example or '...'})"
                                    for p in missing))
    slots: dict[str, str] = {}
    secrets: list[SsmSecret] = []
    for parameter in preset.parameters:
        value = values.get(parameter.name) or parameter.default or ""
        if parameter.kind == "ssm":
            name = _ssm_name(parameter, value or f"{SSM_PREFIX}{identifier}/{parameter.name}")
            secrets.append(SsmSecret(name=name, parameter=parameter.name, description=parameter.description))
            slots[parameter.name] = "{{ssm:" + name + "}}"
            slots[f"{parameter.name}_ssm"] = name  # for setup steps that read it (aws ssm get-parameter ...)
            continue
        if value and not re.fullmatch(parameter.pattern, value):
            raise PresetError(f"parameter {parameter.name}={value!r} is not valid: {parameter.description} "
                              f"(expected something like {parameter.example or parameter.pattern!r})")
        slots[parameter.name] = value.rstrip("/") if parameter.kind == "url" else value
        if parameter.kind == "url":
            slots[f"{parameter.name}_host"] = (urlsplit(value).hostname or "") if value else ""
    return slots, secrets


def _ssm_name(parameter: Parameter, value: str) -> str:
    name = value[len("ssm:"):] if value.startswith("ssm:") else value
    if not _SSM_NAME.match(name):
        raise PresetError(f"parameter {parameter.name} is a secret: give the name of an SSM SecureString parameter "
                          f"under {SSM_PREFIX} (e.g. --set {parameter.name}=ssm:{SSM_PREFIX}my-bot/{parameter.name}), "
                          f"not its value; {value[:4]!r}... is not one")
    return name


def fill(template: Any, slots: dict[str, str]) -> Any:
    """Replace ``<<name>>`` in every string of a nested document; an unknown slot is a preset bug."""
    if isinstance(template, str):
        def value(match: re.Match[str]) -> str:
            if match.group(1) not in slots:
                raise PresetError(f"preset slot <<{match.group(1)}>> has no parameter")
            return slots[match.group(1)]
        return _SLOT.sub(value, template)
    if isinstance(template, dict):
        return {key: fill(item, slots) for key, item in template.items()}
    if isinstance(template, (list, tuple)):
        return [fill(item, slots) for item in template]
    return template


def _validate(name: str, incoming: dict[str, Any], rest_api: dict[str, Any]) -> None:
    """Check locally what the admin API would refuse, so a bad parameter fails before anything is stored."""
    for what, model, document in (("incoming webhook", IncomingWebhookSpec, incoming), ("REST API", RestApi, rest_api)):
        try:
            model.model_validate(document)
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or what}: {e['msg']}"
                                for e in exc.errors(include_url=False))
            raise PresetError(f"preset {name} makes an invalid {what} with these parameters: {reasons}") from None
