"""Make moto's DynamoDB behave like DynamoDB where chatbridge depends on it: atomic requests, transactions
whose cost does not grow with the table, a stream that forgets what its readers are done with, conditions
that cost their evaluation and not a parse.

What moto does and DynamoDB does not:

- moto lets two threads interleave *inside* one request (a transaction's rollback snapshot can even
  crash on a table another thread is writing). DynamoDB serialises each request; one lock restores that,
  and nothing more: threads still interleave *between* requests, where read-then-write races live. The
  lock covers the whole request as moto's response handler runs it, not only the backend call: moto reads
  an ``UpdateItem``'s old image before the update and builds the answer from the live item after it, so
  two ``ADD #v :one`` counter updates (chat ids) could both answer the second value, handing one chat id
  to two new chats (whose transactions then failed until the ingest answered 503).
- moto deep-copies a whole table (and its stream) once per *item* of a transaction, as its rollback copy,
  so every transaction costs more as the chat table grows. Here a transaction saves only the items it
  names (and the stream's length) and puts exactly those back when it is cancelled.
- moto's stream keeps every record forever, and its stream backend keeps every shard iterator it ever
  handed out (two per poll of the local stack's pollers). DynamoDB drops records after 24 hours and
  iterators after 15 minutes; so does this, and the local stack also drops records once every poller of
  the stream has checkpointed past them (``trim_stream``), so memory holds what is unread, not the past.

- a transaction whose conditions fail is cancelled before moto writes anything (``_failed_conditions``),
  with the reasons moto would give: moto applied every write, streamed and copied it, then rolled back.
- moto parses a condition expression up to three times per transaction item, lexing it character by
  character each time, although the handlers send the same few texts with new values. Here each text (with
  its attribute names and value placeholders) is parsed once, and each request evaluates a copy of that tree
  bound to its own values (``_kept_conditions``); an update text is parsed once too (``_kept_updates``).

Every request that changes items also tells a *change sink* (the local stack's durable store, when one is
attached) which items it changed, with their new images, while the lock still orders requests; the
request's answer leaves only once the sink says the change is on disk (``ChangeSink.wait``), unless the
request came in under ``durability_deferred``: the local stack's functions, whose every write is on disk
before their invocation's end is acknowledged to anyone (see ``LocalStack.invoke``), so waiting for each
request of theirs too only held the function up, and moto idle with it.

The local stack installs this in its moto server; the tests and benchmarks install it in-process.
"""

from __future__ import annotations

import contextlib
import copy as copy_module
import functools
import threading
import time
import types
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Protocol

STREAM_RETENTION_SECONDS = 24 * 3600  # DynamoDB Streams keeps a record 24 hours
SHARD_ITERATOR_SECONDS = 15 * 60  # a shard iterator expires 15 minutes after it is returned
KEPT_EXPRESSIONS = 1024  # parsed condition and update texts kept; the handlers send a few dozen distinct texts

_ATOMIC = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_get_items",
           "batch_get_item", "batch_write_item", "transact_write_items")
_lock = threading.RLock()
_installed: dict[tuple[type, str], Any] = {}
_state = threading.local()


class ChangeSink(Protocol):
    """Where changed items go (the durable store). ``submit`` runs under the DynamoDB lock, so changes
    arrive in the order they happened; ``wait`` runs after it, until the change is durable."""

    def submit_items(self, changes: list[tuple[str, dict[str, Any], dict[str, Any] | None]],
                     stream: list[tuple[str, int, dict[str, Any]]]) -> int: ...

    def wait(self, ticket: int) -> None: ...


_sink: ChangeSink | None = None


def attach(sink: ChangeSink | None) -> None:
    """Send every item change to ``sink`` from now on (None: stop)."""
    global _sink
    _sink = sink


@contextlib.contextmanager
def durability_deferred(deferred: bool = True) -> Iterator[None]:
    """This thread's requests answer as soon as their change is submitted to the sink, not once it is on
    disk: for a caller that waits for the sink itself (``flush``) before it acknowledges anything."""
    previous = getattr(_state, "deferred", False)
    _state.deferred = deferred
    try:
        yield
    finally:
        _state.deferred = previous


