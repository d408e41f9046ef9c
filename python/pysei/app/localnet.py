"""Validator processes: the genesis of a network, one validator (``pysei validator``) and a loopback localnet
of N of them (``pysei localnet --validators N``).

A validator is the devnet's node (mempool, execution, store, JSON-RPC) whose ordering stage is the Autobahn
consensus engine instead of the sequencer. The genesis file (JSON) fixes what every validator must agree on: the
chain id, block 0's timestamp, the funded dev accounts and the committee (Ed25519 keys, stakes, addresses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pysei.app.devnet import rpc_api
from pysei.chain.constants import DEVNET_CHAIN_ID
from pysei.consensus.committee import Committee, Signer, make_committee
from pysei.consensus.engine import ConsensusConfig, ConsensusEngine
from pysei.consensus.journal import Journal
from pysei.node.config import NodeConfig
from pysei.node.node import Node
from pysei.rpc.server import RpcServer
from pysei.rpc.table import MethodTable

log = logging.getLogger("pysei.localnet")

GENESIS = "genesis.json"
KEY = "validator_key"
DEFAULT_RPC_PORT = 8545
DEFAULT_P2P_PORT = 26656


@dataclass(frozen=True)
class Genesis:
    chain_id: int
    timestamp: int
    dev_accounts: int
    committee: Committee

    @classmethod
    def load(cls, path: Path) -> Genesis:
        raw = json.loads(path.read_text())
        entries = [
            (bytes.fromhex(v["pubkey"]), int(v["stake"]), v["host"], int(v["p2pPort"]), int(v["rpcPort"]))
            for v in raw["validators"]
        ]
        return cls(int(raw["chainId"]), int(raw["timestamp"]), int(raw["devAccounts"]), make_committee(entries))


def create_genesis(
    data_dir: Path,
    validators: int,
    *,
    chain_id: int = DEVNET_CHAIN_ID,
    rpc_port: int = DEFAULT_RPC_PORT,
    p2p_port: int = DEFAULT_P2P_PORT,
    ports: list[tuple[int, int]] | None = None,
    dev_accounts: int = 20,
) -> Path:
    """Writes ``genesis.json`` and one key per validator under ``data_dir/v<i>/``; validator i gets RPC port
    ``rpc_port + i`` and p2p port ``p2p_port + i`` unless ``ports`` lists (rpc, p2p) pairs. Equal stakes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    # Seeds in committee order (by public key), so that directory v<i> holds validator i.
    seeds = sorted((os.urandom(32) for _ in range(validators)), key=lambda s: Signer(s, 0).pubkey)
    for i, seed in enumerate(seeds):
        home = data_dir / f"v{i}"
        home.mkdir(exist_ok=True)
        (home / KEY).write_text(seed.hex() + "\n")
        os.chmod(home / KEY, 0o600)
        rpc, p2p = ports[i] if ports else (rpc_port + i, p2p_port + i)
        pubkey = bytes(Signer(seed, 0).pubkey)
        entries.append({"pubkey": pubkey.hex(), "stake": 100, "host": "127.0.0.1", "p2pPort": p2p, "rpcPort": rpc})
    genesis = {"chainId": chain_id, "timestamp": int(time.time()), "devAccounts": dev_accounts, "validators": entries}
    path = data_dir / GENESIS
    path.write_text(json.dumps(genesis, indent=2) + "\n")
    return path


