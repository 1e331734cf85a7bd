"""Putting the data folder's store back into a fresh moto at start, and dropping stream records every
reader is done with.

Table items, stream records and queue messages go straight into moto's backend objects (not through its
API): no stream record is made for a restored item (an earlier run already handled it), and a message
keeps its id, receive count and backoff. Parameters and objects go through the API, which keeps them as
they are.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chatbridge.local import moto_dynamodb
from chatbridge.local.attributes import item_from_json
from chatbridge.local.moto_changes import restore_messages
from chatbridge.local.store import DurableStore
from chatbridge.local.template import LocalTemplate

log = logging.getLogger("chatbridge.local")


def _backends(region: str) -> tuple[Any, Any]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region], sqs_backends[DEFAULT_ACCOUNT_ID][region]


def restore(store: DurableStore, template: LocalTemplate, resources: dict[str, dict[str, str]],
            clients: dict[str, Any]) -> tuple[dict[str, int], set[str]]:
    """Load the store into moto; name the resources worth keeping. Returns counts and the logical ids of
    tables whose stream got records back (their pollers resume from them)."""
    dynamodb, sqs = _backends(template.region)
    store.names.tables = {table.name: logical_id for logical_id, table in template.tables.items()}
    store.names.queues = {queue.name: logical_id for logical_id, queue in template.queues.items()}
    store.names.buckets = {bucket: logical_id for logical_id, bucket in template.buckets.items()}
    tables = {logical_id: dynamodb.tables[table.name] for logical_id, table in template.tables.items()
              if table.name in dynamodb.tables}
    counts = {"items": _items(store, tables)}
    counts["stream"], resumed = _stream(store, tables)
    counts["messages"] = _messages(store, {logical_id: sqs.get_queue(queue.name)
                                           for logical_id, queue in template.queues.items()})
    counts["parameters"] = _parameters(store, clients["ssm"])
    counts["objects"] = _objects(store, template.buckets, clients["s3"])
    return counts, resumed


def _items(store: DurableStore, tables: dict[str, Any]) -> int:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    count = 0
    for logical_id, _key, text in store.rows("items"):
        table = tables.get(logical_id)
        if table is None:
            continue  # the table left the template; its items have nowhere to go
        attributes = item_from_json(json.loads(text))
        hash_key = DynamoType(attributes[table.hash_key_attr])
        range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
        item = Item(hash_key, range_key, attributes)
        if range_key is not None:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item
        count += 1
    return count


def _stream(store: DurableStore, tables: dict[str, Any]) -> tuple[int, set[str]]:
    from moto.dynamodb.models.table import StreamRecord

    count, resumed = 0, set()
    for logical_id, sequence, text in store.rows("stream"):
        table = tables.get(logical_id)
        if table is None or table.stream_shard is None:
            continue
        record = StreamRecord.__new__(StreamRecord)
        record.record = json.loads(text)
        dynamodb = record.record["dynamodb"]
        for image in ("Keys", "NewImage", "OldImage"):
            if image in dynamodb:
                dynamodb[image] = item_from_json(dynamodb[image])
        if isinstance(dynamodb.get("ApproximateCreationDateTime"), str):
            dynamodb["ApproximateCreationDateTime"] = datetime.fromisoformat(dynamodb["ApproximateCreationDateTime"])
        shard = table.stream_shard
        if logical_id not in resumed:
            shard.items, shard.starting_sequence_number = [], int(sequence)
            resumed.add(logical_id)
        # moto finds a record by its position from the shard's first number, so the kept records must be
        # consecutive; they are (only the oldest are ever dropped), but never trust a file blindly
        dynamodb["SequenceNumber"] = str(shard.starting_sequence_number + len(shard.items))
        shard.items.append(record)
        count += 1
    return count, resumed


def _messages(store: DurableStore, queues: dict[str, Any]) -> int:
    saved: dict[str, list[dict[str, Any]]] = {}
    for logical_id, _id, text in store.rows("messages"):
        saved.setdefault(logical_id, []).append(json.loads(text))
    count = 0
    for logical_id, messages in saved.items():
        if logical_id in queues:
            messages.sort(key=lambda message: message.get("sent_timestamp") or 0)
            count += restore_messages(queues[logical_id], messages)
    return count


def _parameters(store: DurableStore, ssm: Any) -> int:
    rows = store.rows("parameters")
    for name, text in rows:
        parameter = json.loads(text)
        extra = {"Description": parameter["Description"]} if parameter.get("Description") else {}
        ssm.put_parameter(Name=name, Type=parameter["Type"], Value=parameter["Value"], Overwrite=True, **extra)
    return len(rows)


def _objects(store: DurableStore, buckets: dict[str, str], s3: Any) -> int:
    count = 0
    for logical_id, key, body, meta_text in store.rows("objects"):
        if logical_id in buckets:
            meta = json.loads(meta_text)
            headers = {name: value for name, value in meta.items() if value}  # moto_changes.object_headers
            s3.put_object(Bucket=buckets[logical_id], Key=key, Body=body,
                          **{"ContentType": "binary/octet-stream", "Metadata": {}, **headers})
            count += 1
    return count


def trim_stream(table_name: str, readers: int, store: DurableStore | None) -> Callable[[Any, int], None]:
    """A poller's ``on_checkpoint``: once each of the stream's ``readers`` pollers is done through some
    sequence number, the records up to the lowest of them go (from moto, and from the store)."""
    done: dict[int, int] = {}
    lock = threading.Lock()

    def checkpoint(poller: Any, sequence: int) -> None:
        with lock:
            done[id(poller)] = sequence
            if len(done) < readers:
                return
            through = min(done.values())
        dynamodb, _ = _backends(poller.stream_arn.split(":")[3])
        table = dynamodb.tables.get(table_name)
        if table is not None and moto_dynamodb.trim_stream(table, through) and store is not None:
            store.trim_stream(table_name, through)

    return checkpoint
