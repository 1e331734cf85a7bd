"""The docs cannot rot: every relative link and ``#anchor`` in README.md and docs/*.md resolves.

A link to a file or folder must name one that exists in the checkout; a ``#anchor`` must be a heading of the
file it points at, spelled as GitHub spells heading anchors (lower case, punctuation dropped, spaces as ``-``,
``-1``, ``-2`` for repeats). Links out of the project (``http:``, ``https:``, ``mailto:``) are not fetched.
Text inside code blocks and inline code is not a link, as GitHub renders it; but a path in inline code that
names a project file (`tests/aws/test_faults_ingest.py`, `chatbridge/spec/limits.py` for the layer's package)
must exist too, since the docs point at code and tests that way.
"""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from support.paths import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
MD_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<(?:a|img|source)\b[^>]*?\b(?:href|src|srcset)\s*=\s*["']([^"']+)["']""", re.I)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
CODE_PATH = re.compile(r"`((?:tests|bench|layers|functions|events|console|docs|chatbridge)/[^`\s<>{}]*)`")
LAYER = "layers/chatbridge"


def prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def github_anchor(heading: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path):
        match = HEADING.match(line)
        if not match:
            continue
        anchor = github_anchor(match.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(path):
        line = INLINE_CODE.sub("", line)
        found += [(number, target) for target in MD_LINK.findall(line)]
        found += [(number, target.split()[0]) for target in HTML_LINK.findall(line)]
    return found


def broken_links(path: Path) -> list[str]:
    broken = []
    for number, target in links(path):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not linked.exists():
            broken.append(f"{where} (no such file)")
        elif ROOT not in linked.parents and linked != ROOT:
            broken.append(f"{where} (outside the project)")
        elif anchor and (linked.suffix != ".md" or unquote(anchor) not in anchors(linked)):
            broken.append(f"{where} (no heading with that anchor)")
    return broken


def missing_code_paths(path: Path) -> list[str]:
    """Paths in inline code (outside code blocks) that name no project file; ``*`` globs must match one."""
    missing = []
    for number, line in prose_lines(path):
        for named in CODE_PATH.findall(line):
            relative = f"{LAYER}/{named}" if named.startswith("chatbridge/") else named
            if not (any(ROOT.glob(relative)) if "*" in relative else (ROOT / relative).exists()):
                missing.append(f"{path.relative_to(ROOT)}:{number}: {named}")
    return missing


def test_the_anchor_rule_is_githubs():
    assert github_anchor("Media: images and attachments stored in S3") == "media-images-and-attachments-stored-in-s3"
    assert github_anchor("`chatbridge simulate`") == "chatbridge-simulate"
    assert github_anchor("Webhooks (public): `POST|GET /webhooks/incoming/{identifier}`") == \
        "webhooks-public-postget-webhooksincomingidentifier"
    assert github_anchor("Dependencies, and why each is here") == "dependencies-and-why-each-is-here"


def test_a_broken_link_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "a.md").write_text("# Top\n\n## Two words\n\n[ok](#two-words) [ok](a.md#top) `[code](nowhere.md)`\n"
                                   "[gone](b.md) [bad](a.md#three) ![img](pic.png) [web](https://example.com/x)\n"
                                   "```\n[fenced](nowhere.md)\n```\n", encoding="utf-8")
    assert [entry.split(": ", 1)[1] for entry in broken_links(tmp_path / "a.md")] == [
        "b.md (no such file)", "a.md#three (no heading with that anchor)", "pic.png (no such file)"]


def test_a_path_in_inline_code_that_names_no_file_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "tests" / "aws").mkdir(parents=True)
    (tmp_path / "tests" / "aws" / "test_x.py").write_text("")
    (tmp_path / "a.md").write_text("`tests/aws/test_x.py` `tests/aws/test_*.py` `tests/test_x.py` `chatbridge/limits.py`"
                                   " `functions/<name>/app.py`\n", encoding="utf-8")
    assert [entry.split(": ", 1)[1] for entry in missing_code_paths(tmp_path / "a.md")] == [
        "tests/test_x.py", "chatbridge/limits.py"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(doc):
    assert broken_links(doc) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_project_path_in_inline_code_exists(doc):
    assert missing_code_paths(doc) == []
