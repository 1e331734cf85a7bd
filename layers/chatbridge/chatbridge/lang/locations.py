"""The location language: where a value sits in a payload.

``sender.name``, ``entry.0.changes.0.value`` (numeric parts index lists; negative ones count from the end),
Live Helper Chat's path helpers (``contacts.[type=phone].value``: the list item whose ``type`` is ``phone``;
``photo___array_pop.file_id``: the last item of ``photo``; ``data___json_text.id``: ``data`` holds JSON text,
read it as JSON), then optional ``||SEP||N`` steps that split the value's text by SEP and take element N (0-based, or
``last``); an index out of range keeps the value unchanged, as Live Helper Chat does. ``a|||b`` lists
alternatives. ``$root.path`` starts at the payload root instead of the message (WhatsApp Cloud keeps the
sender's name beside the messages, not in them). A ``$``-prefixed expression is JSONPath (jsonpath-ng,
extended syntax), compiled once. A missing path yields ``MISSING``, never an exception.

Everything is parsed when the spec is validated; resolving is a plain loop over precompiled parts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.core import MISSING, as_index, is_empty, matches_text, numbers_of, steps_of, value_text, walk

ROOT_PREFIX = "$root"
EXISTS_KEYWORDS = ("__EXIST__", "__exists__")  # LHC's list filter writes __EXIST__; conditions write __exists__
_HELPERS = ("array_pop", "json_text")


class _Select:
    """``[key=value]``: the item of a list (or an object's values) whose ``key`` equals ``value`` (compared as
    conditions compare), or that has ``key`` at all for ``[key=__EXIST__]``. Several match: the last one, as
    Live Helper Chat's loop keeps the last."""

    __slots__ = ("key", "value", "texts", "numbers")

    def __init__(self, key: str, value: str | None) -> None:
        self.key, self.value = key, value
        self.texts = frozenset(() if value is None else (value,))
        self.numbers = numbers_of(self.texts)

    def step(self, value: Any) -> Any:
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else ()
        found = MISSING
        for item in items:
            if not isinstance(item, dict) or item.get(self.key) is None:
                continue
            if self.value is None or matches_text(item[self.key], self.texts, self.numbers):
                found = item
        return found


class _Helper:
    """``key___array_pop`` (the last item of a list, or an object's last value) and ``key___json_text`` (a
    string holding JSON, read as JSON: null when it is not JSON, as PHP's json_decode)."""

    __slots__ = ("key", "helper")

    def __init__(self, key: str, helper: str) -> None:
        self.key, self.helper = key, helper

    def step(self, value: Any) -> Any:
        value = value.get(self.key, MISSING) if isinstance(value, dict) else MISSING
        if self.helper == "array_pop":
            if isinstance(value, dict):
                value = list(value.values())
            return (value[-1] if value else None) if isinstance(value, list) else MISSING
        if not isinstance(value, str):
            return MISSING
        try:
            return json.loads(value)
        except ValueError:
            return None


def _step_of(source: str, segment: str, at: int) -> Any:
    """One dotted part, with its 1-based character position for errors."""
    where = f"location {source!r}, character {at}"
    if segment.startswith("[") or "[" in segment or "]" in segment:
        if not (segment.startswith("[") and segment.endswith("]")) or segment.count("[") != 1 or segment.count("]") != 1:
            raise SpecSyntaxError(f"{where}: {segment!r} is not a list filter: write [key=value] as a whole path part "
                                  "(e.g. contacts.[type=phone].value)")
        key, equals, expected = segment[1:-1].partition("=")
        if not equals or not key.strip():
            raise SpecSyntaxError(f"{where}: list filter {segment!r} needs key=value (e.g. [type=phone], or "
                                  "[id=__EXIST__] for the item that has the key)")
        expected = expected.strip()
        return _Select(key.strip(), None if expected in EXISTS_KEYWORDS else expected)
    key, separator, helper = segment.partition("___")
    if separator and helper in _HELPERS:
        if not key:
            raise SpecSyntaxError(f"{where}: {segment!r} names no key before '___{helper}'")
        return _Helper(key, helper)
    return (segment, as_index(segment))


Resolver = Callable[..., Any]  # (message, root=None) -> the value or MISSING


