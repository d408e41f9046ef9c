"""Dev RPC methods (anvil_*/hardhat_*/evm_*) against a real node process, through the clients that call them:
web3.py, Foundry's ``cast rpc`` and Hardhat 3's network helpers (tests/clients/hardhat3/dev-test)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rlp
from trie import HexaryTrie
from web3 import Web3

try:
    from tests.clients.tooling import HARDHAT3_DIR, JS_DIR, NODE22_BIN_DIR, ensure_installed
    from tests.conftest import Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from clients.tooling import HARDHAT3_DIR, JS_DIR, NODE22_BIN_DIR, ensure_installed  # type: ignore[no-redef]
    from conftest import Devnet, start_devnet  # type: ignore[no-redef]

NOBODY = "0x00000000000000000000000000000000000b0b00"
CAST = JS_DIR / "node_modules" / "@foundry-rs" / "cast-linux-amd64" / "bin" / "cast"
LOGGER_INIT = "0x67365f5f37365fa0005f5260086018f3"
"""Deploys CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY CALLDATASIZE PUSH0 LOG0 STOP: logs its calldata."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet of this module's own (reverts would disturb the shared one), automining."""
    devnet = start_devnet(tmp_path_factory.mktemp("dev-methods"), "--automine", "--exec-threads", "1")
    yield devnet
    assert devnet.stop() == 0, devnet.log_path.read_text()[-3000:] if devnet.log_path else ""


@pytest.fixture(scope="module")
def w3(node: Devnet) -> Web3:
    return Web3(Web3.HTTPProvider(node.http_url, request_kwargs={"timeout": 60}))


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" not in response, response
    return response["result"]


def rpc_error(w3: Web3, method: str, *params: Any) -> dict[str, Any]:
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    assert "error" in response, response
    return response["error"]


def transfer(w3: Web3, node: Devnet, to: str, value: int, sender: int = 0) -> None:
    tx = {"from": node.accounts[sender].address, "to": Web3.to_checksum_address(to), "value": value}
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))  # type: ignore[arg-type]
    assert receipt["status"] == 1


def commitment(w3: Web3, number: int) -> str:
    """The state commitment after block ``number``, once the worker computed it (it trails execution on a thread
    of its own; the wait is bounded, not timed)."""
    for _ in range(600):
        digest = rpc(w3, "sei_getStateCommitment", hex(number))["commitment"]
        if digest is not None:
            return str(digest)
        time.sleep(0.05)
    raise AssertionError(f"no commitment for block {number}")


def test_client_version_passes_the_hardhat_helpers_gate(w3: Web3) -> None:
    version = w3.client_version
    assert version.lower().startswith("anvil"), version
    assert "pysei" in version


def test_snapshot_revert_restores_chain_state_and_commitment(w3: Web3, node: Devnet) -> None:
    snapshot = rpc(w3, "evm_snapshot")
    assert isinstance(snapshot, str) and snapshot.startswith("0x")
    head = w3.eth.block_number
    root_before = commitment(w3, head)
    balance = w3.eth.get_balance(Web3.to_checksum_address(NOBODY))

    transfer(w3, node, NOBODY, 10**18)
    rpc(w3, "anvil_setBalance", NOBODY, hex(5 * 10**18))
    rpc(w3, "hardhat_mine", "0x3")
    assert w3.eth.get_balance(Web3.to_checksum_address(NOBODY)) == 5 * 10**18
    assert w3.eth.block_number == head + 4

    assert rpc(w3, "evm_revert", snapshot) is True
    assert w3.eth.block_number == head
    assert w3.eth.get_balance(Web3.to_checksum_address(NOBODY)) == balance
    assert rpc(w3, "eth_getBlockByNumber", hex(head + 1), False) is None
    # The commitment of the restored head is the one it had: the accumulator went back with the blocks.
    assert commitment(w3, head) == root_before
    # A snapshot is consumed by its revert.
    assert rpc(w3, "evm_revert", snapshot) is False

    # The chain continues from the restored head, and its commitments keep certifying the state.
    transfer(w3, node, NOBODY, 1)
    assert w3.eth.block_number >= head + 1
    assert w3.eth.get_balance(Web3.to_checksum_address(NOBODY)) == balance + 1


