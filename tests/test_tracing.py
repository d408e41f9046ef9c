"""Tracing (debug_trace*, trace_*) compared field by field with anvil, which runs the same revm-inspectors tracers.

The same dev account deploys the same contracts and sends the same transactions, with identical gas limits and
prices, to a fresh pysei node and a fresh anvil, so addresses, inputs and gas agree; then every tracer's answer is
compared. What differs is listed in ``ANVIL_DIFFERENCES`` with the reason, and asserted to differ as described:

- anvil's ``flatCallTracer`` and ``muxTracer`` answer ``{}`` (foundry's ``debug_traceTransaction`` does not
  dispatch them); pysei's flat calls are compared with anvil's ``trace_transaction`` (the same Parity frames) and
  its mux result with pysei's own single tracers;
- anvil's struct logs are empty unless it is started with ``--steps-tracing`` (it is, here, to compare them);
- callTracer's top-level ``gas``: geth (and revm-inspectors' ``DebugInspector``, which pysei uses) report the
  transaction's gas limit; anvil reports what is left after the intrinsic gas;
- callTracer's top-level ``gas``: geth (and revm-inspectors' ``DebugInspector``, which pysei uses) report the
  transaction's gas limit; anvil reports what is left after the intrinsic gas;
- the fee recipient differs by design: Sei credits the whole fee to its fee collector, Ethereum burns the base fee
  and pays the tip to the coinbase, so the prestate tracer's entry for that account is left out of the comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

try:
    from tests.clients import solc
    from tests.clients.anvil_plugin import AnvilProcess, anvil_binary
    from tests.conftest import Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from clients import solc  # type: ignore[no-redef]
    from clients.anvil_plugin import AnvilProcess, anvil_binary  # type: ignore[no-redef]
    from conftest import Devnet, start_devnet  # type: ignore[no-redef]

ANVIL_DIFFERENCES = {
    "callTracer gas": "anvil's top-level frame reports gas after intrinsic gas; geth reports the transaction's limit",
    "flatCallTracer": "anvil answers {} (not dispatched by its debug_traceTransaction)",
    "muxTracer": "anvil answers {} (not dispatched by its debug_traceTransaction)",
}
SENDER = 17
PRICE = 3 * 10**9
"""maxFeePerGas = maxPriorityFeePerGas: both nodes charge exactly this per gas whatever their base fee."""
FEE_RECIPIENTS = {"0xf1829676db577682e944fc3493d451b67ff3e29f", "0x0000000000000000000000000000000000000000"}


class Chain:
    """One node with the fixture contracts deployed and the traced transactions sent."""

    def __init__(self, url: str, key: str) -> None:
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
        self.account = self.w3.eth.account.from_key(key)
        self.nonce = self.w3.eth.get_transaction_count(self.account.address)
        callee = self.deploy("Callee", [])
        caller = self.deploy("Caller", [callee])
        self.callee, self.caller = callee, caller
        iface = self.w3.eth.contract(abi=solc.contract("Caller")["abi"])
        self.reverting = self.send(caller, iface.encode_abi("pokeThenFail", [1]), 0)
        self.multi = self.send(caller, iface.encode_abi("multi", []), 12345)

    def send(self, to: str | None, data: str, value: int, gas: int = 1_000_000) -> str:
        tx: dict[str, Any] = {
            "nonce": self.nonce,
            "gas": gas,
            "maxFeePerGas": PRICE,
            "maxPriorityFeePerGas": PRICE,
            "chainId": self.w3.eth.chain_id,
            "data": data,
            "value": value,
        }
        if to is not None:
            tx["to"] = to
        self.nonce += 1
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self.w3.eth.wait_for_transaction_receipt(tx_hash)
        return Web3.to_hex(tx_hash)

    def deploy(self, name: str, args: list[Any]) -> str:
        artifact = solc.contract(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        data = factory.constructor(*args).data_in_transaction
        receipt = self.w3.eth.get_transaction_receipt(self.send(None, data, 0, gas=3_000_000))
        assert receipt["status"] == 1
        return str(receipt["contractAddress"])

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in response, (method, response)
        return response["result"]


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chain, Chain]]:
    tmp = tmp_path_factory.mktemp("tracing")
    node: Devnet = start_devnet(tmp, "--automine", "--exec-threads", "1")
    anvil = AnvilProcess(anvil_binary(), tmp, extra_args=["--steps-tracing"])
    try:
        anvil.start()
        key = node.accounts[SENDER].key
        yield Chain(node.http_url, key), Chain(f"http://127.0.0.1:{anvil.port}", key)
    finally:
        anvil.stop()
        assert node.stop() == 0


def lower(value: Any) -> Any:
    """Hex strings compared case-insensitively (addresses come checksummed from one node, lowercase from another)."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list):
        return [lower(v) for v in value]
    if isinstance(value, dict):
        return {k.lower() if k.startswith("0x") else k: lower(v) for k, v in value.items()}
    return value


