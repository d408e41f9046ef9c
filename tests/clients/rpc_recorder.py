"""A tiny JSON-RPC recording proxy (HTTP + WebSocket on one port).

It sits between the clients under test and any Ethereum JSON-RPC node (anvil
or pysei), forwards every request unchanged, and records which methods were
called, over which transport, how often, and how many calls returned a
JSON-RPC error. Records are grouped by a free-form *label* (the conformance
plugins set it to the current pytest node id), which gives a per-client view
of the RPC surface a node must implement.

Usage::

    proxy = RecordingProxy("http://127.0.0.1:8545", "ws://127.0.0.1:8545")
    proxy.start()                 # background thread with its own event loop
    proxy.label = "test_ethers"   # optional, "default" otherwise
    ...point clients at proxy.http_url / proxy.ws_url...
    proxy.stop()
    proxy.dump("rpc-methods.json")

Methods listed in ``blocked_methods`` are answered with JSON-RPC error -32601
(method not found) instead of being forwarded, to check that clients fall back
when a node lacks an optional method.

Only loopback addresses are used. The proxy is for tests only: no TLS, no auth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections import defaultdict
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

__all__ = ["RecordingProxy", "summarize"]

_MAX_BODY = 64 * 1024 * 1024


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Stats:
    """method -> counters, per (label, transport). Thread-safe enough: one writer loop."""

    def __init__(self) -> None:
        # label -> transport -> method -> {"calls": n, "errors": n, "error_samples": [...]}
        self.data: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(lambda: {"calls": 0, "errors": 0, "error_samples": []}))
        )
        self.lock = threading.Lock()

    def call(self, label: str, transport: str, method: str) -> None:
        with self.lock:
            self.data[label][transport][method]["calls"] += 1

    def error(self, label: str, transport: str, method: str, err: Any) -> None:
        with self.lock:
            entry = self.data[label][transport][method]
            entry["errors"] += 1
            if len(entry["error_samples"]) < 3:
                sample = err if isinstance(err, dict) else {"message": str(err)}
                sample = {k: sample.get(k) for k in ("code", "message") if k in sample}
                if sample not in entry["error_samples"]:
                    entry["error_samples"].append(sample)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return json.loads(json.dumps(self.data))


def _method_key(req: dict[str, Any]) -> str:
    method = str(req.get("method", "<missing>"))
    # Record the subscription kind too: eth_subscribe[logs], eth_subscribe[newHeads], ...
    if method == "eth_subscribe":
        params = req.get("params") or []
        if params:
            method = f"eth_subscribe[{params[0]}]"
    return method


def _method_not_found(req: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": req.get("id"),
        "error": {"code": -32601, "message": f"the method {req.get('method')} does not exist/is not available"},
    }


def _requests_of(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, dict)]
    if isinstance(payload, dict):
        return [payload]
    return []


class RecordingProxy:
    def __init__(
        self,
        upstream_http: str,
        upstream_ws: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        blocked_methods: set[str] | frozenset[str] = frozenset(),
    ):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("RecordingProxy only listens on loopback")
        # Methods answered with -32601 "method not found" instead of being
        # forwarded: checks that clients fall back when a node lacks them.
        self.blocked_methods = frozenset(blocked_methods)
        self.upstream_http = upstream_http
        self.upstream_ws = upstream_ws
        self.host = host
        self.port = port or _free_port()
        self.label = "default"
        self.stats = _Stats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    # ------------------------------------------------------------------ server

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._handle_ws(request)
        if request.method != "POST":
            return web.Response(status=405, text="JSON-RPC proxy: POST only")
        return await self._handle_http(request)

    async def _handle_http(self, request: web.Request) -> web.Response:
        label = self.label
        body = await request.read()
        methods_by_id: dict[Any, str] = {}
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
            self.stats.call(label, "http", "<invalid-json>")
        for req in _requests_of(payload):
            key = _method_key(req)
            self.stats.call(label, "http", key)
            methods_by_id[json.dumps(req.get("id"))] = key
        assert self._session is not None
        blocked_replies = []
        if self.blocked_methods and payload is not None:
            reqs = _requests_of(payload)
            blocked_replies = [_method_not_found(r) for r in reqs if r.get("method") in self.blocked_methods]
            if blocked_replies:
                rest = [r for r in reqs if r.get("method") not in self.blocked_methods]
                if isinstance(payload, dict) or not rest:
                    out_obj: Any = blocked_replies[0] if isinstance(payload, dict) else blocked_replies
                    for r in blocked_replies:
                        self.stats.error(label, "http", methods_by_id.get(json.dumps(r["id"]), "?"), r["error"])
                    return web.json_response(out_obj)
                body = json.dumps(rest).encode()
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        async with self._session.post(self.upstream_http, data=body, headers=headers) as resp:
            out = await resp.read()
            status = resp.status
            ctype = resp.headers.get("Content-Type", "application/json")
        if blocked_replies:  # a batch with some blocked members: merge the replies
            for r in blocked_replies:
                self.stats.error(label, "http", methods_by_id.get(json.dumps(r["id"]), "?"), r["error"])
            out = json.dumps(json.loads(out) + blocked_replies).encode()
        with contextlib.suppress(ValueError):
            for r in _requests_of(json.loads(out)):
                if "error" in r:
                    key = methods_by_id.get(json.dumps(r.get("id")), "<unknown>")
                    self.stats.error(label, "http", key, r["error"])
        return web.Response(body=out, status=status, headers={"Content-Type": ctype})

    async def _handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=_MAX_BODY, autoping=True)
        await client.prepare(request)
        assert self._session is not None
        pending: dict[str, tuple[str, str]] = {}  # id -> (label, method)
        async with self._session.ws_connect(self.upstream_ws, max_msg_size=_MAX_BODY) as upstream:

            async def client_to_upstream() -> None:
                async for msg in client:
                    if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                        raw = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode("utf-8", "replace")
                        label = self.label
                        blocked = None
                        with contextlib.suppress(ValueError):
                            parsed = json.loads(raw)
                            for req in _requests_of(parsed):
                                key = _method_key(req)
                                self.stats.call(label, "ws", key)
                                pending[json.dumps(req.get("id"))] = (label, key)
                            if isinstance(parsed, dict) and parsed.get("method") in self.blocked_methods:
                                blocked = _method_not_found(parsed)
                        if blocked is not None:
                            pending.pop(json.dumps(blocked["id"]), None)
                            self.stats.error(label, "ws", _method_key(parsed), blocked["error"])
                            await client.send_str(json.dumps(blocked))
                            continue
                        # Forward with the same frame type the client used.
                        if msg.type == WSMsgType.TEXT:
                            await upstream.send_str(msg.data)
                        else:
                            await upstream.send_bytes(msg.data)
                    elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                        break
                await upstream.close()

            async def upstream_to_client() -> None:
                async for msg in upstream:
                    if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                        raw = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode("utf-8", "replace")
                        with contextlib.suppress(ValueError):
                            for r in _requests_of(json.loads(raw)):
                                if "id" in r and "error" in r:
                                    label, key = pending.pop(json.dumps(r.get("id")), (self.label, "<unknown>"))
                                    self.stats.error(label, "ws", key, r["error"])
                                elif "id" in r:
                                    pending.pop(json.dumps(r.get("id")), None)
                        if client.closed:
                            break
                        if msg.type == WSMsgType.TEXT:
                            await client.send_str(msg.data)
                        else:
                            await client.send_bytes(msg.data)
                    else:
                        break
                await client.close()

            tasks = [asyncio.ensure_future(client_to_upstream()), asyncio.ensure_future(upstream_to_client())]
            _done, not_done = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in not_done:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
        return client

    # --------------------------------------------------------------- lifecycle

    async def _astart(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()

    async def _astop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._astart())
        except BaseException as e:  # noqa: BLE001 - reported to the starting thread
            self._start_error = e
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._astop())
            loop.close()

    def start(self, timeout: float = 10.0) -> RecordingProxy:
        self._thread = threading.Thread(target=self._run, name="rpc-recorder", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("recording proxy did not start in time")
        if self._start_error is not None:
            raise RuntimeError(f"recording proxy failed to start: {self._start_error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def dump(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.stats.snapshot(), f, indent=1, sort_keys=True)


def summarize(data: dict[str, Any]) -> str:
    """Human-readable per-label method list (used for reports)."""
    lines = []
    for label in sorted(data):
        lines.append(f"{label}:")
        for transport in sorted(data[label]):
            methods = data[label][transport]
            parts = []
            for m in sorted(methods):
                e = methods[m]
                s = f"{m} x{e['calls']}"
                if e["errors"]:
                    s += f" ({e['errors']} err)"
                parts.append(s)
            lines.append(f"  [{transport}] " + ", ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse
    import time

    ap = argparse.ArgumentParser(description="Record JSON-RPC methods between a client and a node")
    ap.add_argument("upstream", help="upstream http URL, e.g. http://127.0.0.1:8545 (ws URL derived)")
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--out", default="rpc-methods.json")
    ap.add_argument("--seconds", type=float, default=600.0, help="stop after this many seconds")
    ap.add_argument("--block", default="", help="comma-separated methods to answer with -32601")
    args = ap.parse_args()
    blocked = {m for m in args.block.split(",") if m}
    p = RecordingProxy(args.upstream, args.upstream.replace("http", "ws", 1), port=args.port, blocked_methods=blocked)
    p.start()
    print(f"recording proxy on {p.http_url} -> {args.upstream}", flush=True)
    try:
        time.sleep(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        p.stop()
        p.dump(args.out)
        print(summarize(p.stats.snapshot()))
