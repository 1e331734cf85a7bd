"""The template language of message bodies: ``{{msg.<location>}}`` and ``{{attributes.<key>}}``.

``<location>`` is any location (any depth, ``||`` split steps, ``|||`` alternatives, ``$root.``).
``{{msg}}`` alone is the whole message as JSON. Values render with Live Helper Chat's rules (absent or
null -> '', true -> '1', false -> '', numbers as JSON text, objects/lists as compact JSON); the text
around placeholders is kept byte-exact. A placeholder holds no brace, so a stray ``}`` or an unclosed ``{{``
stays text and never swallows the next placeholder (as in Live Helper Chat). Attribute values are constants, so they are rendered into the
literal text when the template is compiled; rendering is then one join. A template that fills a JSON
request body (media fetches) keeps attributes as constant parts instead, so ``render_json`` can escape
them like any other value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.core import MISSING, compact_json, value_text
from chatbridge.lang.locations import Location, Names, compile_function, compile_location, deferred, value_lines

# a placeholder holds no brace: one never spans another ``{{`` (``{{msg.a} and {{msg.b}}`` keeps its first,
# unclosed part as text, as Live Helper Chat does)
_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


class _WholeMessage:
    __slots__ = ()

    def first(self, message: Any, root: Any = None) -> Any:
        return message


class _Constant:
    """An attribute value kept as a part (not inlined), for templates rendered as JSON."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def first(self, message: Any, root: Any = None) -> Any:
        return self.value


class Template:
    """A compiled body: literal strings and locations, in order. ``render`` never raises.

    ``render(message, root=None)`` is a closure made once: a template without placeholders returns its text,
    one that is a single placeholder its value's text, others one join over the parts."""

    __slots__ = ("source", "parts", "render", "_json_parts")

    def __init__(self, source: str, parts: tuple[str | Location | _WholeMessage | _Constant, ...]) -> None:
        self.source = source
        self.parts = parts
        self.render: Callable[..., str] = _renderer(self)
        self._json_parts: tuple[tuple[Any, bool], ...] | None = None

    def render_json(self, message: Any, root: Any = None) -> str:
        """Render a JSON text: a bare placeholder becomes a JSON value (``null`` when absent), one inside a
        JSON string is escaped without quotes, so no message text can break the document."""
        json_parts = self._json_parts
        if json_parts is None:
            json_parts = self._json_parts = self._placed_in_json()
        out: list[str] = []
        for part, in_string in json_parts:
            if type(part) is str:
                out.append(part)
                continue
            value = part.first(message, root)
            if in_string:
                out.append(json.dumps(value_text(value), ensure_ascii=False)[1:-1])
            else:
                out.append("null" if value is MISSING else compact_json(value))
        return "".join(out)

    def _placed_in_json(self) -> tuple[tuple[Any, bool], ...]:
        """Each part with whether it sits inside a JSON string: the literal text decides it, so it is worked
        out once (on the first ``render_json``), not for every message."""
        placed = []
        in_string = False
        for part in self.parts:
            placed.append((part, in_string))
            if type(part) is str:
                in_string = json_string_state_after(part, in_string)
        return tuple(placed)

    @property
    def is_constant(self) -> bool:
        return all(type(part) is str for part in self.parts)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def _renderer(template: Template) -> Callable[..., str]:
    """A template without placeholders returns its text; any other renders through one generated function
    (``lang.locations.compile_function``), made on its first render as a location's is: each placeholder's
    location written out, then one f-string. Calling each location's function from a loop over the parts cost
    a tenth of the mapping time (docs/benchmarks.md)."""
    parts = template.parts
    if all(type(part) is str for part in parts):
        text = "".join(parts)

        def constant(message: Any, root: Any = None) -> str:
            return text
        return constant
    if sum(type(part) is not str for part in parts) > MAX_INLINED_PLACEHOLDERS:
        return _joined_renderer(parts)
    return deferred(template, "render", lambda: _generated_renderer(template.source, parts))


MAX_INLINED_PLACEHOLDERS = 32  # a body with more keeps the loop: its generated source (and first render) grows with each


