"""Lambda event filtering (FilterCriteria), the EventBridge pattern subset Lambda accepts.

On AWS, records that match none of an event source's filters never reach the function. The local stack
applies the template's patterns the same way, so a filter that is wrong in template.yaml is wrong locally
too instead of silently passing everything.

Supported: exact values (strings, numbers, booleans, null), ``prefix``, ``suffix``, ``equals-ignore-case``,
``anything-but`` (value, list, or prefix/suffix), ``numeric`` ranges, ``exists`` and ``$or``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from chatbridge.errors import ChatbridgeError

_MISSING = object()

_NUMERIC_OPERATORS = {
    "=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


class FilterPatternError(ChatbridgeError, ValueError):
    """A FilterCriteria pattern uses syntax Lambda would reject."""


def matches_any(patterns: Sequence[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Lambda keeps a record when any one filter matches; no filters keeps everything."""
    return not patterns or any(matches(pattern, record) for pattern in patterns)


def matches(pattern: dict[str, Any], event: Any) -> bool:
    if not isinstance(pattern, dict):
        raise FilterPatternError(f"a filter pattern must be an object, got {pattern!r}")
    for key, expected in pattern.items():
        if key == "$or":
            if not isinstance(expected, list) or not any(matches(sub, event) for sub in expected):
                return False
            continue
        actual = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(expected, dict):
            if actual is _MISSING or not _nested_matches(expected, actual):
                return False
        elif isinstance(expected, list):
            if not _leaf_matches(expected, actual):
                return False
        else:
            raise FilterPatternError(f"the value for {key!r} must be a list of matchers or an object")
    return True


def _nested_matches(pattern: dict[str, Any], actual: Any) -> bool:
    if isinstance(actual, list):
        return any(matches(pattern, item) for item in actual)
    return matches(pattern, actual)


def _leaf_matches(matchers: list[Any], actual: Any) -> bool:
    if actual is _MISSING:
        return any(isinstance(m, dict) and m.get("exists") is False for m in matchers)
    values: Iterable[Any] = actual if isinstance(actual, list) else [actual]
    return any(_matcher_matches(m, value) for m in matchers for value in values)


def _matcher_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    if len(matcher) != 1:
        raise FilterPatternError(f"a matcher object takes exactly one operator: {matcher!r}")
    (operator, argument), = matcher.items()
    if operator == "exists":
        return argument is True and not isinstance(value, (dict, list))
    if operator == "prefix":
        return _string_op(argument, value, str.startswith)
    if operator == "suffix":
        return _string_op(argument, value, str.endswith)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(argument).casefold()
    if operator == "anything-but":
        return _anything_but(argument, value)
    if operator == "numeric":
        return _numeric(argument, value)
    raise FilterPatternError(f"unsupported filter operator {operator!r}")


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return expected is value
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _string_op(argument: Any, value: Any, op: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, dict) and "equals-ignore-case" in argument:
        return op(value.casefold(), str(argument["equals-ignore-case"]).casefold())
    return op(value, str(argument))


def _anything_but(argument: Any, value: Any) -> bool:
    if isinstance(argument, dict):
        return not _matcher_matches(argument, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_equal(item, value) for item in excluded)


def _numeric(argument: Any, value: Any) -> bool:
    if not isinstance(argument, list) or len(argument) % 2:
        raise FilterPatternError(f"numeric takes operator/number pairs: {argument!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    for operator, bound in zip(argument[::2], argument[1::2], strict=False):
        compare = _NUMERIC_OPERATORS.get(operator)
        if compare is None:
            raise FilterPatternError(f"unknown numeric operator {operator!r}")
        if not compare(float(value), float(bound)):
            return False
    return True


def sqs_filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """SQS records are filtered with a JSON body parsed, as Lambda does; other bodies stay strings."""
    view = dict(record)
    try:
        view["body"] = json.loads(record.get("body", ""))
    except (TypeError, ValueError):
        pass
    return view
