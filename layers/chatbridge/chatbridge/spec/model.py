"""``IncomingWebhookSpec``: how one third party's webhook becomes chats and messages.

Every location, condition and template is compiled while the model validates (``spec.compiled``), so a
malformed one is refused when the spec is saved (the error names the field and the clause) and mapping a
payload never parses anything. The ingest path reads stored specs as ``spec.stored.StoredSpec`` instead,
without building these models; a field added here is added to its field table too (a unit test compares them). The model is frozen: compiled forms cannot go stale. To add a field, declare it here;
unknown keys are refused so typos (``nik``) do not pass silently.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from chatbridge.lang.fields import ConditionText, LocationText, TemplateText
from chatbridge.lang.locations import compile_location
from chatbridge.lang.templates import check_template_syntax
from chatbridge.media.model import MediaFetch, split_body
from chatbridge.spec import limits
from chatbridge.spec.compiled import (  # noqa: F401 (re-exported: the compiled forms lived here)
    CompiledEdit,
    CompiledKind,
    CompiledReaction,
    CompiledReceipt,
    CompiledSpec,
    compile_spec,
)
from chatbridge.spec.verification import Verification

IDENTIFIER_PATTERN = limits.IDENTIFIER_PATTERN
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
        self._compiled = compile_spec(self)
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

