"""JSON-RPC 2.0 over HTTP and WebSocket on one loopback port (aiohttp), with batches and subscriptions.

The hot path is a batch of eth_sendRawTransaction: its entries are decoded and sender-recovered in one native
call and pooled in one mempool call, instead of one round through Python per transaction.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from pysei.execution.executor import ExecutedBlock
from pysei.rpc import codec
from pysei.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    invalid_params,
)
from pysei.rpc.filters import LogCriteria, parse_criteria
from pysei.rpc.format import block_json, block_log_json
from pysei.rpc.methods import EthApi

log = logging.getLogger("pysei.rpc")

MAX_BATCH = 10_000
MAX_BODY = 64 * 1024 * 1024
WS_QUEUE = 10_000
"""Notifications buffered per WebSocket before a slow subscriber is disconnected."""


def _error(id_: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": err.to_json()}


def _result(id_: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": result}


class Connection:
    """A WebSocket connection's subscriptions and outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.subs: dict[str, tuple[str, LogCriteria | None]] = {}
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(WS_QUEUE)
        self.closed = False

    def send(self, payload: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self.queue.put_nowait(orjson.dumps(payload))
        except asyncio.QueueFull:
            log.warning("websocket subscriber too slow; closing it")
            self.closed = True


class RpcServer:
    def __init__(self, api: EthApi) -> None:
        self.api = api
        self.connections: set[Connection] = set()
        self._sub_ids = itertools.count(1)
        api.node.block_listeners.append(self._notify_block)
        api.node.pending_listeners.append(self._notify_pending)
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.router.add_post("/", self.handle_http)
        self.app.router.add_get("/", self.handle_ws)
        self.runner: web.AppRunner | None = None
        self.observe: Callable[[str, float, int | None], None] | None = None
        """Told each call's method, latency and error code (metrics); None: nothing is measured."""

    async def start(self, host: str, port: int) -> int:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port).start()
        return int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    # --- dispatch ------------------------------------------------------------------------------------------
    async def dispatch(self, body: bytes, conn: Connection | None) -> Any:
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            return _error(None, RpcError(PARSE_ERROR, f"parse error: {e}"))
        if isinstance(req, list):
            if not req:
                return _error(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(req) > MAX_BATCH:
                return _error(None, RpcError(INVALID_REQUEST, f"batch too large (max {MAX_BATCH})"))
            return await self.batch(req, conn)
        return await self.one(req, conn)

    async def batch(self, reqs: list[Any], conn: Connection | None) -> list[Any] | None:
        responses: list[Any] = [None] * len(reqs)
        raw_idx: list[int] = []
        raws: list[bytes] = []
        for i, r in enumerate(reqs):
            if _is_raw_send(r):
                try:
                    params = r.get("params")
                    if not isinstance(params, list) or not params:
                        raise invalid_params("missing value for required argument 0 (data)")
                    raws.append(codec.data(params[0], "raw transaction"))
                    raw_idx.append(i)
                except RpcError as err:
                    responses[i] = _error(r.get("id"), err)
        if raws:
            for i, outcome in zip(raw_idx, await self.api.ingest(raws), strict=True):
                rid = reqs[i].get("id")
                responses[i] = _error(rid, outcome) if isinstance(outcome, RpcError) else _result(rid, outcome)
        for i, r in enumerate(reqs):
            if responses[i] is None and not _is_raw_send(r):
                responses[i] = await self.one(r, conn)
        # Notifications (valid requests without id) get no response entry; a batch of only notifications gets
        # no response at all (JSON-RPC 2.0: never an empty array).
        out = [resp for r, resp in zip(reqs, responses, strict=True) if not _is_notification(r)]
        return out or None

    async def one(self, req: Any, conn: Connection | None) -> Any:
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            rid = req.get("id") if isinstance(req, dict) else None
            return _error(rid, RpcError(INVALID_REQUEST, "invalid request"))
        rid = req.get("id")
        method = req["method"]
        if "id" not in req:
            # A notification: executed, never answered (JSON-RPC 2.0 and geth).
            await self._call(method, None, req.get("params", []), conn)
            return None
        return await self._call(method, rid, req.get("params", []), conn)

    async def _call(self, method: str, rid: Any, params: Any, conn: Connection | None) -> dict[str, Any]:
        if self.observe is None:
            return await self._answer(method, rid, params, conn)
        started = time.perf_counter()
        response = await self._answer(method, rid, params, conn)
        error = response.get("error")
        self.observe(method, time.perf_counter() - started, None if error is None else error["code"])
        return response

    async def _answer(self, method: str, rid: Any, params: Any, conn: Connection | None) -> dict[str, Any]:
        if params is None:
            params = []
        if not isinstance(params, list):
            return _error(rid, invalid_params("params must be an array"))
        try:
            if method == "eth_subscribe":
                return _result(rid, self.subscribe(conn, params))
            if method == "eth_unsubscribe":
                return _result(rid, self.unsubscribe(conn, params))
            handler = self.api.methods.get(method)
            if handler is None:
                return _error(rid, RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available"))
            return _result(rid, await handler(params))
        except RpcError as err:
            return _error(rid, err)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            return _error(rid, invalid_params(f"invalid params: {e}"))
        except Exception as e:  # the server answers every request; a bug is an internal error, logged
            log.exception("method %s failed", method)
            return _error(rid, RpcError(INTERNAL_ERROR, f"internal error: {e}"))

    # --- transports ----------------------------------------------------------------------------------------
    async def handle_http(self, request: web.Request) -> web.Response:
        body = await request.read()
        response = await self.dispatch(body, None)
        if response is None:  # only notifications: nothing to answer
            return web.Response(body=b"", content_type="application/json")
        return web.Response(body=orjson.dumps(response), content_type="application/json")

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": INVALID_REQUEST, "message": "POST JSON-RPC requests, or upgrade to WebSocket"},
                }
            )
        ws = web.WebSocketResponse(max_msg_size=MAX_BODY, heartbeat=30)
        await ws.prepare(request)
        conn = Connection(ws)
        self.connections.add(conn)
        writer = asyncio.create_task(self._ws_writer(conn))
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    body = msg.data.encode() if isinstance(msg.data, str) else msg.data
                    response = await self.dispatch(body, conn)
                    if response is not None:
                        conn.send(response)
                elif msg.type == WSMsgType.ERROR:
                    break
                if conn.closed:
                    break
        finally:
            conn.closed = True
            self.connections.discard(conn)
            writer.cancel()
            await ws.close()
        return ws

    async def _ws_writer(self, conn: Connection) -> None:
        while True:
            payload = await conn.queue.get()
            await conn.ws.send_str(payload.decode())

    # --- subscriptions -------------------------------------------------------------------------------------
    def subscribe(self, conn: Connection | None, params: list[Any]) -> str:
        if conn is None:
            raise RpcError(METHOD_NOT_FOUND, "notifications not supported over HTTP: use a WebSocket")
        kind = codec.param(params, 0, "subscription type")
        criteria = None
        if kind == "logs":
            criteria = parse_criteria(params[1] if len(params) > 1 and isinstance(params[1], dict) else {})
        elif kind not in ("newHeads", "newPendingTransactions"):
            raise invalid_params(f"unsupported subscription type {kind!r}")
        sub_id = hex(next(self._sub_ids) | (1 << 64))
        conn.subs[sub_id] = (kind, criteria)
        return sub_id

    def unsubscribe(self, conn: Connection | None, params: list[Any]) -> bool:
        if conn is None:
            return False
        return conn.subs.pop(codec.param(params, 0, "subscription id"), None) is not None

    def _notify_block(self, executed: ExecutedBlock) -> None:
        if not self.connections:
            return
        block = executed.block
        head = None
        for conn in self.connections:
            for sub_id, (kind, criteria) in conn.subs.items():
                if kind == "newHeads":
                    if head is None:
                        head = block_json(block, [])
                        del head["transactions"], head["uncles"], head["withdrawals"]
                    conn.send(_notification(sub_id, head))
                elif kind == "logs":
                    assert criteria is not None
                    for e in executed.logs:
                        if criteria.matches(e.log):
                            conn.send(_notification(sub_id, block_log_json(e, block.header.number, block.hash)))

    def _notify_pending(self, hashes: Sequence[bytes]) -> None:
        for conn in self.connections:
            for sub_id, (kind, _) in conn.subs.items():
                if kind == "newPendingTransactions":
                    for h in hashes:
                        conn.send(_notification(sub_id, codec.hb(h)))


def _is_raw_send(r: Any) -> bool:
    return isinstance(r, dict) and r.get("jsonrpc") == "2.0" and r.get("method") == "eth_sendRawTransaction"


def _is_notification(r: Any) -> bool:
    """A valid request without ``id``; an invalid one is answered (with id null) even without an id."""
    return isinstance(r, dict) and "id" not in r and r.get("jsonrpc") == "2.0" and isinstance(r.get("method"), str)


def _notification(sub_id: str, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": sub_id, "result": result}}
