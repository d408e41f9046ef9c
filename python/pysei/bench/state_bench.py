"""``pysei bench state``: the state commitment's cost per block — LtHash vs a Merkle Patricia trie.

Both sides get the same blocks of writes over the same state (``--keys`` records, a fifth of them accounts, the
rest storage slots, encoded as :mod:`pysei.state.commitment` defines). The LtHash side is the real per-block work
of the node: encode the block's ``(old, new)`` write set, hash and fold it (:func:`commitment.apply_write_set`),
digest. The MPT side is py-trie's ``HexaryTrie`` (keccak from eth-hash, in-memory dict database, no pruning: its
fastest configuration here) holding the same pairs under ``keccak(key)`` as Ethereum's secure trie does: set or
delete each written key, then read the root. The MPT's keys and values are encoded before the clock starts, so
the comparison favours the MPT. At the end the incremental LtHash is checked against one computed from scratch.

Later parts of the state-commitment work add their own measurements (commit time with and without fsync, lag
under load, bytes per account per tier) with :func:`register`; each gets the generated state and blocks and
returns table rows. Nothing is printed for a measurement that has not been registered.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import zstandard
from rich.console import Console
from rich.table import Table

from pysei.chain.constants import EMPTY_CODE_HASH
from pysei.state import commitment as cm
from pysei.state import lthash
from pysei.state.cold import LEVEL as COLD_LEVEL
from pysei.state.commitment import Account, AccountChange, StorageChange
from pysei.state.committer import CommitmentWorker
from pysei.state.lthash import LtHash
from pysei.state.snapshot import recompute_commitment
from pysei.state.store import Alloc, ChainStore

# --- workload -------------------------------------------------------------------------------------------------


@dataclass
class Block:
    """One block's write set, in the commitment's (old, new) form."""

    accounts: list[AccountChange]
    storage: list[StorageChange]
    codes: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.accounts) + len(self.storage) + len(self.codes)

    def pairs(self) -> list[tuple[bytes, bytes | None, bytes | None]]:
        """The encoded ``(key, old, new)`` changes."""
        return cm.write_set_changes(self.accounts, self.storage, self.codes)


@dataclass
class Workload:
    """A state (before the first block) and the blocks that follow it."""

    accounts: dict[bytes, Account]
    storage: dict[tuple[bytes, int], int]
    codes: dict[bytes, bytes]
    blocks: list[Block]

    @property
    def records(self) -> int:
        return len(self.accounts) + len(self.storage) + len(self.codes)

    def pairs(self) -> list[tuple[bytes, bytes]]:
        """The initial state's encoded pairs (those that contribute)."""
        return [(k, v) for k, v in cm.state_pairs(self.accounts, self.codes, self.storage) if v]


MIXES = {
    # fraction of writes that update an existing record, insert a new one, delete one
    "updates": (1.0, 0.0, 0.0),
    "mixed": (0.8, 0.1, 0.1),
}


def _account(rnd: random.Random, code_hashes: list[bytes]) -> Account:
    code_hash = rnd.choice(code_hashes) if rnd.random() < 0.05 else EMPTY_CODE_HASH
    return Account(nonce=rnd.randrange(1 << 16), balance=rnd.randrange(10**24), code_hash=code_hash)


