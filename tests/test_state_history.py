"""Historical state, the asynchronous LtHash commitment and snapshots, on a real node and real files.

A node (automine, so every transaction is its own block) runs a few dozen blocks of transfers, contract
deployments and storage writes while the test records balances, nonces, code and storage after every block.
Then, through JSON-RPC and the command line:

* every state method at every past block returns the recorded value, eth_call at a past block sees that block's
  storage, and a block above the head is refused;
* the header of block n carries the commitment of block n − 2 (``sei_getStateCommitment``), and the commitment
  of the head, recomputed from scratch over the store after the node stops, equals the one the worker recorded;
* a snapshot exported at the head and one at an earlier block import into empty data directories; nodes started
  on them serve the recorded state of that block, and the chain goes on from the imported block;
* a snapshot with a flipped byte, and one whose records were altered but re-encoded cleanly, are refused with a
  clear error and leave the target directory empty.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import requests
import zstandard
from eth_account import Account
from eth_utils import to_checksum_address

from pysei.state.snapshot import recompute_commitment
from pysei.state.store import ChainStore

try:
    from tests.clients.tooling import cast
    from tests.conftest import ROOT, Devnet, start_devnet
except ImportError:
    from clients.tooling import cast  # type: ignore[no-redef]
    from conftest import ROOT, Devnet, start_devnet  # type: ignore[no-redef]

# Constructor: SSTORE(0, 42); SSTORE(1, CALLVALUE + 7); returns the runtime `PUSH1 0 SLOAD PUSH1 0 MSTORE
# PUSH1 32 PUSH1 0 RETURN` (returns slot 0).
RUNTIME = bytes.fromhex("60005460005260206000f3")
INIT = bytes.fromhex("602a600055" + "34600701600155" + "600b6018600039600b6000f3" + RUNTIME.hex())
RECEIVERS = [to_checksum_address(f"0x{i:040x}") for i in range(0x5E1, 0x5E1 + 4)]


def rpc(url: str, method: str, *params: Any) -> Any:
    out = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30)
    body = out.json()
    if "error" in body:
        raise RuntimeError(body["error"])
    return body["result"]


def rpc_error(url: str, method: str, *params: Any) -> dict[str, Any]:
    body = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    ).json()
    assert "error" in body, body
    return body["error"]


def send(node: Devnet, key: str, nonce: int, **tx: Any) -> dict[str, Any]:
    base = {"chainId": node.chain_id, "nonce": nonce, "gas": 300_000, "maxFeePerGas": 10**11, "type": 2}
    base["maxPriorityFeePerGas"] = 10**9
    raw = Account.sign_transaction({**base, **tx}, key).raw_transaction
    tx_hash = rpc(node.http_url, "eth_sendRawTransaction", "0x" + bytes(raw).hex())
    receipt = rpc(node.http_url, "eth_getTransactionReceipt", tx_hash)
    assert receipt is not None and receipt["status"] == "0x1", receipt
    return receipt


Snapshot = dict[str, tuple[int, int, str, list[str]]]
"""address → (balance, nonce, code, [storage slot 0, slot 1])"""


def read_all(url: str, addresses: list[str], block: str) -> Snapshot:
    out: Snapshot = {}
    for a in addresses:
        out[a] = (
            int(rpc(url, "eth_getBalance", a, block), 16),
            int(rpc(url, "eth_getTransactionCount", a, block), 16),
            rpc(url, "eth_getCode", a, block),
            [rpc(url, "eth_getStorageAt", a, hex(s), block) for s in range(2)],
        )
    return out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pysei.cli", *args], cwd=ROOT, capture_output=True, text=True)


def test_history_commitment_and_snapshots(tmp_path: Path) -> None:
    data = tmp_path / "a"
    node = start_devnet(tmp_path, "--automine", data_dir=data)
    url = node.http_url
    key, sender = node.accounts[0].key, node.accounts[0].address
    watched = [sender, *RECEIVERS]
    recorded: dict[int, Snapshot] = {0: read_all(url, watched, "0x0")}
    contracts: list[str] = []
    try:
        for i in range(24):
            if i % 6 == 5:
                receipt = send(node, key, i, data="0x" + INIT.hex(), value=i)
                contracts.append(receipt["contractAddress"])
                watched.append(receipt["contractAddress"])
            else:
                send(node, key, i, to=RECEIVERS[i % len(RECEIVERS)], value=10**15 * (i + 1), gas=21_000)
            head = int(rpc(url, "eth_blockNumber"), 16)
            recorded[head] = read_all(url, watched, hex(head))
        head = max(recorded)

        # Every state method at every past block returns what it returned then (accounts that did not exist
        # yet read as empty).
        for number, snap in recorded.items():
            now = read_all(url, watched, hex(number))
            for a in watched:
                assert now[a] == snap.get(a, (0, 0, "0x", ["0x" + "00" * 32] * 2)), (number, a)
        # eth_call at a past block runs on that block's state: the contract returns its slot 0.
        first = contracts[0]
        created_at = min(n for n, s in recorded.items() if first in s)
        assert int(rpc(url, "eth_call", {"to": first}, hex(created_at)), 16) == 42
        assert rpc(url, "eth_call", {"to": first}, hex(created_at - 1)) == "0x"
        err = rpc_error(url, "eth_getBalance", sender, hex(head + 5))
        assert "not found" in err["message"]

        # The header of block n carries the commitment of block n - 2; every commitment is computed.
        commitments = {}
        for n in range(head + 1):
            c = rpc(url, "sei_getStateCommitment", hex(n))
            assert c["blockNumber"] == hex(n) and c["certifiedInBlock"] == hex(n + 2)
            commitments[n] = c["commitment"]
        assert all(commitments.values()) and len(set(commitments.values())) == head + 1
        for n in range(head + 1):
            block = rpc(url, "eth_getBlockByNumber", hex(n), False)
            assert block["stateRoot"] == commitments[max(n - 2, 0)], n
    finally:
        assert node.stop() == 0

    # After the stop: the worker's commitment of the head equals one recomputed from scratch.
    store = ChainStore(data / "state")
    assert recompute_commitment(store.native.state_records()).hex() == commitments[head][2:]
    del store

    # Snapshots at the head and at an earlier block, imported into empty data dirs.
    earlier = sorted(recorded)[len(recorded) // 2]
    for number in (head, earlier):
        out = tmp_path / f"snap-{number}.zst"
        done = cli("snapshot", "export", "--data-dir", str(data), "--out", str(out), "--block", str(number))
        assert done.returncode == 0, done.stderr
        target = tmp_path / f"imported-{number}"
        done = cli("snapshot", "import", "--data-dir", str(target), "--in", str(out))
        assert done.returncode == 0, done.stderr
        assert commitments[number][2:] in done.stdout
        imported = start_devnet(tmp_path, "--automine", data_dir=target)
        try:
            u = imported.http_url
            assert int(rpc(u, "eth_blockNumber"), 16) == number
            assert read_all(u, watched, "latest") == {
                a: recorded[number].get(a, (0, 0, "0x", ["0x" + "00" * 32] * 2)) for a in watched
            }
            assert rpc(u, "sei_getStateCommitment", hex(number))["commitment"] == commitments[number]
            # A client works on the imported head: fee history (reads the head's transactions), later cast send.
            history = rpc(u, "eth_feeHistory", "0x4", "latest", [25, 75])
            assert len(history["reward"]) == 1 and len(history["baseFeePerGas"]) == 2, history
            full = rpc(u, "eth_getBlockByNumber", hex(number), True)
            assert [t["hash"] for t in full["transactions"]] == rpc(u, "eth_getBlockByNumber", hex(number), False)[
                "transactions"
            ]
            # The chain goes on from the imported block, on top of its hash.
            nonce = int(rpc(u, "eth_getTransactionCount", sender, "latest"), 16)
            receipt = send(imported, key, nonce, to=RECEIVERS[0], value=1, gas=21_000)
            block = rpc(u, "eth_getBlockByNumber", receipt["blockNumber"], False)
            assert int(block["number"], 16) == number + 1
            assert block["parentHash"] == rpc(u, "eth_getBlockByNumber", hex(number), False)["hash"]
            # History below the imported block does not exist here.
            if number > 0:
                assert (
                    "historical state not available"
                    in rpc_error(u, "eth_getBalance", sender, hex(number - 1))["message"]
                )
            sent = cast("send", "--private-key", imported.accounts[1].key, RECEIVERS[1], "--value", "5", "--json",
                        "--rpc-url", u)  # fmt: skip
            assert '"status":"0x1"' in sent.replace(" ", ""), sent
        finally:
            assert imported.stop() == 0

    # A flipped byte is refused before anything is written.
    good = tmp_path / f"snap-{head}.zst"
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    flipped = tmp_path / "flipped.zst"
    flipped.write_bytes(bytes(raw))
    target = tmp_path / "refused"
    done = cli("snapshot", "import", "--data-dir", str(target), "--in", str(flipped))
    assert done.returncode == 1 and "corrupt snapshot" in done.stderr, done.stderr
    assert not target.exists(), "a refused import left its data directory behind"

    # A cleanly re-encoded snapshot with one balance changed is refused by its commitment.
    frames = []
    with zstandard.ZstdDecompressor().stream_reader(good.read_bytes()) as stream:
        while prefix := stream.read(4):
            frames.append(stream.read(int.from_bytes(prefix, "little")))
    chunk = msgspec.msgpack.decode(frames[1])
    k, v = chunk[0]
    assert k[:1] == b"a"
    chunk[0] = (k, v[:39] + bytes([v[39] ^ 1]) + v[40:])
    frames[1] = msgspec.msgpack.encode(chunk)
    forged = tmp_path / "forged.zst"
    forged.write_bytes(zstandard.ZstdCompressor().compress(b"".join(len(f).to_bytes(4, "little") + f for f in frames)))
    done = cli("snapshot", "import", "--data-dir", str(target), "--in", str(forged))
    assert done.returncode == 1 and "snapshot refused: its state hashes to" in done.stderr, done.stderr
    # Nothing was written by the refused imports: the good snapshot still imports there.
    done = cli("snapshot", "import", "--data-dir", str(target), "--in", str(good))
    assert done.returncode == 0, done.stderr
