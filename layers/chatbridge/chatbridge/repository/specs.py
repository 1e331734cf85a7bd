"""Incoming webhook specs in CONFIG_TABLE, with a short in-memory cache for the ingest path.

Item layout (``pk`` / ``sk``):
- ``IWH`` / ``<identifier>``: the spec (``type`` ``incoming_webhook``); listing specs is one query.
- ``IWH#ID`` / ``<id>``: points a spec id at its identifier, so the reply path finds a chat's spec by id.
- ``COUNTER`` / ``<name>``: atomic id counters (``incoming_webhook``, ``chat``).

A spec keeps its id for life: the first save assigns it, later saves keep it, so chats stay linked.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from chatbridge.repository import tables
from chatbridge.settings import settings
from chatbridge.spec.limits import IDENTIFIER_PATTERN
from chatbridge.spec.stored import StoredSpec, load_stored_spec

if TYPE_CHECKING:  # imported where a spec is validated: the ingest path reads stored specs without the models
    from chatbridge.spec.model import IncomingWebhookSpec

SPEC = "IWH"
SPEC_ID = "IWH#ID"
COUNTER = "COUNTER"
MAX_CACHED_SPECS = 1024  # known and unknown identifiers; a flood of made-up ones resets the cache
_cache: dict[str, tuple[float, StoredSpec | IncomingWebhookSpec | None]] = {}


def next_id(name: str) -> int:
    """The next value of an atomic counter (1, 2, ...); one write, safe under any concurrency."""
    answer = tables.config_table().update_item(
        Key={"pk": COUNTER, "sk": name}, UpdateExpression="ADD #v :one", ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
    return int(answer["Attributes"]["value"])


def next_ids(name: str, count: int) -> range:
    """``count`` consecutive values of an atomic counter in one write (a warm function's block of chat ids)."""
    answer = tables.config_table().update_item(
        Key={"pk": COUNTER, "sk": name}, UpdateExpression="ADD #v :count", ExpressionAttributeNames={"#v": "value"},
        ExpressionAttributeValues={":count": count}, ReturnValues="UPDATED_NEW")
    last = int(answer["Attributes"]["value"])
    return range(last - count + 1, last + 1)


def ids_ever_assigned() -> range:
    """Every spec id handed out so far (1..the counter), deleted specs' included: their chats stay, and a
    listing across all specs must still find them on the chat index."""
    item = tables.config_table().get_item(Key={"pk": COUNTER, "sk": "incoming_webhook"},
                                          ConsistentRead=True).get("Item")
    return range(1, int(item["value"]) + 1 if item else 1)


def _body(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tables.plain(item).items() if k not in ("pk", "sk", "type")}


def _from_item(item: dict[str, Any]) -> IncomingWebhookSpec:
    from chatbridge.spec.model import IncomingWebhookSpec

    return IncomingWebhookSpec.model_validate(_body(item))


def could_exist(identifier: str) -> bool:
    """Only identifiers a spec may have are looked up: a 2,000-character or non-ASCII URL part is simply
    unknown (404), never a key DynamoDB refuses (which would look like a storage failure)."""
    return isinstance(identifier, str) and re.fullmatch(IDENTIFIER_PATTERN.strip("^$"), identifier) is not None


def get_spec(identifier: str) -> IncomingWebhookSpec | None:
    item = _spec_item(identifier)
    return _from_item(item) if item else None


def _spec_item(identifier: str) -> dict[str, Any] | None:
    if not could_exist(identifier):
        return None
    return tables.config_table().get_item(Key={"pk": SPEC, "sk": identifier}, ConsistentRead=True).get("Item")


def get_spec_by_id(spec_id: int) -> IncomingWebhookSpec | None:
    pointer = tables.config_table().get_item(Key={"pk": SPEC_ID, "sk": str(spec_id)}).get("Item")
    return get_spec(pointer["identifier"]) if pointer else None


def list_specs() -> list[IncomingWebhookSpec]:
    specs: list[IncomingWebhookSpec] = []
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(SPEC), "ConsistentRead": True}
    while True:
        answer = tables.config_table().query(**kwargs)
        specs.extend(_from_item(item) for item in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return specs
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def save_spec(spec: IncomingWebhookSpec) -> tuple[IncomingWebhookSpec, bool]:
    """Store a spec; returns (stored spec with its id and timestamps, created?).

    A new identifier gets a fresh id in the same transaction that writes its id pointer; if another save
    of the same identifier wins the race, this one becomes an update of it.
    """
    for _ in range(3):
        existing = get_spec(spec.identifier)
        now = int(time.time())
        if existing is not None:
            stored = spec.model_copy(update={"id": existing.id, "created_at": existing.created_at, "updated_at": now})
            try:
                tables.config_table().put_item(Item=_item(stored), ConditionExpression="id = :id",
                                               ExpressionAttributeValues={":id": existing.id})
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            _cache.pop(spec.identifier, None)
            return _revalidated(stored), False
        stored = spec.model_copy(update={"id": next_id("incoming_webhook"), "created_at": now, "updated_at": now})
        try:
            tables.client().transact_write_items(TransactItems=[
                {"Put": {"TableName": tables.config_table_name(), "Item": _item(stored),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": tables.config_table_name(),
                         "Item": {"pk": SPEC_ID, "sk": str(stored.id), "type": "incoming_webhook_id",
                                  "identifier": stored.identifier}}}])
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            continue
        _cache.pop(spec.identifier, None)
        return _revalidated(stored), True
    raise RuntimeError(f"could not save incoming webhook {spec.identifier!r}: it kept changing; try again")


def _revalidated(spec: IncomingWebhookSpec) -> IncomingWebhookSpec:
    return type(spec).model_validate(spec.model_dump(mode="python"))


def _item(spec: IncomingWebhookSpec) -> dict[str, Any]:
    body = tables.storable(spec.model_dump(mode="json"))
    return {**body, "pk": SPEC, "sk": spec.identifier, "type": "incoming_webhook"}


def delete_spec(identifier: str) -> bool:
    """Remove a spec and its id pointer; its chats stay. Returns False when there was none."""
    existing = get_spec(identifier)
    if existing is None:
        return False
    tables.client().transact_write_items(TransactItems=[
        {"Delete": {"TableName": tables.config_table_name(), "Key": {"pk": SPEC, "sk": identifier}}},
        {"Delete": {"TableName": tables.config_table_name(), "Key": {"pk": SPEC_ID, "sk": str(existing.id)}}}])
    _cache.pop(identifier, None)
    return True


def cached_spec(identifier: str) -> StoredSpec | IncomingWebhookSpec | None:
    """The spec as the ingest path sees it: cached (absent ones too) for ``SPEC_CACHE_SECONDS`` (30 s).

    A burst of webhooks costs one read; an edit or a disable reaches warm ingest Lambdas within the TTL.
    Read with ``spec.stored.load_stored_spec`` (the admin validated it when it was saved), so a cold
    function builds no validation model for it.
    """
    if not could_exist(identifier):
        return None
    now = time.monotonic()
    hit = _cache.get(identifier)
    if hit is not None and hit[0] > now:
        return hit[1]
    item = _spec_item(identifier)
    spec = load_stored_spec(_body(item)) if item else None
    if len(_cache) >= MAX_CACHED_SPECS:  # random identifiers must not grow a warm Lambda's memory without end
        for key in [key for key, (expires, _) in _cache.items() if expires <= now]:
            del _cache[key]
        if len(_cache) >= MAX_CACHED_SPECS:
            _cache.clear()
    _cache[identifier] = (now + settings().spec_cache_seconds, spec)
    return spec


def forget_cached_specs() -> None:
    _cache.clear()
