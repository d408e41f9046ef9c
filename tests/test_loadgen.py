"""The JSON-RPC load generator (pysei.bench.loadgen) against a real pysei devnet, for every workload.

Each workload runs its untimed set-up (funding, deployments, token distribution, approvals) and a small timed
phase; every transaction must succeed and every receipt be counted exactly once. The contracts' state after the
run is checked through eth_call, so the workloads do what they claim. A fake node that accepts transactions and
never mines checks that a stall is detected, reported and ends the run.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import rlp
from aiohttp import web

from pysei.bench import loadgen

try:
    from tests.conftest import Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import Devnet, start_devnet  # type: ignore[no-redef]

N = 200
ACCOUNTS = 40
OPTS = loadgen.TimedOptions(batch=20, concurrency=2, stall_s=20, time_limit=120)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = start_devnet(tmp_path_factory.mktemp("loadgen"), "--block-time", "0.1")
    yield devnet
    assert devnet.stop() == 0


def _call(url: str, to: bytes, data: bytes) -> int:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "eth_call",
        "params": [{"to": loadgen.hx(to), "data": loadgen.hx(data)}, "latest"],
    }
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        out = json.loads(resp.read())
    return int(out["result"][:66], 16)


def _check_state(url: str, plan: loadgen.Plan) -> None:
    c = plan.contracts
    if plan.workload in ("erc20", "erc20-zipf"):
        supply = _call(url, c["token"], loadgen.calldata("totalSupply()"))
        held = sum(_call(url, c["token"], loadgen.calldata("balanceOf(address)", s.address)) for s in plan.senders)
        assert supply == loadgen.TOKEN_SUPPLY
        assert held == loadgen.TOKEN_PER_ACCOUNT * len(plan.senders)  # transfers among the accounts keep the sum
    elif plan.workload == "amm":
        data = loadgen.calldata("getReserves()")
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_call",
            "params": [{"to": loadgen.hx(c["pool"]), "data": loadgen.hx(data)}, "latest"],
        }
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = bytes.fromhex(json.loads(resp.read())["result"][2:])
        r0, r1 = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        assert (r0, r1) != (loadgen.POOL_LIQUIDITY, loadgen.POOL_LIQUIDITY)
        assert r0 * r1 >= loadgen.POOL_LIQUIDITY**2  # the fee only grows k
    elif plan.workload == "nft":
        assert _call(url, c["nft"], loadgen.calldata("totalSupply()")) == N
        assert _call(url, c["nft"], loadgen.calldata("ownerOf(uint256)", N)) != 0
    elif plan.workload == "storage":
        assert _call(url, c["storage"], loadgen.calldata("writes()")) == N * loadgen.STORAGE_SLOTS_PER_CALL
        last = (N - 1) * loadgen.STORAGE_SLOTS_PER_CALL + loadgen.STORAGE_SLOTS_PER_CALL - 1
        assert _call(url, c["storage"], loadgen.calldata("slots(uint256)", last)) == last + 1


@pytest.mark.parametrize("workload", loadgen.WORKLOADS)
def test_workload_all_succeed(node: Devnet, workload: str) -> None:
    seed = 100 + loadgen.WORKLOADS.index(workload)  # fresh accounts on the shared node
    plan = loadgen.make_plan(workload, N, n_accounts=ACCOUNTS, seed=seed)
    opts = loadgen.TimedOptions(**{**OPTS.__dict__, "receipts": "poll" if workload == "transfer" else "blocks"})
    setup, res = asyncio.run(loadgen.run_load(node.http_url, plan, opts))
    assert not res.stalled, res.stall_reason
    assert res.errors == {}
    assert (res.sent, res.accepted, res.successes) == (N, N, N)
    assert (res.reverted, res.rejected, res.lost, res.duplicates, res.unanswered) == (0, 0, 0, 0, 0)
    assert res.accepted_tps > 0 and res.finalised_tps > 0 and res.gas_per_s > 0
    assert res.gas_used <= N * plan.gas_limit and res.gas_used >= N * 21_000
    assert 0 < res.latency_ms["p50"] <= res.latency_ms["p95"] <= res.latency_ms["p99"] <= res.latency_ms["max"]
    assert len(res.latency_sample_ms) == N
    assert res.blocks >= 1 and res.max_block_txs <= N
    _check_state(node.http_url, plan)


def test_setup_refuses_used_accounts(node: Devnet) -> None:
    plan = loadgen.make_plan("transfer", 10, n_accounts=4, seed=100)  # the transfer test above used seed 100
    with pytest.raises(loadgen.SetupError, match="already used"):
        asyncio.run(loadgen.run_setup(node.http_url, plan))


def test_plan_is_deterministic_and_nonce_ordered() -> None:
    a = loadgen.make_plan("erc20-zipf", 300, n_accounts=30, seed=7)
    b = loadgen.make_plan("erc20-zipf", 300, n_accounts=30, seed=7)
    assert a.raws == b.raws and a.contracts == b.contracts
    assert a.contracts["token"] == loadgen.create_address(a.deployer.address, 0)
    assert loadgen.make_plan("erc20-zipf", 300, n_accounts=30, seed=8).raws != a.raws
    assert len(set(a.hashes)) == 300

    # Zipf: the hottest recipient gets far more than a uniform share (1/29); uniform does not.
    def recipients(plan: loadgen.Plan) -> Counter[bytes]:
        # the transfer's recipient: calldata (field 7 of the EIP-1559 envelope) = selector ‖ address word ‖ amount
        return Counter(rlp.decode(raw[1:])[7][16:36] for raw in plan.raws)

    hot = recipients(a).most_common(1)[0][1] / 300
    flat = recipients(loadgen.make_plan("erc20", 300, n_accounts=30, seed=7)).most_common(1)[0][1] / 300
    assert hot > 0.15 > flat


def test_lanes_keep_each_sender_on_one_connection_in_nonce_order() -> None:
    plan = loadgen.make_plan("transfer", 120, n_accounts=12, seed=3)
    st = loadgen._Timed("http://127.0.0.1:1", plan, loadgen.TimedOptions(batch=3, concurrency=4), None, None)
    lane_of: dict[int, int] = {}
    for c, lane in enumerate(st.lanes):
        order: dict[int, list[int]] = {}
        for chunk, body in lane:
            entries = json.loads(body)
            assert [e["id"] for e in entries] == chunk
            assert len({i % 12 for i in chunk}) == len(chunk)  # one transaction per sender in a batch
            for i in chunk:
                assert lane_of.setdefault(i % 12, c) == c
                order.setdefault(i % 12, []).append(i)
        assert all(v == sorted(v) for v in order.values())
    assert sorted(i for lane in st.lanes for chunk, _ in lane for i in chunk) == list(range(120))


# --- stall detection against a node that never mines ----------------------------------------------------------------
async def _fake_node() -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        req: Any = json.loads(await request.read())

        def answer(r: dict[str, Any]) -> dict[str, Any]:
            m = r["method"]
            if m == "eth_sendRawTransaction":
                from pysei.native import keccak

                result: Any = loadgen.hx(keccak(bytes.fromhex(r["params"][0][2:])))
            elif m == "eth_blockNumber":
                result = "0x0"
            elif m == "eth_chainId":
                result = hex(713714)
            else:
                result = None
            return {"jsonrpc": "2.0", "id": r["id"], "result": result}

        out = [answer(r) for r in req] if isinstance(req, list) else answer(req)
        return web.json_response(out)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    return runner, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("mode", ["blocks", "poll"])
def test_stall_is_detected_and_reported(mode: str) -> None:
    plan = loadgen.make_plan("transfer", 50, n_accounts=10, seed=5)

    async def go() -> loadgen.RunResult:
        runner, url = await _fake_node()
        try:
            opts = loadgen.TimedOptions(batch=10, concurrency=2, stall_s=1.0, receipts=mode, poll_interval=0.02)
            return await asyncio.wait_for(loadgen.run_timed(url, plan, opts), timeout=30)
        finally:
            await runner.cleanup()

    res = asyncio.run(go())
    assert res.stalled and "stalled" in (res.stall_reason or "")
    assert (res.sent, res.accepted, res.successes, res.lost) == (50, 50, 0, 50)
    assert res.finalised_tps == 0 and res.total_seconds >= 1.0
