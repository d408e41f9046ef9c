"""eth_subscribe / eth_unsubscribe: WebSocket connections, their subscriptions and outgoing queues.

Subscriptions need the connection the request came on; the server puts it in :data:`CONNECTION` while it
dispatches a WebSocket message, so these methods sit in the method table like any other.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from pysei.rpc import codec
from pysei.rpc.errors import METHOD_NOT_FOUND, RpcError, invalid_params
from pysei.rpc.filters import LogCriteria, parse_criteria

if TYPE_CHECKING:
    from pysei.rpc.fanout import RenderedBlock

log = logging.getLogger("pysei.rpc")

WS_QUEUE = 10_000
"""Notifications buffered per WebSocket before a slow subscriber is disconnected."""


class Connection:
    """A WebSocket connection's subscriptions and outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.subs: dict[str, tuple[str, LogCriteria | None]] = {}
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(WS_QUEUE)
        self.closed = False

    def send(self, payload: dict[str, Any]) -> None:
        self.send_bytes(orjson.dumps(payload))

    def send_bytes(self, payload: bytes) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("websocket subscriber too slow; closing it")
            self.closed = True


CONNECTION: ContextVar[Connection | None] = ContextVar("rpc_connection", default=None)
"""The WebSocket connection whose message is being dispatched (None over HTTP)."""


def _notification(sub_id: str, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": sub_id, "result": result}}


class Subscriptions:
    """The open WebSocket connections and what each subscribed to; fed by :class:`pysei.rpc.fanout.Fanout`."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._ids = itertools.count(1)

    async def rpc_eth_subscribe(self, params: list[Any]) -> str:
        conn = CONNECTION.get()
        if conn is None:
            raise RpcError(METHOD_NOT_FOUND, "notifications not supported over HTTP: use a WebSocket")
        kind = codec.param(params, 0, "subscription type")
        criteria = None
        if kind == "logs":
            flt = codec.param(params, 1, "filter", required=False, default={})
            if not isinstance(flt, dict):
                raise invalid_params("invalid logs filter: expected an object")
            criteria = parse_criteria(flt)
        elif kind not in ("newHeads", "newPendingTransactions", "syncing"):
            # "syncing" is accepted as geth accepts it; a devnet never syncs, so it never notifies.
            raise invalid_params(f"unsupported subscription type {codec.shown(kind)}")
        sub_id = hex(next(self._ids) | (1 << 64))
        conn.subs[sub_id] = (kind, criteria)
        return sub_id

    async def rpc_eth_unsubscribe(self, params: list[Any]) -> bool:
        conn = CONNECTION.get()
        if conn is None:
            return False
        return conn.subs.pop(codec.param(params, 0, "subscription id"), None) is not None

    def on_block(self, block: RenderedBlock) -> None:
        for conn in self.connections:
            for sub_id, (kind, criteria) in conn.subs.items():
                if kind == "newHeads":
                    conn.send(_notification(sub_id, block.head()))
                elif kind == "logs":
                    assert criteria is not None
                    for entry in block.logs(criteria):
                        conn.send(_notification(sub_id, entry))

    def on_pending(self, hashes: Sequence[str]) -> None:
        for conn in self.connections:
            for sub_id, (kind, _) in conn.subs.items():
                if kind == "newPendingTransactions":
                    for h in hashes:
                        conn.send(_notification(sub_id, h))
