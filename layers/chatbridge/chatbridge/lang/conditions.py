"""The condition language: ``type=chat,image||fromMe=false``.

``||`` joins clauses that must all hold; ``,`` lists values any one of which matches; ``!=`` negates;
``attr=__exists__`` holds when the attribute is present (even as null). The left side is a location path
(dotted, ``$root.``, or JSONPath without ``=``), optionally with ``|||`` alternatives (the first non-empty
one is tested). Values compare with the attribute's JSON text (``false``, ``12``, ``null``), trimmed of
surrounding spaces; a JSON number also by value (``ack=1`` holds for ``1.0``, as in Live Helper Chat). A clause on an absent attribute fails; a ``!=`` clause on an absent attribute holds.

Clauses that could never be meant are refused when the spec is saved rather than saved and then matching
nothing: a doubled operator (``type==chat``, ``type!==x``), a comparison (``ack>=2``, ``type=>chat``),
a ``!`` parted from its ``=`` (``type ! = x``), a quoted value (``type="chat"``: values are plain text)
and a misspelt keyword (``photo=__exist__``). ``type=`` stays allowed: as in Live Helper Chat it tests for
the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from chatbridge.errors import SpecSyntaxError
from chatbridge.lang.core import MISSING, matches_text, numbers_of
from chatbridge.lang.locations import Location, Names, compile_function, compile_location, deferred, value_lines

EXISTS = "__exists__"
# exactly two pipes: three pipes are location alternatives inside a clause
_CLAUSE_SEPARATOR = re.compile(r"(?<!\|)\|\|(?!\|)")
# __name__-shaped values are keywords; a provider's data never looks like that, a typo of __exists__ does
_KEYWORD = re.compile(r"__\w+__")
_COMPARISON = "comparisons are not supported: a clause tests equality (=) or inequality (!=) of text"


class Clause:
    """One clause; ``holds(message, root=None)`` is a closure made once for its shape (exists, values)."""

    __slots__ = ("source", "location", "negated", "values", "numbers", "exists", "holds")

    def __init__(self, source: str, position: int) -> None:
        self.source = source
        operator_at = _operator_position(source)
        if operator_at < 0:
            raise SpecSyntaxError(
                f"condition clause {position} {source!r} has no '=' (write attribute=value1,value2)")
        self.negated = operator_at > 0 and source[operator_at - 1] == "!"
        path = source[:operator_at - 1 if self.negated else operator_at].strip()
        if not path:
            raise SpecSyntaxError(f"condition clause {position} {source!r} names no attribute before '='")
        try:
            self.location: Location = compile_location(path)  # type: ignore[assignment]
        except SpecSyntaxError as exc:
            raise SpecSyntaxError(f"condition clause {position} {source!r}: {exc}") from None
        if self.location.alternatives and any(a.steps for a in self.location.alternatives):
            raise SpecSyntaxError(f"condition clause {position} {source!r}: split steps are not allowed in "
                                  "conditions ('||' separates clauses)")
        values_text = source[operator_at + 1:]
        if "||" in values_text:
            raise SpecSyntaxError(f"condition clause {position} {source!r} has stray '|' characters "
                                  "(clauses are joined by exactly '||')")
        values = [value.strip() for value in values_text.split(",")]
        _refuse_never_meant(position, source, path, self.negated, values)
        self.exists = EXISTS in values
        if self.exists and len(values) > 1:
            raise SpecSyntaxError(f"condition clause {position} {source!r}: {EXISTS} cannot be listed with values")
        self.values = frozenset(values)
        self.numbers = numbers_of(self.values)
        self.holds: Callable[..., bool] = _clause_test(self.location.first, self.exists, self.negated, self.values,
                                                       self.numbers)

    def __repr__(self) -> str:
        return f"Clause({self.source!r})"


def _clause_test(first: Callable[..., Any], exists: bool, negated: bool, texts: frozenset[str],
                 numbers: frozenset[Any]) -> Callable[..., bool]:
    """A clause's test. On an absent value ``__exists__`` fails and a value list fails (``!=``: both hold);
    a string is compared by itself (what ``matches_text`` does for one), anything else by ``matches_text``."""
    if exists:
        if negated:
            def absent(message: Any, root: Any = None) -> bool:
                return first(message, root) is MISSING
            return absent

        def present(message: Any, root: Any = None) -> bool:
            return first(message, root) is not MISSING
        return present

    def matches(message: Any, root: Any = None) -> bool:
        value = first(message, root)
        if value is MISSING:
            return negated
        if type(value) is str:
            return (value in texts) != negated
        return matches_text(value, texts, numbers) != negated
    return matches


def _operator_position(source: str) -> int:
    """The clause's first '=' outside a location's list filter (``contacts.[type=phone].value=+44``), or -1."""
    depth = 0
    for position, char in enumerate(source):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif char == "=" and depth == 0:
            return position
    return -1


def _refuse_never_meant(position: int, source: str, path: str, negated: bool, values: list[str]) -> None:
    """Refuse a clause that parses but can never match what its author meant.

    Each of these was saved, then matched nothing (or only an impossible value), and the only sign was
    every payload being ignored. Live Helper Chat gives none of them a meaning one would write on purpose.
    """
    where = f"condition clause {position} {source!r}"
    operator = "!=" if negated else "="

    def written(fix: Callable[[str], str], left: str = path, middle: str = operator) -> str:
        return f"write {left}{middle}{','.join(fix(value) for value in values)}"

    if path.endswith("!"):
        raise SpecSyntaxError(f"{where}: a stray '!' before '=' ({written(str, path.rstrip('!').strip(), '!=')})")
    if path.endswith((">", "<")):
        raise SpecSyntaxError(f"{where}: {_COMPARISON}")
    for value in values:
        if value.startswith("="):
            raise SpecSyntaxError(f"{where}: '{operator}=' is not an operator "
                                  f"({written(lambda v: v.lstrip('=').strip())})")
        if value.startswith((">", "<")):
            raise SpecSyntaxError(f"{where}: {_COMPARISON}")
        if _unquoted(value) != value:
            raise SpecSyntaxError(f"{where}: values are plain text, compared without quotes ({written(_unquoted)})")
        if _KEYWORD.fullmatch(value) and value != EXISTS:
            raise SpecSyntaxError(f"{where}: unknown keyword {value!r} (the only one is {EXISTS})")


def _unquoted(value: str) -> str:
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'"
    return value[1:-1] if quoted else value


class Condition:
    """Compiled clauses; an empty condition always holds. Evaluation never raises on any JSON value.

    ``holds(message, root=None)`` is a closure made once (one clause: that clause's test itself)."""

    __slots__ = ("source", "clauses", "holds")

    def __init__(self, source: str) -> None:
        self.source = source
        self.clauses: tuple[Clause, ...] = ()
        if source.strip():
            parts = _CLAUSE_SEPARATOR.split(source)
            for position, part in enumerate(parts, 1):
                if not part.strip():
                    raise SpecSyntaxError(f"condition {source!r}: clause {position} is empty (stray '||')")
            self.clauses = tuple(Clause(part.strip(), position) for position, part in enumerate(parts, 1))
        self.holds: Callable[..., bool] = deferred(self, "holds", lambda: _compiled_holds(source, self.clauses)) \
            if self.clauses else _always

    def first_failure(self, message: Any, root: Any = None) -> Clause | None:
        """The first clause that does not hold, or ``None`` when all hold."""
        for clause in self.clauses:
            if not clause.holds(message, root):
                return clause
        return None

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"


def _always(message: Any, root: Any = None) -> bool:
    return True


def _compiled_holds(source: str, clauses: tuple[Clause, ...]) -> Callable[..., bool]:
    """One generated function (``lang.locations.compile_function``) for the whole condition: each clause's
    location written out, then its test, as ``Clause.holds`` does it; the first clause that fails answers."""
    if not clauses:
        return _always
    names = _names()
    lines: list[str] = []
    for clause in clauses:
        lines += _clause_lines(names, clause, "    ", "return False")
    return compile_function(f"condition {source!r}", names, [*lines, "    return True"])


def _names() -> Names:
    names = Names()
    names["matches_text"] = matches_text
    return names


def _clause_lines(names: Names, clause: Clause, indent: str, fail: str) -> list[str]:
    """Python lines that run ``fail`` (a statement) when the clause does not hold on (message, root)."""
    lines = value_lines(names, clause.location, "value", indent)
    if clause.exists:
        return [*lines, f"{indent}if value is {'not ' if clause.negated else ''}MISSING:", f"{indent}    {fail}"]
    texts, numbers = names.bind(clause.values, "T"), names.bind(clause.numbers, "N")
    if clause.negated:  # absent holds; a present value must match none
        return [*lines,
                f"{indent}if value is not MISSING:",
                f"{indent}    if type(value) is str:",
                f"{indent}        if value in {texts}:",
                f"{indent}            {fail}",
                f"{indent}    elif matches_text(value, {texts}, {numbers}):",
                f"{indent}        {fail}"]
    return [*lines,
            f"{indent}if value is MISSING:",
            f"{indent}    {fail}",
            f"{indent}if type(value) is str:",
            f"{indent}    if value not in {texts}:",
            f"{indent}        {fail}",
            f"{indent}elif not matches_text(value, {texts}, {numbers}):",
            f"{indent}    {fail}"]


class FirstHolding:
    """Conditions tried in order (a spec's message kinds): ``index(message, root=None)`` is the position of the
    first that holds, -1 when none does. One generated function for the whole list, made on its first use as a
    condition's is: each condition's clauses inside a ``while True:`` that a failing clause leaves with
    ``break`` for the next condition, so trying five kinds is one call, not five."""

    __slots__ = ("conditions", "index")

    def __init__(self, conditions: tuple[Condition, ...]) -> None:
        self.conditions = conditions
        self.index: Callable[..., int] = deferred(self, "index", self._generated)

    def _generated(self) -> Callable[..., int]:
        names = _names()
        lines: list[str] = []
        for position, condition in enumerate(self.conditions):
            if not condition.clauses:  # always holds: the later ones are never tried
                lines.append(f"    return {position:d}")
                break
            lines.append("    while True:")
            for clause in condition.clauses:
                lines += _clause_lines(names, clause, "        ", "break")
            lines.append(f"        return {position:d}")
        else:
            lines.append("    return -1")
        sources = " / ".join(repr(condition.source) for condition in self.conditions)
        return compile_function(f"first holding of {sources}", names, lines)


@lru_cache(maxsize=4096)
def compile_condition(source: str) -> Condition:
    """Parse a condition once. Raises ``SpecSyntaxError`` naming the offending clause."""
    return Condition(source)
