"""``chatbridge local --seed``: a working demo stored through the admin API, as an operator would.

An open-wa (WhatsApp) incoming webhook, a REST API that sends replies to the built-in echo endpoint the
way open-wa's ``sendText`` expects them, and an outgoing webhook tying operator replies in those chats to
that REST API. The printed curl posts open-wa's documented sample message.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from chatbridge.cli.client import ChatbridgeClient

IDENTIFIER = "openwa-demo"
REST_API_ID = "openwa-echo"
WEBHOOK_ID = "openwa-replies"

# open-wa's documented incoming text message (wa-automate-nodejs docs, data-models.mdx, first sample):
# the same body as ../shared/payloads/openwa/openwa_v5docs_incoming_text.json.
SAMPLE_MESSAGE = {
    "id": "false_447700900000@c.us_3EB0A1B2C3D4E5F67890", "body": "Hi, is my order ready?", "type": "chat",
    "t": 1768848000, "timestamp": 1768848000, "from": "447700900000@c.us", "to": "15551234567@c.us",
    "chatId": "447700900000@c.us", "fromMe": False, "self": "in", "isGroupMsg": False, "isMedia": False,
    "isNotification": False, "ack": 1,
    "sender": {"id": "447700900000@c.us", "pushname": "Aisha", "isMyContact": True, "isWAContact": True},
}

OPENWA_SPEC: dict[str, Any] = {
    "identifier": IDENTIFIER,
    "name": "WhatsApp (open-wa demo)",
    "scope": "whatsapp",
    "enabled": True,
    "messages": "",
    "chat_id": "from",
    "nick": "sender.pushname",
    "phone": "from||@||0",
    "time": "t",
    "message_id": "id",
    "conditions": "type=chat,image,location||fromMe=false",
    "text": [
        {"conditions": "type=chat", "body": "{{msg.body}}"},
        {"conditions": "type=location", "body": "{{msg.loc}} {{msg.clientUrl}}"},
    ],
    "image": {"conditions": "type=image", "body": "{{msg.caption}}"},
    "on_closed_chat": "pending",
}


def seed_document(echo_url: str) -> dict[str, Any]:
    return {
        "rest_apis": [{
            "id": REST_API_ID,
            "name": "open-wa sendText (local echo)",
            "method": "POST",
            "url": f"{echo_url}/sendText",
            "headers": {"Content-Type": "application/json"},
            "body": '{"chatId": {{args.chat.incoming_chat.chat_external_id}}, "body": {{msg_url}}}',
            "timeout": 10,
            "success_codes": [200, 201],
        }],
        "incoming_webhooks": [OPENWA_SPEC],
        "webhooks": [{
            "id": WEBHOOK_ID,
            "event": "chat.web_add_msg_admin",
            "conditions": [f"{{args.chat.incoming_chat.incoming.identifier}} = {IDENTIFIER}"],
            "rest_api_id": REST_API_ID,
            "enabled": True,
        }],
    }


def seed(local_url: str, echo_url: str) -> list[dict[str, Any]]:
    return ChatbridgeClient(local_url).apply(seed_document(echo_url))


def try_it(local_url: str, echo_url: str) -> str:
    """The lines printed after seeding: URLs and commands a new user can paste."""
    webhook_url = f"{local_url}/webhooks/incoming/{IDENTIFIER}"
    body = json.dumps(SAMPLE_MESSAGE, ensure_ascii=False, separators=(",", ":"))
    endpoint = "" if local_url == "http://127.0.0.1:3000" else f" --endpoint {local_url}"
    return "\n".join([
        f"seeded incoming webhook {IDENTIFIER}: {webhook_url}",
        f"seeded outgoing webhook {WEBHOOK_ID}: operator replies -> POST {echo_url}/sendText (echo endpoint)",
        "try it:",
        f"  curl -sS -X POST {webhook_url} -H 'Content-Type: application/json' -d {shlex.quote(body)}",
        f"  .venv/bin/chatbridge chats list{endpoint}",
        f"  .venv/bin/chatbridge reply CHAT_ID 'Your order is on its way'{endpoint}",
        f"  curl -sS {echo_url}",
        f"or open the operator console: {local_url}/console/",
    ])
