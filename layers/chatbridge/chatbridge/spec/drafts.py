"""Draft from payload: a proposed incoming webhook spec for a payload nobody has described yet.

An admin facing a new provider has one real request and no spec. This guesses, from the payload's shape
alone, where the messages sit and, inside a message, the chat id, sender name, text, time, message id and
any image, so the spec editor starts from something that already maps the sample instead of a blank page.
Each guess is explained in ``notes`` so the admin knows what to check. Pure: no storage, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Keys seen in real providers' payloads (open-wa, WhatsApp Cloud, Telegram, Twilio, Viber, Messenger, Vonage),
# best first. Paths are relative to a message.
TEXT_PATHS = ("text.body", "text", "body", "Body", "message.text", "content", "message", "caption", "msg")
CHAT_ID_PATHS = ("chat.id", "chatId", "chat_id", "conversation.id", "conversation_id", "from.id", "sender.id",
                 "from", "From", "sender", "author", "user.id", "user_id", "recipient.id")
NICK_PATHS = ("sender.pushname", "sender.name", "from.first_name|||from.last_name", "from.name", "profile.name",
              "ProfileName", "user.name", "author.name", "name", "from.username", "sender.username")
TIME_PATHS = ("timestamp", "t", "date", "time", "created_at", "createdAt", "sent_at", "DateSent")
MESSAGE_ID_PATHS = ("id", "message_id", "messageId", "mid", "MessageSid", "SmsSid", "message_token", "uuid",
                    "message.mid")
IMAGE_KEYS = ("image", "photo", "picture", "MediaUrl0")
ROOT_NICK_PATHS = ("contacts.0.profile.name",)
MAX_NODES = 5000


@dataclass
class SpecDraft:
    spec: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_document(self) -> dict[str, Any]:
        return {"spec": self.spec, "notes": self.notes}


def _get(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", part) and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _present(value: Any) -> bool:
    return value not in (None, "", [], {}) and not isinstance(value, bool)


def _first(message: Any, paths: tuple[str, ...], *, scalar: bool = True) -> str | None:
    for path in paths:
        alternatives = path.split("|||")
        values = [_get(message, alternative) for alternative in alternatives]
        if any(_present(v) and (not scalar or isinstance(v, (str, int, float))) for v in values):
            return path
    return None


def _walk(value: Any, path: tuple[str, ...] = (), budget: list[int] | None = None):
    """Every dict in the payload with its path (list positions as numbers), parents first."""
    budget = budget if budget is not None else [MAX_NODES]
    if budget[0] <= 0:
        return
    budget[0] -= 1
    if isinstance(value, dict):
        yield path, value
        for key, child in value.items():
            # a key a location cannot name as a plain part ('.', '|', a list filter's '[', '^') is not proposed
            if isinstance(child, (dict, list)) and isinstance(key, str) and key and not any(c in key for c in ".|[]^"):
                yield from _walk(child, (*path, key), budget)
    elif isinstance(value, list):
        for index, child in enumerate(value[:20]):
            if isinstance(child, (dict, list)):
                yield from _walk(child, (*path, str(index)), budget)


def _score(node: dict[str, Any]) -> int:
    """How much a dict looks like one message: a text, an id, a sender, a time."""
    text = _first(node, TEXT_PATHS)
    score = 0
    if text and isinstance(_get(node, text), str):
        score += 4
    if _first(node, MESSAGE_ID_PATHS):
        score += 2
    if _first(node, CHAT_ID_PATHS, scalar=False):
        score += 2
    if _first(node, TIME_PATHS):
        score += 1
    if any(key in node for key in IMAGE_KEYS):
        score += 3
    return score


def _messages_location(payload: Any) -> tuple[str, Any, list[str]]:
    """Where the messages are: (location, one message, notes)."""
    best: tuple[int, int, tuple[str, ...], dict[str, Any]] | None = None
    for path, node in _walk(payload):
        score = _score(node)
        # on a tie the shallower dict wins: a message holds its sender, not the other way round
        if score and (best is None or score > best[0] or (score == best[0] and len(path) < best[1])):
            best = (score, len(path), path, node)
    if best is None:
        return "", payload if isinstance(payload, dict) else {}, [
            "no part of the payload looks like a message (no text, id or sender found): the whole payload is "
            "taken as the message; set `messages` to where they are"]
    _, _, path, node = best
    if path and re.fullmatch(r"\d+", path[-1]):
        location = ".".join(path[:-1])
        return location, node, [f"messages: a list at `{location or '(the payload, a list)'}`, each item one message"]
    location = ".".join(path)
    return location, node, [f"messages: one message at `{location}`" if location else
                            "messages: the payload itself is the message"]


def draft_spec(payload: Any, *, identifier: str = "draft-webhook", name: str = "Draft webhook") -> SpecDraft:
    """A proposed spec for ``payload`` (a decoded JSON body); it validates as a spec, the guesses may be wrong."""
    location, message, notes = _messages_location(payload)
    spec: dict[str, Any] = {"identifier": identifier, "name": name, "messages": location}

    chat_id = _first(message, CHAT_ID_PATHS)
    if chat_id is None:
        chat_id = _first(message, tuple(f"{p}.id" for p in ("from", "sender", "chat", "user")))
    spec["chat_id"] = chat_id or "from"
    notes.append(f"chat_id: `{spec['chat_id']}`" + ("" if chat_id else " (nothing found: a guess, check it)"))

    nick = _first(message, NICK_PATHS)
    if nick is None and location and isinstance(payload, (dict, list)):
        # WhatsApp Cloud keeps the sender's profile beside the messages list, not in it
        parent = ".".join(location.split(".")[:-1])
        for path in ROOT_NICK_PATHS:
            candidate = f"{parent}.{path}" if parent else path
            if isinstance(_get(payload, candidate), str):
                nick = f"$root.{candidate}"
                break
    if nick:
        spec["nick"] = nick
        if "|||" in nick:
            spec["nick_combine"] = "join"
        notes.append(f"nick: `{nick}`")
    chat_value = _get(message, spec["chat_id"])
    if isinstance(chat_value, str) and re.fullmatch(r"\+?\d{6,15}(@[\w.]+)?", chat_value):
        spec["phone"] = f"{spec['chat_id']}||@||0" if "@" in chat_value else spec["chat_id"]
        notes.append(f"phone: `{spec['phone']}` (the chat id is a phone number)")

    for key, paths in (("time", TIME_PATHS), ("message_id", MESSAGE_ID_PATHS)):
        found = _first(message, paths)
        if found:
            spec[key] = found
            notes.append(f"{key}: `{found}`")

    kind_field = "type" if isinstance(message.get("type") if isinstance(message, dict) else None, str) else None
    text = _first(message, TEXT_PATHS)
    if text and isinstance(_get(message, text), (dict, list)):
        text = None
    image_key = next((key for key in IMAGE_KEYS if isinstance(message, dict) and key in message), None)
    if text:
        conditions = f"{kind_field}={message[kind_field]}" if kind_field and not image_key else ""
        spec["text"] = [{"conditions": conditions, "body": "{{msg." + text + "}}"}]
        notes.append(f"text: `{text}`" + (f" when `{conditions}`" if conditions else ""))
    if image_key:
        image = message[image_key]
        inner = "id" if isinstance(image, dict) and "id" in image else \
            ("-1.file_id" if isinstance(image, list) and image and isinstance(image[-1], dict)
             and "file_id" in image[-1] else None)
        reference = f"{{{{msg.{image_key}.{inner}}}}}" if inner else f"{{{{msg.{image_key}}}}}"
        caption = next((p for p in (f"{image_key}.caption", "caption", "Body") if isinstance(_get(message, p), str)), None)
        body = f"[image {reference}]" + (f" {{{{msg.{caption}}}}}" if caption else "")
        spec["image"] = {"conditions": f"{image_key}=__exists__", "body": body}
        notes.append(f"image: `{image_key}` (the file is named, not fetched: add a `fetch` to store it)")
    if not text and not image_key:
        spec["text"] = [{"conditions": "", "body": "{{msg}}"}]
        notes.append("text: no text field found; each message is shown as its JSON")
    return SpecDraft(spec=spec, notes=notes)