def _plain_resolver(steps: tuple[tuple[str, int | None], ...], from_root: bool) -> Resolver:
    """``lang.core.walk`` over ``steps`` as one closure, specialised for the commonest shapes (a single key,
    keys only): a location is resolved for every message, so the loop is written out here once instead of
    going through three calls per step. Same rule as ``walk``: objects by key, lists by index, else MISSING."""
    keys = tuple(key for key, _ in steps)
    if all(index is None for _, index in steps):
        if len(keys) == 1:
            key = keys[0]
            if from_root:
                def root_key(message: Any, root: Any = None) -> Any:
                    return root.get(key, MISSING) if isinstance(root, dict) else MISSING
                return root_key

            def one_key(message: Any, root: Any = None) -> Any:
                return message.get(key, MISSING) if isinstance(message, dict) else MISSING
            return one_key

        def keys_only(message: Any, root: Any = None) -> Any:
            value = root if from_root else message
            for key in keys:  # a MISSING found is no dict: the next step (or the end) gives MISSING
                if not isinstance(value, dict):
                    return MISSING
                value = value.get(key, MISSING)
            return value
        return keys_only

    def keys_and_indexes(message: Any, root: Any = None) -> Any:
        value = root if from_root else message
        for key, index in steps:
            if isinstance(value, dict):
                value = value.get(key, MISSING)
            elif isinstance(value, list) and index is not None and -len(value) <= index < len(value):
                value = value[index]
            else:
                return MISSING
        return value
    return keys_and_indexes


class _DottedPath:
    __slots__ = ("parts", "from_root", "plain", "resolve")

    def __init__(self, source: str, text: str) -> None:
        self.from_root = text == ROOT_PREFIX or text.startswith(ROOT_PREFIX + ".")
        offset = source.find(text) + 1
        if self.from_root:
            text = text[len(ROOT_PREFIX) + 1:]
            offset += len(ROOT_PREFIX) + 1
        segments = text.split(".") if text else []
        if "|" in text:
            raise SpecSyntaxError(f"location {source!r} has a stray '|' (steps are ||SEP||N, alternatives |||)")
        if "^" in text:
            raise SpecSyntaxError(f"location {source!r}, character {offset + text.index('^')}: Live Helper Chat's "
                                  "'^' output modifiers (^implode==...) are not supported; read the list and format it "
                                  "in the body, or use a JSONPath ($.items[*].name)")
        if any(segment == "" for segment in segments) and text:
            raise SpecSyntaxError(f"location {source!r} has an empty path part (two dots, or a leading/trailing dot)")
        if "[" not in text and "]" not in text and "___" not in text:
            self.parts: tuple[Any, ...] = steps_of(segments)
        else:
            parts, at = [], offset
            for segment in segments:
                parts.append(_step_of(source, segment, at))
                at += len(segment) + 1
            self.parts = tuple(parts)
        self.plain = all(type(part) is tuple for part in self.parts)
        self.resolve: Resolver = _plain_resolver(self.parts, self.from_root) if self.plain else self._resolve_helpers

    def _resolve_helpers(self, message: Any, root: Any = None) -> Any:
        value = root if self.from_root else message
        for part in self.parts:
            value = walk(value, (part,)) if type(part) is tuple else part.step(value)
            if value is MISSING:
                return MISSING
        return value


class _JsonPath:
    __slots__ = ("expression",)

    def __init__(self, source: str, text: str) -> None:
        self.expression = _compile_jsonpath(source, text)

    def resolve(self, message: Any, root: Any = None) -> Any:
        try:
            matches = self.expression.find(message)
        except Exception:  # jsonpath-ng filters may raise on odd data: a location never raises
            return MISSING
        if not matches:
            return MISSING
        if len(matches) == 1:
            return matches[0].value
        return [match.value for match in matches]


@lru_cache(maxsize=1024)
def _compile_jsonpath_cached(text: str) -> Any:
    from jsonpath_ng.ext import parse  # imported on first use: keeps it off the ingest cold start

    return parse(text)


def _compile_jsonpath(source: str, text: str) -> Any:
    try:
        return _compile_jsonpath_cached(text)
    except Exception as exc:
        raise SpecSyntaxError(f"location {source!r}: JSONPath {text!r} does not parse ({exc})") from None


