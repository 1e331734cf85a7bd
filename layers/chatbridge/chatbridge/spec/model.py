"""``IncomingWebhookSpec``: how one third party's webhook becomes chats and messages.

Every location, condition and template is compiled while the model validates, so a malformed one is
refused when the spec is saved (the error names the field and the clause) and mapping a payload never
parses anything. The model is frozen: compiled forms cannot go stale. To add a field, declare it here;
unknown keys are refused so typos (``nik``) do not pass silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.conditions import Condition, compile_condition
from chatbridge.lang.fields import ConditionText, LocationText, TemplateText
from chatbridge.lang.locations import Location, compile_location
from chatbridge.lang.templates import Template, check_template_syntax, compile_template
from chatbridge.media.model import CompiledFetch, MediaFetch, compile_fetch, split_body
from chatbridge.spec import limits
from chatbridge.spec.verification import Verification

IDENTIFIER_PATTERN = r"^[A-Za-z0-9_-]{4,64}$"
CHAT_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")  # <= limits.MAX_CHAT_ATTRIBUTE_NAME_CHARS
AttributeValue = str | int | float | bool | None


class MessageKind(BaseModel):
    """One kind of message: the conditions a message meets, and the body it becomes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conditions: ConditionText = Field("", description="condition language, evaluated on the message")
    body: TemplateText = Field(description="template language: {{msg.<path>}}, {{attributes.<key>}}")


class MediaKind(MessageKind):
    """An image or attachment kind: may also say how to fetch the file (``fetch``), which the ingest stores
    in S3 and links from the body: at ``{{file_url}}``, or appended as ``[file=URL]``."""

    body: str = Field(description="a template, with {{file_url}} at most once where the file's link goes")
    fetch: MediaFetch | None = Field(None, description="how to fetch the file; see docs/specs.md, Media")

    @field_validator("body")
    @classmethod
    def _body_parses(cls, value: str) -> str:
        before, after = split_body(value)
        check_template_syntax(before)
        check_template_syntax(after or "")
        return value

    @model_validator(mode="after")
    def _file_url_needs_fetch(self) -> MediaKind:
        if self.fetch is None and split_body(self.body)[1] is not None:
            raise ValueError("body: {{file_url}} needs a fetch definition (fetch.url) that says where the file is")
        return self


@dataclass(frozen=True, slots=True)
class CompiledKind:
    name: str  # "attachment", "image", "text[0]"...
    kind: Literal["text", "image", "attachment"]
    conditions: Condition
    body: Template  # with a fetch: the text before {{file_url}} (all of it when the body has none)
    fetch: CompiledFetch | None = None
    body_after: Template | None = None  # the text after {{file_url}}; None: the link is appended as [file=URL]


@dataclass(frozen=True, slots=True)
class CompiledSpec:
    messages: Location | None
    chat_id: Location
    nick: Location | None
    nick_join: bool
    phone: Location | None
    email: Location | None
    time: Location | None
    message_id: Location | None
    conditions: Condition
    kinds: tuple[CompiledKind, ...]  # in Live Helper Chat's order: attachment, image, text kinds
    chat_attributes: tuple[tuple[str, Location], ...] = ()


