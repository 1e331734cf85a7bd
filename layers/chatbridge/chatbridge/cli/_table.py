"""The one table every CLI listing prints: measured by display width, long cells wrapped, nothing cut.

Nicks, names and messages come from third parties in any script. ``len()`` counts code points, so a CJK
nick (two terminal columns a character) or an emoji (one or more code points, two columns) pushed the
columns after it out of line; cutting cells at a fixed length hid whole values (``presets list`` lost the
``media`` parameter). Widths are measured with ``wcwidth`` (the Unicode East Asian Width and emoji tables
that terminals follow, grapheme clusters such as ``👨‍👩‍👧`` counted once), and a table wider than the
terminal wraps its widest cells instead of cutting them.

The width to fit is the terminal's (``shutil.get_terminal_size``, so ``COLUMNS`` overrides it). When output
is not a terminal (a pipe, a file) rows are not wrapped: each stays one line for ``grep`` and friends, and
``--json`` is there for scripts.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from wcwidth import width, wrap

GAP = "  "
MIN_COLUMN = 8  # a column is squeezed to no fewer than this many terminal columns (or its own width)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], *, empty: str,
                max_width: int | None = None) -> None:
    """``columns`` are (header, key); a key may be dotted (``incoming_chat.chat_external_id``).

    ``max_width`` defaults to the terminal's width (see the module docstring).
    """
    if not rows:
        print(empty)
        return
    headers = [header.upper() for header, _ in columns]
    cells = [[cell_text(_get(row, key), key) for _, key in columns] for row in rows]
    for line in format_table(headers, cells, max_width=terminal_width() if max_width is None else max_width):
        print(line)


def terminal_width() -> int | None:
    """Terminal columns to fit, or ``None`` (no limit) when output is not a terminal and ``COLUMNS`` is unset."""
    return shutil.get_terminal_size(fallback=(0, 0)).columns or None


def format_table(headers: Sequence[str], cells: Sequence[Sequence[str]], *, max_width: int | None) -> list[str]:
    """Lines of a table: each column as wide as its widest cell, or narrower (wrapped) to fit ``max_width``."""
    texts = [[_printable(text) for text in row] for row in [list(headers), *cells]]
    natural = [max(max((width(line) for line in _LINE_BREAK.split(row[i])), default=0) for row in texts)
               for i in range(len(headers))]
    widths = natural if max_width is None else _fit(natural, max_width - len(GAP) * (len(headers) - 1))
    lines: list[str] = []
    for row in texts:
        wrapped = [_wrap(text, widths[i]) for i, text in enumerate(row)]
        for depth in range(max(len(cell) for cell in wrapped)):
            parts = [cell[depth] if depth < len(cell) else "" for cell in wrapped]
            lines.append(GAP.join(part + " " * (widths[i] - width(part)) for i, part in enumerate(parts)).rstrip())
    return lines


def _fit(natural: list[int], available: int) -> list[int]:
    """Narrow the widest columns first, each to no less than ``MIN_COLUMN`` (or its own width).

    The result is the largest cap such that every column at ``min(natural, cap)`` fits, with the columns
    left over handed to the capped ones from the left. When even the floors do not fit, the floors are
    used and the terminal wraps the line: a cell is never cut.
    """
    if sum(natural) <= available:
        return list(natural)
    floors = [min(w, MIN_COLUMN) for w in natural]
    low, high = 0, max(natural)
    while low < high:  # largest cap whose total fits
        cap = (low + high + 1) // 2
        if sum(max(floor, min(w, cap)) for w, floor in zip(natural, floors, strict=True)) <= available:
            low = cap
        else:
            high = cap - 1
    widths = [max(floor, min(w, low)) for w, floor in zip(natural, floors, strict=True)]
    spare = available - sum(widths)
    for i, w in enumerate(natural):
        if spare <= 0:
            break
        if widths[i] < w:
            widths[i] += 1
            spare -= 1
    return widths


def _wrap(text: str, columns: int) -> list[str]:
    """A cell's lines: its own line breaks kept, each line wrapped at word boundaries to ``columns``
    (a word longer than that is broken, between grapheme clusters). An empty cell is one empty line."""
    lines: list[str] = []
    for paragraph in _LINE_BREAK.split(text):
        lines += wrap(paragraph, max(columns, 2)) if width(paragraph) > columns else [paragraph]
    return lines or [""]


def _printable(text: str) -> str:
    """Control characters from a payload (ESC, BEL, backspace...) would drive the terminal: tabs become
    spaces and the others U+FFFD. Line breaks stay (a cell keeps its lines); joiners and marks stay."""
    return "".join(" " if char == "\t" else "\ufffd" if unicodedata.category(char) == "Cc" and char not in "\r\n"
                   else char for char in text)


def _get(row: Any, key: str) -> Any:
    for part in key.split("."):
        row = row.get(part) if isinstance(row, dict) else None
    return row


def cell_text(value: Any, key: str = "") -> str:
    """How a value reads in a table: ``-`` for none, yes/no, epoch times as local time, JSON for the rest."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith(("_at", "time")) and value > 1_000_000_000:
        return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