class _Alternative:
    __slots__ = ("path", "steps", "resolve")

    def __init__(self, source: str, text: str) -> None:
        pieces = text.split("||")
        path_text = pieces[0].strip()
        if not path_text:
            raise SpecSyntaxError(f"location {source!r} has an empty path")
        if len(pieces) % 2 == 0:
            raise SpecSyntaxError(
                f"location {source!r}: a split step needs a separator and an index (path||SEP||N)")
        self.path = _JsonPath(source, path_text) if path_text.startswith("$") and not (
            path_text == ROOT_PREFIX or path_text.startswith(ROOT_PREFIX + ".")) else _DottedPath(source, path_text)
        steps = []
        for separator, index in zip(pieces[1::2], pieces[2::2], strict=True):
            if separator == "":
                raise SpecSyntaxError(f"location {source!r}: a split step has an empty separator")
            index = index.strip()
            if index == "last":
                steps.append((separator, -1))
            elif index.isascii() and index.isdigit() and len(index) < 10:
                steps.append((separator, int(index)))
            else:
                raise SpecSyntaxError(
                    f"location {source!r}: split index {index!r} must be a number from 0 or 'last'")
        self.steps = tuple(steps)
        self.resolve: Resolver = self.path.resolve if not self.steps else self._resolve_split

    def _resolve_split(self, message: Any, root: Any = None) -> Any:
        return self.split(self.path.resolve(message, root))

    def split(self, value: Any) -> Any:
        """The ``||SEP||N`` steps applied to the path's value."""
        for separator, index in self.steps:
            if value is MISSING or value is None:
                return value
            parts = value_text(value).split(separator)
            if index < len(parts):
                value = parts[index]
        return value


class Location:
    """A compiled location; ``first``, ``text`` and ``joined`` never raise on any JSON value.

    ``first(message, root=None)``: the first alternative that is not empty, else the last alternative's value
    (may be MISSING). ``text(message, root=None)``: the text of that value, None when it is empty or its text
    is ''. Both are Python functions generated once from the location (``value_lines``), so resolving a path
    is one call with its steps written out, not a call per alternative and step."""

    __slots__ = ("source", "alternatives", "first", "text")

    def __init__(self, source: str) -> None:
        self.source = source
        self.alternatives = tuple(_Alternative(source, part) for part in source.split("|||"))
        if len(self.alternatives) > MAX_INLINED_ALTERNATIVES:
            self.first: Resolver = _first_of(tuple(alternative.resolve for alternative in self.alternatives))
            first = self.first

            def text(message: Any, root: Any = None) -> str | None:
                return _text_of(first(message, root))
            self.text: Callable[..., str | None] = text
            return
        self.first = deferred(self, "first", lambda: self._generated(["    return value"]))
        self.text = deferred(self, "text", lambda: self._generated(_TEXT_LINES))

    def _generated(self, ending: list[str]) -> Callable[..., Any]:
        names = Names()
        return compile_function(f"location {self.source!r}", names,
                                [*value_lines(names, self, "value", "    "), *ending])

    def joined(self, message: Any, root: Any = None) -> str:
        """Every non-empty alternative's text joined with a space (Live Helper Chat's nick behaviour)."""
        texts = [value_text(alternative.resolve(message, root)) for alternative in self.alternatives]
        return " ".join([text for text in texts if text])

    def __repr__(self) -> str:
        return f"Location({self.source!r})"


def _first_of(resolvers: tuple[Resolver, ...]) -> Resolver:
    if len(resolvers) == 1:
        return resolvers[0]

    def first(message: Any, root: Any = None) -> Any:
        value = MISSING
        for resolve in resolvers:
            value = resolve(message, root)
            # not is_empty(value), written out: MISSING first (its __bool__ is Python code), then any truthy value
            if value is not MISSING and value is not None and value is not False and (
                    value or not isinstance(value, (str, list, dict))):
                return value
        return value
    return first


# Code generation. A location is resolved several times for every message of every payload; walking it
# through objects (a call per alternative, a loop per path) cost more than the rest of the mapping. So each
# location, and each condition (``lang.conditions``), becomes one Python function whose steps are written out.
# Generated source never contains spec text: keys, value sets and helpers are passed in as names (K3, T4...),
# list indexes are integers; the semantics are those of ``lang.core.walk`` and ``lang.core.is_empty``.
MAX_INLINED_ALTERNATIVES = 8  # a longer a|||b|||... keeps the loop: nested ifs grow with each alternative
_EMPTY_TEXT_TYPES = (str, list, dict)
_TEXT_LINES = [
    "    if type(value) is str:",
    "        return value or None",
    "    if type(value) is int:",
    "        return str(value)",
    "    if is_empty(value):",
    "        return None",
    "    return value_text(value) or None",
]


