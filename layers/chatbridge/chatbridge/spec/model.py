"""``IncomingWebhookSpec``: how one third party's webhook becomes chats and messages.

Every location, condition and template is compiled while the model validates, so a malformed one is
refused when the spec is saved (the error names the field and the clause) and mapping a payload never
parses anything. The model is frozen: compiled forms cannot go stale. To add a field, declare it here;
unknown keys are refused so typos (``nik``) do not pass silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.conditions import Condition, FirstHolding, compile_condition
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


DeliveryState = Literal["sent", "delivered", "read", "failed"]


class ReceiptKind(BaseModel):
    """One kind of receipt a provider posts about a reply it was given (sent, delivered, read, failed).

    Matched on the reply's provider id (``provider_message_id``, read from the send call's answer with the REST
    API's ``response_message_id``), or, with ``watermark``, on every reply of the chat sent up to that time
    (Messenger's read receipts name no message)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: LocationText = Field("", description="where the receipts sit, from the payload root (a list: each item "
                                                "one receipt); empty: the payload is one receipt")
    conditions: ConditionText = Field("", description="what makes an item this kind of receipt (on the item)")
    message_id: LocationText = Field("", description="the provider's id of the reply (a list: each id)")
    status: LocationText = Field("", description="where the provider's status is; its text is looked up in status_map")
    status_map: dict[str, DeliveryState] = Field(default_factory=dict, description="provider status -> state; a "
                                                 "status it does not name is ignored")
    state: DeliveryState | None = Field(None, description="the state, when the kind itself says it (no status)")
    reason: LocationText = Field("", description="why the provider failed it (stored on the delivery)")
    chat_id: LocationText = Field("", description="the chat the receipt is about: needed with watermark and with "
                                                  "message_id_scope 'chat'")
    watermark: LocationText = Field("", description="a time: every reply of the chat sent up to it takes the state")

    @model_validator(mode="after")
    def _complete(self) -> ReceiptKind:
        if not (self.message_id or self.watermark):
            raise ValueError("give message_id (the reply's provider id) or watermark (a time)")
        if self.watermark and not self.chat_id:
            raise ValueError("watermark needs chat_id: the chat whose replies it covers")
        if self.state is None and not (self.status and self.status_map):
            raise ValueError("give status and status_map (provider status -> sent/delivered/read/failed), or state")
        if self.state is not None and self.status:
            raise ValueError("give either state or status with status_map, not both")
        return self


class EditKind(BaseModel):
    """Messages that edit an earlier one (Telegram ``edited_message``): the original's text is replaced, its
    previous texts kept in ``history``, and ``chat.message_edited`` fires."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conditions: ConditionText = Field(description="what makes a message an edit (on the message)")
    message_id: LocationText = Field("", description="the edited message's provider id; empty: the spec's message_id")
    body: TemplateText = Field(description="the new text")

    @field_validator("conditions")
    @classmethod
    def _conditions_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("an edit kind needs conditions (an empty one would make every message an edit)")
        return value


class ReactionKind(BaseModel):
    """Messages that react to an earlier one: stored on that message's ``reactions``, never as a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conditions: ConditionText = Field(description="what makes a message a reaction (on the message)")
    message_id: LocationText = Field(description="the provider id of the message reacted to")
    reaction: LocationText = Field(description="the reaction (an emoji); empty: the author's reaction is removed")

    @model_validator(mode="after")
    def _complete(self) -> ReactionKind:
        for name in ("conditions", "message_id", "reaction"):
            if not getattr(self, name).strip():
                raise ValueError(f"a reaction kind needs {name}")
        return self


@dataclass(frozen=True, slots=True)
class CompiledReceipt:
    items: Location | None
    conditions: Condition
    message_id: Location | None
    status: Location | None
    status_map: dict[str, str]
    state: str | None
    reason: Location | None
    chat_id: Location | None
    watermark: Location | None


@dataclass(frozen=True, slots=True)
class CompiledEdit:
    conditions: Condition
    message_id: Location | None
    body: Template


