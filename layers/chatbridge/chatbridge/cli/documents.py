"""A setup document (what ``chatbridge webhooks apply -f`` reads), checked whole before anything is stored.

A document is one incoming webhook spec (an object with ``identifier``), a list of specs, or
``{"rest_apis": [...], "incoming_webhooks": [...], "webhooks": [...]}``. Storing it takes one request per
entry, and the admin API cannot undo the first ones when a later one is refused, so every entry is checked
here first, with the same pydantic models the admin API validates with: a bad entry anywhere means nothing
is stored, and the error names each bad entry by its place in the file (``incoming_webhooks[1]``, or ``[1]``
in a bare list) and the reason.

An empty document is an error too: applying it used to print nothing and succeed, which reads as "done".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from chatbridge.errors import ChatbridgeError

SECTIONS = ("rest_apis", "incoming_webhooks", "webhooks")
# what the admin API ignores in a spec body, so a GET's output can be applied again (chatbridge.admin.spec_routes)
SERVER_FIELDS = ("id", "created_at", "updated_at", "webhook_path")
# the section's kind as the apply report names it, and what one entry must be
_KINDS = {"rest_apis": ("rest api", "a REST API"), "incoming_webhooks": ("incoming webhook", "an incoming webhook spec"),
          "webhooks": ("webhook", "an outgoing webhook")}


class DocumentError(ChatbridgeError, ValueError):
    """The document cannot be applied as a whole; ``problems`` has one line per bad entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Entry:
    """One definition to store: ``key`` is the spec's identifier or the REST API's / webhook's id, ``where``
    its place in the file, ``body`` the entry as written (sent as is: the admin API validates it again)."""

    section: str
    kind: str
    key: str
    where: str
    body: dict[str, Any]


def plan(document: Any, *, stored_rest_api_ids: Callable[[], set[str]] | None = None) -> list[Entry]:
    """Every entry of ``document`` in storing order (REST APIs, specs, webhooks), or ``DocumentError``.

    ``stored_rest_api_ids`` lists the REST APIs already stored; it is asked only when an outgoing webhook
    names a REST API the document does not define, since the admin API would refuse that webhook only
    after the entries before it were stored.
    """
    sections, shape = _sections(document)
    problems: list[str] = []
    entries: list[Entry] = []
    for section in SECTIONS:
        items = sections.get(section)
        if items is None:
            continue
        if not isinstance(items, list):
            problems.append(f"{section}: expected a list of entries, got {_kind_of(items)}")
            continue
        seen: dict[str, str] = {}
        for index, item in enumerate(items):
            where = {"list": f"[{index}]", "spec": ""}.get(shape, f"{section}[{index}]")
            entry, problem = _check(section, item, where)
            if problem:
                problems.append(f"{where}: {problem}" if where else problem)
            elif entry.key in seen:
                problems.append(f"{where}: {entry.key!r} is defined twice (also {seen[entry.key]}); "
                                "the second would silently replace the first")
            else:
                seen[entry.key] = where
                entries.append(entry)
    problems += _unknown_rest_apis(entries, stored_rest_api_ids)
    if problems:
        raise DocumentError(problems)
    if not entries:
        raise DocumentError(["nothing to apply: expected an incoming webhook spec, a list of specs, or "
                             "{rest_apis, incoming_webhooks, webhooks} with at least one entry"])
    return entries


def _sections(document: Any) -> tuple[dict[str, Any], str]:
    """The document as sections, and its shape (``list``, ``spec`` or ``sections``) for naming entries."""
    if isinstance(document, list):
        return {"incoming_webhooks": document}, "list"
    if not isinstance(document, dict):
        raise DocumentError([f"expected an object or a list, got {_kind_of(document)}"])
    if "identifier" in document:
        return {"incoming_webhooks": [document]}, "spec"
    unknown = sorted(set(document) - set(SECTIONS), key=str)
    if unknown:
        raise DocumentError([f"unknown section(s) {unknown}: expected {', '.join(SECTIONS)} "
                             "(a single incoming webhook spec needs its 'identifier')"])
    return document, "sections"


def _check(section: str, item: Any, where: str) -> tuple[Entry | None, str | None]:
    kind, what = _KINDS[section]
    if not isinstance(item, dict):
        return None, f"expected {what} (an object), got {_kind_of(item)}"
    from chatbridge.reply.rest_api import RestApi
    from chatbridge.reply.webhooks import OutgoingWebhook
    from chatbridge.spec.model import IncomingWebhookSpec

    if section == "incoming_webhooks":
        key, candidate, model = item.get("identifier"), \
            {k: v for k, v in item.items() if k not in SERVER_FIELDS}, IncomingWebhookSpec
        if not isinstance(key, str) or not key:
            return None, "an incoming webhook spec needs an 'identifier' (text)"
    else:
        key = item.get("id")
        if key is None or isinstance(key, (dict, list, bool)) or str(key) == "":
            return None, f"{what} needs an 'id'"
        key = str(key)
        candidate, model = {**item, "id": key}, RestApi if section == "rest_apis" else OutgoingWebhook
    try:
        model.model_validate(candidate)
    except ValidationError as error:
        return None, f"{kind} {key!r}: {_reasons(error)}"
    return Entry(section, kind, key, where, item), None


def _unknown_rest_apis(entries: list[Entry], stored_rest_api_ids: Callable[[], set[str]] | None) -> list[str]:
    defined = {entry.key for entry in entries if entry.section == "rest_apis"}
    wanted = [entry for entry in entries
              if entry.section == "webhooks" and str(entry.body.get("rest_api_id")) not in defined]
    if not wanted or stored_rest_api_ids is None:
        return []
    stored = stored_rest_api_ids()
    return [f"{entry.where}: webhook {entry.key!r}: rest_api_id: no REST API {entry.body.get('rest_api_id')!r} "
            "in this file or already stored" for entry in wanted if str(entry.body.get("rest_api_id")) not in stored]


def _reasons(error: ValidationError) -> str:
    """The admin API's 422 wording: ``field: reason`` for each error."""
    return "; ".join(f"{'.'.join(str(part) for part in entry['loc']) or 'body'}: "
                     f"{str(entry['msg']).removeprefix('Value error, ')}" for entry in error.errors())


def _kind_of(value: Any) -> str:
    names = {type(None): "nothing (null)", bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object"}
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return names.get(type(value), type(value).__name__) + ("" if isinstance(value, (dict, list, type(None)))
                                                         else f" {shown}")
