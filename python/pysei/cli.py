"""The ``pysei`` command line: ``pysei node`` runs the devnet, ``pysei explorer`` serves the block explorer in
front of a node, ``pysei bench …`` measures."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID
from pysei.node.config import DEFAULT_GAS_LIMIT, NodeConfig, default_data_dir
from pysei.state.tiering import HISTORY_BLOCKS, HOT_BLOCKS, SEGMENT_BLOCKS


def _node_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="run a single-validator devnet (JSON-RPC on 127.0.0.1:8545)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    p.add_argument("--port", type=int, default=8545, help="HTTP and WebSocket port (0 = any free port)")
    p.add_argument("--chain-id", type=int, default=DEVNET_CHAIN_ID)
    p.add_argument("--block-time", type=float, default=0.4, help="seconds between blocks while txs are pending")
    p.add_argument("--automine", action="store_true", help="seal transactions at once, one block per batch")
    p.add_argument("--gas-limit", type=int, default=DEFAULT_GAS_LIMIT, help="block gas limit")
    p.add_argument("--data-dir", type=Path, default=default_data_dir())
    p.add_argument("--ephemeral", action="store_true", help="use a temporary data directory, deleted at exit")
    p.add_argument("--accounts", type=int, default=20, help="number of funded dev accounts")
    p.add_argument("--mnemonic", default=DEV_MNEMONIC)
    p.add_argument(
        "--exec-threads",
        type=int,
        default=os.cpu_count() or 1,
        help=f"parallel block executor threads (default: one per core, {os.cpu_count()} here; 1 = sequential)",
    )
    p.add_argument(
        "--commitment-delay",
        type=int,
        default=2,
        help="k >= 1: block n's stateRoot is the LtHash commitment of block n-k (default 2)",
    )
    p.add_argument("--no-fsync", action="store_true", help="do not fsync each block (safe against process crashes)")
    p.add_argument(
        "--pruning",
        choices=("default", "archive"),
        default="default",
        help="default: keep --history-blocks blocks of historical state; archive: keep all (blocks are always kept)",
    )
    p.add_argument("--history-blocks", type=int, default=HISTORY_BLOCKS, help="blocks of state history kept")
    p.add_argument("--hot-blocks", type=int, default=HOT_BLOCKS, help="blocks kept in LMDB before moving to cold")
    p.add_argument("--segment-blocks", type=int, default=SEGMENT_BLOCKS, help="blocks per cold segment")
    p.add_argument(
        "--allow-origin",
        default="*",
        help="comma-separated origins browser pages may call the RPC from (CORS; default: * = any, as anvil)",
    )
    p.add_argument("--no-cors", action="store_true", help="send no CORS headers: browsers block other origins")
    p.add_argument("--quiet", action="store_true", help="print only the listening address")
    p.add_argument("--log-level", default="INFO")


def _snapshot_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="export or import the state at a block, verified by its LtHash commitment")
    snap = p.add_subparsers(dest="action", required=True)
    e = snap.add_parser("export", help="write the state after a block to a file (run on a stopped node's data dir)")
    e.add_argument("--data-dir", type=Path, default=default_data_dir())
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--block", type=int, default=None, help="block number (default: the head)")
    e.add_argument("--chain-id", type=int, default=DEVNET_CHAIN_ID)
    e.add_argument("--commitment-delay", type=int, default=2)
    i = snap.add_parser("import", help="verify a snapshot and make it the state of an empty data dir")
    i.add_argument("--data-dir", type=Path, required=True)
    i.add_argument("--in", dest="path", type=Path, required=True)
    i.add_argument("--trusted-block-hash", default=None, help="refuse the snapshot unless its block has this hash")


def _snapshot(args: argparse.Namespace) -> int:
    from pysei.state.snapshot import SnapshotError, export, import_into
    from pysei.state.store import ChainStore

    store = ChainStore(args.data_dir / "state")
    try:
        if args.action == "export":
            h = export(store, args.out, chain_id=args.chain_id, number=args.block, delay=args.commitment_delay)
            verb = "exported"
        else:
            trusted = bytes.fromhex(args.trusted_block_hash.removeprefix("0x")) if args.trusted_block_hash else None
            h = import_into(store, args.path, trusted_block_hash=trusted)
            verb = "imported"
    except SnapshotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(
        f"{verb} the state after block {h.block.header.number} (0x{h.block.hash.hex()}): {h.records:,} records, "
        f"commitment 0x{h.commitment.hex()}"
    )
    return 0


def _db_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="inspect the node's storage")
    db = p.add_subparsers(dest="action", required=True)
    s = db.add_parser("stats", help="sizes per storage tier (hot LMDB, cold segments), history floor, head")
    s.add_argument("--data-dir", type=Path, default=default_data_dir())


def _explorer_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explorer", help="serve the block explorer in front of any pysei node (read methods only)")
    p.add_argument("--rpc", default="http://127.0.0.1:8545", help="the node's JSON-RPC URL (its WebSocket is the same)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    p.add_argument("--port", type=int, default=8546, help="port of the explorer (0 = any free port)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pysei", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _node_parser(sub)
    _db_parser(sub)
    _snapshot_parser(sub)
    _explorer_parser(sub)
    from pysei.bench.cli import add_bench_parser

    add_bench_parser(sub)
    from pysei.app.localnet import add_network_parsers

    add_network_parsers(sub)
    args = parser.parse_args(argv)
    if args.command == "node":
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        config = NodeConfig(
            host=args.host,
            port=args.port,
            chain_id=args.chain_id,
            block_time=args.block_time,
            automine=args.automine,
            gas_limit=args.gas_limit,
            data_dir=args.data_dir,
            ephemeral=args.ephemeral,
            dev_accounts=args.accounts,
            mnemonic=args.mnemonic,
            exec_threads=max(1, args.exec_threads),
            commitment_delay=max(1, args.commitment_delay),
            fsync=not args.no_fsync,
            history_blocks=None if args.pruning == "archive" else args.history_blocks,
            hot_blocks=args.hot_blocks,
            segment_blocks=max(1, args.segment_blocks),
            cors_origins=() if args.no_cors else tuple(o.strip() for o in args.allow_origin.split(",") if o.strip()),
        )
        from pysei.app.devnet import run

        return run(config, quiet=args.quiet)
    if args.command == "db":
        from pysei.state.dbstats import print_stats

        return print_stats(args.data_dir)
    if args.command == "snapshot":
        return _snapshot(args)
    if args.command == "explorer":
        import asyncio
        import contextlib

        from pysei.explorer.proxy import serve

        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops it
            asyncio.run(serve(args.rpc, args.host, args.port))
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
