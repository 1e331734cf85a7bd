"""Outgoing webhooks: which chat events fire which REST API, under which conditions.

A rule is ``{event, conditions, rest_api_id, enabled}``. Conditions are clauses over ``args`` written as
``{args.chat.chat_variables_array.iwh_id} = 1``. Both the symbolic operators (``=``, ``!=``, ``>``,
``<``, ``>=``, ``<=``, ``contains``, ``in``) and Live Helper Chat's operator words (``eq``, ``neq``,
``lt``, ``lte``, ``gt``, ``gte``, ``like``, ``notlike``, ``empty``, ``notempty``, ``contains``) are
accepted so rules exported from LHC keep working. A missing ``{args.x}`` is *absent*: it equals nothing,
so ``=``/``like``/``contains``/``in``/``>``... fail and ``!=``/``notlike``/``empty`` hold.

Events are derived from DynamoDB stream records (pure, no AWS call): ``chat.web_add_msg_admin``
(operator message inserted), ``chat.addmsguser`` (visitor message inserted), ``chat.close`` (a chat's
status became ``closed``), ``chat.started`` (chat inserted).
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chatbridge.lang.conditions import json_text
from chatbridge.repository.values import plain
from chatbridge.errors import ChatbridgeError
from chatbridge.lang.locations import MISSING, is_empty

EventName = Literal["chat.web_add_msg_admin", "chat.addmsguser", "chat.close", "chat.started"]
EVENTS: tuple[str, ...] = ("chat.web_add_msg_admin", "chat.addmsguser", "chat.close", "chat.started")


class RuleSyntaxError(ChatbridgeError, ValueError):
    """An outgoing webhook condition cannot be understood (a ``ValueError`` so pydantic names the field)."""


_WORDS = ("notempty", "notlike", "contains", "empty", "like", "neq", "lte", "gte", "eq", "lt", "gt", "in")
_CLAUSE = re.compile(r"^\{\s*(?P<path>[^{}]+?)\s*\}\s*(?P<op>!=|>=|<=|=|>|<|(?:" + "|".join(_WORDS) +
                     r")(?=\s|$))\s*(?P<value>.*)$", re.DOTALL)
_SYNONYMS = {"=": "eq", "!=": "neq", ">": "gt", "<": "lt", ">=": "gte", "<=": "lte"}


def _is_index(step: str) -> bool:
    """A list index as a path step: ASCII digits of sane length (``'²'.isdigit()`` is True, and Python
    refuses to parse integers of more than 4,300 digits), so no path can crash a rule's evaluation."""
    return step.isascii() and step.isdigit() and len(step) < 10


def resolve(args: Any, path: str) -> Any:
    """Walk a dotted path (``chat.incoming_chat.incoming.scope``, list indexes as numbers) or MISSING."""
    value = args
    for step in path.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and _is_index(step) and int(step) < len(value):
            value = value[int(step)]
        else:
            return MISSING
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float, Decimal)):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
    except (ValueError, OverflowError):
        return None
    return None


def _equal(value: Any, expected: str) -> bool:
    if value is MISSING:
        return False
    left, right = _number(value), _number(expected)
    if left is not None and right is not None:
        return left == right
    return json_text(value) == expected


def _like(value: Any, pattern: str) -> bool:
    """LHC's ``like``: case-insensitive; ``*``/``%`` are wildcards, without them a substring test."""
    if value is MISSING:
        return False
    text = json_text(value).lower()
    pattern = pattern.lower()
    if "*" in pattern or "%" in pattern:
        return fnmatch.fnmatchcase(text, pattern.replace("%", "*"))
    return pattern in text


def _contains(value: Any, needle: str) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, list):
        return any(_equal(item, needle) for item in value)
    return needle in json_text(value)


def _order(value: Any, expected: str, test: Any) -> bool:
    left, right = _number(value), _number(expected)
    if value is MISSING or left is None or right is None:
        return False
    return bool(test(left, right))


