"""The reply pipeline's storage, bound to DynamoDB, SQS and SSM.

Chat-table access (read a chat, add an operator or system message, set a message's delivery state)
goes through the chat repository's key layout, kept in the ``_chat_key``/``_message_key`` helpers.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from chatbridge.reply.pipeline import ReplyStorage
from chatbridge.repository import deliveries, outgoing, queue, secrets, tables
from chatbridge.repository.tables import plain
from chatbridge.settings import settings
from chatbridge.spec import limits


def chat_table() -> Any:
    return tables.chat_table()


def _chat_key(chat_id: int) -> dict[str, Any]:
    return {"pk": f"CHAT#{chat_id}", "sk": "CHAT"}


def _message_key(chat_id: int, message_id: int) -> dict[str, Any]:
    return {"pk": f"CHAT#{chat_id}", "sk": f"MSG#{message_id:012d}"}


def get_chat(chat_id: int) -> dict[str, Any] | None:
    item = chat_table().get_item(Key=_chat_key(chat_id), ConsistentRead=True).get("Item")
    return plain(item) if item else None


def set_message_delivery(chat_id: int, message_id: int, state: str, provider_message_id: str | None = None) -> bool:
    """Show the operator where a reply stands; ``failed`` is sticky over a later ``sent`` of another rule.

    Sticky, not final: a ``sent`` that finds the message ``failed`` lifts it when no delivery of the message
    is ``failed`` any more, which is the case once the failed job went through after ``deliveries redrive``
    (the dispatcher records the attempt before it calls this, so that job's own record already says
    ``sent``). The delivery records are read only then, so an ordinary send costs one conditional write.

    A ``sent`` with the reply's ``provider_message_id`` writes the id in that same request; True when it did
    (the state was applied at once), so the caller writes it separately only on the rare other paths.
    """
    condition = "attribute_exists(pk)"
    values: dict[str, Any] = {":state": state}
    if state in ("sent", "queued"):
        # never over a receipt's delivered/read either (a replayed record, a duplicate job): states move forward
        condition += " AND NOT (delivery IN (:failed, :delivered, :read))"
        values.update({":failed": "failed", ":delivered": "delivered", ":read": "read"})
    with_id = provider_message_id is not None and state == "sent"
    if with_id:
        values[":pmid"] = limits.bounded_id(str(provider_message_id))
    if _update_delivery(chat_id, message_id, condition, values):
        return with_id
    if state != "sent":
        return False
    values.pop(":pmid", None)
    if deliveries.any_failed_for_message(chat_id, message_id):
        return False  # another webhook's reply to this message is still failed
    lifted = _update_delivery(chat_id, message_id, "attribute_exists(pk) AND delivery = :failed",
                              {":state": "sent", ":failed": "failed"})
    if lifted and deliveries.any_failed_for_message(chat_id, message_id):
        # another webhook's job failed in between. It records its attempt before it marks the message, so
        # either this second look sees it or its own ``failed`` lands after this ``sent``: failed wins both ways
        _update_delivery(chat_id, message_id, "attribute_exists(pk)", {":state": "failed"})
    return False


def link_provider_message_id(job: Any, provider_message_id: str, on_message: bool = False) -> None:
    """Keep a sent reply's provider id (and its dedup item, in the spec's id scope) so receipts and echoes find
    it; a chat of no known spec keeps the id on the message only through the spec it names. ``on_message``:
    the ``sent`` write already carried the id (``set_message_delivery``), so only the dedup item is written."""
    from chatbridge.repository import chats

    chat = job.args.get("chat") or {}
    if chat.get("iwh_id") is None or job.message_id is None:
        return
    spec_id = int(chat["iwh_id"])
    spec = _cached_spec_by_id(spec_id, fresh=False)
    external = (chat.get("incoming_chat") or {}).get("chat_external_id")
    scope = str(external) if spec is not None and spec.message_id_scope == "chat" and external is not None else None
    dedup_id = chats.provider_dedup_id(provider_message_id, scope)
    if on_message:
        chats.point_provider_id_at(spec_id, dedup_id, job.chat_id, job.message_id)
    else:
        chats.link_provider_message_id(spec_id, dedup_id, job.chat_id, job.message_id, provider_message_id)


def requeue_message(chat_id: int, message_id: int) -> dict[str, Any] | None:
    """An operator's Retry: the message shows ``queued`` again, over its ``failed`` (the one place that may
    lift it before a send), so the re-sent job's ``sent`` lands as usual. None when there is no such message."""
    try:
        answer = chat_table().update_item(Key=_message_key(chat_id, message_id),
                                          UpdateExpression="SET delivery = :queued, updated_at = :now",
                                          ConditionExpression="attribute_exists(pk)", ReturnValues="ALL_NEW",
                                          ExpressionAttributeValues={":queued": "queued", ":now": int(time.time())})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return None
    return {k: v for k, v in plain(answer["Attributes"]).items() if k not in ("pk", "sk", "type")}


