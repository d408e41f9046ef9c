"""The one table of JSON-RPC methods: method name → handler, filled from namespace objects.

A namespace is any object whose ``rpc_<method name>`` coroutine methods take the request's params (a list) and
return the JSON result; :meth:`MethodTable.add` registers all of them. A name registered twice is a wiring bug
and raises at start, never silently shadows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

Handler = Callable[[list[Any]], Awaitable[Any]]

PREFIX = "rpc_"


class MethodTable:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, namespace: object) -> None:
        """Registers every ``rpc_*`` method of ``namespace`` under its name without the prefix."""
        for attr in dir(namespace):
            if attr.startswith(PREFIX):
                self.register(attr[len(PREFIX) :], getattr(namespace, attr))

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
        return old

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))

    def __len__(self) -> int:
        return len(self._handlers)