def test_edits_of_the_head_block_are_undone_by_a_revert_to_it(w3: Web3, node: Devnet) -> None:
    head = w3.eth.block_number
    root = commitment(w3, head)
    snapshot = rpc(w3, "evm_snapshot")
    # No block in between: these amend the snapshot's own block.
    rpc(w3, "hardhat_setBalance", NOBODY, hex(77))
    rpc(w3, "anvil_setNonce", NOBODY, hex(9))
    rpc(w3, "anvil_setStorageAt", NOBODY, "0x1", "0x" + "00" * 31 + "2a")
    rpc(w3, "anvil_setCode", NOBODY, "0x6000")
    addr = Web3.to_checksum_address(NOBODY)
    assert (w3.eth.get_balance(addr), w3.eth.get_transaction_count(addr)) == (77, 9)
    assert w3.eth.get_storage_at(addr, 1) == (42).to_bytes(32, "big")
    assert w3.eth.get_code(addr) == bytes.fromhex("6000")
    assert w3.eth.block_number == head
    assert rpc(w3, "evm_revert", snapshot) is True
    assert w3.eth.get_transaction_count(addr) == 0
    assert w3.eth.get_storage_at(addr, 1) == b"\x00" * 32
    assert w3.eth.get_code(addr) == b""
    assert commitment(w3, head) == root


def test_edits_are_part_of_the_head_block_history(w3: Web3, node: Devnet) -> None:
    transfer(w3, node, NOBODY, 3)
    head = w3.eth.block_number
    addr = Web3.to_checksum_address(NOBODY)
    before = w3.eth.get_balance(addr)
    rpc(w3, "anvil_setBalance", NOBODY, hex(before + 1000))
    rpc(w3, "anvil_addBalance", NOBODY, hex(1))
    assert w3.eth.get_balance(addr) == before + 1001
    assert w3.eth.get_balance(addr, head - 1) == before - 3
    rpc(w3, "evm_mine")
    assert w3.eth.get_balance(addr, head) == before + 1001


def test_time_and_mining_controls(w3: Web3, node: Devnet) -> None:
    latest = w3.eth.get_block("latest")["timestamp"]
    rpc(w3, "evm_setNextBlockTimestamp", hex(latest + 1000))
    rpc(w3, "evm_mine")
    assert w3.eth.get_block("latest")["timestamp"] == latest + 1000
    offset = int(rpc(w3, "evm_increaseTime", 500), 16)
    assert offset >= 500
    rpc(w3, "evm_mine")
    assert w3.eth.get_block("latest")["timestamp"] >= latest + 1500
    start = w3.eth.block_number
    rpc(w3, "anvil_mine", "0x4", "0x3c")
    blocks = [w3.eth.get_block(start + i)["timestamp"] for i in range(1, 5)]
    assert [b - a for a, b in zip(blocks, blocks[1:], strict=False)] == [60, 60, 60]
    assert rpc(w3, "evm_mine", {"blocks": 2}) == "0x0"
    assert w3.eth.block_number == start + 6
    # Going backwards is refused with the reason.
    error = rpc_error(w3, "evm_setNextBlockTimestamp", hex(latest))
    assert "before the latest block" in error["message"]


def test_manual_mining_keeps_transactions_pending_until_mined(w3: Web3, node: Devnet) -> None:
    assert rpc(w3, "hardhat_getAutomine") is True
    rpc(w3, "evm_setAutomine", False)
    try:
        assert rpc(w3, "anvil_getAutomine") is False
        head = w3.eth.block_number
        sender = node.accounts[1].address
        tx_hash = w3.eth.send_transaction({"from": sender, "to": Web3.to_checksum_address(NOBODY), "value": 1})
        content = rpc(w3, "txpool_content")
        assert str(w3.eth.get_transaction(tx_hash)["nonce"]) in content["pending"][sender]
        assert sender in rpc(w3, "txpool_inspect")["pending"]
        assert w3.eth.block_number == head
        # Dropped, it never executes; a second one is mined on request.
        assert rpc(w3, "anvil_dropTransaction", Web3.to_hex(tx_hash)) == Web3.to_hex(tx_hash)
        assert rpc(w3, "txpool_content")["pending"] == {}
        tx2 = w3.eth.send_transaction({"from": sender, "to": Web3.to_checksum_address(NOBODY), "value": 2})
        rpc(w3, "evm_mine")
        assert w3.eth.get_transaction_receipt(tx2)["blockNumber"] == head + 1
    finally:
        rpc(w3, "evm_setAutomine", True)