_TESTS: dict[str, Any] = {
    "eq": _equal,
    "neq": lambda value, expected: not _equal(value, expected),
    "gt": lambda value, expected: _order(value, expected, float.__gt__),
    "lt": lambda value, expected: _order(value, expected, float.__lt__),
    "gte": lambda value, expected: _order(value, expected, float.__ge__),
    "lte": lambda value, expected: _order(value, expected, float.__le__),
    "contains": _contains,
    "in": lambda value, expected: any(_equal(value, item.strip()) for item in expected.split(",")),
    "like": _like,
    "notlike": lambda value, expected: not _like(value, expected),
    "empty": lambda value, expected: is_empty(value),
    "notempty": lambda value, expected: not is_empty(value),
}


class RuleClause:
    """One compiled clause; ``holds`` never raises on any ``args``."""

    __slots__ = ("source", "path", "operator", "value")

    def __init__(self, source: str, position: int) -> None:
        self.source = source
        match = _CLAUSE.match(source.strip())
        if match is None:
            raise RuleSyntaxError(
                f"condition {position} {source!r} is not '{{args.<path>}} <operator> <value>' "
                f"(operators: =, !=, >, <, >=, <=, {', '.join(sorted(set(_WORDS)))})")
        path = match.group("path")
        if not path.startswith("args.") or len(path) <= len("args."):
            raise RuleSyntaxError(f"condition {position} {source!r}: the attribute must start with 'args.' "
                                  "(for example {args.chat.incoming_chat.incoming.scope})")
        if any(not step for step in path.split(".")):
            raise RuleSyntaxError(f"condition {position} {source!r}: empty step in {path!r}")
        if path == "args.chat.raw" or path.startswith("args.chat.raw."):
            raise RuleSyntaxError(f"condition {position} {source!r}: args.chat has no raw payload; keep the value "
                                  "with the incoming webhook's chat_attributes and test "
                                  "{args.chat.incoming_chat.attributes.<name>}")
        self.path = path[len("args."):]
        self.operator = _SYNONYMS.get(match.group("op"), match.group("op"))
        self.value = match.group("value").strip()
        if self.operator in ("empty", "notempty") and self.value:
            raise RuleSyntaxError(f"condition {position} {source!r}: '{self.operator}' takes no value")
        if self.operator in ("gt", "lt", "gte", "lte") and _number(self.value) is None:
            raise RuleSyntaxError(f"condition {position} {source!r}: '{match.group('op')}' compares numbers, "
                                  f"{self.value!r} is not one")

    def holds(self, args: Any) -> bool:
        return bool(_TESTS[self.operator](resolve(args, self.path), self.value))

    def __repr__(self) -> str:
        return f"RuleClause({self.source!r})"


@lru_cache(maxsize=1024)
def _compiled(conditions: tuple[str, ...]) -> tuple[RuleClause, ...]:
    return tuple(RuleClause(source, position) for position, source in enumerate(conditions, 1))


def compile_rule_conditions(conditions: list[str] | tuple[str, ...]) -> tuple[RuleClause, ...]:
    """Parse clauses once; raises ``RuleSyntaxError`` naming the clause (1-based) and the reason."""
    return _compiled(tuple(conditions))


