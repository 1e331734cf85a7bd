"""A spec's compiled form: its locations, conditions and templates parsed, ready for ``mapping.map_payload``.

Pure and free of pydantic. ``compile_spec`` reads the spec's fields by attribute, so the one compiler serves
both ``IncomingWebhookSpec`` (it compiles while the admin validates a spec) and the ingest path's
``spec.stored.StoredSpec`` (a stored spec read without building the validation models: docs/benchmarks.md,
cold start). A malformed clause raises ``ValueError`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.conditions import Condition, FirstHolding, compile_condition
from chatbridge.lang.locations import Location, compile_location
from chatbridge.lang.templates import Template, compile_template
from chatbridge.media.compiled import CompiledFetch, compile_fetch, split_body

KindName = Literal["text", "image", "attachment"]


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


def compile_spec(spec: Any) -> CompiledSpec:
    """Compile every location, condition and template of a spec (an ``IncomingWebhookSpec`` or a ``StoredSpec``)."""
    chat_id = compile_location(spec.chat_id)
    if chat_id is None:
        raise ValueError("give the location of the chat id inside a message, e.g. 'from'")
    if not (spec.text or spec.image or spec.attachment):
        raise ValueError("define at least one message kind: text, image or attachment")
    kinds = [_compile_kind(spec, name, kind, definition) for name, kind, definition in _kind_definitions(spec)]
    return CompiledSpec(
        messages=compile_location(spec.messages), chat_id=chat_id, nick=compile_location(spec.nick),
        nick_join=spec.nick_combine == "join",
        phone=compile_location(spec.phone), email=compile_location(spec.email),
        time=compile_location(spec.time), message_id=compile_location(spec.message_id),
        conditions=compile_condition(spec.conditions), kinds=tuple(kinds),
        chat_attributes=tuple((name, cast(Location, compile_location(location)))
                              for name, location in spec.chat_attributes.items()),
        receipts=tuple(_compile_receipt(kind) for kind in spec.receipts),
        edit=_compile_edit(spec), reaction=_compile_reaction(spec),
        operator=compile_condition(spec.operator) if spec.operator is not None else None,
        operator_chat_id=compile_location(spec.operator_chat_id), name_support=spec.name_support or spec.name,
        author_name=compile_location(spec.author_name), author_id=compile_location(spec.author_id),
        chat_name=compile_location(spec.chat_name),
        group=compile_condition(spec.group) if spec.group is not None else None,
        nick_fallback=compile_location(spec.nick_fallback), message_type=compile_location(spec.message_type),
        store_unsupported=spec.unsupported == "store", chat_scoped_ids=spec.message_id_scope == "chat")


def _compile_edit(spec: Any) -> CompiledEdit | None:
    if spec.edits is None:
        return None
    try:
        body = compile_template(spec.edits.body, spec.attributes)
    except SpecSyntaxError as exc:
        raise ValueError(f"edits.body: {exc}") from None
    return CompiledEdit(compile_condition(spec.edits.conditions),
                        compile_location(spec.edits.message_id or spec.message_id), body)


def _compile_reaction(spec: Any) -> CompiledReaction | None:
    if spec.reactions is None:
        return None
    return CompiledReaction(compile_condition(spec.reactions.conditions),
                            cast(Location, compile_location(spec.reactions.message_id)),
                            cast(Location, compile_location(spec.reactions.reaction)))


def _compile_kind(spec: Any, name: str, kind: KindName, definition: Any) -> CompiledKind:
    fetch = getattr(definition, "fetch", None)  # only image and attachment kinds have one
    before, after = split_body(definition.body) if fetch is not None else (definition.body, None)
    try:
        body = compile_template(before, spec.attributes)
        body_after = compile_template(after, spec.attributes) if after is not None else None
    except SpecSyntaxError as exc:
        raise ValueError(f"{name}.body: {exc}") from None
    try:
        compiled_fetch = compile_fetch(fetch, spec.attributes) if fetch is not None else None
    except SpecSyntaxError as exc:
        raise ValueError(f"{name}.fetch: {exc}") from None
    return CompiledKind(name, kind, compile_condition(definition.conditions), body, compiled_fetch, body_after)


def _kind_definitions(spec: Any) -> list[tuple[str, KindName, Any]]:
    kinds: list[tuple[str, KindName, Any]] = []
    if spec.attachment is not None:
        kinds.append(("attachment", "attachment", spec.attachment))
    if spec.image is not None:
        kinds.append(("image", "image", spec.image))
    kinds.extend((f"text[{i}]", "text", definition) for i, definition in enumerate(spec.text))
    return kinds


def _compile_receipt(kind: Any) -> CompiledReceipt:
    return CompiledReceipt(
        items=compile_location(kind.items), conditions=compile_condition(kind.conditions),
        message_id=compile_location(kind.message_id), status=compile_location(kind.status),
        status_map=dict(kind.status_map), state=kind.state, reason=compile_location(kind.reason),
        chat_id=compile_location(kind.chat_id), watermark=compile_location(kind.watermark))
