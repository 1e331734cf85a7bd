"""moto's SQS, SSM and S3 reporting what they change to the local stack's durable store, and keeping no
per-request history.

Each patched backend call, once it has run, reads back the current state of what it named (a queue and
its dead-letter queue, a parameter, an object) and hands the difference to the store; the call returns,
and so the request is answered, only once the store has it on disk. Reading back current state instead of
replaying each call keeps one rule for every call (a receive that moves messages to the DLQ included).

moto's SQS also keeps the receipt handle of every message ever deleted (so a second delete succeeds, as
SQS's does): kept here for the last ``DELETED_RECEIPTS_KEPT`` messages, not forever.

``restore_messages`` puts saved queue messages back at start. A message that was *in flight* when the stack
died (received, not deleted) is visible again at once: the poller that held it died with the stack, and
SQS would hand it out again after its visibility timeout anyway. A message hidden by
``ChangeMessageVisibility`` (the dispatcher's retry backoff) keeps its time.
"""

from __future__ import annotations

import base64
import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from chatbridge.local.store import DurableStore

DELETED_RECEIPTS_KEPT = 10_000

_SQS_CALLS = ("send_message", "send_message_batch", "receive_message", "delete_message", "delete_message_batch",
              "change_message_visibility", "change_message_visibility_batch", "purge_queue")
_installed: dict[tuple[type, str], Any] = {}
_state = threading.local()
_sqs_lock = threading.Lock()  # orders snapshots (not the calls: a long poll must not block a send)
_written: dict[str, dict[str, str]] = {}  # queue name -> message id -> what the store holds
_store: DurableStore | None = None


def attach(store: DurableStore | None) -> None:
    """Report changes to ``store`` from now on (None: stop). What the queues hold now is taken as saved."""
    global _store
    _store = store
    _written.clear()


def install() -> Callable[[], None]:
    from moto.s3.models import FakeKey, S3Backend
    from moto.sqs.models import Message, Queue, SQSBackend
    from moto.ssm.models import SimpleSystemManagerBackend

    if _installed:
        return lambda: None

    def patch(owner: type, name: str, wrapper: Callable[[Any], Any]) -> None:
        _installed[(owner, name)] = getattr(owner, name)
        setattr(owner, name, wrapper(_installed[(owner, name)]))

    for name in _SQS_CALLS:
        patch(SQSBackend, name, _reporting_queue)
    patch(SQSBackend, "change_message_visibility", _marking_backoff)
    patch(Message, "mark_received", _marking_receive)
    patch(Queue, "delete_message", _bounded_deleted_receipts)
    for name in ("put_parameter", "delete_parameter", "delete_parameters"):
        patch(SimpleSystemManagerBackend, name, _reporting_parameters)
    for name in ("put_object", "delete_object", "copy_object"):
        patch(S3Backend, name, _reporting_object)
    patch(FakeKey, "set_metadata", _reporting_key_metadata)
    return uninstall


def uninstall() -> None:
    for (owner, name), original in _installed.items():
        setattr(owner, name, original)
    _installed.clear()