class IncomingWebhookSpec(BaseModel):
    """An incoming webhook (Live Helper Chat's name): fields documented in docs/specs.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int | None = Field(None, description="assigned on save")
    identifier: str = Field(pattern=IDENTIFIER_PATTERN, description="URL part: /webhooks/incoming/<identifier>")
    name: str = Field(min_length=1, max_length=200, description="shown in the chat")
    scope: str = Field("", max_length=100, description="free word such as 'whatsapp'")
    enabled: bool = True
    log_requests: bool = Field(False, description="keep raw requests and their outcome for debugging")
    verification: Verification | None = Field(None, description="shared secret, HMAC signature, Meta handshake")
    preset: str | None = Field(
        None, pattern=r"^[a-z0-9_-]{1,64}$",
        description="the provider preset that made this spec (`presets apply` sets it; null: made by hand), so "
                    "`presets apply` never turns another provider's spec and its chats into its own unasked")

    messages: LocationText = Field("", description="location of the message(s); empty: the whole payload")
    chat_id: LocationText = Field(description="location of the third party's chat id, inside a message")
    nick: LocationText = ""
    nick_combine: Literal["first", "join"] = Field(
        "first", description="nick alternatives a|||b: first non-empty, or join all found with a space (LHC)")
    phone: LocationText = ""
    email: LocationText = ""
    time: LocationText = ""
    message_id: LocationText = ""
    chat_attributes: dict[str, LocationText] = Field(
        default_factory=dict, max_length=limits.MAX_CHAT_ATTRIBUTES,
        description="name -> location: values a reply needs that only the provider's payload carries (Twilio's "
                    "To, the number the visitor wrote to), read from a new chat's first message that has them and "
                    "kept as incoming_chat.attributes.<name>")

    conditions: ConditionText = Field("", description="general conditions on the payload's first-level attributes")
    text: list[MessageKind] = Field(default_factory=list)
    image: MediaKind | None = None
    attachment: MediaKind | None = None

    on_closed_chat: Literal["new_chat", "pending", "active"] = "new_chat"
    reset_operator: bool = False
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    chat_id_template: str | None = Field(None, description="how a reply rebuilds the id, e.g. {chat_id}@c.us")
    created_at: int | None = None
    updated_at: int | None = None

    _compiled: CompiledSpec = PrivateAttr()

    @field_validator("text", mode="before")
    @classmethod
    def _single_text_kind_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("chat_id")
    @classmethod
    def _chat_id_is_given(cls, value: str) -> str:
        if compile_location(value) is None:
            raise ValueError("give the location of the chat id inside a message, e.g. 'from'")
        return value

    @field_validator("chat_attributes")
    @classmethod
    def _chat_attribute_names(cls, value: dict[str, str]) -> dict[str, str]:
        """Names become path steps in REST API placeholders ({{args.chat.incoming_chat.attributes.to}}), so
        they are plain words; a location that is empty would never fill its attribute."""
        for name, location in value.items():
            if not CHAT_ATTRIBUTE_NAME.match(name):
                raise ValueError(f"chat_attributes: {name!r} must be a word of letters, digits and '_' "
                                 "(1-64, not starting with a digit)")
            if compile_location(location) is None:
                raise ValueError(f"chat_attributes.{name}: give the location of its value, e.g. 'To'")
        return value

    @model_validator(mode="after")
    def _compile(self) -> IncomingWebhookSpec:
        chat_id = cast(Location, compile_location(self.chat_id))  # never None: _chat_id_is_given
        if not (self.text or self.image or self.attachment):
            raise ValueError("define at least one message kind: text, image or attachment")
        kinds = [self._compile_kind(name, kind, definition) for name, kind, definition in self._kind_definitions()]
        self._compiled = CompiledSpec(
            messages=compile_location(self.messages), chat_id=chat_id, nick=compile_location(self.nick),
            nick_join=self.nick_combine == "join",
            phone=compile_location(self.phone), email=compile_location(self.email),
            time=compile_location(self.time), message_id=compile_location(self.message_id),
            conditions=compile_condition(self.conditions), kinds=tuple(kinds),
            chat_attributes=tuple((name, cast(Location, compile_location(location)))
                                  for name, location in self.chat_attributes.items()))
        return self

    def _compile_kind(self, name: str, kind: Literal["text", "image", "attachment"],
                      definition: MessageKind) -> CompiledKind:
        fetch = definition.fetch if isinstance(definition, MediaKind) else None
        before, after = split_body(definition.body) if fetch is not None else (definition.body, None)
        try:
            body = compile_template(before, self.attributes)
            body_after = compile_template(after, self.attributes) if after is not None else None
        except SpecSyntaxError as exc:
            raise ValueError(f"{name}.body: {exc}") from None
        try:
            compiled_fetch = compile_fetch(fetch, self.attributes) if fetch is not None else None
        except SpecSyntaxError as exc:
            raise ValueError(f"{name}.fetch: {exc}") from None
        return CompiledKind(name, kind, compile_condition(definition.conditions), body, compiled_fetch, body_after)

    def _kind_definitions(self) -> list[tuple[str, Literal["text", "image", "attachment"], MessageKind]]:
        kinds: list[tuple[str, Literal["text", "image", "attachment"], MessageKind]] = []
        if self.attachment is not None:
            kinds.append(("attachment", "attachment", self.attachment))
        if self.image is not None:
            kinds.append(("image", "image", self.image))
        kinds.extend((f"text[{i}]", "text", definition) for i, definition in enumerate(self.text))
        return kinds

    def __eq__(self, other: object) -> bool:
        """Equal when the fields are: compiled forms are derived from them."""
        if not isinstance(other, IncomingWebhookSpec):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # attributes is a dict: specs are not hashable

    @property
    def compiled(self) -> CompiledSpec:
        """Parsed locations, conditions and templates, ready for ``mapping.map_payload``.

        Set during validation; a spec made with ``model_construct`` (no validation) compiles on first use.
        """
        private = self.__pydantic_private__
        if private is None or "_compiled" not in private:
            self._compiled = type(self).model_validate(self.model_dump(mode="python", warnings=False))._compiled
        return self._compiled
