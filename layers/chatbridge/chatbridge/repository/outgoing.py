"""Outgoing webhooks and REST API definitions in CONFIG_TABLE.

Each kind lives under one partition (``pk`` = ``WEBHOOK`` / ``RESTAPI``, ``sk`` = its id), so listing a
kind is one query and the evaluator reads every rule in one request (then caches them briefly).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from chatbridge.errors import StoredDefinitionInvalid
from chatbridge.repository import tables
from chatbridge.repository.tables import plain

if TYPE_CHECKING:  # imported where used: the evaluator needs only the rules, the dispatcher only REST APIs
    from chatbridge.reply.rest_api import RestApi
    from chatbridge.reply.webhooks import OutgoingWebhook

WEBHOOK = "WEBHOOK"
REST_API = "RESTAPI"
RULE_CACHE_SECONDS = 10.0
_rule_cache: dict[str, tuple[float, list[OutgoingWebhook]]] = {}
_rest_api_cache: dict[str, tuple[float, RestApi | None]] = {}


def table() -> Any:
    return tables.config_table()


def _put(kind: str, item_id: str, body: dict[str, Any]) -> bool:
    """Store; returns True when the item is new."""
    now = int(time.time())
    answer = table().put_item(Item={"pk": kind, "sk": item_id, "type": kind.lower(), **body, "updated_at": now},
                              ReturnValues="ALL_OLD")
    forget_cached_rules()
    return "Attributes" not in answer


def _get(kind: str, item_id: str) -> dict[str, Any] | None:
    item = table().get_item(Key={"pk": kind, "sk": item_id}).get("Item")
    return _strip(item) if item else None


def _delete(kind: str, item_id: str) -> bool:
    try:
        table().delete_item(Key={"pk": kind, "sk": item_id}, ConditionExpression="attribute_exists(pk)")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    forget_cached_rules()
    return True


def _list(kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(kind), "ConsistentRead": True}
    while True:
        answer = table().query(**kwargs)
        items.extend(_strip(item) for item in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return items
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plain(item).items() if k not in ("pk", "sk", "type", "updated_at")}


logger = Logger(child=True)


def _model(model: type[BaseModel], kind: str, item: dict[str, Any]) -> Any:
    """The stored item as its model; one that fails today's checks is a typed, permanent error."""
    try:
        return model.model_validate(item)
    except ValidationError as error:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or kind}: {e['msg']}" for e in error.errors(include_url=False))
        raise StoredDefinitionInvalid(f"stored {kind} {item.get('id')!r} no longer passes its checks ({reasons}); "
                                      "save it again (PUT) once corrected") from None


def put_webhook(webhook: OutgoingWebhook) -> bool:
    return _put(WEBHOOK, webhook.id, webhook.model_dump())


def get_webhook(webhook_id: str) -> OutgoingWebhook | None:
    from chatbridge.reply.webhooks import OutgoingWebhook

    item = _get(WEBHOOK, webhook_id)
    return _model(OutgoingWebhook, "outgoing webhook", item) if item else None


def delete_webhook(webhook_id: str) -> bool:
    return _delete(WEBHOOK, webhook_id)


def list_webhooks() -> list[OutgoingWebhook]:
    from chatbridge.reply.webhooks import OutgoingWebhook

    return [_model(OutgoingWebhook, "outgoing webhook", item) for item in _list(WEBHOOK)]


def _valid_webhooks() -> list[OutgoingWebhook]:
    """Every rule that still passes its checks: one stale rule must not stop the others for every record."""
    from chatbridge.reply.webhooks import OutgoingWebhook

    rules = []
    for item in _list(WEBHOOK):
        try:
            rules.append(_model(OutgoingWebhook, "outgoing webhook", item))
        except StoredDefinitionInvalid as error:
            logger.error("outgoing webhook skipped", extra={"reason": str(error)})
    return rules


def webhooks_for(event: str) -> list[OutgoingWebhook]:
    """Enabled rules for an event, cached a few seconds: a burst of messages costs one read."""
    now = time.monotonic()
    cached = _rule_cache.get("all")
    if cached is None or cached[0] < now:
        cached = (now + RULE_CACHE_SECONDS, _valid_webhooks())
        _rule_cache["all"] = cached
    return [rule for rule in cached[1] if rule.enabled and rule.event == event]


def put_rest_api(rest_api: RestApi) -> bool:
    body = rest_api.model_dump()
    body["timeout"] = str(rest_api.timeout)  # DynamoDB has no floats; the model reads the text back
    return _put(REST_API, rest_api.id, body)


def get_rest_api(rest_api_id: str) -> RestApi | None:
    from chatbridge.reply.rest_api import RestApi

    item = _get(REST_API, rest_api_id)
    return _model(RestApi, "REST API", item) if item else None


def cached_rest_api(rest_api_id: str) -> RestApi | None:
    """A REST API as the dispatcher sees it: cached as briefly as the rules that point at it."""
    now = time.monotonic()
    hit = _rest_api_cache.get(rest_api_id)
    if hit is None or hit[0] < now:
        hit = (now + RULE_CACHE_SECONDS, get_rest_api(rest_api_id))
        _rest_api_cache[rest_api_id] = hit
    return hit[1]


def delete_rest_api(rest_api_id: str) -> bool:
    return _delete(REST_API, rest_api_id)


def list_rest_apis() -> list[RestApi]:
    from chatbridge.reply.rest_api import RestApi

    return [RestApi.model_validate(item) for item in _list(REST_API)]


def forget_cached_rules() -> None:
    _rule_cache.clear()
    _rest_api_cache.clear()
