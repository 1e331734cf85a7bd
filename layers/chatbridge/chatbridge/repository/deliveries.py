"""Delivery records (DELIVERY_TABLE): what happened to each dispatch job.

Kept out of the chat table so the chat stream only carries chats and messages. Keyed by chat id
(``chat_id`` N) and job id (``id`` S); records expire after ``DELIVERY_TTL_DAYS`` (default 30).
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from chatbridge.reply.dispatch import Delivery, DispatchJob
from chatbridge.repository import tables
from chatbridge.repository.tables import plain, storable
from chatbridge.settings import settings


def table() -> Any:
    return tables.delivery_table()


def _expires_at() -> int:
    return int(time.time()) + settings().delivery_ttl_days * 86_400


def record_queued(job: DispatchJob) -> None:
    """Create the record once; a replayed stream record leaves an existing one (maybe already sent) alone."""
    try:
        table().put_item(**queued_put(job, table_name=False))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def queued_put(job: DispatchJob, *, table_name: bool = True) -> dict[str, Any]:
    """The create-if-absent put of a job's ``queued`` record: alone (``record_queued``), or as an item of the
    evaluator's transaction (``table_name``), where a record that exists cancels it."""
    delivery = Delivery(id=job.job_id, chat_id=job.chat_id, message_id=job.message_id, webhook_id=job.webhook_id,
                        rest_api_id=job.rest_api_id, event=job.event)
    put: dict[str, Any] = {"Item": storable({**delivery.model_dump(), "expires_at": _expires_at()}),
                           "ConditionExpression": "attribute_not_exists(id)"}
    return {"TableName": tables.delivery_table_name(), **put} if table_name else put


def get(chat_id: int, job_id: str) -> Delivery | None:
    item = table().get_item(Key={"chat_id": chat_id, "id": job_id}, ConsistentRead=True).get("Item")
    return Delivery.model_validate({k: v for k, v in plain(item).items() if k != "expires_at"}) if item else None


def claim(job: DispatchJob, *, lease_seconds: int) -> str:
    """Take the job for one attempt: ``claimed``, ``sent`` (done before: skip) or ``busy`` (another worker).

    A conditional write, so two dispatchers handed the same SQS message never both send it. A refused claim
    answers with the record as it stands (``ReturnValuesOnConditionCheckFailure``), so telling a duplicate
    of a sent job from a busy one costs no second request.
    """
    now = int(time.time())
    try:
        _update(job, {"lease_until": now + lease_seconds, "webhook_id": job.webhook_id,
                      "rest_api_id": job.rest_api_id, "event": job.event, "message_id": job.message_id,
                      "expires_at": _expires_at()},
                 extra_set=["#attempts = if_not_exists(#attempts, :zero) + :one",
                            "#created_at = if_not_exists(#created_at, :now)"],
                 extra_names={"#attempts": "attempts", "#created_at": "created_at", "#status": "status"},
                 extra_values={":zero": 0, ":one": 1, ":now": now, ":sent": "sent"},
                 condition="(attribute_not_exists(#status) OR #status <> :sent) AND "
                           "(attribute_not_exists(#lease_until) OR #lease_until < :now)", old_on_failure=True)
        return "claimed"
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        old = error.response.get("Item")  # wire format: the error is not deserialised
    if old is not None:
        return "sent" if (old.get("status") or {}).get("S") == "sent" else "busy"
    current = get(job.chat_id, job.job_id)  # an endpoint that does not return the item
    return "sent" if current is not None and current.status == "sent" else "busy"


def record_attempt(job: DispatchJob, *, status: str, status_code: int | None, response_excerpt: str,
                   error: str | None, request: dict[str, Any], duration_ms: int) -> None:
    """Write an attempt's outcome and release the lease."""
    table().update_item(**attempt_update(job, status=status, status_code=status_code, error=error, request=request,
                                         response_excerpt=response_excerpt, duration_ms=duration_ms, table_name=False))


def attempt_update(job: DispatchJob, *, status: str, status_code: int | None, response_excerpt: str,
                   error: str | None, request: dict[str, Any], duration_ms: int,
                   table_name: bool = True) -> dict[str, Any]:
    """``record_attempt``'s write: alone, or an item of the dispatcher's transaction (``table_name``)."""
    update = _update_request(job, {"status": status, "status_code": status_code, "response_excerpt": response_excerpt,
                                   "error": error, "request": storable(request), "duration_ms": duration_ms,
                                   "updated_at": int(time.time())}, remove=["lease_until"])
    return {"TableName": tables.delivery_table_name(), **update} if table_name else update


def requeue_failed(job: DispatchJob) -> bool:
    """Put a ``failed`` delivery back to ``queued`` for an operator's Retry; False when it is not failed any
    more (another Retry or a redrive got there first), so each failed job is re-queued once per failure."""
    try:
        _update(job, {"status": "queued", "error": None, "updated_at": int(time.time())},
                extra_values={":failed": "failed"}, condition="#status = :failed")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def mark_failed_again(job: DispatchJob, reason: str) -> None:
    """Undo a Retry whose job could not be queued: the delivery is failed again, with why."""
    _update(job, {"status": "failed", "error": reason, "updated_at": int(time.time())})


