"""moto remembering only the model objects that still exist, not every one it ever made.

Every moto model class (``BaseModel``: a DynamoDB ``Item``, a ``StreamRecord``, a ``ShardIterator``, an SQS
``Message``...) appends each instance it creates to a class-level ``instances_tracked`` list, for its
``/moto-api/data.json`` dashboard and for S3's reset, and nothing ever removes them until moto is reset. So
every item version a write replaced, every stream record a poller read and the stack trimmed, every
shard iterator that expired stayed alive: under the local stack's load this list was nearly all of the
stack process's memory growth (about 65 KB per webhook, ~6 ``Item`` and ~4 ``StreamRecord`` objects each,
every one with its attribute values), while the tables themselves grew by under 6 KB per webhook.

Here the list holds its instances weakly: what moto still uses stays listed (the dashboard and S3's reset
see every live object, as before), what nothing else holds is freed. An object that cannot be weakly
referenced (none of moto's models today) is kept as moto keeps it. moto's reset puts plain lists back;
the next instance a class makes turns its list weak again.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_installed: dict[str, Any] = {}


class LiveInstances:
    """What ``instances_tracked`` needs from a list (``append``, iteration, ``len``), over weak references."""

    def __init__(self, instances: Iterable[Any] = ()) -> None:
        self._live: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self._kept: list[Any] = []  # instances without weak reference support, kept as moto keeps them
        self._ids = itertools.count()  # next() on a count is atomic: request threads create models at once
        for instance in instances:
            self.append(instance)

    def append(self, instance: Any) -> None:
        try:
            self._live[next(self._ids)] = instance
        except TypeError:
            self._kept.append(instance)

    def __iter__(self) -> Iterator[Any]:
        return iter([*self._live.values(), *self._kept])  # a copy: the dict shrinks as objects die

    def __len__(self) -> int:
        return len(self._live) + len(self._kept)


def install() -> Callable[[], None]:
    """Patch moto's ``BaseModel`` (once per process); returns a function that undoes it."""
    from moto.core.common_models import BaseModel

    if _installed:
        return lambda: None
    original = _installed["__new__"] = BaseModel.__dict__["__new__"]

    @functools.wraps(original)
    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        instance = super(BaseModel, cls).__new__(cls)  # what moto's does, but for the list it appends to
        tracked = cls.__dict__.get("instances_tracked")
        if not isinstance(tracked, LiveInstances):
            tracked = LiveInstances(tracked or ())
            cls.instances_tracked = tracked  # type: ignore[attr-defined]
        tracked.append(instance)
        return instance

    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[assignment]
    return uninstall


def uninstall() -> None:
    from moto.core.common_models import BaseModel

    if "__new__" in _installed:
        BaseModel.__new__ = _installed.pop("__new__")  # type: ignore[assignment]