def _text_of(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if is_empty(value):
        return None
    return value_text(value) or None


class Names(dict):
    """A generated function's globals: what its source refers to by name."""

    def __init__(self) -> None:
        super().__init__(MISSING=MISSING, is_empty=is_empty, value_text=value_text,
                         EMPTY_TEXT_TYPES=_EMPTY_TEXT_TYPES, __builtins__=__builtins__)

    def bind(self, value: Any, prefix: str) -> str:
        name = f"{prefix}{len(self)}"
        self[name] = value
        return name


def value_lines(names: Names, location: Location, target: str, indent: str) -> list[str]:
    """Python lines that set ``target`` to ``location.first(message, root)``: each alternative's steps, the next
    alternative tried while the value is empty (``is_empty`` written out)."""
    if len(location.alternatives) > MAX_INLINED_ALTERNATIVES:
        return [f"{indent}{target} = {names.bind(location.first, 'L')}(message, root)"]
    lines: list[str] = []
    for position, alternative in enumerate(location.alternatives):
        if position:
            lines.append(f"{indent}if {target} is MISSING or {target} is None or {target} is False or "
                         f"(not {target} and isinstance({target}, EMPTY_TEXT_TYPES)):")
            indent += "    "
        lines.extend(_alternative_lines(names, alternative, target, indent))
    return lines


def _alternative_lines(names: Names, alternative: _Alternative, target: str, indent: str) -> list[str]:
    path = alternative.path
    if not (isinstance(path, _DottedPath) and path.plain):
        lines = [f"{indent}{target} = {names.bind(path.resolve, 'P')}(message, root)"]
    else:
        lines = [f"{indent}{target} = {'root' if path.from_root else 'message'}"]
        for key, index in path.parts:  # a step that finds nothing gives MISSING, which every later step keeps
            if index is None:
                lines += [f"{indent}if type({target}) is dict or isinstance({target}, dict):",
                          f"{indent}    {target} = {target}.get({names.bind(key, 'K')}, MISSING)"]
            else:  # a number: mostly a list's index (entry.0), so a plain list is tested first
                bound = f"len({target}) > {index:d}" if index >= 0 else f"len({target}) >= {-index:d}"
                lines += [f"{indent}if type({target}) is list:",
                          f"{indent}    {target} = {target}[{index:d}] if {bound} else MISSING",
                          f"{indent}elif isinstance({target}, dict):",
                          f"{indent}    {target} = {target}.get({names.bind(key, 'K')}, MISSING)",
                          f"{indent}elif isinstance({target}, list) and {bound}:",
                          f"{indent}    {target} = {target}[{index:d}]"]
            lines += [f"{indent}else:", f"{indent}    {target} = MISSING"]
    if alternative.steps:
        lines.append(f"{indent}{target} = {names.bind(alternative.split, 'S')}({target})")
    return lines


def deferred(owner: Any, attribute: str, make: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
    """A stand-in for ``owner.attribute`` that generates the function on its first call and puts it in its place:
    saving a spec checks every location, and generating all of them there made a spec's first load ~25x slower,
    so only the functions a payload reaches are generated."""
    def first_use(message: Any, root: Any = None) -> Any:
        function = getattr(owner, attribute)
        if function is first_use:
            function = make()
            setattr(owner, attribute, function)
        return function(message, root)
    return first_use


def compile_function(name: str, names: Names, lines: list[str]) -> Callable[..., Any]:
    """``def function(message, root=None):`` with ``lines`` as its body and ``names`` as its globals, compiled
    once; ``name`` is what a traceback shows as its file."""
    source = "\n".join(["def function(message, root=None):", *lines])
    scope = dict(names)  # a plain dict: CPython only specialises global lookups in one
    exec(compile(source, f"<{name}>", "exec"), scope)  # no spec text in the source: see above
    return scope["function"]


def compile_location(source: str) -> Location | None:
    """Parse a location once; ``''`` (not configured) gives ``None``. Raises ``SpecSyntaxError``."""
    if not source or not source.strip():
        return None
    return _compile_cached(source.strip())


@lru_cache(maxsize=4096)
def _compile_cached(source: str) -> Location:
    return Location(source)
