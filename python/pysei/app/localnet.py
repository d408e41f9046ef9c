"""The validator composition root: one validator (``pysei validator``) and a loopback localnet of N of them
(``pysei localnet --validators N``).

A validator is the devnet's node (mempool, execution, store, JSON-RPC) whose ordering stage is the Autobahn
consensus engine instead of the sequencer. The genesis file (``consensus/genesis.py``) fixes what every
validator must agree on: the chain id, block 0's timestamp, the funded dev accounts and the committee.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from pysei import native
from pysei.chain.constants import DEVNET_CHAIN_ID
from pysei.consensus.committee import Signer, epoch_committee
from pysei.consensus.genesis import (
    DEFAULT_EPOCH_BLOCKS,
    DEFAULT_P2P_PORT,
    DEFAULT_RPC_PORT,
    GENESIS,
    KEY,
    Genesis,
    create_genesis,
    load_key,
    validator_entry,
    write_genesis,
    write_key,
    write_operator_key,
)
from pysei.consensus.launcher import ValidatorProcesses
from pysei.consensus.statesync import StateSyncError
from pysei.node.datadir import StartupError
from pysei.state.snapshot import SnapshotError

if TYPE_CHECKING:
    from pysei.state.store import ChainStore


log = logging.getLogger("pysei.localnet")


# ------------------------------------------------------------------------------------------------- one validator
async def serve_validator(
    home: Path,
    genesis_path: Path,
    *,
    fsync: bool = True,
    exec_threads: int = 1,
    p2p_listen: int | None = None,
    metrics_port: int | None = None,
    journal_retention: int | None = None,
    state_sync: bool = False,
) -> int:
    """Runs one validator until SIGINT/SIGTERM or a failure. ``p2p_listen``: listen on this port instead of the
    genesis one (behind a port forward, or a test proxy that cuts links); ``metrics_port``: serve Prometheus
    metrics (the node's and consensus's) on this loopback port (0: any free one); ``journal_retention``: slots the
    consensus journal keeps below the executed head (None: the engine's default; 0: all of them); ``state_sync``:
    first take a snapshot from the peers when this validator has no chain or is further behind than any peer's
    journal reaches (``consensus/statesync.py``)."""
    # Imported here, not at the top: the parsers below are built for every `pysei` command, which stays quick.
    from pysei.app.devnet import rpc_api, serve_metrics, stop_on_signals, stop_step, wait_for_stop
    from pysei.consensus.engine import ConsensusConfig, ConsensusEngine
    from pysei.consensus.journal import Journal
    from pysei.explorer.site import mount_explorer
    from pysei.node.config import NodeConfig
    from pysei.node.metrics import ConsensusCollector
    from pysei.node.node import Node
    from pysei.rpc.server import RpcServer

    genesis = Genesis.load(genesis_path)
    seed = load_key(home)
    probe = Signer(seed, 0)
    index = genesis.committee.index_of(probe.pubkey)
    if index is None:
        print(f"error: the key in {home / KEY} is not in the committee of {genesis_path}", file=sys.stderr)
        return 2
    signer = Signer(seed, index)
    member = genesis.committee.members[index]
    if state_sync:
        try:
            await sync_state(home, genesis, signer, (member.host, p2p_listen or member.p2p_port))
        except (StateSyncError, SnapshotError, StartupError) as exc:
            print(f"error: state sync: {exc}", file=sys.stderr)
            return 1
    config = NodeConfig(
        host="127.0.0.1",  # JSON-RPC on loopback (put a proxy in front to serve it); p2p on the genesis host
        port=member.rpc_port,
        chain_id=genesis.chain_id,
        data_dir=home,
        dev_accounts=genesis.dev_accounts,
        genesis_timestamp=genesis.timestamp,
        exec_threads=exec_threads,
        fsync=fsync,
        token_genesis=genesis.token,
    )
    node = Node(config)
    head = node.executor.head
    assert head is not None
    journal = Journal(home / "consensus.sqlite")
    engine = ConsensusEngine(
        ConsensusConfig()
        if journal_retention is None
        else ConsensusConfig(journal_retention=journal_retention or None),
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
        StakingEpochs.of(node.store),
        home / "snapshots",
    )
    node.ordering = engine
    api = rpc_api(node, engine)
    server = RpcServer(api)
    mount_explorer(server.app, rpc_url="/", ws_url="/")
    consensus = ConsensusCollector(engine.status, engine.observer)
    metrics_runner = await serve_metrics(node, api, server, config.host, metrics_port, consensus)
    await node.start()
    await engine.start(member.host, p2p_listen or member.p2p_port)
    port = await server.start(config.host, config.port)
    stop_on_signals(node)
    print(f"validator {index} rpc http://{config.host}:{port} p2p {member.host}:{member.p2p_port}", flush=True)
    failure = await wait_for_stop(node)
    # Consensus stops first: a validator that found its state diverged must not sign another vote while the
    # rest shuts down.
    await stop_step("consensus", engine.stop())
    await stop_step("the RPC server", server.stop())
    if metrics_runner is not None:
        await stop_step("the metrics server", metrics_runner.cleanup())
    await node.stop()
    journal.close()
    if failure is not None:
        print(f"validator {index} stopped: {failure}", file=sys.stderr, flush=True)
        return 1
    return 0


async def sync_state(home: Path, genesis: Genesis, signer: Signer, listen: tuple[str, int]) -> None:
    """State sync before the node opens its store: fetch a snapshot if one is needed, import it, check its AppQC
    against the committee of its epoch (read from the imported state), and prepare the journal to resume from
    it. A chain that is merely behind, which peers can still serve slot by slot, is left as it is."""
    from pysei.consensus.journal import Journal
    from pysei.consensus.statesync import check_offer, fetch_snapshot, resume_journal
    from pysei.node.datadir import DataDirLock, GenesisParams, record_genesis
    from pysei.state.snapshot import import_into
    from pysei.state.store import ChainStore

    state_dir = home / "state"
    lock = DataDirLock(home)
    try:
        head = None
        if (state_dir / "data.mdb").exists():
            store = ChainStore(state_dir)
            head = store.head()
            del store  # closes LMDB: the node opens it again
        dest = home / "statesync.snapshot"
        fetched = await fetch_snapshot(genesis.committee, signer, genesis.chain_id, listen, head, dest)
        if fetched is None:
            log.info("state sync: not needed (chain at block %s; peers can serve the slots after it)", head)
            return
        offer, own_cars = fetched
        if head is not None:  # far behind: the old chain is kept aside, not deleted
            aside = home / f"behind-{head}"
            aside.mkdir(exist_ok=True)
            for name in ("state", "cold", "consensus.sqlite", "consensus.sqlite-wal", "consensus.sqlite-shm"):
                if (home / name).exists():
                    (home / name).rename(aside / name)
            log.warning("state sync: the chain at block %d moved to %s", head, aside)
        store = ChainStore(state_dir)
        try:
            header = import_into(store, dest)
            record_genesis(store, GenesisParams(chain_id=genesis.chain_id))
            epochs = StakingEpochs.of(store)
            committee = genesis.committee
            if epochs is not None:
                stakes = epochs.stakes(max(0, offer.block - 1) // epochs.epoch_blocks)
                committee = epoch_committee(genesis.committee, stakes or {})
            if (err := check_offer(offer, header.commitment, committee)) is not None:
                raise StateSyncError(f"snapshot of block {offer.block} refused: {err}")
        except BaseException:
            del store
            shutil.rmtree(state_dir, ignore_errors=True)
            raise
        del store
        journal = Journal(home / "consensus.sqlite")
        try:
            resume_journal(journal, offer, genesis.committee, signer.index, own_cars)
        finally:
            journal.close()
        dest.unlink()
        log.info("state sync: imported the state after block %d (commitment 0x%s)", offer.block, offer.commitment.hex())
    finally:
        lock.release()


class StakingEpochs:
    """The consensus engine's committee of each epoch, read from the staking module's committee records
    (``native.committee``): the active set with power 1 per bonded SEI, recorded when block (k−1)·E executed."""

    def __init__(self, store: ChainStore, epoch_blocks: int) -> None:
        self.store = store
        self.epoch_blocks = epoch_blocks

    @classmethod
    def of(cls, store: ChainStore) -> StakingEpochs | None:
        """None for a chain whose staking module knows no consensus key (a genesis without operators): its
        genesis committee holds for ever."""
        first = native.committee(store.native, 0)
        return cls(store, native.epoch_blocks(store.native)) if first else None

    def stakes(self, epoch: int) -> dict[bytes, int] | None:
        record = native.committee(self.store.native, epoch)
        return None if record is None else {pubkey: power for pubkey, _, power in record}


# ----------------------------------------------------------------------------------------------------- localnet
def run_localnet(args: argparse.Namespace) -> int:
    data_dir: Path = args.data_dir
    genesis_path = data_dir / GENESIS
    if not genesis_path.exists():
        create_genesis(
            data_dir,
            args.validators,
            chain_id=args.chain_id,
            rpc_port=args.rpc_port,
            p2p_port=args.p2p_port,
            epoch_blocks=args.epoch_blocks,
        )
    extra = [] if args.journal_retention is None else ["--journal-retention", str(args.journal_retention)]
    net = ValidatorProcesses(data_dir, fsync=not args.no_fsync, args=dict.fromkeys(range(args.validators), extra))
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


def add_network_parsers(sub: argparse._SubParsersAction, genesis: argparse._SubParsersAction) -> None:
    """The network's commands: ``localnet``, ``init``, ``validator``, and ``genesis assemble`` (under ``genesis``,
    whose ``write``/``validate`` make the token genesis)."""
    p = sub.add_parser("localnet", help="run N validator processes on loopback (Autobahn consensus)")
    p.add_argument("--validators", type=int, default=4)
    p.add_argument("--data-dir", type=Path, default=Path.home() / ".pysei" / "localnet")
    p.add_argument("--chain-id", type=int, default=DEVNET_CHAIN_ID)
    p.add_argument("--rpc-port", type=int, default=DEFAULT_RPC_PORT, help="validator i serves JSON-RPC on this + i")
    p.add_argument("--p2p-port", type=int, default=DEFAULT_P2P_PORT, help="validator i listens for peers on this + i")
    p.add_argument("--no-fsync", action="store_true")
    p.add_argument("--journal-retention", type=int, default=None, help="passed to each `pysei validator`")
    p.add_argument(
        "--epoch-blocks",
        type=int,
        default=DEFAULT_EPOCH_BLOCKS,
        help="blocks per epoch: the committee (the staking module's active set) changes at epoch boundaries "
        f"(default {DEFAULT_EPOCH_BLOCKS}; used when the genesis is created)",
    )
    p.set_defaults(func=run_localnet)
    i = sub.add_parser(
        "init",
        help="create a validator key, its genesis entry (validator.json) and commented node settings (pysei.toml)",
    )
    i.add_argument("--home", type=Path, required=True, help="the validator's data directory")
    i.add_argument("--host", default="127.0.0.1", help="address the other validators reach this one at")
    i.add_argument("--p2p-port", type=int, default=DEFAULT_P2P_PORT)
    i.add_argument("--rpc-port", type=int, default=DEFAULT_RPC_PORT)
    i.add_argument("--stake", type=int, default=1_000, help="self-delegation in SEI (= voting power)")
    i.set_defaults(func=_init)
    g = genesis.add_parser("assemble", help="assemble a network genesis file from validators' validator.json entries")
    g.add_argument("entries", nargs="+", help="validator.json files from pysei init")
    g.add_argument("--out", type=Path, default=Path(GENESIS))
    g.add_argument("--chain-id", type=int, default=DEVNET_CHAIN_ID)
    g.add_argument("--accounts", type=int, default=20, help="funded dev accounts (the devnet's mnemonic)")
    g.add_argument("--epoch-blocks", type=int, default=DEFAULT_EPOCH_BLOCKS, help="blocks per committee epoch")
    g.set_defaults(func=_genesis)
    v = sub.add_parser("validator", help="run one validator of the network a genesis file describes")
    v.add_argument("--home", type=Path, required=True, help=f"data directory holding {KEY}")
    v.add_argument("--genesis", type=Path, required=True)
    v.add_argument("--no-fsync", action="store_true")
    v.add_argument("--exec-threads", type=int, default=1)
    v.add_argument("--p2p-listen", type=int, default=None, help="listen port if not the genesis one (port forward)")
    v.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus metrics on this loopback port")
    v.add_argument(
        "--journal-retention",
        type=int,
        default=None,
        help="slots of commits and cars the consensus journal keeps (default 100000; 0 keeps all)",
    )
    v.add_argument(
        "--state-sync",
        action="store_true",
        help="before starting, take a verified snapshot from the peers if this validator has no chain or is "
        "further behind than their journals reach",
    )
    v.add_argument("--log-level", default="INFO")
    v.set_defaults(func=_run_validator)


def _init(args: argparse.Namespace) -> int:
    try:
        seed = write_key(args.home)
        operator = write_operator_key(args.home)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    entry = validator_entry(
        seed, host=args.host, p2p_port=args.p2p_port, rpc_port=args.rpc_port, stake=args.stake, operator=operator
    )
    (args.home / "validator.json").write_text(json.dumps(entry, indent=2) + "\n")
    print(f"keys: {args.home / KEY}, {args.home / 'operator_key'} (keep them secret)")
    print(f"this validator's genesis entry: {args.home / 'validator.json'}")
    print(json.dumps(entry, indent=2))
    print("collect every validator's validator.json and run: pysei genesis assemble --out genesis.json <their files>")
    return 0


def _genesis(args: argparse.Namespace) -> int:
    entries = [json.loads(Path(p).read_text()) for p in args.entries]
    try:
        path = write_genesis(
            args.out, entries, chain_id=args.chain_id, dev_accounts=args.accounts, epoch_blocks=args.epoch_blocks
        )
    except (ValueError, KeyError) as exc:
        print(f"error: {exc!r}", file=sys.stderr)
        return 1
    print(f"wrote {path}: {len(entries)} validators; give every validator this file (pysei validator --genesis)")
    return 0


def _run_validator(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # a speed-up only
        pass
    return asyncio.run(
        serve_validator(
            args.home,
            args.genesis,
            fsync=not args.no_fsync,
            exec_threads=max(1, args.exec_threads),
            p2p_listen=args.p2p_listen,
            metrics_port=args.metrics_port,
            journal_retention=args.journal_retention,
            state_sync=args.state_sync,
        )
    )
