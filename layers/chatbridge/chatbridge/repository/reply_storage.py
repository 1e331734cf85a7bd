"""The reply pipeline's storage, bound to DynamoDB, SQS and SSM.

Chat-table access (read a chat, add an operator or system message, set a message's delivery state)
goes through the chat repository's key layout, kept in the ``_chat_key``/``_message_key`` helpers.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chatbridge.outgoing import plain
from chatbridge.replies import ReplyStorage
from chatbridge.repository import deliveries, outgoing, queue, secrets

CHAT_TABLE_ENV = "CHAT_TABLE"


@lru_cache(maxsize=4)
def _table(name: str) -> Any:
    return boto3.resource("dynamodb").Table(name)


def chat_table() -> Any:
    return _table(os.environ[CHAT_TABLE_ENV])


def _chat_key(chat_id: int) -> dict[str, Any]:
    return {"pk": f"CHAT#{chat_id}", "sk": "CHAT"}


def _message_key(chat_id: int, message_id: int) -> dict[str, Any]:
    return {"pk": f"CHAT#{chat_id}", "sk": f"MSG#{message_id:012d}"}


def get_chat(chat_id: int) -> dict[str, Any] | None:
    item = chat_table().get_item(Key=_chat_key(chat_id), ConsistentRead=True).get("Item")
    return plain(item) if item else None


def set_message_delivery(chat_id: int, message_id: int, state: str) -> None:
    """Show the operator where a reply stands; ``failed`` is sticky over a later ``sent`` of another rule."""
    condition = "attribute_exists(pk)"
    values: dict[str, Any] = {":state": state}
    if state in ("sent", "queued"):
        condition += " AND (attribute_not_exists(delivery) OR delivery <> :failed)"
        values[":failed"] = "failed"
    try:
        chat_table().update_item(Key=_message_key(chat_id, message_id), UpdateExpression="SET delivery = :state",
                                 ConditionExpression=condition, ExpressionAttributeValues=values)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def _append_message(chat_id: int, *, msg: str, user_id: int, kind: str = "text",
                    status: str | None = None) -> dict[str, Any] | None:
    """Allocate the next message id on the chat item (atomic counter) and write the message.

    Returns ``None`` when the chat does not exist.
    """
    now = int(time.time())
    kwargs: dict[str, Any] = {"UpdateExpression": "ADD last_message_id :one SET updated_at = :now",
                              "ExpressionAttributeValues": {":one": 1, ":now": now}}
    if status is not None:
        kwargs["UpdateExpression"] += ", #s = :status"
        kwargs["ExpressionAttributeValues"][":status"] = status
        kwargs["ExpressionAttributeNames"] = {"#s": "status"}
    try:
        answer = chat_table().update_item(Key=_chat_key(chat_id), ConditionExpression="attribute_exists(pk)",
                                          ReturnValues="UPDATED_NEW", **kwargs)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    message_id = int(answer["Attributes"]["last_message_id"])
    message = {"type": "message", "chat_id": chat_id, "id": message_id, "user_id": user_id, "kind": kind,
               "msg": msg, "time": now, "message_id": None, "delivery": None}
    chat_table().put_item(Item={**_message_key(chat_id, message_id), **message})
    return message


def add_operator_message(chat_id: int, msg: str, user_id: int) -> dict[str, Any] | None:
    """An operator's reply: written as a message (which the stream turns into outgoing calls); chat active."""
    return _append_message(chat_id, msg=msg, user_id=user_id, status="active")


def add_system_message(chat_id: int, text: str) -> None:
    """The third party's answer, saved in the chat when the REST API asks for it (user_id -1)."""
    _append_message(chat_id, msg=text, user_id=-1)


def spec_context(iwh_id: Any) -> tuple[dict[str, Any], str | None]:
    """Attributes and ``chat_id_template`` of the incoming webhook a chat came from ({} / None if none)."""
    if iwh_id is None:
        return {}, None
    from chatbridge.repository import specs

    spec = specs.get_spec_by_id(int(iwh_id))
    if spec is None:
        return {}, None
    return dict(spec.attributes), spec.chat_id_template


@lru_cache(maxsize=1)
def reply_storage() -> ReplyStorage:
    return ReplyStorage(
        get_chat=get_chat,
        webhooks_for=outgoing.webhooks_for,
        record_queued=deliveries.record_queued,
        set_message_delivery=set_message_delivery,
        enqueue=queue.enqueue,
        claim=lambda job, lease: deliveries.claim(job, lease_seconds=lease),
        get_rest_api=outgoing.get_rest_api,
        spec_context=spec_context,
        resolve_secrets=secrets.resolve_secrets,
        record_attempt=deliveries.record_attempt,
        dead_letter=queue.dead_letter,
        add_system_message=add_system_message,
    )
