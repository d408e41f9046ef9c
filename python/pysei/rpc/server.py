"""JSON-RPC 2.0 over HTTP and WebSocket on one loopback port (aiohttp), with batches and subscriptions.

The hot path is a batch of eth_sendRawTransaction: its parameters are parsed, decoded, sender-recovered and
checked in one native call and pooled in one mempool call, instead of one round through Python per transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from aiohttp.typedefs import Handler

from pysei.rpc.api import RpcApi
from pysei.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    invalid_params,
)
from pysei.rpc.subscriptions import CONNECTION, Connection

log = logging.getLogger("pysei.rpc")

MAX_BATCH = 10_000
MAX_BODY = 64 * 1024 * 1024
BACKLOG = 2048
"""Pending connections the listening socket queues: hundreds of clients connecting at once must not have their
SYNs dropped (the kernel caps it at net.core.somaxconn)."""
CORS_MAX_AGE = 86_400
"""Seconds a browser may cache a preflight answer."""


def _error(id_: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": err.to_json()}


def _result(id_: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "result": result}


def _valid_id(rid: Any) -> bool:
    """JSON-RPC 2.0: an id is a string, a number or null. Fractions and integers beyond 64 bits (which arrive
    as floats) and nested values are refused, so an answer never echoes what cannot round-trip."""
    return rid is None or isinstance(rid, str) or (isinstance(rid, int) and not isinstance(rid, bool))


def _encode(response: Any) -> bytes:
    try:
        return orjson.dumps(response)
    except orjson.JSONEncodeError as e:  # the server answers every request; a bug is an internal error, logged
        log.error("cannot encode a response: %s", e)
        return orjson.dumps(_error(None, RpcError(INTERNAL_ERROR, "internal error: response not encodable")))


class RpcServer:
    def __init__(self, api: RpcApi, *, cors_origins: Sequence[str] = ("*",)) -> None:
        """``cors_origins``: the origins a browser page may call from (``*``: any, as anvil allows; empty: none)."""
        self.api = api
        self.connections = api.subscriptions.connections
        self.cors_origins = frozenset(cors_origins)
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._cors])
        self.app.router.add_post("/", self.handle_http)
        self.app.router.add_get("/", self.handle_ws)
        self.app.router.add_route("OPTIONS", "/", self.handle_preflight)
        self.runner: web.AppRunner | None = None
        self.observe: Callable[[str, float, int | None], None] | None = None
        """Told each call's method, latency and error code (metrics); None: nothing is measured."""

    async def start(self, host: str, port: int) -> int:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port, backlog=BACKLOG).start()
        return int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    # --- dispatch ------------------------------------------------------------------------------------------
    async def dispatch(self, body: bytes, conn: Connection | None) -> Any:
        token = CONNECTION.set(conn)
        try:
            return await self._dispatch(body)
        finally:
            CONNECTION.reset(token)

    async def _dispatch(self, body: bytes) -> Any:
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            return _error(None, RpcError(PARSE_ERROR, f"parse error: {e}"))
        if isinstance(req, list):
            if not req:
                return _error(None, RpcError(INVALID_REQUEST, "empty batch"))
            if len(req) > MAX_BATCH:
                return _error(None, RpcError(INVALID_REQUEST, f"batch too large (max {MAX_BATCH})"))
            return await self.batch(req)
        return await self.one(req)

    async def batch(self, reqs: list[Any]) -> list[Any] | None:
        responses: list[Any] = [None] * len(reqs)
        raw_idx: list[int] = []
        raws: list[Any] = []
        for i, r in enumerate(reqs):
            if _is_raw_send(r):
                params = r.get("params")
                if isinstance(params, list) and params:
                    # Passed on as it arrived: the kernel parses the hex with the rest of the batch.
                    raws.append(params[0])
                    raw_idx.append(i)
                else:
                    responses[i] = _error(r.get("id"), invalid_params("missing value for required argument 0 (data)"))
        if raws:
            for i, outcome in zip(raw_idx, await self.api.ingest.ingest(raws), strict=True):
                rid = reqs[i].get("id")
                responses[i] = _error(rid, outcome) if isinstance(outcome, RpcError) else _result(rid, outcome)
        for i, r in enumerate(reqs):
            if responses[i] is None and not _is_raw_send(r):
                responses[i] = await self.one(r)
        # Notifications (valid requests without id) get no response entry; a batch of only notifications gets
        # no response at all (JSON-RPC 2.0: never an empty array).
        out = [resp for r, resp in zip(reqs, responses, strict=True) if not _is_notification(r)]
        return out or None

    async def one(self, req: Any) -> Any:
        rid = req.get("id") if isinstance(req, dict) else None
        if not _valid_id(rid):
            return _error(None, RpcError(INVALID_REQUEST, "invalid request: id must be a string, an integer or null"))
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            return _error(rid, RpcError(INVALID_REQUEST, "invalid request"))
        method = req["method"]
        if "id" not in req:
            # A notification: executed, never answered (JSON-RPC 2.0 and geth).
            await self._call(method, None, req.get("params", []))
            return None
        return await self._call(method, rid, req.get("params", []))

    async def _call(self, method: str, rid: Any, params: Any) -> dict[str, Any]:
        if self.observe is None:
            return await self._answer(method, rid, params)
        started = time.perf_counter()
        response = await self._answer(method, rid, params)
        error = response.get("error")
        self.observe(method, time.perf_counter() - started, None if error is None else error["code"])
        return response

    async def _answer(self, method: str, rid: Any, params: Any) -> dict[str, Any]:
        if params is None:
            params = []
        if not isinstance(params, list):
            return _error(rid, invalid_params("params must be an array"))
        try:
            handler = self.api.methods.get(method)
            if handler is None:
                return _error(rid, RpcError(METHOD_NOT_FOUND, f"the method {method} does not exist/is not available"))
            return _result(rid, await handler(params))
        except RpcError as err:
            return _error(rid, err)
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as e:
            return _error(rid, invalid_params(f"invalid params: {e}"))
        except Exception as e:  # the server answers every request; a bug is an internal error, logged
            log.exception("method %s failed", method)
            return _error(rid, RpcError(INTERNAL_ERROR, f"internal error: {e}"))

    # --- transports ----------------------------------------------------------------------------------------
    async def handle_http(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.read()
        except ConnectionError as e:
            # The client went away mid-body: nobody to answer, nothing lost.
            log.debug("client %s disconnected before its request was read: %s", request.remote, e)
            return web.Response(status=400)
        response = await self.dispatch(body, None)
        if response is None:  # only notifications: nothing to answer
            return web.Response(body=b"", content_type="application/json")
        return web.Response(body=_encode(response), content_type="application/json")

    # --- CORS ----------------------------------------------------------------------------------------------
    # Hand-written rather than aiohttp-cors: one route, and what a dapp needs is the two headers below.
    def _allowed_origin(self, origin: str | None) -> str | None:
        if origin is None or not self.cors_origins:
            return None
        if "*" in self.cors_origins:
            return "*"
        return origin if origin in self.cors_origins else None

    async def handle_preflight(self, request: web.Request) -> web.Response:
        """A browser's CORS preflight (``OPTIONS``): which methods and headers a page may use."""
        response = web.Response(status=204)
        if self._allowed_origin(request.headers.get("Origin")) is not None:
            response.headers["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", "content-type"
            )
            response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE)
        return response

    @web.middleware
    async def _cors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        allowed = self._allowed_origin(request.headers.get("Origin"))
        if allowed is not None and not response.prepared:  # a WebSocket is prepared already; browsers need none
            response.headers["Access-Control-Allow-Origin"] = allowed
            if allowed != "*":
                response.headers["Vary"] = "Origin"
        return response

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
                        conn.send_bytes(_encode(response))
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


def _is_raw_send(r: Any) -> bool:
    return (
        isinstance(r, dict)
        and r.get("jsonrpc") == "2.0"
        and r.get("method") == "eth_sendRawTransaction"
        and _valid_id(r.get("id"))
    )


def _is_notification(r: Any) -> bool:
    """A valid request without ``id``; an invalid one is answered (with id null) even without an id."""
    return isinstance(r, dict) and "id" not in r and r.get("jsonrpc") == "2.0" and isinstance(r.get("method"), str)