@dataclass(frozen=True, slots=True)
class CompiledReaction:
    conditions: Condition
    message_id: Location
    reaction: Location


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
    receipts: tuple[CompiledReceipt, ...] = ()
    edit: CompiledEdit | None = None
    reaction: CompiledReaction | None = None
    operator: Condition | None = None
    operator_chat_id: Location | None = None
    name_support: str = ""
    author_name: Location | None = None
    author_id: Location | None = None
    chat_name: Location | None = None
    group: Condition | None = None
    nick_fallback: Location | None = None
    message_type: Location | None = None
    store_unsupported: bool = True
    chat_scoped_ids: bool = False
    # which of ``kinds`` a message is: the first whose conditions hold, tried in one call (``FirstHolding``)
    kind_of: FirstHolding = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind_of", FirstHolding(tuple(kind.conditions for kind in self.kinds)))


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

    nick_fallback: LocationText = Field(
        "", description="a nick used only when `nick` finds none (the phone): the chat's first message with a real "
                        "nick replaces it, as `Visitor` is replaced")
    message_id_scope: Literal["spec", "chat"] = Field(
        "spec", description="'chat': the provider's message ids are unique only inside a chat (Telegram)")
    author_name: LocationText = Field("", description="who wrote the message (a group member): its `author.name`")
    author_id: LocationText = Field("", description="the writer's id: the message's `author.id`")
    chat_name: LocationText = Field("", description="the chat's own name (a group's title): the chat's nick")
    group: ConditionText | None = Field(None, description="what makes a message a group message: its chat is a "
                                                          "group (chat_type), and its phone is not filled")
    operator: ConditionText | None = Field(
        None, description="what makes a message one the business sent itself (from its phone or app; LHC's "
                          "msg_cond_op): stored as an operator message (user_id -2) that fires no reply webhook "
                          "and never starts a chat")
    operator_chat_id: LocationText = Field("", description="the chat id of operator messages (the recipient); "
                                                           "empty: chat_id")
    name_support: str = Field("", max_length=100, description="the name operator messages show; empty: the spec's "
                                                              "name")
    message_type: LocationText = Field("", description="the message's type, named in the placeholder of a message "
                                                       "no kind matches")
    unsupported: Literal["store", "skip"] = Field(
        "store", description="a message no kind matches: 'store' keeps it as [unsupported: <type>], 'skip' skips it")
    receipts: list[ReceiptKind] = Field(default_factory=list, description="delivery receipts of replies")
    edits: EditKind | None = None
    reactions: ReactionKind | None = None

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

    @field_validator("receipts", mode="before")
    @classmethod
    def _single_receipt_kind_is_a_list(cls, value: Any) -> Any:
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
                                  for name, location in self.chat_attributes.items()),
            receipts=tuple(_compile_receipt(kind) for kind in self.receipts),
            edit=self._compile_edit(), reaction=self._compile_reaction(),
            operator=compile_condition(self.operator) if self.operator is not None else None,
            operator_chat_id=compile_location(self.operator_chat_id), name_support=self.name_support or self.name,
            author_name=compile_location(self.author_name), author_id=compile_location(self.author_id),
            chat_name=compile_location(self.chat_name),
            group=compile_condition(self.group) if self.group is not None else None,
            nick_fallback=compile_location(self.nick_fallback), message_type=compile_location(self.message_type),
            store_unsupported=self.unsupported == "store", chat_scoped_ids=self.message_id_scope == "chat")
        return self

    @model_validator(mode="after")
    def _ids_to_match_on(self) -> IncomingWebhookSpec:
        """Edits and reactions find their message by its provider id: without one they could never match."""
        if self.edits is not None and not (self.edits.message_id or self.message_id):
            raise ValueError("edits: give edits.message_id or the spec's message_id (the edited message's id)")
        if self.message_id_scope == "chat":
            for index, kind in enumerate(self.receipts):
                if kind.message_id and not kind.chat_id:
                    raise ValueError(f"receipts.{index}: with message_id_scope 'chat' a receipt needs chat_id")
        if self.operator is not None and not self.operator.strip():
            raise ValueError("operator: give the conditions of a message the business sent (an empty one would "
                             "make every message an operator message)")
        return self

    def _compile_edit(self) -> CompiledEdit | None:
        if self.edits is None:
            return None
        try:
            body = compile_template(self.edits.body, self.attributes)
        except SpecSyntaxError as exc:
            raise ValueError(f"edits.body: {exc}") from None
        return CompiledEdit(compile_condition(self.edits.conditions),
                            compile_location(self.edits.message_id or self.message_id), body)

    def _compile_reaction(self) -> CompiledReaction | None:
        if self.reactions is None:
            return None
        return CompiledReaction(compile_condition(self.reactions.conditions),
                                cast(Location, compile_location(self.reactions.message_id)),
                                cast(Location, compile_location(self.reactions.reaction)))

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
        private = self.__pydantic_private__  # read directly: ``self._compiled`` goes through pydantic's __getattr__
        compiled = private.get("_compiled") if private is not None else None
        if compiled is None:
            compiled = self._compiled = type(self).model_validate(
                self.model_dump(mode="python", warnings=False))._compiled
        return compiled


def _compile_receipt(kind: ReceiptKind) -> CompiledReceipt:
    return CompiledReceipt(
        items=compile_location(kind.items), conditions=compile_condition(kind.conditions),
        message_id=compile_location(kind.message_id), status=compile_location(kind.status),
        status_map=dict(kind.status_map), state=kind.state, reason=compile_location(kind.reason),
        chat_id=compile_location(kind.chat_id), watermark=compile_location(kind.watermark))
