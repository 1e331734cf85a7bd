"""The template language of message bodies: ``{{msg.<location>}}`` and ``{{attributes.<key>}}``.

``<location>`` is any location (any depth, ``||`` split steps, ``|||`` alternatives, ``$root.``).
``{{msg}}`` alone is the whole message as JSON. Values render with Live Helper Chat's rules (absent or
null -> '', true -> '1', false -> '', numbers as JSON text, objects/lists as compact JSON); the text
around placeholders is kept byte-exact. Attribute values are constants, so they are rendered into the
literal text when the template is compiled; rendering is then one join.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chatbridge.errors import SpecSyntaxError
from chatbridge.locations import Location, compile_location, value_text

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class _WholeMessage:
    __slots__ = ()

    def first(self, message: Any, root: Any = None) -> Any:
        return message


class Template:
    """A compiled body: literal strings and locations, in order. ``render`` never raises."""

    __slots__ = ("source", "parts")

    def __init__(self, source: str, parts: tuple[str | Location | _WholeMessage, ...]) -> None:
        self.source = source
        self.parts = parts

    def render(self, message: Any, root: Any = None) -> str:
        return "".join(part if type(part) is str else value_text(part.first(message, root))  # type: ignore[union-attr]
                       for part in self.parts)

    @property
    def is_constant(self) -> bool:
        return all(type(part) is str for part in self.parts)

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


class _AnyAttributes(dict):
    """Every key exists: lets the syntax be checked before the spec's attributes are known."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: Any) -> Any:
        return ""


def check_template_syntax(source: str) -> None:
    """Raise ``SpecSyntaxError`` for a malformed placeholder; attribute names are checked later."""
    compile_template(source, _AnyAttributes())


def compile_template(source: str, attributes: Mapping[str, Any] | None = None) -> Template:
    """Parse a body once. Unknown placeholders and unknown attributes raise ``SpecSyntaxError``."""
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
            literal.append(value_text(attributes[key]))
            continue
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