def _outermost(report: Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], int | None]
               ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``report`` after the outermost patched call of a thread (a batch call makes single calls) and
    wait for its ticket before returning."""
    def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            depth = getattr(_state, "depth", 0)
            _state.depth = depth + 1
            try:
                result = original(self, *args, **kwargs)
            finally:
                _state.depth = depth
            if depth == 0 and _store is not None:
                ticket = report(self, result, args, kwargs)
                if ticket is not None:
                    _store.wait(ticket)
            return result

        return call

    return wrap


# --- SQS --------------------------------------------------------------------------------------------------

def _queue_report(backend: Any, _result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    name = kwargs.get("queue_name", args[0] if args else None)
    queue = backend.queues.get(name)
    if queue is None:
        return None
    ticket = None
    for each in (queue, queue.dead_letter_queue):
        if each is not None:
            ticket = _snapshot(each) or ticket
    return ticket


_reporting_queue = _outermost(_queue_report)


def _snapshot(queue: Any) -> int | None:
    assert _store is not None
    with _sqs_lock:
        current = {message.id: message_to_json(message) for message in list(queue._messages)}
        encoded = {message_id: _canonical(message) for message_id, message in current.items()}
        before = _written.setdefault(queue.name, {})
        upserts = {message_id: current[message_id] for message_id, text in encoded.items()
                   if before.get(message_id) != text}
        deletes = [message_id for message_id in before if message_id not in encoded]
        if not upserts and not deletes:
            return None
        _written[queue.name] = encoded
        return _store.put_messages(queue.name, upserts, deletes)


def _canonical(message: dict[str, Any]) -> str:
    import json

    return json.dumps(message, sort_keys=True)


def message_to_json(message: Any) -> dict[str, Any]:
    attributes = {}
    for name, value in message.message_attributes.items():
        kept = {key: value[key] for key in ("DataType", "StringValue") if key in value}
        if value.get("BinaryValue") is not None:
            binary = value["BinaryValue"]
            kept["BinaryValue"] = base64.b64encode(binary if isinstance(binary, bytes) else binary.encode()).decode()
        attributes[name] = kept
    return {"id": message.id, "body": message.body, "message_attributes": attributes,
            "system_attributes": message.system_attributes, "sender_id": message.sender_id,
            "sent_timestamp": message.sent_timestamp,
            "first_receive_timestamp": message.approximate_first_receive_timestamp,
            "receive_count": message.approximate_receive_count, "deduplication_id": message.deduplication_id,
            "group_id": message.group_id, "sequence_number": message.sequence_number,
            "visible_at": message.visible_at, "delayed_until": message.delayed_until,
            "hidden_by": getattr(message, "chatbridge_hidden_by", None)}


def restore_messages(queue: Any, saved: Iterable[dict[str, Any]]) -> int:
    """Put saved messages back into moto ``queue`` as they were (ids, receive counts, delays, backoff)."""
    from moto.sqs.models import Message

    count = 0
    for data in saved:
        message = Message(data["id"], data["body"], data.get("system_attributes") or {})
        for name, value in (data.get("message_attributes") or {}).items():
            value = dict(value)
            if "BinaryValue" in value:
                value["BinaryValue"] = base64.b64decode(value["BinaryValue"])
            message.message_attributes[name] = value
        message.sender_id = data.get("sender_id") or message.sender_id
        message.sent_timestamp = data.get("sent_timestamp")
        message.approximate_first_receive_timestamp = data.get("first_receive_timestamp")
        message.approximate_receive_count = data.get("receive_count") or 0
        message.deduplication_id = data.get("deduplication_id")
        message.group_id = data.get("group_id")
        message.sequence_number = data.get("sequence_number")
        message.delayed_until = data.get("delayed_until") or 0.0
        backoff = data.get("hidden_by") == "backoff"
        message.visible_at = (data.get("visible_at") or 0.0) if backoff else 0.0  # in flight: its poller is gone
        message.chatbridge_hidden_by = "backoff" if backoff else None
        queue._messages.append(message)
        count += 1
    return count


def _marking_receive(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def mark_received(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.chatbridge_hidden_by = "receive"

    return mark_received


def _marking_backoff(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        original(self, queue_name, receipt_handle, visibility_timeout)
        for message in self.get_queue(queue_name)._messages:
            if message.receipt_handle == receipt_handle:
                message.chatbridge_hidden_by = "backoff" if int(visibility_timeout) > 0 else None

    return change_message_visibility


class _RecentReceipts:
    """moto's ``deleted_messages`` set, remembering only the newest receipt handles."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._handles: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, handle: object) -> bool:
        return handle in self._handles

    def update(self, handles: Iterable[str | None]) -> None:
        for handle in handles:
            if handle is not None:
                self._handles[handle] = None
        while len(self._handles) > self.limit:
            self._handles.popitem(last=False)

    def __len__(self) -> int:
        return len(self._handles)