def make_workload(keys: int, writes: int, blocks: int, mix: str = "updates", seed: int = 1) -> Workload:
    """``keys`` records (1/5 accounts, 4/5 storage slots of 1,000 contracts, 20 codes), then ``blocks`` blocks of
    ``writes`` distinct writes each (accounts and slots in the same 1:4 proportion), as ``mix`` says."""
    rnd = random.Random(seed)
    codes = {rnd.randbytes(32): rnd.randbytes(rnd.randrange(200, 6000)) for _ in range(20)}
    code_hashes = list(codes)
    n_accounts = max(1, keys // 5)
    accounts = {rnd.randbytes(20): _account(rnd, code_hashes) for _ in range(n_accounts)}
    contracts = [rnd.randbytes(20) for _ in range(1000)]
    storage: dict[tuple[bytes, int], int] = {}
    while len(storage) < keys - n_accounts - len(codes):
        storage[(rnd.choice(contracts), rnd.randrange(1 << 256))] = rnd.randrange(1, 1 << 256)

    # The blocks follow one another: each one's old values are the state the previous ones left.
    cur_accounts, cur_storage = dict(accounts), dict(storage)
    acct_list, slot_list = list(cur_accounts), list(cur_storage)
    p_update, p_insert, _ = MIXES[mix]
    out: list[Block] = []
    for _ in range(blocks):
        acct_w: dict[bytes, Account | None] = {}
        slot_w: dict[tuple[bytes, int], int] = {}
        while len(acct_w) + len(slot_w) < writes:
            r = rnd.random()
            is_account = rnd.random() < 0.2
            if r < p_update or r < p_update + p_insert:
                insert = r >= p_update
                if is_account:
                    a = rnd.randbytes(20) if insert else rnd.choice(acct_list)
                    if not insert and cur_accounts.get(a) is None:
                        continue
                    acct_w[a] = _account(rnd, code_hashes)
                else:
                    s = (rnd.choice(contracts), rnd.randrange(1 << 256)) if insert else rnd.choice(slot_list)
                    if not insert and not cur_storage.get(s):
                        continue
                    slot_w[s] = rnd.randrange(1, 1 << 256)
            elif is_account:
                a = rnd.choice(acct_list)
                if cur_accounts.get(a) is not None:
                    acct_w[a] = None
            else:
                s = rnd.choice(slot_list)
                if cur_storage.get(s):
                    slot_w[s] = 0
        block = Block(
            accounts=[(a, cur_accounts.get(a), new) for a, new in acct_w.items()],
            storage=[(a, s, cur_storage.get((a, s), 0), v) for (a, s), v in slot_w.items()],
        )
        for a, new in acct_w.items():
            if a not in cur_accounts:
                acct_list.append(a)
            if new is None:
                cur_accounts.pop(a, None)
            else:
                cur_accounts[a] = new
        for s, v in slot_w.items():
            if s not in cur_storage:
                slot_list.append(s)
            if v:
                cur_storage[s] = v
            else:
                cur_storage.pop(s, None)
        out.append(block)
    return Workload(accounts=accounts, storage=storage, codes=codes, blocks=out)


def final_state(w: Workload) -> tuple[dict[bytes, Account], dict[bytes, bytes], dict[tuple[bytes, int], int]]:
    """The state after all of the workload's blocks (its slots and values are ints)."""
    accounts, storage, codes = dict(w.accounts), dict(w.storage), dict(w.codes)
    for b in w.blocks:
        for a, _, new in b.accounts:
            if new is None:
                accounts.pop(a, None)
            else:
                accounts[a] = Account(*new)
        for a, s, _, v in b.storage:
            assert isinstance(s, int) and isinstance(v, int)
            if v:
                storage[(a, s)] = v
            else:
                storage.pop((a, s), None)
        codes.update(b.codes)
    return accounts, codes, storage


# --- the measured engines ----------------------------------------------------------------------------------------


def time_lthash_block(acc: LtHash, block: Block) -> tuple[LtHash, bytes, tuple[float, float, float]]:
    """One block's commitment work, timed in its three steps: encode the write set into ``(key, old, new)``
    pairs (:func:`commitment.write_set_changes`), hash and fold them (:func:`lthash.update`), digest."""
    t0 = time.perf_counter()
    changes = cm.write_set_changes(block.accounts, block.storage, block.codes)
    t1 = time.perf_counter()
    acc = lthash.update(acc, changes)
    t2 = time.perf_counter()
    root = acc.digest()
    t3 = time.perf_counter()
    return acc, root, (t1 - t0, t2 - t1, t3 - t2)


def mpt_changes(block: Block) -> list[tuple[bytes, bytes | None]]:
    """The block's writes as the secure trie takes them: ``(keccak(key), new value or None)``."""
    from eth_hash.auto import keccak

    return [(keccak(k), new or None) for k, _, new in block.pairs()]


def build_mpt(pairs: list[tuple[bytes, bytes]]):  # type: ignore[no-untyped-def]
    from eth_hash.auto import keccak
    from trie import HexaryTrie  # type: ignore[import-untyped]

    t = HexaryTrie({})
    for k, v in pairs:
        t.set(keccak(k), v)
    return t


def time_mpt_block(t, changes: list[tuple[bytes, bytes | None]]) -> tuple[bytes, float]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for k, v in changes:
        if v is None:
            t.delete(k)
        else:
            t.set(k, v)
    root = t.root_hash
    return root, time.perf_counter() - t0


def keccak_backend() -> str:
    from eth_hash.auto import keccak

    keccak(b"")
    hasher = getattr(keccak, "hasher", None)
    owner = getattr(hasher, "__self__", None)
    return type(owner).__name__ if owner is not None else "unknown"


# --- hooks for further measurements -----------------------------------------------------------------------------

Row = tuple[str, str, str]
"""(measurement, value, note)"""
Measurement = Callable[[argparse.Namespace, Workload, Console], list[Row]]
MEASUREMENTS: list[Measurement] = []


def register(m: Measurement) -> Measurement:
    """Adds a measurement (commit time with/without fsync, lag under load, bytes per account per tier, …) that
    ``pysei bench state`` runs after the commitment comparison; its rows go into a second table."""
    MEASUREMENTS.append(m)
    return m


# --- command ----------------------------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("state", help="state commitment: LtHash vs a Merkle Patricia trie over the same write sets")
    p.add_argument("--keys", type=int, default=100_000, help="records in the state before the first block")
    p.add_argument("--writes", type=int, default=5_000, help="distinct records written per block")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks; the median is reported")
    p.add_argument(
        "--mix",
        choices=sorted(MIXES),
        default="updates",
        help="updates: every write replaces a value (two elements each, LtHash's worst case); "
        "mixed: 80%% updates, 10%% inserts, 10%% deletions",
    )
    p.add_argument("--block-ms", type=float, default=400.0, help="block time the per-block cost is compared with")
    p.add_argument("--no-mpt", action="store_true", help="skip the trie (building it over --keys takes a while)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object (tables go to stderr)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json)
    with console.status(f"generating {args.keys:,} records and {args.blocks} blocks of {args.writes:,} writes"):
        w = make_workload(args.keys, args.writes, args.blocks, args.mix, args.seed)
        state_pairs = w.pairs()
    elements = [sum((old is not None) + (new is not None) for _, old, new in b.pairs() if old != new) for b in w.blocks]

    with console.status(f"LtHash of {len(state_pairs):,} records from scratch"):
        t0 = time.perf_counter()
        acc = lthash.hash_pairs(state_pairs)
        scratch_s = time.perf_counter() - t0

    steps: list[tuple[float, float, float]] = []
    for i, block in enumerate(w.blocks):
        with console.status(f"LtHash: block {i + 1}/{len(w.blocks)}"):
            acc, _, step = time_lthash_block(acc, block)
        steps.append(step)
    with console.status("checking the incremental LtHash against one from scratch"):
        accounts, codes, storage = final_state(w)
        if cm.state_commitment(accounts, codes, storage) != acc:
            console.print("[red]incremental LtHash differs from the one computed from scratch[/red]")
            return 1

    mpt_times: list[float] = []
    mpt_build_s = 0.0
    if not args.no_mpt:
        with console.status(f"building the MPT over {len(state_pairs):,} records (py-trie, ~5k inserts/s)"):
            t0 = time.perf_counter()
            trie = build_mpt(state_pairs)
            mpt_build_s = time.perf_counter() - t0
        for i, block in enumerate(w.blocks):
            changes = mpt_changes(block)
            with console.status(f"MPT: block {i + 1}/{len(w.blocks)}"):
                _, s = time_mpt_block(trie, changes)
            mpt_times.append(s)

    writes = statistics.median(b.writes for b in w.blocks)
    lt = statistics.median(sum(st) for st in steps)
    mpt = statistics.median(mpt_times) if mpt_times else None
    pct = 100 * lt * 1e3 / args.block_ms
    table = Table(
        title=f"pysei bench state: {w.records:,} records, blocks of {args.writes:,} writes ({args.mix}), "
        f"median of {len(w.blocks)} blocks"
    )
    for col in ("engine", "ms/block", "writes/s", "× MPT", f"% of {args.block_ms:g} ms"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for name, k in (("  encode write set", 0), ("  hash + fold", 1), ("  digest", 2)):
        m = statistics.median(st[k] for st in steps)
        table.add_row(f"[dim]{name}[/dim]", f"{m * 1e3:.2f}", "", "", f"{100 * m * 1e3 / args.block_ms:.2f}%")
    table.add_row("LtHash", f"{lt * 1e3:.1f}", f"{writes / lt:,.0f}", f"{mpt / lt:.0f}×" if mpt else "-", f"{pct:.1f}%")
    if mpt is not None:
        table.add_row(
            "MPT (py-trie)", f"{mpt * 1e3:.1f}", f"{writes / mpt:,.0f}", "1×", f"{100 * mpt * 1e3 / args.block_ms:.1f}%"
        )
    console.print(table)
    console.print(
        f"elements hashed per block: {statistics.median(elements):,.0f} (old and new values); "
        f"LtHash from scratch over {len(state_pairs):,} records: {scratch_s * 1e3:,.0f} ms "
        f"({len(state_pairs) / scratch_s:,.0f} records/s); incremental = from scratch: checked"
    )
    if mpt is not None:
        console.print(
            f"MPT build over {len(state_pairs):,} records: {mpt_build_s:.1f} s "
            f"({len(state_pairs) / mpt_build_s:,.0f} inserts/s); keccak backend: {keccak_backend()}"
        )
    verdicts = []
    if mpt is not None:
        verdicts.append(f"LtHash/MPT >= 50x: {'met' if mpt / lt >= 50 else 'NOT met'} ({mpt / lt:.0f}x)")
    verdicts.append(f"commitment < 5% of a {args.block_ms:g} ms block: {'met' if pct < 5 else 'NOT met'} ({pct:.1f}%)")
    console.print("targets: " + "; ".join(verdicts))

    further: list[dict[str, str]] = []
    if MEASUREMENTS:
        extra = Table(title="further state measurements")
        for col in ("measurement", "value", "note"):
            extra.add_column(col)
        for measure in MEASUREMENTS:
            for row in measure(args, w, console):
                extra.add_row(*row)
                further.append(dict(zip(("measurement", "value", "note"), row, strict=False)))
        console.print(extra)
    if args.json:
        figures = {
            "bench": "state",
            "records": w.records,
            "writes_per_block": writes,
            "blocks": len(w.blocks),
            "lthash_ms_per_block": lt * 1e3,
            "lthash_steps_ms": {
                name: statistics.median(st[k] for st in steps) * 1e3
                for k, name in enumerate(("encode", "hash_fold", "digest"))
            },
            "lthash_from_scratch_ms": scratch_s * 1e3,
            "mpt_ms_per_block": None if mpt is None else mpt * 1e3,
            "mpt_build_s": mpt_build_s if mpt is not None else None,
            "percent_of_block": pct,
            "further": further,
        }
        print(orjson.dumps(figures).decode())
    return 0


# --- the node's store: native commitment, commit with and without fsync, lag, bytes per record ------------------


def _int(word: int | bytes) -> int:
    return word if isinstance(word, int) else int.from_bytes(word, "big")


def _allocs(w: Workload) -> list[Alloc]:
    """The initial state and each block as the store's allocation entries (account record + slot writes per
    touched address): the native commit then records exactly the block's changes, as after execution."""
    current = {a: (acct.balance, acct.nonce, w.codes.get(acct.code_hash, b"")) for a, acct in w.accounts.items()}
    slots: dict[bytes, list[tuple[int, int]]] = {}
    for (a, slot), v in w.storage.items():
        slots.setdefault(a, []).append((slot, v))
    out: list[Alloc] = [[(a, *current.get(a, (0, 0, b"")), slots.get(a, [])) for a in current.keys() | slots.keys()]]
    for b in w.blocks:
        touched: dict[bytes, list[tuple[int, int]]] = {}
        for a, _old, new in b.accounts:
            if new is not None:  # the store's allocations cannot delete an account; the "updates" mix has none
                nonce, balance, code_hash = new
                current[a] = (balance, nonce, w.codes.get(code_hash, b""))
                touched.setdefault(a, [])
        for change in b.storage:
            touched.setdefault(change[0], []).append((_int(change[1]), _int(change[3] or 0)))
        out.append([(a, *current.get(a, (0, 0, b"")), sl) for a, sl in touched.items()])
    return out


@register
def store_measurements(args: argparse.Namespace, w: Workload, console: Console) -> list[Row]:
    """What the node itself pays per block, through its LMDB store (``pysei.native.Store``):

    - the block commit (state + change set + history index) with and without fsync;
    - the native LtHash update that the commitment worker runs (``advance_commitment``);
    - the commitment's lag in blocks while blocks are committed back to back (the worker on its own thread);
    - bytes per record of each hot table."""
    allocs = _allocs(w)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pysei-bench-state-") as tmp:
        commit_ms: dict[bool, list[float]] = {}
        stores: dict[bool, ChainStore] = {}
        for sync in (True, False):
            store = stores[sync] = ChainStore(Path(tmp) / f"sync-{sync}", sync=sync)
            with console.status(f"store: initial state ({len(allocs[0]):,} accounts), fsync={sync}"):
                store.native.commit(0, alloc=allocs[0])
            times = []
            for n, alloc in enumerate(allocs[1:], start=1):
                with console.status(f"store: commit block {n}/{len(allocs) - 1}, fsync={sync}"):
                    t0 = time.perf_counter()
                    store.native.commit(n, alloc=alloc)
                    times.append(time.perf_counter() - t0)
            commit_ms[sync] = times
        store = stores[True]
        with console.status("native LtHash: the initial state"):
            store.native.advance_commitment(0)
        lt_times = []
        for n in range(1, len(allocs)):
            t0 = time.perf_counter()
            store.native.advance_commitment(n)
            lt_times.append(time.perf_counter() - t0)
        with console.status("checking the native commitment against one from scratch"):
            ok = recompute_commitment(store.native.state_records()) == store.commitment(len(allocs) - 1)
        if not ok:
            raise RuntimeError("the native incremental commitment differs from the one computed from scratch")

        # Lag: a fresh store, its worker running, blocks committed back to back with fsync (the node's pace
        # when execution is the bottleneck); the lag after each commit is head − last block committed to.
        lag_store = ChainStore(Path(tmp) / "lag", sync=True)
        lag_store.native.commit(0, alloc=allocs[0])
        worker = CommitmentWorker(lag_store)
        worker.wait_for(0)
        lags = []
        t_start = time.perf_counter()
        for n, alloc in enumerate(allocs[1:], start=1):
            lag_store.native.commit(n, alloc=alloc)
            worker.notify(n)
            lags.append(n - worker.done)
        produced_s = time.perf_counter() - t_start
        worker.wait_for(len(allocs) - 1)
        caught_up_s = time.perf_counter() - t_start
        worker.close()

        writes = statistics.median(b.writes for b in w.blocks)
        per = {name: (entries, size) for name, entries, size in store.native.table_stats()}
        for sync in (True, False):
            m = statistics.median(commit_ms[sync])
            rows.append(
                (
                    f"block commit, fsync {'on' if sync else 'off'}",
                    f"{m * 1e3:.1f} ms",
                    f"{writes:,.0f} writes: state, change set and history index in one LMDB transaction",
                )
            )
        lt = statistics.median(lt_times)
        rows.append(
            (
                "native LtHash update (the node's worker)",
                f"{lt * 1e3:.1f} ms",
                f"{writes / lt:,.0f} writes/s, {100 * lt * 1e3 / args.block_ms:.1f}% of a {args.block_ms:g} ms block;"
                " incremental = from scratch: checked",
            )
        )
        rows.append(
            (
                "commitment lag under load",
                f"max {max(lags)}, mean {statistics.mean(lags):.1f} blocks",
                f"{len(lags)} blocks committed back to back in {produced_s * 1e3:.0f} ms; worker done "
                f"{(caught_up_s - produced_s) * 1e3:.0f} ms later (headers need lag <= k = 2)",
            )
        )
        for table, what in (("account", "account"), ("storage", "slot"), ("history", "history entry")):
            entries, size = per.get(table, (0, 0))
            if entries:
                rows.append(
                    (f"hot bytes per {what}", f"{size / entries:.0f} B", f"LMDB table {table}: {entries:,} entries")
                )
        entries, size = per.get("changes", (0, 0))
        if entries:
            rows.append(("hot change set per block", f"{size / entries / 1024:.0f} KiB", f"{entries} blocks"))
        # The cold tier stores each block's change set as a zstd frame (state/cold.py, level 3).
        blobs = [store.native.change_set(n) or b"" for n in range(1, len(allocs))]
        records = sum(len(store.native.decode_change_set(b)) for b in blobs)
        cold = sum(len(zstandard.ZstdCompressor(level=COLD_LEVEL).compress(b)) for b in blobs)
        hot = sum(len(b) for b in blobs)
        rows.append(
            (
                "cold bytes per changed record",
                f"{cold / records:.0f} B",
                f"block change sets as zstd frames: {hot / records:.0f} B raw, {hot / cold:.1f}× smaller; "
                "account records are random, so they compress little",
            )
        )
    return rows


if __name__ == "__main__":  # pragma: no cover - `python -m pysei.bench.state_bench`
    import sys

    parser = argparse.ArgumentParser(prog="pysei bench")
    add_parser(parser.add_subparsers(dest="bench", required=True))
    ns = parser.parse_args(["state", *sys.argv[1:]])
    raise SystemExit(ns.func(ns))
