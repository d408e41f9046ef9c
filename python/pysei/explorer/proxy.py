"""``pysei explorer --rpc URL``: the explorer served on its own port in front of any pysei node.

The pages talk to this server, which forwards JSON-RPC (HTTP and WebSocket) to the node, method by method
through an allow-list of read methods: the explorer never exposes a method that signs, sends, or changes the
node (eth_sendTransaction, eth_sign, personal_*, anvil_*/evm_*/hardhat_*, admin_*…), even when the node has them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from pysei.explorer.site import PREFIX, mount_explorer

log = logging.getLogger("pysei.explorer")

READ_METHODS = frozenset(
    {
        "web3_clientVersion",
        "net_version",
        "eth_chainId",
        "eth_blockNumber",
        "eth_syncing",
        "eth_gasPrice",
        "eth_maxPriorityFeePerGas",
        "eth_feeHistory",
        "eth_getBalance",
        "eth_getTransactionCount",
        "eth_getCode",
        "eth_getStorageAt",
        "eth_call",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getBlockReceipts",
        "eth_getBlockTransactionCountByNumber",
        "eth_getBlockTransactionCountByHash",
        "eth_getTransactionByHash",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionReceipt",
        "eth_getLogs",
        "eth_subscribe",
        "eth_unsubscribe",
        "txpool_status",
        "pysei_executionStats",
        "sei_getStateCommitment",
        "sei_consensusStatus",
        "sei_getEvidence",
        "sei_validators",
        "sei_delegations",
        "sei_proposals",
        "sei_proposal",
        "debug_traceTransaction",
        "ots_getApiLevel",
        "ots_getContractCreator",
        "ots_searchTransactionsBefore",
        "ots_searchTransactionsAfter",
        "ots_getTransactionError",
        "ots_hasCode",
    }
)
"""What the pages call (the consensus, staking, tracing and address-index ones only where the node has them)."""

WS_SUBSCRIPTIONS = frozenset({"newHeads", "logs"})
MAX_BODY = 1024 * 1024


def _denied(req: Any) -> dict[str, Any] | None:
    """The error answer for a request outside the allow-list, or None when it may pass."""
    if not isinstance(req, dict):
        return None  # malformed: the node answers it with its own error
    method = req.get("method")
    params = req.get("params")
    allowed = method in READ_METHODS
    if method == "eth_subscribe":
        allowed = isinstance(params, list) and bool(params) and params[0] in WS_SUBSCRIPTIONS
    if allowed:
        return None
    message = f"the method {method} is not available through the explorer"
    return {"jsonrpc": "2.0", "id": req.get("id"), "error": {"code": -32601, "message": message}}


def filter_request(body: bytes) -> tuple[bytes | None, Any]:
    """Splits a request (or batch) into what may go to the node and the refusals, answered here.

    Returns (body to forward or None, refusals): a single refused request gives (None, its error); a batch gives
    the allowed entries to forward and a list of (position, error) to merge back into the node's answer. A refused
    notification (no ``id``) is dropped unanswered, as JSON-RPC answers no notification.
    """
    try:
        req = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body, None  # the node reports the parse error
    if isinstance(req, list):
        verdicts = [_denied(r) for r in req]
        if not any(verdicts):
            return body, None
        keep = [r for r, err in zip(req, verdicts, strict=True) if err is None]
        # Positions among the answered entries (those with an id), where merge_batch puts each refusal.
        answered = [(r, err) for r, err in zip(req, verdicts, strict=True) if isinstance(r, dict) and "id" in r]
        refused = [(i, err) for i, (_, err) in enumerate(answered) if err]
        return (orjson.dumps(keep) if keep else None), refused
    err = _denied(req)
    if err is None:
        return body, None
    return None, (err if "id" in req else None)


def merge_batch(forwarded: list[Any] | None, refused: list[tuple[int, Any]]) -> list[Any]:
    """The batch answer: the node's answers (in order) with the refusals at their positions among the answers."""
    out = list(forwarded or [])
    for i, err in refused:
        out.insert(min(i, len(out)), err)
    return out


class ExplorerServer:
    """Serves the pages at /explorer/ and proxies /explorer/rpc (HTTP) and /explorer/ws (WebSocket) to a node."""

    def __init__(self, rpc_url: str) -> None:
        self.rpc_url = rpc_url.rstrip("/") + "/"
        self.ws_url = self.rpc_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=MAX_BODY)
        self.app.router.add_post(PREFIX + "rpc", self.handle_rpc)
        self.app.router.add_get(PREFIX + "ws", self.handle_ws)
        self.app.router.add_get("/", self.redirect)
        mount_explorer(self.app, rpc_url=PREFIX + "rpc", ws_url=PREFIX + "ws")
        self.app.on_startup.append(self._open)
        self.app.on_cleanup.append(self._close)

    async def _open(self, _: web.Application) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def _close(self, _: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def redirect(self, _: web.Request) -> web.Response:
        raise web.HTTPFound(PREFIX)

    async def _forward(self, body: bytes) -> Any:
        assert self.session is not None
        async with self.session.post(self.rpc_url, data=body, headers={"Content-Type": "application/json"}) as r:
            raw = await r.read()
        return orjson.loads(raw) if raw else None

    async def answer(self, body: bytes) -> Any:
        """The answer to a request or batch; None when there is none to give (only notifications)."""
        forward, refused = filter_request(body)
        if isinstance(refused, list):
            return merge_batch(await self._forward(forward) if forward is not None else None, refused) or None
        if forward is None:
            return refused
        return await self._forward(forward)

    async def handle_rpc(self, request: web.Request) -> web.Response:
        try:
            answer = await self.answer(await request.read())
        except aiohttp.ClientError as e:
            msg = f"the node at {self.rpc_url} did not answer: {e}"
            answer = {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": msg}}
        body = b"" if answer is None else orjson.dumps(answer)
        return web.Response(body=body, content_type="application/json")

    async def handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        """Pipes a page's WebSocket to the node's: requests filtered on the way in, everything back unchanged."""
        assert self.session is not None
        page = web.WebSocketResponse(max_msg_size=MAX_BODY, heartbeat=30)
        await page.prepare(request)
        try:
            async with self.session.ws_connect(self.ws_url, max_msg_size=0) as node:
                back = asyncio.create_task(_pipe_back(node, page))
                try:
                    async for msg in page:
                        if msg.type != WSMsgType.TEXT:
                            break
                        forward, refused = filter_request(msg.data.encode())
                        if isinstance(refused, list):
                            # A batch: the node answers the allowed entries (in one array), the refusals come in an
                            # array of their own; clients match answers by id.
                            if refused:
                                await page.send_str(orjson.dumps([e for _, e in refused]).decode())
                        elif refused is not None:
                            await page.send_str(orjson.dumps(refused).decode())
                        if forward is not None:
                            await node.send_str(forward.decode())
                finally:
                    back.cancel()
        except aiohttp.ClientError as e:
            log.warning("explorer: node WebSocket at %s failed: %s", self.ws_url, e)
        await page.close()
        return page


async def _pipe_back(node: aiohttp.ClientWebSocketResponse, page: web.WebSocketResponse) -> None:
    async for msg in node:
        if msg.type == WSMsgType.TEXT:
            await page.send_str(msg.data)
        else:
            break
    await page.close()


async def serve(rpc_url: str, host: str, port: int) -> None:
    server = ExplorerServer(rpc_url)
    runner = web.AppRunner(server.app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0]
    print(f"explorer http://{bound[0]}:{bound[1]}{PREFIX} (node {rpc_url})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