# ------------------------------------------------------------------------------------------------- one validator
async def serve_validator(home: Path, genesis_path: Path, *, fsync: bool = True, exec_threads: int = 1) -> int:
    genesis = Genesis.load(genesis_path)
    seed = bytes.fromhex((home / KEY).read_text().strip())
    probe = Signer(seed, 0)
    index = genesis.committee.index_of(probe.pubkey)
    if index is None:
        print(f"error: the key in {home / KEY} is not in the committee of {genesis_path}", file=sys.stderr)
        return 2
    signer = Signer(seed, index)
    member = genesis.committee.members[index]
    config = NodeConfig(
        host=member.host,
        port=member.rpc_port,
        chain_id=genesis.chain_id,
        data_dir=home,
        dev_accounts=genesis.dev_accounts,
        genesis_timestamp=genesis.timestamp,
        exec_threads=exec_threads,
        fsync=fsync,
    )
    node = Node(config)
    head = node.executor.head
    assert head is not None
    journal = Journal(home / "consensus.sqlite")
    engine = ConsensusEngine(
        ConsensusConfig(),
        genesis.committee,
        signer,
        genesis.chain_id,
        journal,
        node.mempool,
        node.store,
        node.execution_queue,
        head.header.number,
        lambda: node.executor.next_base_fee,
        config.gas_limit,
        node.submit,
    )
    node.ordering = engine
    api = rpc_api(node)
    install_rpc(api.methods, engine)
    server = RpcServer(api)
    await node.start()
    await engine.start(member.host, member.p2p_port)
    port = await server.start(config.host, config.port)
    print(f"validator {index} rpc http://{config.host}:{port} p2p {member.host}:{member.p2p_port}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stopped.set)
    await node.stopped.wait()
    failure = node.failure
    await server.stop()
    await engine.stop()
    await node.stop()
    journal.close()
    if failure is not None:
        print(f"validator {index} stopped: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


def install_rpc(methods: MethodTable, engine: ConsensusEngine) -> None:
    """Adds ``sei_consensusStatus`` and ``sei_getEvidence`` (the signed conflicting messages stored), and
    extends ``sei_getStateCommitment`` with the AppQC (who certified it)."""
    members = engine.committee.members

    async def consensus_status(params: list[Any]) -> dict[str, Any]:
        return engine.status()

    async def state_commitment(params: list[Any]) -> dict[str, Any]:
        out = await plain(params)
        cert = engine.certificate(int(out["blockNumber"], 16))
        out["certified"] = cert is not None and out["commitment"] == "0x" + cert[0].hex()
        out["certifiedBy"] = [] if cert is None else ["0x" + members[i].pubkey.hex() for i in cert[1]]
        return out

    async def evidence(params: list[Any]) -> list[dict[str, Any]]:
        return [
            {"kind": e.kind, "offender": e.offender, "first": "0x" + e.first.hex(), "second": "0x" + e.second.hex()}
            for e in engine.journal.evidence()
        ]

    methods.register("sei_consensusStatus", consensus_status)
    methods.register("sei_getEvidence", evidence)
    plain = methods.replace("sei_getStateCommitment", state_commitment)


# ----------------------------------------------------------------------------------------------------- localnet
class ValidatorProcesses:
    """The validator processes of a genesis directory (``v<i>`` = validator i): start, kill, restart, stop.
    Used by ``pysei localnet``, ``pysei bench consensus`` and the process tests."""

    def __init__(self, data_dir: Path, *, fsync: bool = True, env: dict[int, dict[str, str]] | None = None) -> None:
        self.data_dir = data_dir
        self.genesis_path = data_dir / GENESIS
        self.genesis = Genesis.load(self.genesis_path)
        self.homes = [data_dir / f"v{i}" for i in range(self.genesis.committee.n)]
        self.fsync = fsync
        self.env = env or {}
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def url(self, i: int) -> str:
        m = self.genesis.committee.members[i]
        return f"http://{m.host}:{m.rpc_port}"

    def start(self, i: int) -> None:
        cmd = [sys.executable, "-m", "pysei.cli", "validator", "--home", str(self.homes[i])]
        cmd += ["--genesis", str(self.genesis_path)] + ([] if self.fsync else ["--no-fsync"])
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env.get(i, {})}
        with open(self.homes[i] / "validator.log", "ab") as out:
            self.procs[i] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    def start_all(self) -> None:
        for i in range(len(self.homes)):
            self.start(i)

    def wait_ready(self, i: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"validator {i} exited: {self.log_tail(i)}")
            try:
                with socket.create_connection(("127.0.0.1", self.genesis.committee.members[i].rpc_port), 0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"validator {i} did not start: {self.log_tail(i)}")

    def log_tail(self, i: int, chars: int = 3000) -> str:
        return (self.homes[i] / "validator.log").read_text(errors="replace")[-chars:]

    def kill(self, i: int, sig: int = signal.SIGKILL) -> int:
        proc = self.procs[i]
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def stop_all(self) -> dict[int, int]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return {i: self.kill(i, signal.SIGTERM) for i in self.procs}


def run_localnet(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    genesis_path = data_dir / GENESIS
    if not genesis_path.exists():
        create_genesis(
            data_dir, args.validators, chain_id=args.chain_id, rpc_port=args.rpc_port, p2p_port=args.p2p_port
        )
    net = ValidatorProcesses(data_dir, fsync=not args.no_fsync)
    committee = net.genesis.committee
    if args.validators != committee.n:
        print(f"error: {genesis_path} has {committee.n} validators, not {args.validators}", file=sys.stderr)
        return 2
    console = Console()
    table = Table(title=f"pysei localnet: {committee.n} validators, chain id {net.genesis.chain_id}")
    for col in ("validator", "JSON-RPC (HTTP + WebSocket)", "p2p", "public key", "data dir"):
        table.add_column(col)
    for m in committee.members:
        key = m.pubkey.hex()[:16] + "…"
        table.add_row(str(m.index), net.url(m.index), f"{m.host}:{m.p2p_port}", key, str(net.homes[m.index]))
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    net.start_all()
    console.print(table)
    for m in committee.members:  # plain lines too, for scripts (a narrow terminal folds the table)
        print(f"validator {m.index}: {net.url(m.index)} p2p {m.host}:{m.p2p_port}", flush=True)
    console.print(f"genesis {genesis_path}; logs in <data dir>/validator.log; Ctrl-C stops every validator")
    print("localnet running", flush=True)
    reported: set[int] = set()
    while not stop:
        time.sleep(0.2)
        for i, p in net.procs.items():
            if p.poll() is not None and i not in reported:  # the others go on (F of them may fail)
                reported.add(i)
                console.print(f"validator {i} exited with {p.returncode}; see {net.homes[i] / 'validator.log'}")
        stop = stop or len(reported) == len(net.procs)
    codes = net.stop_all()
    console.print(f"localnet stopped (exit codes {codes})")
    return 0


def add_network_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("localnet", help="run N validator processes on loopback (Autobahn consensus)")
    p.add_argument("--validators", type=int, default=4)
    p.add_argument("--data-dir", type=Path, default=Path.home() / ".pysei" / "localnet")
    p.add_argument("--chain-id", type=int, default=DEVNET_CHAIN_ID)
    p.add_argument("--rpc-port", type=int, default=DEFAULT_RPC_PORT, help="validator i serves JSON-RPC on this + i")
    p.add_argument("--p2p-port", type=int, default=DEFAULT_P2P_PORT, help="validator i listens for peers on this + i")
    p.add_argument("--no-fsync", action="store_true")
    p.set_defaults(func=run_localnet)
    v = sub.add_parser("validator", help="run one validator of the network a genesis file describes")
    v.add_argument("--home", type=Path, required=True, help=f"data directory holding {KEY}")
    v.add_argument("--genesis", type=Path, required=True)
    v.add_argument("--no-fsync", action="store_true")
    v.add_argument("--exec-threads", type=int, default=1)
    v.add_argument("--log-level", default="INFO")
    v.set_defaults(func=_run_validator)


def _run_validator(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # a speed-up only
        pass
    return asyncio.run(
        serve_validator(args.home, args.genesis, fsync=not args.no_fsync, exec_threads=max(1, args.exec_threads))
    )
