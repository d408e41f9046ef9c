"""Autobahn consensus with real validator processes on loopback (``pysei validator``, ``pysei localnet``).

Four validators (f = 1) commit blocks from ERC-20 transfers sent round-robin to all four JSON-RPC endpoints with
web3.py; every validator reports the same blocks, receipts and certified state commitment. Killing one validator
(kill -9), and then the current leader again and again, keeps the chain finalising; a restarted validator
catches up from its peers and votes again. Byzantine behaviour comes from a test-only fault hook
(PYSEI_TEST_FAULT) and must be detected with signed evidence; garbage and non-member connections are refused and
counted; a validator whose state differs from the certified one halts with a clear error.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from eth_account import Account
from hexbytes import HexBytes
from nacl.signing import SigningKey
from web3 import Web3

from pysei.app.localnet import GENESIS, KEY, ValidatorProcesses, create_genesis
from pysei.bench.loadgen import artifact
from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID
from pysei.consensus.messages import Status, digest
from pysei.p2p.network import Auth, Hello

ROOT = Path(__file__).resolve().parent.parent
KEYS = [a.private_key for a in dev_accounts(DEV_MNEMONIC, 12)]
RECEIPT_TIMEOUT = 60


def free_ports(k: int) -> list[int]:
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


def start_network(tmp: Path, n: int = 4, env: dict[int, dict[str, str]] | None = None) -> ValidatorProcesses:
    ports = free_ports(2 * n)
    create_genesis(tmp, n, ports=[(ports[2 * i], ports[2 * i + 1]) for i in range(n)])
    net = ValidatorProcesses(tmp, fsync=False, env=env)
    net.start_all()
    for i in range(n):
        net.wait_ready(i)
    return net


class Sender:
    """Signs transactions locally with web3.py's account module and sends them round-robin; nonces are tracked
    here because each endpoint's pending nonce only knows its own mempool."""

    def __init__(self, net: ValidatorProcesses, urls: list[str]) -> None:
        self.net = net
        self.urls = urls
        self.w3 = [Web3(Web3.HTTPProvider(u, request_kwargs={"timeout": 30})) for u in urls]
        self.nonces: dict[bytes, int] = {}
        self.k = 0

    def send(self, key: bytes, to: str | None, data: bytes = b"", gas: int = 100_000) -> bytes:
        acct = Account.from_key(key)
        w3 = self.w3[self.k % len(self.w3)]
        self.k += 1
        if key not in self.nonces:
            self.nonces[key] = w3.eth.get_transaction_count(acct.address, "latest")
        tx: dict[str, Any] = {
            "chainId": DEVNET_CHAIN_ID,
            "nonce": self.nonces[key],
            "gas": gas,
            "maxFeePerGas": 100 * 10**9,
            "maxPriorityFeePerGas": 10**9,
            "data": data,
            "value": 0,
        }
        if to is not None:
            tx["to"] = to
        self.nonces[key] += 1
        return bytes(w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction))

    def wait(self, hashes: list[bytes], url: str | None = None) -> list[Any]:
        w3 = Web3(Web3.HTTPProvider(url)) if url else self.w3[0]
        return [
            w3.eth.wait_for_transaction_receipt(HexBytes(h), timeout=RECEIPT_TIMEOUT, poll_latency=0.1) for h in hashes
        ]


def deploy_token(sender: Sender) -> str:
    art = artifact("BenchToken")
    code = bytes.fromhex(art["bytecode"][2:]) + (10**30).to_bytes(32, "big")
    (receipt,) = sender.wait([sender.send(KEYS[0], None, code, gas=2_000_000)])
    assert receipt["status"] == 1
    return str(receipt["contractAddress"])


def transfers(sender: Sender, token: str, count: int, keys: list[bytes]) -> list[bytes]:
    w3 = sender.w3[0]
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=artifact("BenchToken")["abi"])
    hashes = []
    for i in range(count):
        to = Account.from_key(KEYS[(i + 1) % len(KEYS)]).address
        data = bytes.fromhex(contract.encode_abi("transfer", args=[to, 1])[2:])
        hashes.append(sender.send(keys[i % len(keys)], token, data))
    return hashes


def fund_holders(sender: Sender, token: str, holders: list[bytes]) -> None:
    w3 = sender.w3[0]
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=artifact("BenchToken")["abi"])
    hashes = []
    for key in holders:
        data = contract.encode_abi("transfer", args=[Account.from_key(key).address, 10**24])
        hashes.append(sender.send(KEYS[0], token, bytes.fromhex(data[2:])))
    assert all(r["status"] == 1 for r in sender.wait(hashes))


def same_chain(urls: list[str], upto: int) -> None:
    """Every endpoint reports the same block hashes and receipts for blocks 1..upto."""
    for number in range(1, upto + 1):
        blocks = [rpc(u, "eth_getBlockByNumber", hex(number), False) for u in urls]
        assert len({b["hash"] for b in blocks}) == 1, f"block {number} differs: {[b['hash'] for b in blocks]}"
        receipts = [rpc(u, "eth_getBlockReceipts", hex(number)) for u in urls]
        assert all(r == receipts[0] for r in receipts), f"receipts of block {number} differ"


