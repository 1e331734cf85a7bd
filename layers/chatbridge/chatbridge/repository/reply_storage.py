"""The reply pipeline's storage, bound to DynamoDB, SQS and SSM.

Chat-table access (read a chat, add an operator or system message, set a message's delivery state)
goes through the chat repository's key layout, kept in the ``_chat_key``/``_message_key`` helpers.
"""

from __future__ import annotations

import json
import random
import time
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from chatbridge.errors import StorageConflict
from chatbridge.reply.pipeline import ReplyStorage
from chatbridge.repository import chat_cache, deliveries, outgoing, queue, secrets, tables
from chatbridge.repository.tables import plain
from chatbridge.repository.values import CHAT_SNAPSHOT
from chatbridge.settings import settings
from chatbridge.spec import limits

MAX_CONFLICTS = 12
SENT_CONFLICTS = 3  # tries of the dispatcher's post-send transaction under conflicts, then two writes
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
MAX_SNAPSHOT_ITEM_BYTES = 300_000  # a message with its chat stays this far under DynamoDB's 400 KB item limit


def chat_table() -> Any:
    return tables.chat_table()


def _chat_key(chat_id: int) -> dict[str, Any]:
    return {"pk": f"CHAT#{chat_id}", "sk": "CHAT"}


def _message_key(chat_id: int, message_id: int) -> dict[str, Any]:
    return {"pk": f"CHAT#{chat_id}", "sk": f"MSG#{message_id:012d}"}


def get_chat(chat_id: int) -> dict[str, Any] | None:
    """The chat, read now; remembered as a reply's append would leave it, so an operator's message that read it
    first (one with a file) is then written in one request."""
    item = chat_table().get_item(Key=_chat_key(chat_id), ConsistentRead=True).get("Item")
    if not item:
        return None
    chat_cache.reply_chats.put((tables.chat_table_name(), chat_id), _snapshot(item))
    return plain(item)


def set_message_delivery(chat_id: int, message_id: int, state: str, provider_message_id: str | None = None) -> bool:
    """Show the operator where a reply stands; ``failed`` is sticky over a later ``sent`` of another rule.

    Sticky, not final: a ``sent`` that finds the message ``failed`` lifts it when no delivery of the message
    is ``failed`` any more, which is the case once the failed job went through after ``deliveries redrive``
    (the dispatcher records the attempt before it calls this, so that job's own record already says
    ``sent``). The delivery records are read only then, so an ordinary send costs one conditional write.

    A ``sent`` with the reply's ``provider_message_id`` writes the id in that same request; True when it did
    (the state was applied at once), so the caller writes it separately only on the rare other paths.
    """
    condition, values = _forward_only(state, provider_message_id)
    with_id = ":pmid" in values
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
    return {k: v for k, v in plain(answer["Attributes"]).items() if k not in ("pk", "sk", "type", CHAT_SNAPSHOT)}


def _update_delivery(chat_id: int, message_id: int, condition: str, values: dict[str, Any]) -> bool:
    """Set the message's ``delivery`` when ``condition`` holds; False when it did not (or no such message)."""
    try:
        chat_table().update_item(**_delivery_update(chat_id, message_id, condition, values, table_name=False))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _delivery_update(chat_id: int, message_id: int, condition: str, values: dict[str, Any], *,
                     table_name: bool = True) -> dict[str, Any]:
    """The message's ``delivery`` write: alone, or an item of a transaction (``table_name``)."""
    # updated_at moves with every state change: the cursor a console's messages?changed_after= polls
    update = {"Key": _message_key(chat_id, message_id), "ConditionExpression": condition,
              "UpdateExpression": "SET delivery = :state, updated_at = :now"
                                  + (", provider_message_id = :pmid" if ":pmid" in values else ""),
              "ExpressionAttributeValues": {**values, ":now": int(time.time())}}
    return {"TableName": tables.chat_table_name(), **update} if table_name else update


