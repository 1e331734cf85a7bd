"""``chatbridge local --data DIR``: save every table item, queue message and SSM parameter on exit, load
them on start, so stopping the local stack loses nothing.

Items are keyed by the table's logical id in template.yaml, so the file survives a renamed stack.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from chatbridge.errors import ChatbridgeError
from chatbridge.local.attributes import item_from_json, item_to_json
from chatbridge.local.template import LocalTemplate

STATE_FILE = "chatbridge-local-state.json"
FORMAT_VERSION = 1


class StateError(ChatbridgeError):
    """The saved state cannot be read back; the message says which file and why."""


def save_state(directory: Path, template: LocalTemplate, *, dynamodb: Any, sqs: Any, ssm: Any,
               queue_urls: dict[str, str]) -> dict[str, int]:
    """Write the state file atomically; returns counts for the log line."""
    tables = {}
    for logical_id, table in template.tables.items():
        items = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table.name):
            items.extend(item_to_json(item) for item in page["Items"])
        tables[logical_id] = items
    queues = {logical_id: _drain(sqs, url) for logical_id, url in queue_urls.items()}
    parameters = []
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/", Recursive=True, WithDecryption=True):
        parameters.extend({"Name": p["Name"], "Type": p["Type"], "Value": p["Value"]} for p in page["Parameters"])
    document = {"version": FORMAT_VERSION, "tables": tables, "queues": queues, "parameters": parameters}
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".state-", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(document, stream, ensure_ascii=False)
    os.replace(temporary, directory / STATE_FILE)
    return {"items": sum(map(len, tables.values())), "messages": sum(map(len, queues.values())),
            "parameters": len(parameters)}


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300,
                                     MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
        received = answer.get("Messages", [])
        if not received:
            return messages
        for message in received:
            saved: dict[str, Any] = {"body": message["Body"]}
            attributes = {name: {k: v for k, v in value.items() if k in ("StringValue", "DataType")}
                          for name, value in (message.get("MessageAttributes") or {}).items()
                          if "StringValue" in value}
            if attributes:
                saved["attributes"] = attributes
            for key in ("MessageGroupId", "MessageDeduplicationId"):
                if key in message.get("Attributes", {}):
                    saved[key] = message["Attributes"][key]
            messages.append(saved)


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