class OutgoingWebhook(BaseModel):
    """A stored rule. Conditions are validated when it is saved, so a broken one never reaches the stream."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    event: EventName
    conditions: list[str] = Field(default_factory=list)
    rest_api_id: str = Field(min_length=1, max_length=128)
    enabled: bool = True

    @field_validator("conditions", mode="before")
    @classmethod
    def _one_per_line(cls, value: Any) -> Any:
        """LHC stores conditions as text, one per line; accept that as well as a list."""
        if isinstance(value, str):
            return [line for line in value.splitlines() if line.strip()]
        return value

    @field_validator("conditions")
    @classmethod
    def _compile(cls, value: list[str]) -> list[str]:
        compile_rule_conditions(value)
        return value

    def matches(self, event: str, args: dict[str, Any]) -> bool:
        return self.enabled and self.event == event and \
            all(clause.holds(args) for clause in compile_rule_conditions(self.conditions))


# -- stream records -> events ----------------------------------------------------------------------

_DESERIALIZER = TypeDeserializer()


def image(record: dict[str, Any], which: str) -> dict[str, Any] | None:
    """``NewImage``/``OldImage`` of a stream record as plain Python (TypeDeserializer, no AWS call)."""
    raw = (record.get("dynamodb") or {}).get(which)
    if not raw:
        return None
    return plain({key: _DESERIALIZER.deserialize(value) for key, value in raw.items()})


class ChatEvent(BaseModel):
    """What a stream record means for outgoing webhooks."""

    name: EventName
    chat_id: int
    chat: dict[str, Any] | None = None      # the chat image when the record is a chat
    message: dict[str, Any] | None = None   # the message image when the record is a message


def event_of(record: dict[str, Any]) -> ChatEvent | None:
    """The event a stream record stands for, or ``None`` when it fires nothing.

    Raises ``ValueError`` for a record that claims to be a chat or message but lacks its ids: such a
    record is reported as a batch item failure instead of being silently dropped.
    """
    kind = record.get("eventName")
    new, old = image(record, "NewImage"), image(record, "OldImage")
    if new is None:
        return None
    item_type = new.get("type")
    if item_type == "message" and kind == "INSERT":
        chat_id, user_id = new.get("chat_id"), new.get("user_id")
        if not isinstance(chat_id, int) or not isinstance(user_id, int) or "id" not in new:
            raise ValueError(f"message record without integer chat_id/user_id/id: {sorted(new)}")
        if user_id > 0:
            name = "chat.web_add_msg_admin"
        elif user_id == 0:
            name = "chat.addmsguser"
        else:
            return None  # system messages (user_id -1) fire nothing, as in LHC
        return ChatEvent(name=name, chat_id=chat_id, message=new)
    if item_type == "chat":
        chat_id = new.get("id")
        if not isinstance(chat_id, int):
            raise ValueError(f"chat record without an integer id: {sorted(new)}")
        if kind == "INSERT":
            return ChatEvent(name="chat.started", chat_id=chat_id, chat=new)
        if kind == "MODIFY" and new.get("status") == "closed" and (old or {}).get("status") != "closed":
            return ChatEvent(name="chat.close", chat_id=chat_id, chat=new)
    return None


_KEY_ATTRIBUTES = frozenset({"pk", "sk", "PK", "SK", "gsi1pk", "gsi1sk", "ttl", "expires_at"})
# The chat's raw payload stays out of args: jobs carry args through SQS (256 KB) and LHC's args.chat has none.
# What a reply needs from the payload is kept as incoming_chat.attributes (the spec's chat_attributes).
_NOT_IN_ARGS = _KEY_ATTRIBUTES | {"raw"}


def build_args(chat: dict[str, Any], message: dict[str, Any] | None) -> dict[str, Any]:
    """``args`` as LHC exposes it: ``chat`` (with ``iwh_id`` and ``chat_variables_array``) and ``msg``."""
    chat = {key: value for key, value in plain(chat).items() if key not in _NOT_IN_ARGS}
    variables = chat.get("chat_variables") if isinstance(chat.get("chat_variables"), dict) else {}
    if "iwh_id" not in chat and "iwh_id" in variables:
        chat["iwh_id"] = variables["iwh_id"]
    variables = dict(variables)
    if "iwh_id" in chat:
        variables.setdefault("iwh_id", chat["iwh_id"])
    chat["chat_variables"] = variables
    chat["chat_variables_array"] = variables
    args: dict[str, Any] = {"chat": chat}
    if message is not None:
        args["msg"] = {key: value for key, value in plain(message).items() if key not in _KEY_ATTRIBUTES}
    return args


def matching_rules(rules: list[OutgoingWebhook], event: str, args: dict[str, Any]) -> list[OutgoingWebhook]:
    return [rule for rule in rules if rule.matches(event, args)]