def _forward_only(state: str, provider_message_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The condition and values of a ``delivery`` write to ``state``: ``queued`` and ``sent`` never over a
    receipt's delivered/read or a ``failed`` (a replayed record, a duplicate job: states move forward)."""
    condition = "attribute_exists(pk)"
    values: dict[str, Any] = {":state": state}
    if state in ("sent", "queued"):
        condition += " AND NOT (delivery IN (:failed, :delivered, :read))"
        values.update({":failed": "failed", ":delivered": "delivered", ":read": "read"})
    if provider_message_id is not None and state == "sent":
        values[":pmid"] = limits.bounded_id(str(provider_message_id))
    return condition, values


def record_queued_jobs(jobs: list[Any]) -> None:
    """The evaluator's writes for one message's jobs: each job's ``queued`` delivery record (create-if-absent)
    and the message's ``queued``, in one ``TransactWriteItems``. A replayed record (a delivery exists, the
    message moved on) or a conflicting writer cancels it; then each write is made alone, as before, each
    leaving what it finds (a record that exists, a message already ``sent``, ``delivered`` or ``failed``)."""
    chat_id, message_id = jobs[0].chat_id, jobs[0].message_id
    condition, values = _forward_only("queued")
    items = [{"Put": deliveries.queued_put(job)} for job in jobs]
    items.append({"Update": _delivery_update(chat_id, message_id, condition, values)})
    if len(items) <= MAX_TRANSACTION_ITEMS:
        try:
            tables.client().transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
    for job in jobs:
        deliveries.record_queued(job)
    set_message_delivery(chat_id, message_id, "queued")


def record_sent(job: Any, provider_message_id: str | None, **attempt: Any) -> bool:
    """The dispatcher's writes after a send went through: the attempt (``sent``, the lease released) and the
    message's ``sent`` (with the reply's provider id, if any) in one ``TransactWriteItems``. True when the id
    rode on the message's write.

    The send happened, so it must never be forgotten: a transaction that conflicts with another writer of the
    message (a receipt, an edit, another webhook's job) is tried again, and one cancelled for good (the message
    is ``failed``, ``delivered`` or ``read``, or gone) or still conflicting is made as the two writes of before,
    the attempt first: the message's write then takes its sticky-``failed`` path. Any other error (throttled,
    an answer lost) records the attempt alone, then is raised: the job comes back, finds its delivery
    ``sent``, sends nothing and marks the message."""
    from chatbridge.repository import deliveries as records

    condition, values = _forward_only("sent", provider_message_id)
    items = [{"Update": records.attempt_update(job, status="sent", **attempt)},
             {"Update": _delivery_update(job.chat_id, job.message_id, condition, values)}]
    for conflicts in range(SENT_CONFLICTS):
        try:
            tables.client().transact_write_items(TransactItems=items)
            return ":pmid" in values
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                records.record_attempt(job, status="sent", **attempt)
                raise
            codes = [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]
            if "TransactionConflict" not in codes:
                break
            time.sleep(random.uniform(0, 0.01 * (conflicts + 1)))
    records.record_attempt(job, status="sent", **attempt)
    return set_message_delivery(job.chat_id, job.message_id, "sent", provider_message_id)


# the chat attributes an append's transaction checks against the remembered chat: every chat writer moves at
# least one of them (ingest: the counter; a close: status; every write: updated_at), so a match proves the
# remembered chat, and with it the snapshot the message carries, is the chat as it stands
_WATCHED = ("last_message_id", "status", "user_id", "nick", "updated_at")
_NOT_IN_SNAPSHOT = frozenset({"pk", "sk", "raw"})  # raw: the first payload, never part of args.chat


def _snapshot(item: dict[str, Any]) -> dict[str, Any]:
    """The chat as the evaluator's ``args.chat`` needs it: the item without its keys and raw payload."""
    return {key: value for key, value in plain(item).items() if key not in _NOT_IN_SNAPSHOT}


def _append_message(chat_id: int, *, msg: str, user_id: int, kind: str = "text",
                    status: str | None = None, file: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Allocate the next message id on the chat item and write the message; ``None`` when there is no chat.

    A chat this function remembers (``chat_cache.reply_chats``) costs one ``TransactWriteItems``: the chat's
    counter advanced with a condition on what is remembered (``_WATCHED``), and the message put. A cancelled
    one returns the chat as it now is (``ReturnValuesOnConditionCheckFailure``), which is remembered and tried
    again. A chat not remembered costs two requests, as before the memory: the counter's ``UpdateItem``, which
    answers the whole chat, then the ``PutItem``. A message that fires an event (visitor or operator) carries
    the chat as this write left it (``chat_snapshot``), so the evaluator need not read it.
    """
    now = int(time.time())
    message = {"type": "message", "chat_id": chat_id, "id": 0, "user_id": user_id, "kind": kind,
               "msg": msg, "time": now, "message_id": None, "delivery": None}
    if file is not None:
        message["file"] = file
    key = (tables.chat_table_name(), chat_id)
    remembered = chat_cache.reply_chats.get(key)
    for conflicts in range(MAX_CONFLICTS):
        if remembered is None:
            return _append_cold(chat_id, message, status, now, key)
        after = {**remembered, "last_message_id": int(remembered.get("last_message_id", 0)) + 1, "updated_at": now,
                 **({"status": status} if status is not None else {})}
        item = _message_item(chat_id, message, after)
        try:
            tables.client().transact_write_items(TransactItems=[
                {"Update": _advance_remembered(chat_id, remembered, after)},
                {"Put": {"TableName": tables.chat_table_name(), "Item": tables.storable(item),
                         "ConditionExpression": "attribute_not_exists(pk)"}}])
        except ClientError as error:
            chat_cache.reply_chats.drop(key)  # an unknown outcome too: the next append learns the chat again
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            codes = [reason.get("Code") for reason in reasons]
            if "TransactionConflict" in codes:  # another writer's transaction holds the chat: same memory, later
                time.sleep(random.uniform(0, 0.01 * (conflicts + 1)))
                continue
            returned = tables.cancelled_item(reasons, 0)
            # the chat as it now is; none returned (no such chat, or the message's id was taken): read it whole
            remembered = _snapshot(returned) if returned else None
            continue
        chat_cache.reply_chats.put(key, after)
        return _public_message(item)
    raise StorageConflict(f"chat {chat_id} kept changing under concurrent writers; retry the request")


def _append_cold(chat_id: int, message: dict[str, Any], status: str | None, now: int,
                 key: tuple[str, int]) -> dict[str, Any] | None:
    """A chat this function does not remember: the atomic counter (whose answer is the chat), then the message."""
    kwargs: dict[str, Any] = {"UpdateExpression": "ADD last_message_id :one SET updated_at = :now",
                              "ExpressionAttributeValues": {":one": 1, ":now": now}}
    if status is not None:
        kwargs["UpdateExpression"] += ", #s = :status"
        kwargs["ExpressionAttributeValues"][":status"] = status
        kwargs["ExpressionAttributeNames"] = {"#s": "status"}
    try:
        answer = chat_table().update_item(Key=_chat_key(chat_id), ConditionExpression="attribute_exists(pk)",
                                          ReturnValues="ALL_NEW", **kwargs)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    after = _snapshot(answer["Attributes"])
    item = _message_item(chat_id, message, after)
    chat_table().put_item(Item=tables.storable(item))
    chat_cache.reply_chats.put(key, after)
    return _public_message(item)


def _advance_remembered(chat_id: int, remembered: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The chat's update in an append's transaction: the new counter, time and status, if the chat still is
    what ``remembered`` says (each ``_WATCHED`` attribute as remembered, or absent if it was)."""
    names = {f"#w{i}": name for i, name in enumerate(_WATCHED)}
    values: dict[str, Any] = {":last": after["last_message_id"], ":now": after["updated_at"]}
    checks = ["attribute_exists(pk)"]
    for i, name in enumerate(_WATCHED):
        if name not in remembered:
            checks.append(f"attribute_not_exists(#w{i})")
        elif remembered[name] is None:
            checks.append(f"attribute_type(#w{i}, :null)")
            values[":null"] = "NULL"
        else:
            checks.append(f"#w{i} = :w{i}")
            values[f":w{i}"] = remembered[name]
    sets = ["last_message_id = :last", "updated_at = :now"]
    if after.get("status") != remembered.get("status"):
        sets.append(f"#w{_WATCHED.index('status')} = :status")
        values[":status"] = after["status"]
    return {"TableName": tables.chat_table_name(), "Key": _chat_key(chat_id),
            "UpdateExpression": "SET " + ", ".join(sets), "ConditionExpression": " AND ".join(checks),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": tables.storable(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}


def _message_item(chat_id: int, message: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
    """The message item; one that fires an event (system messages fire nothing) carries its chat, unless the
    two together could near DynamoDB's 400 KB (a 64K-character reply to a chat with every attribute at its
    bound): then the evaluator reads the chat, as for any message without it."""
    message_id = int(chat["last_message_id"])
    item = {**_message_key(chat_id, message_id), **message, "id": message_id}
    if int(message["user_id"]) >= 0 and _utf8_size(message) + _utf8_size(chat) <= MAX_SNAPSHOT_ITEM_BYTES:
        item[CHAT_SNAPSHOT] = chat
    return item


def _utf8_size(value: Any) -> int:
    """An upper bound of what DynamoDB counts for a value: its JSON text in UTF-8 (names, quotes and all)."""
    return len(json.dumps(value, default=str, ensure_ascii=False).encode("utf-8"))


def _public_message(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in ("pk", "sk", CHAT_SNAPSHOT)}


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
        record_queued_jobs=record_queued_jobs,
        set_message_delivery=set_message_delivery,
        enqueue=queue.enqueue,
        claim=lambda job, lease: deliveries.claim(job, lease_seconds=lease),
        get_rest_api=outgoing.cached_rest_api,
        spec_context=spec_context,
        resolve_secrets=secrets.resolve_secrets,
        record_attempt=deliveries.record_attempt,
        record_sent=record_sent,
        dead_letter=queue.dead_letter,
        add_system_message=add_system_message,
        link_provider_message_id=link_provider_message_id,
    )
