"""Stored domain objects: what ``args.chat`` and ``args.msg`` expose to outgoing webhooks.

The shapes are fixed by docs/design.md ("Storage"); the reply path reads the same attributes, so a field
is added here and there together. Bookkeeping attributes of the chat table (``pk``, ``sk``, ``type``,
``last_message_id``) are storage details and stay out of these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ChatStatus = Literal["pending", "active", "closed"]
MessageKind = Literal["text", "image", "attachment"]
VISITOR = 0
SYSTEM = -1


class IncomingRef(BaseModel):
    """The incoming webhook (spec) a chat came through, as LHC's ``incoming_chat.incoming``."""

    id: int
    identifier: str
    name: str
    scope: str = ""


class IncomingChat(BaseModel):
    chat_external_id: str
    incoming: IncomingRef


class Chat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    status: ChatStatus = "pending"
    nick: str
    phone: str | None = None
    email: str | None = None
    user_id: int = Field(0, description="assigned operator, 0 = none")
    iwh_id: int = Field(description="spec id; LHC reads {args.chat.iwh_id}")
    chat_variables: dict[str, Any] = Field(default_factory=dict, description="{'iwh_id': spec id}")
    incoming_chat: IncomingChat
    created_at: int
    updated_at: int
    raw: Any = Field(None, description="the payload that created the chat (or its first message if too big)")


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int = Field(description="unique per chat, increasing")
    chat_id: int
    user_id: int = Field(VISITOR, description="0 visitor, > 0 operator, -1 system")
    kind: MessageKind | str = "text"
    msg: str
    time: int
    message_id: str | None = Field(None, description="the provider's id (or a derived one), for dedup")
    delivery: Literal["queued", "sent", "failed"] | None = None