def test_hundreds_of_transactions_in_one_block_keep_their_own_receipts(w3: Web3, node: Devnet) -> None:
    """Past 256 transactions the kernel seals receipts ahead, 256 at a time, while the block still executes
    (``native/src/exec/builder.rs``): each transaction still gets its own receipt and logs, by eth_getBlockReceipts
    and eth_getTransactionReceipt alike, and the block's receiptsRoot is the trie of the receipts served."""
    sender = node.accounts[2].address
    deploy = w3.eth.send_transaction({"from": sender, "data": LOGGER_INIT})
    logger = w3.eth.wait_for_transaction_receipt(deploy)["contractAddress"]
    n = 600  # two whole blocks of 256 (the second's subtree is encoded ahead) and a partial one
    rpc(w3, "evm_setAutomine", False)
    try:
        hashes = [
            w3.eth.send_transaction({"from": sender, "to": logger, "data": i.to_bytes(32, "big"), "gas": 60_000})
            for i in range(n)
        ]
        rpc(w3, "evm_mine")
    finally:
        rpc(w3, "evm_setAutomine", True)
    block = w3.eth.get_block("latest")
    receipts = rpc(w3, "eth_getBlockReceipts", hex(block["number"]))
    assert [r["transactionHash"] for r in receipts] == [h.to_0x_hex() for h in hashes]
    for i, r in enumerate(receipts):
        assert (r["status"], int(r["transactionIndex"], 16)) == ("0x1", i)
        assert [(log["data"], int(log["logIndex"], 16)) for log in r["logs"]] == [("0x" + f"{i:064x}", i)]
    for i in (0, 255, 256, 511, 512, n - 1):
        assert rpc(w3, "eth_getTransactionReceipt", hashes[i].to_0x_hex()) == receipts[i]
    receipts_trie = HexaryTrie(db={})
    for i, r in enumerate(receipts):
        logs = [
            [
                bytes.fromhex(log["address"][2:]),
                [bytes.fromhex(t[2:]) for t in log["topics"]],
                bytes.fromhex(log["data"][2:]),
            ]
            for log in r["logs"]
        ]
        fields = [int(r["status"], 16), int(r["cumulativeGasUsed"], 16), bytes.fromhex(r["logsBloom"][2:]), logs]
        tx_type = int(r["type"], 16)
        receipts_trie[rlp.encode(i)] = (bytes([tx_type]) if tx_type else b"") + rlp.encode(fields)
    assert receipts_trie.root_hash == bytes(block["receiptsRoot"])


def test_impersonation_sends_without_the_key(w3: Web3, node: Devnet) -> None:
    whale = Web3.to_checksum_address("0x00000000000000000000000000000000000a11ce")
    rpc(w3, "anvil_setBalance", whale, hex(10**18))
    error = rpc_error(w3, "eth_sendTransaction", {"from": whale, "to": NOBODY, "value": "0x1"})
    assert "unknown account" in error["message"]
    rpc(w3, "anvil_impersonateAccount", whale)
    tx_hash = w3.eth.send_transaction({"from": whale, "to": Web3.to_checksum_address(NOBODY), "value": 5})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1 and receipt["from"] == whale
    assert w3.eth.get_transaction(tx_hash)["from"] == whale
    rpc(w3, "anvil_stopImpersonatingAccount", whale)
    assert "unknown account" in rpc_error(w3, "eth_sendTransaction", {"from": whale, "to": NOBODY})["message"]
    rpc(w3, "anvil_autoImpersonateAccount", True)
    try:
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_transaction({"from": whale, "to": Web3.to_checksum_address(NOBODY), "value": 1})
        )
    finally:
        rpc(w3, "anvil_autoImpersonateAccount", False)


