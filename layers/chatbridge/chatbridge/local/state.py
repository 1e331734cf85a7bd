"""The data folder's earlier format: one JSON file of table items, visible queue messages and SSM
parameters, written only on a clean exit (so ``kill -9`` lost everything since start, and a clean stop lost
reply jobs hidden for backoff). ``chatbridge local`` now writes through to a store
(``chatbridge.local.store``); a folder that still holds only the old file is read once, through the API, into
the new store, and the file is renamed ``*.imported`` so it is never read twice.

Items are keyed by the table's logical id in template.yaml, so the file survives a renamed stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatbridge.errors import ChatbridgeError
from chatbridge.local.attributes import item_from_json
from chatbridge.local.template import LocalTemplate

STATE_FILE = "chatbridge-local-state.json"
FORMAT_VERSION = 1


class StateError(ChatbridgeError):
    """The saved state cannot be read back; the message says which file and why."""


def load_state(directory: Path, template: LocalTemplate, *, dynamodb: Any, sqs: Any, ssm: Any,
               queue_urls: dict[str, str]) -> dict[str, int] | None:
    """Load a saved state into freshly created resources; None when there is nothing saved yet."""
    path = directory / STATE_FILE
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StateError(f"cannot read saved state {path}: {exc}") from exc
    if document.get("version") != FORMAT_VERSION:
        raise StateError(f"{path} has format version {document.get('version')!r}, expected {FORMAT_VERSION}")
    counts = {"items": 0, "messages": 0, "parameters": 0}
    for logical_id, items in document.get("tables", {}).items():
        table = template.tables.get(logical_id)
        if table is None:
            continue  # the table left the template; its items have nowhere to go
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item_from_json(item)}} for item in items[start:start + 25]]
            while requests:
                answer = dynamodb.batch_write_item(RequestItems={table.name: requests})
                requests = answer.get("UnprocessedItems", {}).get(table.name, [])
        counts["items"] += len(items)
    for logical_id, messages in document.get("queues", {}).items():
        if logical_id not in queue_urls:
            continue
        for message in messages:
            request: dict[str, Any] = {"QueueUrl": queue_urls[logical_id], "MessageBody": message["body"]}
            if message.get("attributes"):
                request["MessageAttributes"] = message["attributes"]
            for key in ("MessageGroupId", "MessageDeduplicationId"):
                if key in message:
                    request[key] = message[key]
            sqs.send_message(**request)
        counts["messages"] += len(messages)
    for parameter in document.get("parameters", []):
        ssm.put_parameter(Name=parameter["Name"], Type=parameter["Type"], Value=parameter["Value"], Overwrite=True)
        counts["parameters"] += 1
    return counts
