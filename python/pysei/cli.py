"""The ``pysei`` command line: ``pysei node`` runs the devnet, ``pysei explorer`` serves the block explorer in
front of a node, ``pysei bench …`` measures."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from eth_account.hdaccount.mnemonic import Language, Mnemonic

from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID
from pysei.node.config import (
    DEFAULT_GAS_LIMIT,
    MAX_TRACE_BYTES,
    MIN_PARALLEL_CORES,
    NodeConfig,
    default_data_dir,
    default_exec_threads,
)
from pysei.node.datadir import LOCK_FILE, DataDirLock, GenesisParams, StartupError, record_genesis, stored_genesis
from pysei.state.tiering import HISTORY_BLOCKS, HOT_BLOCKS, SEGMENT_BLOCKS


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each default, except where there is none to show (the help text then says what happens)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None or action.default is False else super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong and where the help is, no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer from {lo:,} to {hi:,}, got {text!r}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_BLOCK_TIME:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected seconds above 0 and at most {MAX_BLOCK_TIME}, got {text!r}")
    return value


def _mnemonic(text: str) -> str:
    words = " ".join(text.split())
    if not Mnemonic(Language.ENGLISH).is_mnemonic_valid(words):
        raise argparse.ArgumentTypeError("not a valid BIP-39 mnemonic (12 to 24 English words with a valid checksum)")
    return words


def _block_hash(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise argparse.ArgumentTypeError(f"expected a 32-byte hex block hash, got {text!r}")
    return raw


MAX_CHAIN_ID = 2**63 - 37
"""EIP-2294's bound: the largest chain id whose EIP-155 ``v`` still fits a signed 64-bit integer."""
MAX_BLOCK_TIME = 3600.0
U63 = 2**63 - 1
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _node_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "node",
        help="run a single-validator devnet (JSON-RPC on 127.0.0.1:8545)",
        description="Run a single-validator devnet: JSON-RPC over HTTP and WebSocket on one port, dev accounts "
        "funded at genesis, a block every --block-time while transactions are pending.",
        epilog="examples:\n  pysei node --automine --ephemeral\n  pysei config && pysei node --config pysei.toml "
        "--port 8546   (flags override the file)",
        formatter_class=_Help,
    )
    p.add_argument(
        "--config", type=Path, default=None, help="TOML settings file ([node] table; `pysei config` writes one)"
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    p.add_argument("--port", type=_int_in(0, 65535), default=8545, help="HTTP and WebSocket port (0 = any free port)")
    p.add_argument("--chain-id", type=_int_in(1, MAX_CHAIN_ID), default=DEVNET_CHAIN_ID, help="EIP-155 chain id")
    p.add_argument(
        "--block-time", type=_seconds, default=0.4, help="seconds between blocks while transactions are pending"
    )
    p.add_argument("--automine", action="store_true", help="seal transactions at once, one block per batch")
    p.add_argument("--gas-limit", type=_int_in(21_000, U63), default=DEFAULT_GAS_LIMIT, help="block gas limit")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where the chain is kept; a restart continues it (default: {default_data_dir()})",
    )
    p.add_argument("--ephemeral", action="store_true", help="use a temporary data directory, deleted at exit")
    p.add_argument("--reset", action="store_true", help="delete the chain in --data-dir and start a new one")
    p.add_argument("--accounts", type=_int_in(0, 1000), default=20, help="number of funded dev accounts")
    p.add_argument("--mnemonic", type=_mnemonic, default=DEV_MNEMONIC, help="BIP-39 mnemonic of the dev accounts")
    p.add_argument("--genesis", type=Path, default=None, help="network genesis file (default: the built-in one)")
    p.add_argument(
        "--exec-threads",
        type=_int_in(1, 256),
        default=default_exec_threads(),
        help="parallel block executor threads (1 = sequential; default: one per core, or 1 below "
        f"{MIN_PARALLEL_CORES} cores, where the sequential executor is faster)",
    )
    p.add_argument(
        "--commitment-delay",
        type=_int_in(1, 256),
        default=2,
        help="k: block n's stateRoot is the LtHash commitment of block n-k",
    )
    p.add_argument("--no-fsync", action="store_true", help="do not fsync each block (safe against process crashes)")
    p.add_argument(
        "--refuse-unprotected-txs",
        action="store_true",
        help="refuse pre-EIP-155 transactions (accepted by default, as anvil does, for keyless deployments)",
    )
    p.add_argument(
        "--pruning",
        choices=("default", "archive"),
        default="default",
        help="default: keep --history-blocks blocks of historical state; archive: keep all (blocks are always kept)",
    )
    p.add_argument(
        "--history-blocks", type=_int_in(1, U63), default=HISTORY_BLOCKS, help="blocks of state history kept"
    )
    p.add_argument(
        "--hot-blocks", type=_int_in(1, U63), default=HOT_BLOCKS, help="blocks kept in LMDB before moving to cold"
    )
    p.add_argument("--segment-blocks", type=_int_in(1, 2**32), default=SEGMENT_BLOCKS, help="blocks per cold segment")
    p.add_argument(
        "--no-dev-methods",
        action="store_true",
        help="refuse the anvil_*/hardhat_*/evm_* dev methods (state edits, snapshots, time travel)",
    )
    p.add_argument(
        "--allow-origin",
        default="*",
        help="comma-separated origins browser pages may call the RPC from (CORS; * = any, as anvil)",
    )
    p.add_argument("--no-cors", action="store_true", help="send no CORS headers: browsers block other origins")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="print only the listening address, and log warnings only (unless --log-level says otherwise)",
    )
    p.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=None,
        help="log level (default: info; warning with --quiet)",
    )
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="json: one JSON object per line")
    p.add_argument(
        "--max-trace-bytes",
        type=_int_in(1, U63),
        default=MAX_TRACE_BYTES,
        help="bytes one transaction's trace may record (debug_trace*, trace_*) before it is refused",
    )
    p.add_argument(
        "--metrics-port",
        type=_int_in(0, 65535),
        default=None,
        help="serve Prometheus metrics at http://HOST:PORT/metrics (0 = any free port; off by default)",
    )
    return p


