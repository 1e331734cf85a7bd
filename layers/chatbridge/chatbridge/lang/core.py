"""What every small language shares: the absent value, emptiness, the text of a value, and path steps.

One ``MISSING`` (an absent value, distinct from JSON null) flows from locations into conditions, templates,
rule clauses and REST API rendering, so "absent" means the same everywhere: it renders as empty text,
fails ``=`` and holds for ``!=``. One path walker serves locations (``sender.name``, ``entry.0``) and rule
clauses (``{args.chat.incoming_chat.incoming.scope}``), so both index lists by the same rule.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from math import isfinite
from typing import Any

Step = tuple[str, int | None]  # (the key, the list index it also names or None)


class _Missing:
    """Marks an absent value (distinct from JSON null)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def is_empty(value: Any) -> bool:
    """Empty for ``|||`` alternatives and ``empty`` clauses: absent, null, false, '' , [] or {}."""
    return value is MISSING or value is None or value is False or (
        isinstance(value, (str, list, dict)) and not value)


def value_text(value: Any) -> str:
    """Live Helper Chat's text of a value: absent/null/false -> '', true -> '1', numbers as JSON text
    (big integers exact), objects and lists as compact JSON, strings unchanged."""
    if value is None or value is MISSING or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return compact_json(value)


def json_text(value: Any) -> str:
    """What a value compares as: strings unchanged, everything else its compact JSON text."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return compact_json(value)


def matches_text(value: Any, texts: frozenset[str], numbers: frozenset[Decimal] = frozenset()) -> bool:
    """Whether a present value equals one of a condition's plain-text values: by its JSON text, and a JSON
    number also by value against ``numbers`` (those texts that are numbers, parsed once by ``numbers_of``):
    ``ack=1`` holds for ``1.0``, as in Live Helper Chat, whose PHP ``==`` compares numbers as numbers."""
    if json_text(value) in texts:
        return True
    if numbers and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            return (Decimal(repr(value)) if isinstance(value, float) else value) in numbers
        except (ArithmeticError, TypeError):  # a NaN has no exact decimal to look up
            return False
    return False


def numbers_of(texts: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[Decimal]:
    """The texts that are finite numbers (``1``, ``1.0``, ``-2e3``), as exact decimals."""
    numbers = set()
    for text in texts:
        if not text or len(text) > 40 or text[0] not in "+-.0123456789" or not text.isascii():
            continue
        try:
            number = Decimal(text)
        except ArithmeticError:
            continue
        if number.is_finite():
            numbers.add(number)
    return frozenset(numbers)


def compact_json(value: Any) -> str:
    """Compact JSON text; DynamoDB's Decimals (a stored payload read back) render as the numbers they are.

    A finite float is written as the JSON encoder writes it (``float.__repr__``) without going through the
    encoder, which costs ~1.5 µs a call: coordinates are floats, and location bodies render two of them."""
    if type(value) is float and isfinite(value):
        return repr(value)
    if isinstance(value, Decimal):
        return _number_of_decimal(value)
    return _COMPACT.encode(value)


def _number_of_decimal(value: Decimal) -> str:
    return str(int(value)) if value.is_finite() and value == value.to_integral_value() else str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value.is_finite() and value == value.to_integral_value() else float(value)
    return str(value)


# what json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=_json_default) builds
# on every call, made once (the encoder keeps no state between calls)
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=_json_default)


def as_index(step: str, *, from_end: bool = True) -> int | None:
    """A path step as a list index: ASCII digits, fewer than 10, optionally after '-' (counting from the end)
    where ``from_end`` allows it.

    ``'²'.isdigit()`` is True and ``int('1_0')`` is 10: neither is an index, and Python refuses integers of
    more than 4,300 digits, so no path a spec or a rule holds can crash the walk."""
    digits = step[1:] if from_end and step.startswith("-") else step
    if digits.isascii() and digits.isdigit() and len(digits) < 10:
        return int(step)
    return None


def steps_of(parts: list[str] | tuple[str, ...], *, from_end: bool = True) -> tuple[Step, ...]:
    """Compiled steps. Locations count from the end (``photo.-1``, the largest Telegram size); rule clauses
    do not, as in Live Helper Chat, whose ``{args.x}`` paths only name keys and list positions."""
    return tuple((part, as_index(part, from_end=from_end)) for part in parts)


def walk(value: Any, steps: tuple[Step, ...]) -> Any:
    """Follow the steps through objects (by key) and lists (by index); MISSING where a step finds nothing."""
    for key, index in steps:
        if isinstance(value, dict):
            value = value.get(key, MISSING)
            if value is MISSING:
                return MISSING
        elif isinstance(value, list) and index is not None and -len(value) <= index < len(value):
            value = value[index]
        else:
            return MISSING
    return value


@lru_cache(maxsize=4096)
def _dotted(path: str) -> tuple[Step, ...]:
    return steps_of(path.split("."), from_end=False)


def resolve(value: Any, path: str) -> Any:
    """Walk a rule's dotted path (``chat.incoming_chat.incoming.scope``, list positions from 0) or MISSING."""
    return walk(value, _dotted(path))