def test_block_parameters(w3: Web3, node: Devnet) -> None:
    rpc(w3, "anvil_setNextBlockBaseFeePerGas", hex(7 * 10**9))
    randao = "0x" + "ab" * 32
    rpc(w3, "hardhat_setPrevRandao", randao)
    coinbase = "0x000000000000000000000000000000000000c0de"
    rpc(w3, "anvil_setCoinbase", coinbase)
    rpc(w3, "evm_setBlockGasLimit", hex(40_000_000))
    rpc(w3, "evm_mine")
    block = w3.eth.get_block("latest")
    assert block["baseFeePerGas"] == 7 * 10**9
    assert block["mixHash"].hex().removeprefix("0x") == "ab" * 32
    assert block["miner"].lower() == coinbase
    assert block["gasLimit"] == 40_000_000
    info = rpc(w3, "anvil_nodeInfo")
    assert int(info["environment"]["gasLimit"], 16) == 40_000_000
    metadata = rpc(w3, "anvil_metadata")
    assert int(metadata["latestBlockNumber"], 16) == block["number"]
    rpc(w3, "anvil_setCoinbase", "0xf1829676db577682e944fc3493d451b67ff3e29f")
    rpc(w3, "evm_setBlockGasLimit", hex(500_000_000))


def test_dump_and_load_state(w3: Web3, node: Devnet) -> None:
    target = "0x0000000000000000000000000000000000d0d0d0"
    rpc(w3, "anvil_setBalance", target, hex(1234))
    rpc(w3, "anvil_setStorageAt", target, "0x5", hex(99))
    dump = rpc(w3, "anvil_dumpState")
    rpc(w3, "anvil_setBalance", target, "0x0")
    rpc(w3, "anvil_setStorageAt", target, "0x5", "0x0")
    assert rpc(w3, "anvil_loadState", dump) is True
    addr = Web3.to_checksum_address(target)
    assert w3.eth.get_balance(addr) == 1234
    assert int.from_bytes(w3.eth.get_storage_at(addr, 5), "big") == 99
    assert "not a state dump" in rpc_error(w3, "anvil_loadState", "0x1234")["message"]


def test_get_proof_says_why_it_is_not_served(w3: Web3) -> None:
    error = rpc_error(w3, "eth_getProof", NOBODY, [], "latest")
    assert "LtHash" in error["message"]


def test_cast_rpc_anvil_methods(node: Devnet) -> None:
    """Foundry's ``cast rpc`` — what forge-style scripts use — drives the same methods."""
    ensure_installed()

    def cast(*args: str) -> str:
        out = subprocess.run([str(CAST), *args, "--rpc-url", node.http_url], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    target = "0x000000000000000000000000000000000000ca57"
    snapshot = cast("rpc", "evm_snapshot").strip('"')
    cast("rpc", "anvil_setBalance", target, hex(4242))
    assert cast("balance", target) == "4242"
    cast("rpc", "anvil_setCode", target, "0x60016000f3")
    assert cast("code", target) == "0x60016000f3"
    cast("rpc", "anvil_mine", "0x2")
    assert cast("rpc", "evm_revert", snapshot) == "true"
    assert cast("balance", target) == "0"
    assert cast("code", target) == "0x"


def test_dev_methods_are_refused_when_disabled(tmp_path: Path) -> None:
    devnet = start_devnet(tmp_path, "--no-dev-methods")
    try:
        w3 = Web3(Web3.HTTPProvider(devnet.http_url))
        error = rpc_error(w3, "evm_snapshot")
        assert error["code"] == -32000
        assert "dev methods are disabled" in error["message"]
        assert not w3.client_version.lower().startswith("anvil")
    finally:
        assert devnet.stop() == 0


def test_hardhat3_network_helpers(node: Devnet) -> None:
    ensure_installed()
    env = {
        **os.environ,
        "PATH": f"{NODE22_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSEI_RPC_URL": node.http_url,
        "PYSEI_CHAIN_ID": str(node.chain_id),
        "PYSEI_PRIVATE_KEYS": ",".join(a.key for a in node.accounts[13:16]),
        "NO_COLOR": "1",
        "HARDHAT_DISABLE_TELEMETRY": "true",
        "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true",
    }
    cmd = ["npx", "--no", "hardhat", "test", "nodejs", "--network", "pysei", "dev-test/NetworkHelpers.test.ts"]
    proc = subprocess.run(cmd, cwd=HARDHAT3_DIR, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "7 passing" in out, out[-6000:]
