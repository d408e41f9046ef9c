"""The one table of JSON-RPC methods: method name → handler, filled from namespace objects.

A namespace is any object whose ``rpc_<method name>`` coroutine methods take the request's params (a list) and
return the JSON result; :meth:`MethodTable.add` registers all of them. A name registered twice is a wiring bug
and raises at start, never silently shadows.

A method that clients ask for many times per JSON-RPC batch (``eth_getTransactionReceipt``: indexers and load
generators poll receipts by the hundred) may also have a ``batch_<method name>`` coroutine: it takes the params of
every such entry of one batch and answers them together (one store read instead of one per entry), returning for
each entry its result or ``UNANSWERED``, which sends that entry through the ``rpc_`` method. So the batch form
only takes the common case; errors and every other path stay in the one ``rpc_`` method, and the answers are the
same either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

Handler = Callable[[list[Any]], Awaitable[Any]]
BatchHandler = Callable[[list[list[Any]]], Awaitable[list[Any]]]

PREFIX = "rpc_"
BATCH_PREFIX = "batch_"


class _Unanswered:
    """The batch form's "not this one": the entry goes through the method's ``rpc_`` form."""

    def __repr__(self) -> str:
        return "UNANSWERED"


UNANSWERED: Any = _Unanswered()


class MethodTable:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._batch: dict[str, BatchHandler] = {}

    def add(self, namespace: object) -> None:
        """Registers every ``rpc_*`` method of ``namespace`` under its name without the prefix, and the batch form
        (``batch_*``) of those that have one."""
        for attr in dir(namespace):
            if attr.startswith(PREFIX):
                self.register(attr[len(PREFIX) :], getattr(namespace, attr))
        for attr in dir(namespace):
            if attr.startswith(BATCH_PREFIX) and callable(getattr(namespace, attr)):
                name = attr[len(BATCH_PREFIX) :]
                if getattr(namespace, PREFIX + name, None) is None:
                    raise ValueError(f"batch form of {name} without the method itself")
                self._batch[name] = getattr(namespace, attr)

    def register(self, name: str, handler: Handler) -> None:
        if name in self._handlers:
            raise ValueError(f"JSON-RPC method {name} registered twice")
        self._handlers[name] = handler

    def replace(self, name: str, handler: Handler) -> Handler:
        """Puts ``handler`` in place of a registered method and returns the one it replaces (a composition root
        extends a method, e.g. a validator adds the AppQC to ``sei_getStateCommitment``)."""
        old = self._handlers.get(name)
        if old is None:
            raise ValueError(f"JSON-RPC method {name} is not registered")
        self._handlers[name] = handler
        self._batch.pop(name, None)
        return old

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def get_batch(self, name: str) -> BatchHandler | None:
        """The batch form of ``name``, unless the method was replaced since (the replacement has none)."""
        return self._batch.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))

    def __len__(self) -> int:
        return len(self._handlers)