def _bounded_deleted_receipts(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_message(self: Any, receipt_handle: str) -> None:
        if not isinstance(self.deleted_messages, _RecentReceipts):
            recent = _RecentReceipts(DELETED_RECEIPTS_KEPT)
            recent.update(self.deleted_messages)
            self.deleted_messages = recent
        original(self, receipt_handle)

    return delete_message


# --- SSM and S3 -------------------------------------------------------------------------------------------

def _parameters_report(backend: Any, _result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    assert _store is not None
    names = kwargs.get("names") or kwargs.get("name") or (args[0] if args else None)
    ticket = None
    for name in [names] if isinstance(names, str) else list(names or []):
        parameter = backend._parameters.get(name)
        latest = parameter[-1] if parameter else None
        ticket = _store.put_parameter(name, None if latest is None else {
            "Name": latest.name, "Type": latest.parameter_type,
            "Value": (latest.decrypt(latest.value) or latest.value) if latest.parameter_type == "SecureString"
            else latest.value,
            "Description": latest.description or ""})
    return ticket


_reporting_parameters = _outermost(_parameters_report)


def _object_report(backend: Any, _result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    assert _store is not None
    if args and not isinstance(args[0], str):  # copy_object(src_key, dest_bucket_name, dest_key_name, ...)
        bucket, key = kwargs.get("dest_bucket_name", args[1] if len(args) > 1 else None), \
            kwargs.get("dest_key_name", args[2] if len(args) > 2 else None)
    else:
        bucket, key = kwargs.get("bucket_name", args[0] if args else None), \
            kwargs.get("key_name", args[1] if len(args) > 1 else None)
    if bucket is None or key is None:
        return None
    try:
        stored = backend.get_object(bucket, key)
    except Exception:  # noqa: BLE001 - moto raises its own "no such key/bucket" types: the object is gone
        stored = None
    if stored is None:
        return _store.put_object(bucket, key, None, {})
    return _store.put_object(bucket, key, stored.value, object_headers(stored.metadata))


# PutObject's parameters for the headers moto keeps in a key's metadata (besides x-amz-meta-*).
_HEADER_PARAMETERS = {"content-type": "ContentType", "content-disposition": "ContentDisposition",
                      "content-encoding": "ContentEncoding", "content-language": "ContentLanguage",
                      "cache-control": "CacheControl"}
_USER_METADATA = "x-amz-meta-"


def object_headers(metadata: Any) -> dict[str, Any]:
    """moto's ``FakeKey.metadata`` (one header dict: Content-Type, Cache-Control... and ``x-amz-meta-*``) as
    PutObject parameters, so a restore puts back what the media link serves and trusts. (``FakeKey`` has no
    ``content_type`` attribute: reading one failed every PutObject under ``--data`` with a 500.)"""
    headers: dict[str, Any] = {"Metadata": {}}
    for name, value in dict(metadata).items():
        lower = name.lower()
        if lower.startswith(_USER_METADATA):
            headers["Metadata"][lower[len(_USER_METADATA):]] = value
        elif lower in _HEADER_PARAMETERS:
            headers[_HEADER_PARAMETERS[lower]] = value
    return headers


_reporting_object = _outermost(_object_report)


def _key_metadata_report(key: Any, _result: Any, _args: tuple[Any, ...], _kwargs: dict[str, Any]) -> int | None:
    """moto's PutObject (and CompleteMultipartUpload) responder stores the key first and sets its headers
    (Content-Type, x-amz-meta-*) after: without this second report the store kept the defaults, so a restart
    served an operator's file as binary/octet-stream with no metadata."""
    assert _store is not None
    return _store.put_object(key.bucket_name, key.name, key.value, object_headers(key.metadata))


_reporting_key_metadata = _outermost(_key_metadata_report)