def install() -> Callable[[], None]:
    """Patch moto's DynamoDB and DynamoDB Streams backends (once per process); returns a function that undoes it."""
    import moto.dynamodb.comparisons as comparisons
    import moto.dynamodb.models as models
    import moto.dynamodb.responses as responses
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard, Table
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    if _installed:
        return lambda: None

    def patch(owner: type, name: str, wrapper: Callable[[Any], Any]) -> None:
        current = getattr(owner, name)
        _installed.setdefault((owner, name), current)  # a name wrapped twice is put back as moto had it
        setattr(owner, name, wrapper(current))

    patch(DynamoDBBackend, "transact_write_items", lambda original: _touched_items_rollback(original, models))
    _installed[(UpdateExpressionParser, "make")] = UpdateExpressionParser.__dict__["make"]  # the classmethod
    UpdateExpressionParser.make = _kept_updates(UpdateExpressionParser.make)  # type: ignore[method-assign]
    kept_parsers = _kept_conditions(comparisons.create_condition_expression_parser)
    for module in (comparisons, models, responses):  # every module that makes a parser (get_filter_expression too)
        patch(module, "create_condition_expression_parser", lambda _: kept_parsers)
    patch(DynamoDBBackend, "update_item", _noting_update)  # inside the lock: notes land in its request
    for name in _ATOMIC:
        patch(DynamoDBBackend, name, _atomic)
        patch(DynamoHandler, name, _atomic_request)
    patch(Table, "put_item", _noting_put)
    patch(Table, "delete_item", _noting_delete)
    patch(StreamShard, "add", _trimming_add)
    patch(StreamShard, "get", _clamped_get)
    patch(ShardIterator, "__init__", _dated_iterator)
    patch(DynamoDBStreamsBackend, "get_shard_iterator", _expiring_iterators)
    patch(DynamoDBStreamsBackend, "get_records", _expiring_iterators)
    return uninstall


def uninstall() -> None:
    for (owner, name), original in _installed.items():
        setattr(owner, name, original)
    _installed.clear()
    _conditions.clear()
    _updates.clear()


def trim_stream(table: Any, through_sequence: int) -> int:
    """Drop the stream records of moto ``table`` up to and including ``through_sequence``; returns how many.

    Sequence numbers stay what they were: the shard's starting number moves past the dropped records,
    which is all moto's iterators count from.
    """
    with _lock:
        shard = table.stream_shard
        if shard is None:
            return 0
        count = max(0, min(len(shard.items), through_sequence + 1 - shard.starting_sequence_number))
        if count:
            del shard.items[:count]
            shard.starting_sequence_number += count
        return count


# --- one request at a time, and what it changed -------------------------------------------------------

def _atomic_request(original: Callable[..., Any]) -> Callable[..., Any]:
    """A whole request as moto's ``DynamoHandler`` runs it (reads before, backend call, answer built from
    the live items after), under the lock."""
    return _atomic(original, backend_of=lambda handler: handler.dynamodb_backend)


def _atomic(original: Callable[..., Any], backend_of: Callable[[Any], Any] = lambda backend: backend
            ) -> Callable[..., Any]:
    @functools.wraps(original)
    def atomic(self: Any, *args: Any, **kwargs: Any) -> Any:
        ticket = None
        try:
            with _lock:
                outer = not getattr(_state, "depth", 0)
                if outer:
                    _state.touched, _state.stream_marks, _state.depth = {}, {}, 0
                _state.depth += 1
                try:
                    return original(self, *args, **kwargs)
                finally:
                    _state.depth -= 1
                    if outer:
                        ticket = _report(backend_of(self))
        finally:
            if ticket is not None and _sink is not None and not getattr(_state, "deferred", False):
                _sink.wait(ticket)  # the answer leaves once its change is on disk, outside the lock

    return atomic


def _report(backend: Any) -> int | None:
    """Hand the request's changed items (and new stream records) to the sink, in the lock's order."""
    touched: dict[tuple[str, str], tuple[Any, Any, Any]] = _state.touched
    streams: dict[str, int] = getattr(_state, "stream_marks", {})
    _state.touched, _state.stream_marks = {}, {}
    if _sink is None or not touched:
        return None
    changes: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for (table_name, _), (table, hash_key, range_key) in touched.items():
        if backend.tables.get(table_name) is not table:
            continue  # the table was deleted or replaced meanwhile
        item = table.get_item(hash_key, range_key)
        key = {table.hash_key_attr: hash_key.to_json()}
        if range_key is not None:
            key[table.range_key_attr] = range_key.to_json()
        changes.append((table_name, key, item.to_json()["Attributes"] if item is not None else None))
    records: list[tuple[str, int, dict[str, Any]]] = []
    for table_name, first in streams.items():
        table = backend.tables.get(table_name)
        shard = table.stream_shard if table is not None else None
        if shard is None:
            continue
        for record in shard.items[max(0, first - shard.starting_sequence_number):]:
            records.append((table_name, int(record.record["dynamodb"]["SequenceNumber"]), record.record))
    return _sink.submit_items(changes, records)


