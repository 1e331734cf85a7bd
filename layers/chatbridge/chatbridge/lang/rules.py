"""LHC's rule clauses ``{args.chat.iwh_id} = 1``: the condition language of outgoing webhooks.

Both the symbolic operators (``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=``, ``contains``, ``in``) and Live Helper
Chat's operator words (``eq``, ``neq``, ``lt``, ``lte``, ``gt``, ``gte``, ``like``, ``notlike``, ``empty``,
``notempty``, ``contains``) are accepted so rules exported from LHC keep working. A missing ``{args.x}`` is
*absent*: it equals nothing, so ``=``/``like``/``contains``/``in``/``>``... fail and ``!=``/``notlike``/``empty``
hold. Paths walk ``args`` with the location language's steps (``lang.core``).
"""

from __future__ import annotations

import fnmatch
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from chatbridge.errors import ChatbridgeError
from chatbridge.lang.core import MISSING, is_empty, json_text, resolve


class RuleSyntaxError(ChatbridgeError, ValueError):
    """An outgoing webhook condition cannot be understood (a ``ValueError`` so pydantic names the field)."""


_WORDS = ("notempty", "notlike", "contains", "empty", "like", "neq", "lte", "gte", "eq", "lt", "gt", "in")
_CLAUSE = re.compile(r"^\{\s*(?P<path>[^{}]+?)\s*\}\s*(?P<op>!=|>=|<=|=|>|<|(?:" + "|".join(_WORDS) +
                     r")(?=\s|$))\s*(?P<value>.*)$", re.DOTALL)
_SYNONYMS = {"=": "eq", "!=": "neq", ">": "gt", "<": "lt", ">=": "gte", "<=": "lte"}


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