def without_fee_recipients(trace: Any) -> Any:
    if isinstance(trace, dict):
        return {k: without_fee_recipients(v) for k, v in trace.items() if k.lower() not in FEE_RECIPIENTS}
    return trace


def both(chains: tuple[Chain, Chain], method: str, which: str, *params: Any) -> tuple[Any, Any]:
    pysei, anvil = chains
    return (
        lower(pysei.rpc(method, getattr(pysei, which), *params)),
        lower(anvil.rpc(method, getattr(anvil, which), *params)),
    )


def assert_same(ours: Any, theirs: Any, path: str = "$") -> None:
    """Field by field, so that a failure names the first field that differs."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), f"{path}: keys {sorted(ours)} vs anvil {sorted(theirs)}"
        for key in ours:
            assert_same(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(ours, list) and isinstance(theirs, list):
        assert len(ours) == len(theirs), f"{path}: {len(ours)} items vs anvil {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    else:
        assert ours == theirs, f"{path}: {ours!r} vs anvil {theirs!r}"


@pytest.mark.parametrize("which", ["reverting", "multi"])
def test_call_tracer_matches_anvil(chains: tuple[Chain, Chain], which: str) -> None:
    ours, theirs = both(
        chains, "debug_traceTransaction", which, {"tracer": "callTracer", "tracerConfig": {"withLog": True}}
    )
    # Top-level gas: the transaction's limit as geth reports it; anvil's is after intrinsic gas (ANVIL_DIFFERENCES).
    assert int(ours.pop("gas"), 16) == 1_000_000 > int(theirs.pop("gas"), 16)
    assert_same(ours, theirs)
    if which == "reverting":
        assert ours["error"] == "execution reverted"
        assert ours["revertReason"] == "callee: nope"
        assert [c["type"] for c in ours["calls"]] == ["call", "staticcall"]
        assert ours["calls"][1]["error"] == "execution reverted"
    else:
        assert "error" not in ours
        assert len(ours["calls"]) >= 4
        assert any("logs" in c for c in ours["calls"])


@pytest.mark.parametrize("which", ["reverting", "multi"])
@pytest.mark.parametrize("config", [{}, {"diffMode": True}])
def test_prestate_tracer_matches_anvil(chains: tuple[Chain, Chain], which: str, config: dict[str, Any]) -> None:
    ours, theirs = both(chains, "debug_traceTransaction", which, {"tracer": "prestateTracer", "tracerConfig": config})
    if config:
        assert_same(
            {k: without_fee_recipients(v) for k, v in ours.items()},
            {k: without_fee_recipients(v) for k, v in theirs.items()},
        )
    else:
        assert_same(without_fee_recipients(ours), without_fee_recipients(theirs))
    sender = chains[0].account.address.lower()
    assert sender in (ours["pre"] if config else ours)


@pytest.mark.parametrize("which", ["reverting", "multi"])
def test_4byte_tracer_matches_anvil(chains: tuple[Chain, Chain], which: str) -> None:
    ours, theirs = both(chains, "debug_traceTransaction", which, {"tracer": "4byteTracer"})
    assert_same(ours, theirs)
    assert ours


@pytest.mark.parametrize("which", ["reverting", "multi"])
def test_struct_logs_match_anvil_with_steps_tracing(chains: tuple[Chain, Chain], which: str) -> None:
    options = {"enableMemory": True, "enableReturnData": True}
    ours, theirs = both(chains, "debug_traceTransaction", which, options)
    assert_same(ours, theirs)
    assert len(ours["structLogs"]) > 50


@pytest.mark.parametrize("which", ["reverting", "multi"])
def test_parity_traces_match_anvil(chains: tuple[Chain, Chain], which: str) -> None:
    pysei, anvil = chains
    ours, theirs = both(chains, "trace_transaction", which)
    # Two chains: same block numbers and transactions, different block hashes.
    for frame in ours + theirs:
        frame.pop("blockHash")
    assert_same(ours, theirs)
    # flatCallTracer renders the same frames; anvil answers {} for it (listed in ANVIL_DIFFERENCES).
    flat = lower(pysei.rpc("debug_traceTransaction", getattr(pysei, which), {"tracer": "flatCallTracer"}))
    for frame in flat:
        frame.pop("blockHash")
    # Top frame: geth's flatCallTracer (built on its callTracer) reports the transaction's gas limit, Parity's
    # trace_transaction the gas after intrinsic gas (pysei's trace_transaction does too, as compared above).
    assert int(flat[0]["action"].pop("gas"), 16) == 1_000_000 > int(theirs[0]["action"].pop("gas"), 16)
    assert_same(flat, theirs)
    assert lower(anvil.rpc("debug_traceTransaction", getattr(anvil, which), {"tracer": "flatCallTracer"})) == {}


def test_mux_tracer_combines_the_single_tracers(chains: tuple[Chain, Chain]) -> None:
    pysei, anvil = chains
    configs: dict[str, dict[str, Any]] = {"callTracer": {"withLog": True}, "4byteTracer": {}}
    configs["prestateTracer"] = {"diffMode": True}
    mux = pysei.rpc("debug_traceTransaction", pysei.multi, {"tracer": "muxTracer", "tracerConfig": configs})
    assert mux.keys() == configs.keys()
    for tracer, config in configs.items():
        single = pysei.rpc("debug_traceTransaction", pysei.multi, {"tracer": tracer, "tracerConfig": config})
        assert mux[tracer] == single, tracer
    assert mux["callTracer"]["calls"][0]["logs"]  # each tracer got its own options (withLog)
    assert (
        anvil.rpc("debug_traceTransaction", anvil.multi, {"tracer": "muxTracer", "tracerConfig": {"callTracer": {}}})
        == {}
    )


def test_block_and_call_tracing(chains: tuple[Chain, Chain]) -> None:
    pysei, _ = chains
    receipt = pysei.w3.eth.get_transaction_receipt(pysei.multi)
    block = pysei.rpc("debug_traceBlockByNumber", hex(receipt["blockNumber"]), {"tracer": "callTracer"})
    assert [b["txHash"] for b in block] == [pysei.multi]
    assert block[0]["result"] == pysei.rpc("debug_traceTransaction", pysei.multi, {"tracer": "callTracer"})
    by_hash = pysei.rpc("debug_traceBlockByHash", Web3.to_hex(receipt["blockHash"]), {"tracer": "callTracer"})
    assert by_hash == block
    flat = pysei.rpc("trace_block", hex(receipt["blockNumber"]))
    assert flat == pysei.rpc("trace_transaction", pysei.multi)
    replay = pysei.rpc("trace_replayTransaction", pysei.multi, ["trace", "stateDiff"])
    assert replay["trace"] and pysei.callee.lower() in lower(replay["stateDiff"])
    iface = pysei.w3.eth.contract(abi=solc.contract("Caller")["abi"])
    call = {"from": pysei.account.address, "to": pysei.caller, "data": iface.encode_abi("pokeThenFail", [1])}
    traced = pysei.rpc("debug_traceCall", call, "latest", {"tracer": "callTracer"})
    assert traced["error"] == "execution reverted" and traced["revertReason"] == "Callee: nope"


TRACE_LIMIT = 16
"""Bytes a trace may record on the limited node: ``multi``'s internal calls pass the callTracer 4 + 4 + 36 bytes of
input (poke, poke, fail(1)), so its call trace is over; the 4byteTracer records no bytes, so it stays under."""


def test_trace_limit_covers_every_tracer_and_the_mux(tmp_path: Path) -> None:
    node = start_devnet(tmp_path, "--automine", "--exec-threads", "1", "--max-trace-bytes", str(TRACE_LIMIT))
    try:
        chain = Chain(node.http_url, node.accounts[SENDER].key)
        too_large = f"trace exceeds the limit of {TRACE_LIMIT} recorded bytes"

        def error(method: str, *params: Any) -> str:
            response = chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
            assert "result" not in response, (method, response)
            assert response["error"]["code"] == -32000
            return str(response["error"]["message"])

        assert chain.rpc("debug_traceTransaction", chain.multi, {"tracer": "4byteTracer"})
        assert too_large in error("debug_traceTransaction", chain.multi, {"tracer": "callTracer"})
        assert too_large in error("debug_traceTransaction", chain.multi, {"enableMemory": True})
        # muxTracer runs each of its tracers under the same limit: the call tracer inside it is over.
        mux = {"tracer": "muxTracer", "tracerConfig": {"4byteTracer": {}, "callTracer": {"withLog": True}}}
        assert too_large in error("debug_traceTransaction", chain.multi, mux)
        number = hex(chain.w3.eth.get_transaction_receipt(chain.multi)["blockNumber"])
        assert too_large in error("debug_traceBlockByNumber", number, mux)
        assert chain.rpc(
            "debug_traceTransaction", chain.multi, {"tracer": "muxTracer", "tracerConfig": {"4byteTracer": {}}}
        )
    finally:
        assert node.stop() == 0


def test_errors_are_clear(chains: tuple[Chain, Chain]) -> None:
    pysei, _ = chains
    unknown = pysei.w3.provider.make_request("debug_traceTransaction", ["0x" + "00" * 32])  # type: ignore[arg-type]
    assert "not found" in unknown["error"]["message"]
    js = pysei.w3.provider.make_request(  # type: ignore[arg-type]
        "debug_traceTransaction", [pysei.multi, {"tracer": "{ result: function() { return 1 } }"}]
    )
    assert "unknown tracer" in js["error"]["message"] or "invalid tracer" in js["error"]["message"]