def _note(table: Any, hash_key: Any, range_key: Any) -> None:
    touched = getattr(_state, "touched", None)
    if touched is None:
        return
    touched.setdefault((table.name, repr((hash_key, range_key))), (table, hash_key, range_key))
    shard = table.stream_shard
    if shard is not None:
        marks = getattr(_state, "stream_marks", None)
        if marks is None:
            marks = _state.stream_marks = {}
        marks.setdefault(table.name, shard.starting_sequence_number + len(shard.items))


def _noting_put(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        from moto.dynamodb.models.dynamo_type import DynamoType

        if self.hash_key_attr in item_attrs and (self.range_key_attr is None or self.range_key_attr in item_attrs):
            _note(self, DynamoType(item_attrs[self.hash_key_attr]),
                  DynamoType(item_attrs[self.range_key_attr]) if self.range_key_attr else None)
        return original(self, item_attrs, *args, **kwargs)

    return put_item


def _noting_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        _note(self, hash_key, range_key)
        return original(self, hash_key, range_key)

    return delete_item


def _noting_update(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        if table.hash_key_attr in key:
            hash_key, range_key = self.get_keys_value(table, key) if (
                not table.range_key_attr or table.range_key_attr in key) else (None, None)
            if hash_key is not None:
                _note(table, hash_key, range_key)
        return original(self, table_name, key, *args, **kwargs)

    return update_item


# --- transactions: save and restore only the items they name ------------------------------------------

def _touched_items_rollback(transact: Callable[..., Any], models: types.ModuleType) -> Callable[..., Any]:
    """moto's transaction with its whole-table copies turned into no-ops and its rollback done here, from
    the items the transaction names (taken before it runs) and the stream lengths before it.

    An update inside the transaction deep-copies its item once more, as the stream's old image; that copy is
    the one already taken for the rollback (the item is still unchanged then, and neither use changes it),
    so a chat item with the provider's payload in it is copied once per transaction, not twice."""
    class _Copies:
        def __init__(self, saved: list[tuple[Any, Any, Any, Any, Any]]) -> None:
            self.before = {id(live): copied for *_, live, copied in saved if live is not None}

        def deepcopy(self, value: Any, memo: Any = None) -> Any:
            if isinstance(value, models.Table):
                return value
            copied = self.before.pop(id(value), None)
            return copied if copied is not None else copy_module.deepcopy(value, memo)

    @functools.wraps(transact)
    def transaction(self: Any, transact_items: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        reasons = _failed_conditions(self, transact_items, models)
        if reasons is not None:
            from moto.dynamodb.exceptions import TransactionCanceledException

            raise TransactionCanceledException(reasons)
        saved = _items_named(self, transact_items)
        streams = {id(table): (table.stream_shard, len(table.stream_shard.items))
                   for table, *_ in saved if table.stream_shard is not None}
        models.copy = _Copies(saved)  # type: ignore[attr-defined]
        try:
            return transact(self, transact_items, *args, **kwargs)
        except BaseException:
            for table, hash_key, range_key, _, before in saved:
                _put_back(table, hash_key, range_key, before)
            for shard, length in streams.values():
                del shard.items[length:]
            raise
        finally:
            models.copy = copy_module  # type: ignore[attr-defined]

    return transaction


def _failed_conditions(backend: Any, transact_items: list[dict[str, Any]], models: types.ModuleType
                       ) -> list[tuple[Any, Any, Any]] | None:
    """The cancellation reasons of a transaction whose conditions do not all hold, judged before anything is
    written; None when they all hold, or when the request is one moto answers otherwise (too many items, two
    operations in one, one item named twice, an unknown table or a bad key: moto's own run says how).

    Every item of a transaction names a different item, so each condition sees the table as it was before
    the transaction, as moto's item-by-item run sees it, and the verdicts (with ``ALL_OLD``'s items) are the
    ones moto would give. A writer whose memory of a chat was stale sends such a transaction about every
    other webhook; moto would apply each write, build its stream records, copy the items and roll it all back.
    One difference: moto also reports a write that fails for another reason (an item over 400 KB) next to a
    failed condition; here that write is not tried, so its reason shows on the retry that follows.
    """
    from moto.dynamodb.exceptions import ConditionalCheckFailed

    if len(transact_items) > 100:
        return None
    reasons: list[tuple[Any, Any, Any]] = []
    named: set[tuple[str, str]] = set()
    try:
        for entry in transact_items:
            if len(entry) != 1:
                return None
            op_type, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if op_type not in ("ConditionCheck", "Put", "Delete", "Update") or table is None:
                return None
            key = _named_key(table, op_type, op)
            if key is None or (op_type != "Put" and key != op["Key"]):
                return None  # no key, or a key with other attributes: moto's own complaint
            marker = (table.name, repr(sorted(key.items())))
            if marker in named:
                return None
            named.add(marker)
            condition = op.get("ConditionExpression")
            if condition is None:
                reasons.append((None, None, None))
                continue
            current = backend.get_item(op["TableName"], key)
            verdict = models.get_filter_expression(condition, op.get("ExpressionAttributeNames"),
                                                   op.get("ExpressionAttributeValues")).expr(current)
            if verdict:
                reasons.append((None, None, None))
                continue
            old = (current.to_json()["Attributes"] if current is not None
                   and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None)
            reasons.append(("ConditionalCheckFailed", str(ConditionalCheckFailed(item=old).message), old))
    except Exception:  # noqa: BLE001 - whatever moto refuses, it says itself when it runs the transaction
        return None
    return reasons if any(code is not None for code, _, _ in reasons) else None


def _named_key(table: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any] | None:
    """The key of the item a transaction entry names (a ``Put``'s taken from its item), or None without one."""
    attrs = op.get("Item") if op_type == "Put" else op.get("Key")
    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs or (
            table.range_key_attr and table.range_key_attr not in attrs):
        return None
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _items_named(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any, Any]]:
    """(table, hash key, range key, the item or None, a copy of it) for each item a transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            key = _named_key(table, op_type, op) if table is not None else None
            if key is None:
                continue  # moto refuses it before changing anything
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            live = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, live, copy_module.deepcopy(live)))
    return saved


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    if range_key is not None:
        if item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
            if hash_key in table.items and not table.items[hash_key]:
                del table.items[hash_key]
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item


# --- conditions: each text parsed once ---------------------------------------------------------------------

_MARK = "\x00chatbridge-value:"  # stands for an expression attribute value in a kept condition
_conditions: dict[tuple[Any, ...], Any] = {}
_updates: dict[str, Any] = {}


def _kept_updates(original: Callable[[str], Any]) -> Any:
    """``UpdateExpressionParser.make`` parsing each update text once. moto parses an update twice per request
    (to validate the request's names, then to run it) and never changes the tree it gets: its validator
    works on a deep copy, the request check only reads clauses. So one tree per text serves every request."""
    def make(cls: type, expression: str) -> Any:
        kept = _updates.get(expression)
        if kept is None:
            kept = original(expression)  # a text that does not parse raises here each time, as in moto
            if len(_updates) >= KEPT_EXPRESSIONS:
                _updates.clear()
            _updates[expression] = kept
        return kept

    return classmethod(make)


def _kept_conditions(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's ``create_condition_expression_parser`` parsing each condition text once per set of names and
    value names.

    moto parses a transaction item's condition three times (to validate the request, to check it, and again
    inside the put or update it then calls), and each parse lexes the text character by character: a sixth of
    the stack's DynamoDB time, for the same few texts every request. The tree is kept with a marker in place
    of each value, and each request's parser hands out a copy with its own values bound. The first request
    of a text gets moto's own parser, and a text is kept only when parsing it with markers succeeds as well,
    so every error (an unknown name or value, bad syntax) is still moto's own parse of the request.
    """
    from moto.dynamodb.comparisons import AttributeValue

    @functools.wraps(original)
    def create_condition_expression_parser(expr: str | None, names: dict[str, str] | None,
                                           values: dict[str, Any] | None) -> Any:
        if not expr:
            return original(expr, names, values)
        key = (expr, tuple(sorted(names.items())) if names else (), tuple(sorted(values)) if values else ())
        kept = _conditions.get(key)
        if kept is not None:
            return _KeptParser(kept, values or {}, AttributeValue)
        marked = original(expr, names, {name: {"S": _MARK + name} for name in values or ()})
        try:
            tree = marked.parse()
        except Exception:  # noqa: BLE001 - a text that does not parse with markers is not kept
            return original(expr, names, values)
        if len(_conditions) >= KEPT_EXPRESSIONS:
            _conditions.clear()
        path: set[int] = set()
        _marked(tree, AttributeValue, path)
        _conditions[key] = (tree, frozenset(path), tuple(marked.expr_attr_names_found),
                            tuple(marked.expr_attr_values_found))
        return original(expr, names, values)

    return create_condition_expression_parser


class _KeptParser:
    """What moto's callers use of a ``ConditionExpressionParser``: ``parse()``, then the names and value
    placeholders it found."""

    def __init__(self, kept: tuple[Any, frozenset[int], tuple[str, ...], tuple[str, ...]], values: dict[str, Any],
                 value_type: type) -> None:
        self._kept, self._values, self._value_type = kept, values, value_type
        self.expr_attr_names_found: list[str] = []
        self.expr_attr_values_found: list[str] = []

    def parse(self) -> Any:
        tree, marked, names, values = self._kept
        bound = _bound(tree, self._values, self._value_type, marked)
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return bound


def _bound(node: Any, values: dict[str, Any], value_type: type, marked: frozenset[int]) -> Any:
    """A copy of a kept condition tree (moto's ``Op``/``Func``/operand objects) with the request's values:
    only the nodes on the way to a marker (``marked``) are copied, the rest is shared (evaluating a tree
    changes nothing in it)."""
    if id(node) not in marked:
        return node
    if isinstance(node, value_type):
        return value_type(values[node.value[len(_MARK):]])
    if isinstance(node, tuple):
        return tuple(_bound(child, values, value_type, marked) for child in node)
    if isinstance(node, list):
        return [_bound(child, values, value_type, marked) for child in node]
    copy = copy_module.copy(node)
    for name, child in vars(node).items():
        if id(child) in marked:
            setattr(copy, name, _bound(child, values, value_type, marked))
    return copy


def _marked(node: Any, value_type: type, found: set[int]) -> bool:
    """Collect into ``found`` the ids of the nodes of a tree that hold a value marker, or lead to one."""
    if isinstance(node, value_type):
        holds = node.type == "S" and isinstance(node.value, str) and node.value.startswith(_MARK)
    elif isinstance(node, (tuple, list)):
        holds = any([_marked(child, value_type, found) for child in node])  # a list: every child is visited
    elif hasattr(node, "__dict__") and not isinstance(node, type) and not callable(node):
        holds = any([_marked(child, value_type, found) for child in vars(node).values()])
    else:
        holds = False
    if holds:
        found.add(id(node))
    return holds


# --- the stream: records and iterators expire -----------------------------------------------------------

def _trimming_add(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def add(self: Any, old: Any, new: Any) -> None:
        from moto.core.utils import utcnow

        original(self, old, new)
        horizon = utcnow() - timedelta(seconds=STREAM_RETENTION_SECONDS)  # moto's naive UTC datetimes
        expired = 0
        for record in self.items:
            created = record.record["dynamodb"].get("ApproximateCreationDateTime")
            if created is None or created >= horizon:
                break
            expired += 1
        if expired:
            del self.items[:expired]
            self.starting_sequence_number += expired

    return add


def _clamped_get(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        # A reader behind the trim horizon reads on from the oldest record kept (moto would assert).
        return original(self, max(start, self.starting_sequence_number), quantity)

    return get


def _dated_iterator(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.issued = time.monotonic()

    return init


def _expiring_iterators(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        horizon = time.monotonic() - SHARD_ITERATOR_SECONDS
        iterators = self.shard_iterators
        with _lock:
            for arn in list(iterators)[:64]:
                if getattr(iterators.get(arn), "issued", horizon) >= horizon:
                    break
                iterators.pop(arn, None)
        return result

    return call