def _settings(node: argparse.ArgumentParser) -> list[argparse.Action]:
    """The node's settings a config file may hold: every option of ``pysei node`` but --config and --help."""
    return [a for a in node._actions if a.option_strings and a.dest not in ("help", "config")]


def _setting_value(action: argparse.Action, value: Any, where: str) -> Any:
    """A config file's value for ``action``, checked as the flag's own parser would check it."""
    name = action.option_strings[0].removeprefix("--")
    flag = action.nargs == 0
    if flag or isinstance(value, bool):
        if not (flag and isinstance(value, bool)):
            want = "true or false" if flag else f"a value of {name}"
            raise SystemExit(f"error: {where}: {name} must be {want}, got {value!r}")
        return value
    if isinstance(value, (dict, list)):
        raise SystemExit(f"error: {where}: {name} must be a single value, got {value!r}")
    convert = action.type if callable(action.type) else str
    if convert in (int, float) and not isinstance(value, (int, float)) or convert is int and isinstance(value, float):
        raise SystemExit(f"error: {where}: {name} must be a number, got {value!r}")
    try:
        # The flags' own parsers take the text a command line would give them.
        converted = convert(value if isinstance(value, str) else str(value))
    except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
        raise SystemExit(f"error: {where}: {name}: {e}") from None
    if action.choices is not None and converted not in action.choices:
        raise SystemExit(f"error: {where}: {name} must be one of {', '.join(map(str, action.choices))}")
    return converted