def _update(job: DispatchJob, values: dict[str, Any], *, extra_set: list[str] = (), remove: list[str] = (),
            extra_names: dict[str, str] | None = None, extra_values: dict[str, Any] | None = None,
            condition: str | None = None, old_on_failure: bool = False) -> None:
    """SET every value under an alias: delivery fields such as ``status`` and ``request`` are reserved words."""
    table().update_item(**_update_request(job, values, extra_set=extra_set, remove=remove, extra_names=extra_names,
                                          extra_values=extra_values, condition=condition,
                                          old_on_failure=old_on_failure))


def _update_request(job: DispatchJob, values: dict[str, Any], *, extra_set: list[str] = (), remove: list[str] = (),
                    extra_names: dict[str, str] | None = None, extra_values: dict[str, Any] | None = None,
                    condition: str | None = None, old_on_failure: bool = False) -> dict[str, Any]:
    names = {f"#{key}": key for key in [*values, *remove]} | (extra_names or {})
    if condition and "#lease_until" in condition:
        names["#lease_until"] = "lease_until"
    expression = "SET " + ", ".join([f"#{key} = :{key}" for key in values] + list(extra_set))
    if remove:
        expression += " REMOVE " + ", ".join(f"#{key}" for key in remove)
    kwargs: dict[str, Any] = {"Key": {"chat_id": job.chat_id, "id": job.job_id}, "UpdateExpression": expression,
                              "ExpressionAttributeNames": names,
                              "ExpressionAttributeValues": {f":{key}": value for key, value in values.items()}
                              | (extra_values or {})}
    if condition:
        kwargs["ConditionExpression"] = condition
    if old_on_failure:
        kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return kwargs


def any_failed_for_message(chat_id: int, message_id: int) -> bool:
    """Whether a delivery of this message is ``failed`` now (consistent read: an attempt just recorded counts).

    Reads the chat's deliveries (the table is keyed by chat, not message); only the rare path that lifts a
    message's sticky ``failed`` asks, so the cost stays off the ordinary send.
    """
    from boto3.dynamodb.conditions import Attr, Key

    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("chat_id").eq(chat_id), "ConsistentRead": True,
                              "FilterExpression": Attr("message_id").eq(message_id) & Attr("status").eq("failed"),
                              "ProjectionExpression": "id"}
    while True:
        answer = table().query(**kwargs)
        if answer["Items"]:
            return True
        if "LastEvaluatedKey" not in answer:
            return False
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def list_for_chat(chat_id: int) -> list[Delivery]:
    from boto3.dynamodb.conditions import Key

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("chat_id").eq(chat_id)}
    while True:
        answer = table().query(**kwargs)
        items.extend(answer["Items"])
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return _sorted(items)


def list_recent(limit: int = 200) -> list[Delivery]:
    """Every chat's deliveries, newest first (a scan: for an operator looking around, not for hot paths)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        answer = table().scan(**kwargs)
        items.extend(answer["Items"])
        if "LastEvaluatedKey" not in answer:
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return _sorted(items)[:limit]


def _sorted(items: list[dict[str, Any]]) -> list[Delivery]:
    fields = set(Delivery.model_fields)
    deliveries = [Delivery.model_validate({k: v for k, v in plain(item).items() if k in fields}) for item in items]
    return sorted(deliveries, key=lambda d: (d.created_at, d.id), reverse=True)


def record_provider_failure(chat_id: int, message_id: int, reason: str) -> int:
    """The provider refused a reply it had accepted (a ``failed`` receipt: WhatsApp's 24-hour window): each
    ``sent`` delivery of the message turns ``failed`` with the provider's reason as its ``error``, where the
    console and ``deliveries list`` show why a delivery failed. Returns how many changed."""
    from boto3.dynamodb.conditions import Attr, Key

    kwargs: dict[str, Any] = {"KeyConditionExpression": Key("chat_id").eq(chat_id), "ConsistentRead": True,
                              "FilterExpression": Attr("message_id").eq(message_id) & Attr("status").eq("sent")}
    changed = 0
    while True:
        answer = table().query(**kwargs)
        for item in answer["Items"]:
            try:
                table().update_item(
                    Key={"chat_id": chat_id, "id": item["id"]},
                    UpdateExpression="SET #status = :failed, #error = :reason, updated_at = :now",
                    ConditionExpression="#status = :sent",
                    ExpressionAttributeNames={"#status": "status", "#error": "error"},
                    ExpressionAttributeValues={":failed": "failed", ":sent": "sent", ":now": int(time.time()),
                                               ":reason": f"the provider reported it failed: {reason}"[:2000]})
                changed += 1
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        if "LastEvaluatedKey" not in answer:
            return changed
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