def _update_delivery(chat_id: int, message_id: int, condition: str, values: dict[str, Any]) -> bool:
    """Set the message's ``delivery`` when ``condition`` holds; False when it did not (or no such message)."""
    try:
        # updated_at moves with every state change: the cursor a console's messages?changed_after= polls
        chat_table().update_item(Key=_message_key(chat_id, message_id),
                                 UpdateExpression="SET delivery = :state, updated_at = :now"
                                                  + (", provider_message_id = :pmid" if ":pmid" in values else ""),
                                 ConditionExpression=condition,
                                 ExpressionAttributeValues={**values, ":now": int(time.time())})
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _append_message(chat_id: int, *, msg: str, user_id: int, kind: str = "text",
                    status: str | None = None, file: dict[str, Any] | None = None) -> dict[str, Any] | None:
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
    if file is not None:
        message["file"] = file
    chat_table().put_item(Item={**_message_key(chat_id, message_id), **message})
    return message


def add_operator_message(chat_id: int, msg: str, user_id: int, *,
                         file: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """An operator's reply: written as a message (which the stream turns into outgoing calls); chat active.
    With a ``file`` (``admin.file_routes.attached_file``) the message's kind is the file's."""
    kind = str(file["kind"]) if file else "text"
    return _append_message(chat_id, msg=msg, user_id=user_id, status="active", kind=kind, file=file)


def add_system_message(chat_id: int, text: str) -> None:
    """The third party's answer, saved in the chat when the REST API asks for it (user_id -1)."""
    _append_message(chat_id, msg=text, user_id=-1)


_spec_identifiers: dict[int, tuple[float, str | None]] = {}


def spec_context(iwh_id: Any) -> tuple[dict[str, Any], str | None]:
    """Attributes and ``chat_id_template`` of the incoming webhook a chat came from ({} / None if none).

    Served from the ingest path's spec cache (``SPEC_CACHE_SECONDS``) and a cache of the id -> identifier
    pointer, so a warm dispatcher reads no spec per delivery and an edit reaches it within the TTL. A
    pointer that leads nowhere (or to a newer spec under the same identifier) is read again once.
    """
    if iwh_id is None:
        return {}, None
    spec_id = int(iwh_id)
    for fresh in (False, True):
        spec = _cached_spec_by_id(spec_id, fresh=fresh)
        if spec is not None:
            return dict(spec.attributes), spec.chat_id_template
    return {}, None


def _cached_spec_by_id(spec_id: int, *, fresh: bool) -> Any:
    from chatbridge.repository import specs

    now = time.monotonic()
    hit = _spec_identifiers.get(spec_id)
    if fresh or hit is None or hit[0] <= now:
        pointer = specs.tables.config_table().get_item(Key={"pk": specs.SPEC_ID, "sk": str(spec_id)}).get("Item")
        ttl = settings().spec_cache_seconds
        hit = (now + ttl, str(pointer["identifier"]) if pointer else None)
        _spec_identifiers[spec_id] = hit
    if not hit[1]:
        return None
    spec = specs.get_spec(hit[1]) if fresh else specs.cached_spec(hit[1])
    return spec if spec is not None and spec.id == spec_id else None


def forget_cached_spec_identifiers() -> None:
    _spec_identifiers.clear()


@lru_cache(maxsize=1)
def reply_storage() -> ReplyStorage:
    return ReplyStorage(
        get_chat=get_chat,
        webhooks_for=outgoing.webhooks_for,
        record_queued=deliveries.record_queued,
        set_message_delivery=set_message_delivery,
        enqueue=queue.enqueue,
        claim=lambda job, lease: deliveries.claim(job, lease_seconds=lease),
        get_rest_api=outgoing.cached_rest_api,
        spec_context=spec_context,
        resolve_secrets=secrets.resolve_secrets,
        record_attempt=deliveries.record_attempt,
        dead_letter=queue.dead_letter,
        add_system_message=add_system_message,
        link_provider_message_id=link_provider_message_id,
    )