def _load_config(path: Path, node: argparse.ArgumentParser) -> dict[str, Any]:
    """The ``[node]`` settings of a TOML file, validated; unknown keys and bad values stop with one line."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(f"error: config file {path} not found (`pysei config --out {path}` writes one)") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise SystemExit(f"error: config file {path}: {e}") from None
    table = data.get("node", {})
    if not isinstance(table, dict) or set(data) - {"node"}:
        raise SystemExit(f"error: config file {path}: settings go in a [node] table (see `pysei config`)")
    actions = {a.option_strings[0].removeprefix("--"): a for a in _settings(node)}
    out: dict[str, Any] = {}
    for key, value in table.items():
        action = actions.get(key.replace("_", "-"))
        if action is None:
            raise SystemExit(f"error: config file {path}: unknown setting {key!r} (settings: {', '.join(actions)})")
        out[action.dest] = _setting_value(action, value, f"config file {path}")
    return out


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def default_config(node: argparse.ArgumentParser) -> str:
    """A commented TOML file with every node setting at its default (unset ones commented out)."""
    lines = [
        "# pysei node settings: `pysei node --config THIS_FILE`. Flags given on the command line override them.",
        "# Every key is a `pysei node` flag without its dashes; `pysei node --help` describes each.",
        "",
        "[node]",
    ]
    for action in _settings(node):
        name = action.option_strings[0].removeprefix("--")
        lines.append(f"# {action.help or name}")
        default = action.default
        lines.append(f"# {name} = <value>" if default is None else f"{name} = {_toml(default)}")
        lines.append("")
    return "\n".join(lines)


INIT_CONFIG = "pysei.toml"
"""The settings file `pysei init` writes into the home directory (what `pysei config` writes elsewhere)."""


def _config_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="write a commented default settings file for `pysei node --config`",
        epilog="example:\n  pysei config --out pysei.toml && pysei node --config pysei.toml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("pysei.toml"), help="where to write it (default: pysei.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")


def _snapshot_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("snapshot", help="export or import the state at a block, verified by its LtHash commitment")
    snap = p.add_subparsers(dest="action", required=True)
    fmt = _Help
    e = snap.add_parser(
        "export", help="write the state after a block to a file (run on a stopped node's data dir)", formatter_class=fmt
    )
    e.add_argument("--data-dir", type=Path, default=default_data_dir(), help="the node's data directory")
    e.add_argument("--out", type=Path, required=True, help="the snapshot file to write")
    e.add_argument("--block", type=_int_in(0, U63), default=None, help="block number (default: the head)")
    e.add_argument(
        "--chain-id",
        type=_int_in(1, MAX_CHAIN_ID),
        default=None,
        help=f"the chain's id (default: the one the chain was started with, else {DEVNET_CHAIN_ID})",
    )
    e.add_argument(
        "--commitment-delay",
        type=_int_in(1, 256),
        default=None,
        help="the chain's commitment delay k (default: the one it was started with, else 2)",
    )
    i = snap.add_parser(
        "import", help="verify a snapshot and make it the state of an empty data dir", formatter_class=fmt
    )
    i.add_argument("--data-dir", type=Path, required=True, help="an empty (or new) data directory")
    i.add_argument("--in", dest="path", type=Path, required=True, help="the snapshot file to read")
    i.add_argument(
        "--trusted-block-hash",
        type=_block_hash,
        default=None,
        help="refuse the snapshot unless its block has this hash",
    )


def _snapshot(args: argparse.Namespace) -> int:
    from pysei.state.snapshot import SnapshotError, export, import_into
    from pysei.state.store import ChainStore

    if args.action == "import" and not args.path.is_file():
        return _fail(f"snapshot file {args.path} not found")
    if args.action == "export" and not (args.data_dir / "state" / "data.mdb").exists():
        return _fail(f"no pysei chain in {args.data_dir}")
    state_dir = args.data_dir / "state"
    created = [p for p in (args.data_dir, state_dir, args.data_dir / LOCK_FILE) if not p.exists()]
    try:
        lock = DataDirLock(args.data_dir)
    except StartupError as e:
        return _fail(str(e))
    try:
        store = ChainStore(state_dir)
        if args.action == "export":
            stored = stored_genesis(store)
            chain_id = args.chain_id or (stored.chain_id if stored is not None else DEVNET_CHAIN_ID)
            delay = args.commitment_delay or (stored.commitment_delay if stored is not None else None) or 2
            h = export(store, args.out, chain_id=chain_id, number=args.block, delay=delay)
            verb = "exported"
        else:
            h = import_into(store, args.path, trusted_block_hash=args.trusted_block_hash)
            record_genesis(store, GenesisParams(chain_id=h.chain_id))
            verb = "imported"
    except SnapshotError as e:
        # A refused import leaves the data directory as it found it.
        for path in reversed(created):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return _fail(str(e))
    finally:
        lock.release()
    print(
        f"{verb} the state after block {h.block.header.number} (0x{h.block.hash.hex()}): {h.records:,} records, "
        f"commitment 0x{h.commitment.hex()}"
    )
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _db_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="inspect the node's storage")
    db = p.add_subparsers(dest="action", required=True)
    s = db.add_parser(
        "stats",
        help="sizes per storage tier (hot LMDB, cold segments), history floor, head",
        formatter_class=_Help,
    )
    s.add_argument("--data-dir", type=Path, default=default_data_dir(), help="the node's data directory")


def _node_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> NodeConfig:
    if args.ephemeral and args.data_dir is not None:
        parser.error("--ephemeral and --data-dir exclude each other: a temporary directory or yours")
    if args.ephemeral and args.reset:
        parser.error("--reset has nothing to delete with --ephemeral")
    return NodeConfig(
        host=args.host,
        port=args.port,
        chain_id=args.chain_id,
        block_time=args.block_time,
        automine=args.automine,
        gas_limit=args.gas_limit,
        data_dir=args.data_dir if args.data_dir is not None else default_data_dir(),
        ephemeral=args.ephemeral,
        reset=args.reset,
        dev_accounts=args.accounts,
        mnemonic=args.mnemonic,
        genesis=args.genesis,
        exec_threads=args.exec_threads,
        commitment_delay=args.commitment_delay,
        fsync=not args.no_fsync,
        allow_unprotected_txs=not args.refuse_unprotected_txs,
        history_blocks=None if args.pruning == "archive" else args.history_blocks,
        hot_blocks=args.hot_blocks,
        segment_blocks=args.segment_blocks,
        cors_origins=() if args.no_cors else tuple(o.strip() for o in args.allow_origin.split(",") if o.strip()),
        dev_methods=not args.no_dev_methods,
        metrics_port=args.metrics_port,
        max_trace_bytes=args.max_trace_bytes,
    )


def _genesis_parser(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    p = sub.add_parser("genesis", help="write or validate a network genesis file (10B SEI, validators, parameters)")
    g = p.add_subparsers(dest="action", required=True)
    w = g.add_parser("write", help="write the network genesis (48/20/20/9/3 allocation of 10B SEI) to a file")
    w.add_argument("--out", type=Path, required=True)
    w.add_argument("--chain-id", type=int, default=DEVNET_CHAIN_ID)
    w.add_argument(
        "--validator",
        action="append",
        default=[],
        metavar="0xOPERATOR[:SEI]",
        help="a validator and its self-delegation in SEI (default 1,000,000), funded from the foundation's share;"
        " repeatable (default: one placeholder validator)",
    )
    w.add_argument("--unbonding-time", type=int, default=21 * 86_400, help="seconds of block time (default 21 days)")
    w.add_argument("--max-entries", type=int, default=7, help="unbonding entries per delegator and validator")
    w.add_argument("--community-tax", default="0.02", help="share of fees and rewards to the community pool")
    w.add_argument("--block-reward-usei", type=int, default=0, help="usei minted and distributed per block")
    w.add_argument("--voting-period", type=int, default=3 * 86_400, help="governance: seconds (default 3 days)")
    w.add_argument(
        "--max-deposit-period", type=int, default=2 * 86_400, help="governance: seconds to reach the minimum deposit"
    )
    w.add_argument("--min-deposit", type=int, default=3_500, help="governance: minimum deposit in SEI (default 3,500)")
    v = g.add_parser("validate", help="check a genesis file and print its allocation")
    v.add_argument("file", type=Path)
    return g


def _genesis(args: argparse.Namespace) -> int:
    from pysei.chain import genesis as gen

    try:
        if args.action == "write":
            validators = []
            for spec in args.validator:
                operator, _, sei = spec.partition(":")
                validators.append((operator, int(sei or 1_000_000) * gen.USEI_PER_SEI))
            staking = gen.StakingParams(unbonding_time=args.unbonding_time, max_entries=args.max_entries)
            distribution = gen.DistributionParams(args.community_tax, args.block_reward_usei)
            gov = gen.GovParams(
                min_deposit_usei=args.min_deposit * gen.USEI_PER_SEI,
                max_deposit_period=args.max_deposit_period,
                voting_period=args.voting_period,
            )
            genesis = gen.default_genesis(args.chain_id, validators or None, staking, distribution, gov)
            gen.validate(genesis)
            args.out.write_bytes(gen.dump(genesis))
        else:
            genesis = gen.load(args.file)
    except (gen.GenesisError, ValueError) as e:
        print(f"invalid genesis: {e}", file=sys.stderr)
        return 1
    gen.print_summary(genesis)
    return 0


def _explorer_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explorer", help="serve the block explorer in front of any pysei node (read methods only)")
    p.add_argument("--rpc", default="http://127.0.0.1:8545", help="the node's JSON-RPC URL (its WebSocket is the same)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback by default)")
    p.add_argument("--port", type=_int_in(0, 65535), default=8546, help="port of the explorer (0 = any free port)")


def _abi_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "abi",
        help="the module precompiles' JSON ABIs (for ethers, viem, web3.py, cast)",
        description="Without MODULE: each module precompile's name, address and entry counts. With MODULE: its JSON "
        "ABI (functions, events, errors) on stdout, e.g. `pysei abi staking > IStaking.json`.",
    )
    p.add_argument("module", nargs="?", help="bank, staking, governance, distribution or slashing")


def _abi(args: argparse.Namespace) -> int:
    from pysei.native import precompile_abis

    abis = precompile_abis()
    if args.module is None:
        for p in abis:
            kinds = [sum(1 for entry in p.abi if entry["type"] == kind) for kind in ("function", "event", "error")]
            print(f"{p.name:<13} 0x{p.address.hex()}  {kinds[0]} functions, {kinds[1]} events, {kinds[2]} errors")
        return 0
    chosen = next((p for p in abis if p.name == args.module), None)
    if chosen is None:
        return _fail(f"unknown module {args.module!r} (one of: {', '.join(p.name for p in abis)})")
    print(json.dumps(chosen.abi, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="pysei", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    node_parser = _node_parser(sub)
    _config_parser(sub)
    _db_parser(sub)
    _snapshot_parser(sub)
    genesis_actions = _genesis_parser(sub)
    from pysei.token_cli import add_parsers as add_token_parsers

    add_token_parsers(sub)
    _explorer_parser(sub)
    _abi_parser(sub)
    from pysei.bench.cli import add_bench_parser

    add_bench_parser(sub)
    from pysei.app.localnet import add_network_parsers

    add_network_parsers(sub, genesis_actions)
    args = parser.parse_args(argv)
    if args.command == "node" and args.config is not None:
        # The file's values become the defaults, so flags given on the command line still win.
        node_parser.set_defaults(**_load_config(args.config, node_parser))
        args = parser.parse_args(argv)
    if args.command == "config":
        if args.out.exists() and not args.force:
            print(f"error: {args.out} exists (--force overwrites it)", file=sys.stderr)
            return 1
        args.out.write_text(default_config(node_parser))
        print(f"wrote {args.out}")
        return 0
    if args.command == "init":
        # Besides the validator key, init writes the commented node settings (once: an edited file is kept).
        code = int(args.func(args) or 0)
        path = args.home / INIT_CONFIG
        if code == 0 and not path.exists():
            path.write_text(default_config(node_parser))
            print(f"node settings (commented defaults): {path} — use with `pysei node --config {path}`")
        elif code == 0:
            print(f"node settings: {path} exists, kept as it is")
        return code
    if args.command == "node":
        config = _node_config(sub.choices["node"], args)
        from pysei.node.logs import configure

        configure(args.log_level or ("warning" if args.quiet else "info"), args.log_format)
        from pysei.app.devnet import run

        try:
            return run(config, quiet=args.quiet)
        except StartupError as e:
            return _fail(str(e))
    if args.command == "db":
        from pysei.state.dbstats import print_stats

        return print_stats(args.data_dir)
    if args.command == "snapshot":
        return _snapshot(args)
    if args.command == "abi":
        return _abi(args)
    if args.command == "genesis" and args.action in ("write", "validate"):
        return _genesis(args)
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