def wait_for(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out = cond()
        except (OSError, RuntimeError):
            out = None
        if out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def certified_everywhere(urls: list[str], number: int) -> str:
    """Waits until every endpoint reports block ``number``'s commitment as certified by an AppQC; returns it."""

    def check() -> str | None:
        outs = [rpc(u, "sei_getStateCommitment", hex(number)) for u in urls]
        if not all(o["certified"] for o in outs):
            return None
        assert len({o["commitment"] for o in outs}) == 1
        return str(outs[0]["commitment"])

    return str(wait_for(check, 30, f"an AppQC for block {number} on every validator"))


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ValidatorProcesses]:
    net = start_network(tmp_path_factory.mktemp("localnet"))
    yield net
    codes = net.stop_all()
    assert all(c == 0 for c in codes.values()), f"exit codes {codes}: {net.log_tail(0)}"


def test_four_validators_finalise_erc20_transfers_sent_to_every_endpoint(network: ValidatorProcesses) -> None:
    urls = [network.url(i) for i in range(4)]
    sender = Sender(network, urls)
    token = deploy_token(sender)
    holders = KEYS[1:9]
    fund_holders(sender, token, holders)
    receipts = sender.wait(transfers(sender, token, 80, holders))
    assert all(r["status"] == 1 for r in receipts)
    for url in urls:  # the receipt is on every validator, in the same block
        for r in receipts[::10]:
            other = rpc(url, "eth_getTransactionReceipt", "0x" + bytes(r["transactionHash"]).hex())
            assert other is not None and other["blockHash"] == "0x" + bytes(r["blockHash"]).hex()
    head = min(int(rpc(u, "eth_blockNumber"), 16) for u in urls)
    same_chain(urls, head)
    certified_everywhere(urls, head)
    statuses = [rpc(u, "sei_consensusStatus") for u in urls]
    assert sum(s["fastCommits"] for s in statuses) > 0
    assert all(len([p for p in s["peers"] if p["connected"]]) == 3 for s in statuses)
    assert {s["committedSlot"] >= head for s in statuses} == {True}
    # "finalized" and "safe" are the latest executed block: a receipt exists only once its block is final.
    last = max(int(r["blockNumber"]) for r in receipts)
    for tag in ("finalized", "safe"):
        assert int(rpc(urls[0], "eth_getBlockByNumber", tag, False)["number"], 16) >= last


def test_killed_validators_and_leaders_do_not_stop_the_chain(network: ValidatorProcesses) -> None:
    urls = [network.url(i) for i in range(4)]
    sender0 = Sender(network, urls)
    token = deploy_token(sender0)
    holders = KEYS[1:9]
    fund_holders(sender0, token, holders)
    for round_ in range(3):
        # Kill -9 the leader of the slot now open (the first round kills validator 3 instead: any validator).
        status = rpc(urls[0 if round_ else 1], "sei_consensusStatus")
        victim = 3 if round_ == 0 else status["leader"]
        network.kill(victim, signal.SIGKILL)
        live = [u for i, u in enumerate(urls) if i != victim]
        sender = Sender(network, live)
        sender.nonces = sender0.nonces
        receipts = sender.wait(transfers(sender, token, 24, holders), live[0])
        assert all(r["status"] == 1 for r in receipts)
        head = int(rpc(live[0], "eth_blockNumber"), 16)
        network.start(victim)
        network.wait_ready(victim)
        # The restarted validator catches up (blocks and certificates verified) to the same chain …
        wait_for(lambda v=victim, h=head: int(rpc(urls[v], "eth_blockNumber"), 16) >= h, 60, "catch-up")
        same_chain([urls[victim], live[0]], head)
        # … and votes again: a fast-path commit needs all four votes.
        before = sum(rpc(u, "sei_consensusStatus")["fastCommits"] for u in urls)
        sender.urls, sender.w3 = urls, [Web3(Web3.HTTPProvider(u)) for u in urls]
        sender.wait(transfers(sender, token, 8, holders))
        wait_for(lambda b=before: sum(rpc(u, "sei_consensusStatus")["fastCommits"] for u in urls) > b, 30, "votes")
    statuses = [rpc(u, "sei_consensusStatus") for u in urls]
    assert max(s["viewChanges"] for s in statuses) >= 1
    head = min(int(rpc(u, "eth_blockNumber"), 16) for u in urls)
    same_chain(urls, head)
    certified_everywhere(urls, head)


def _hello(chain_id: int, key: SigningKey) -> bytes:
    payload = msgspec.msgpack.encode(Hello(chain_id, bytes(key.verify_key), os.urandom(32)))
    return len(payload).to_bytes(4, "big") + payload


