"""Make moto's DynamoDB behave like DynamoDB where chatbridge depends on it: atomic requests, cheap transactions.

Two gaps matter for an exactly-once ingest:

- moto lets two threads interleave *inside* one request (a transaction's rollback snapshot can even
  crash on a table another thread is writing). DynamoDB serialises each request; one lock restores that,
  and nothing more: threads still interleave *between* requests, where read-then-write races live.
- moto deep-copies a whole table (and its stream) once per *item* of a transaction, as its rollback copy:
  99 copies of the chat table for one 49-message write, so latency grows with the table. One copy per
  table per request keeps the same rollback and costs what DynamoDB's does not grow with.

The local stack installs this in its moto server; the tests and benchmarks install it in-process.
"""

from __future__ import annotations

import copy as copy_module
import functools
import threading
import types
from collections.abc import Callable
from typing import Any

_ATOMIC = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_get_items",
           "batch_get_item", "batch_write_item")
_lock = threading.RLock()
_installed: dict[str, Any] = {}


def install() -> Callable[[], None]:
    """Patch moto's DynamoDB backend (once per process); returns a function that undoes it."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend

    if _installed:
        return lambda: None
    for name in _ATOMIC:
        _installed[name] = getattr(DynamoDBBackend, name)
        setattr(DynamoDBBackend, name, _atomic(_installed[name]))
    _installed["transact_write_items"] = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = _one_snapshot(_installed["transact_write_items"], models)
    return uninstall


def uninstall() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name, original in _installed.items():
        setattr(DynamoDBBackend, name, original)
    _installed.clear()


def _atomic(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return original(*args, **kwargs)

    return atomic


def _one_snapshot(transact: Callable[..., Any], models: types.ModuleType) -> Callable[..., Any]:
    @functools.wraps(transact)
    def transaction(self: Any, *args: Any, **kwargs: Any) -> Any:
        copies: dict[int, tuple[Any, Any]] = {}

        def snapshot_once(value: Any, memo: Any = None) -> Any:
            if id(value) not in copies:  # the original is kept alive beside its copy, so ids cannot be reused
                copies[id(value)] = (value, copy_module.deepcopy(value, memo))
            return copies[id(value)][1]

        with _lock:
            models.copy = types.SimpleNamespace(deepcopy=snapshot_once)
            try:
                return transact(self, *args, **kwargs)
            finally:
                models.copy = copy_module

    return transaction