def _joined_renderer(parts: tuple[Any, ...]) -> Callable[..., str]:
    # ``part.first`` is looked up at each render: a location generates its function on first use and replaces it
    def joined(message: Any, root: Any = None) -> str:
        out = []
        for piece in parts:
            if type(piece) is str:
                out.append(piece)
            else:
                value = piece.first(message, root)
                out.append(value if type(value) is str else value_text(value))
        return "".join(out)
    return joined


def _generated_renderer(source: str, parts: tuple[Any, ...]) -> Callable[..., str]:
    """The text around placeholders, like keys, is passed in by name: no spec text in the generated source."""
    names = Names()
    lines: list[str] = []
    pieces: list[str] = []
    for part in parts:
        if type(part) is str:
            pieces.append(names.bind(part, "C"))
            continue
        value = f"v{len(pieces)}"
        if isinstance(part, Location):
            lines += value_lines(names, part, value, "    ")
        else:  # the whole message, or an attribute kept as a part
            lines.append(f"    {value} = {names.bind(part.first, 'F')}(message, root)")
        lines += [f"    if type({value}) is not str:", f"        {value} = value_text({value})"]
        pieces.append(value)
    result = pieces[0] if len(pieces) == 1 else "f\"" + "".join(f"{{{piece}}}" for piece in pieces) + "\""
    return compile_function(f"template {source!r}", names, [*lines, f"    return {result}"])


class _AnyAttributes(dict):
    """Every key exists: lets the syntax be checked before the spec's attributes are known."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: Any) -> Any:
        return ""


def check_template_syntax(source: str) -> None:
    """Raise ``SpecSyntaxError`` for a malformed placeholder; attribute names are checked later."""
    compile_template(source, _AnyAttributes())


def json_template_problem(sample: str) -> str | None:
    """Why a JSON body template, once its placeholders are filled (``sample``), is not JSON; None when it is.
    REST API and media fetch bodies are checked with it when they are saved."""
    try:
        json.loads(sample)
    except ValueError as exc:
        reason = f"{exc.msg} at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        return f"body is not a JSON template ({reason} once placeholders are filled: {sample[:200]!r})"
    return None


def json_string_state_after(literal: str, in_string: bool) -> bool:
    """Whether JSON text is inside a string after ``literal`` (given whether it was before)."""
    escaped = False
    for char in literal:
        if escaped:
            escaped = False
        elif char == "\\" and in_string:
            escaped = True
        elif char == '"':
            in_string = not in_string
    return in_string


def compile_template(source: str, attributes: Mapping[str, Any] | None = None, *,
                     inline_attributes: bool = True) -> Template:
    """Parse a body once. Unknown placeholders and unknown attributes raise ``SpecSyntaxError``.

    ``inline_attributes=False`` keeps attribute values as parts (for ``Template.render_json``).
    """
    attributes = {} if attributes is None else attributes
    parts: list[Any] = []
    literal = []
    position = 0
    for match in _PLACEHOLDER.finditer(source):
        literal.append(source[position:match.start()])
        position = match.end()
        name = match.group(1).strip()
        if name == "msg":
            part: Any = _WholeMessage()
        elif name.startswith("msg."):
            try:
                part = compile_location(name[4:])
            except SpecSyntaxError as exc:
                raise SpecSyntaxError(f"placeholder {match.group(0)!r}: {exc}") from None
            if part is None:
                raise SpecSyntaxError(f"placeholder {match.group(0)!r} names no path after 'msg.'")
        elif name.startswith("attributes."):
            key = name[len("attributes."):]
            if key not in attributes:
                known = ", ".join(sorted(attributes)) or "none defined"
                raise SpecSyntaxError(f"placeholder {match.group(0)!r}: no attribute {key!r} (attributes: {known})")
            if inline_attributes:
                literal.append(value_text(attributes[key]))
                continue
            part = _Constant(attributes[key])
        else:
            raise SpecSyntaxError(f"unknown placeholder {match.group(0)!r}: use {{{{msg.<path>}}}} or "
                                  "{{attributes.<key>}}")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(part)
    literal.append(source[position:])
    text = "".join(literal)
    if text:
        parts.append(text)
    return Template(source, tuple(parts))