def _connect_as(port: int, key: SigningKey, chain_id: int) -> socket.socket:
    """Completes the p2p handshake with ``key`` (a member's key: the test plays a misbehaving validator)."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(_hello(chain_id, key))
    size = int.from_bytes(s.recv(4), "big")
    theirs = msgspec.msgpack.decode(s.recv(size, socket.MSG_WAITALL), type=Hello)
    sig = key.sign(digest(b"p2p-auth", chain_id, theirs.nonce, bytes(key.verify_key), theirs.pubkey)).signature
    auth = msgspec.msgpack.encode(Auth(sig))
    s.sendall(len(auth).to_bytes(4, "big") + auth)
    return s


def test_byzantine_behaviour_is_detected_and_garbage_is_refused(tmp_path: Path) -> None:
    faults = {1: "equivocate-lane", 2: "double-vote", 3: "conflicting-cuts", 0: "bad-state"}
    net = start_network(tmp_path, env={i: {"PYSEI_TEST_FAULT": f} for i, f in faults.items()})
    try:
        urls = [net.url(i) for i in range(4)]
        honest = urls[1:]
        sender = Sender(net, honest)
        hashes = [sender.send(KEYS[i % 8], Account.from_key(KEYS[11]).address) for i in range(60)]
        assert all(r["status"] == 1 for r in sender.wait(hashes))
        # Validator 0 computes a different state (the hook): once the others certify block 3 it stops, naming it.
        assert net.procs[0].wait(timeout=60) == 1
        assert "state divergence at block" in net.log_tail(0)
        # Garbage: a frame that is not a handshake, an oversized frame, and a valid handshake by a non-member.
        chain_id = net.genesis.chain_id
        p2p = net.genesis.committee.members[1].p2p_port
        for junk in (b"\x00\x00\x00\x05hello", b"\xff\xff\xff\xff" + b"x" * 64):
            with socket.create_connection(("127.0.0.1", p2p), 5) as s:
                s.sendall(junk)
                s.settimeout(10)
                while s.recv(4096):
                    pass
        with socket.create_connection(("127.0.0.1", p2p), 5) as s:
            s.sendall(_hello(chain_id, SigningKey.generate()))
            s.settimeout(10)
            while s.recv(4096):
                pass
        # A member (validator 0's key, its process stopped) that sends undecodable and unauthorised messages.
        key0 = SigningKey(bytes.fromhex((net.homes[0] / KEY).read_text().strip()))
        for bad in (b"\x93garbage", msgspec.msgpack.encode(Status(10**9)) + b"trailing"):
            with _connect_as(p2p, key0, chain_id) as s:
                s.sendall(len(bad).to_bytes(4, "big") + bad)
                s.settimeout(10)
                while s.recv(65536):
                    pass
        hashes = [sender.send(KEYS[i % 8], Account.from_key(KEYS[11]).address) for i in range(20)]
        assert all(r["status"] == 1 for r in sender.wait(hashes))  # still committing

        def evidence_kinds() -> set[str] | None:
            kinds = {e["kind"] for u in honest for e in rpc(u, "sei_getEvidence")}
            return kinds if {"lane-equivocation", "double-vote", "conflicting-proposals"} <= kinds else None

        def more_load() -> set[str] | None:
            sender.send(KEYS[8], Account.from_key(KEYS[11]).address)
            return evidence_kinds()

        wait_for(more_load, 60, "evidence of every fault")
        offenders = {(e["kind"], e["offender"]) for u in honest for e in rpc(u, "sei_getEvidence")}
        assert ("lane-equivocation", 1) in offenders and ("double-vote", 2) in offenders
        assert ("conflicting-proposals", 3) in offenders
        status = rpc(urls[1], "sei_consensusStatus")
        assert status["rejectedConnections"] >= 3
        assert next(p for p in status["peers"] if p["validator"] == 0)["misbehaviour"] >= 2
        head = min(int(rpc(u, "eth_blockNumber"), 16) for u in honest)
        same_chain(honest, head)
    finally:
        net.stop_all()


def test_localnet_command_starts_stops_and_resumes(tmp_path: Path) -> None:
    """`pysei localnet` with one validator (a localnet of 1 must work too): Ctrl-C stops it, and started again
    on the same data dir it continues the same chain."""
    rpc_port, p2p_port = free_ports(2)
    cmd = [sys.executable, "-m", "pysei.cli", "localnet", "--validators", "1", "--data-dir", str(tmp_path)]
    cmd += ["--rpc-port", str(rpc_port), "--p2p-port", str(p2p_port), "--no-fsync"]
    url = f"http://127.0.0.1:{rpc_port}"
    first_hash = None
    for run in range(2):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_for(lambda: rpc(url, "eth_chainId"), 60, "the localnet")
            sender = Sender(ValidatorProcesses(tmp_path), [url])
            (r,) = sender.wait([sender.send(KEYS[0], Account.from_key(KEYS[1]).address)])
            assert r["status"] == 1
            one = rpc(url, "eth_getBlockByNumber", "0x1", False)["hash"]
            if run == 0:
                first_hash = one
            else:
                assert one == first_hash and r["blockNumber"] > 1
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        assert b"http://127.0.0.1:" in out and b"localnet stopped" in out
    assert (tmp_path / GENESIS).exists()
