"""``pysei db stats``: what each storage tier holds and how far history and the commitment have come.

Safe on a running node's data directory: LMDB readers never block the writer, and segments are immutable.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from pysei.state.store import ChainStore
from pysei.state.tiering import tier_sizes


def _mib(n: int) -> str:
    return f"{n / 2**20:,.2f} MiB"


def print_stats(data_dir: Path, console: Console | None = None) -> int:
    """Prints the tables; returns the exit code (1 when ``data_dir`` holds no store, which it must not create)."""
    console = console or Console()
    if not (data_dir / "state" / "data.mdb").exists():
        console.print(f"error: no pysei store in {data_dir}")
        return 1
    store = ChainStore(data_dir / "state")
    sizes = tier_sizes(store)
    head = store.head()
    commitment = store.native.commitment_state()
    console.print(f"[bold]{data_dir}[/bold]")
    console.print(f"head block:        {'none' if head is None else head}")
    console.print(f"history floor:     {store.history_floor()} (state is readable from this block on)")
    console.print(f"commitment:        through block {'none' if commitment is None else commitment[0]}")

    hot = Table(title=f"hot tier: LMDB {store.path / 'data.mdb'}, file {_mib(sizes.hot_file)}")
    hot.add_column("table")
    hot.add_column("entries", justify="right")
    hot.add_column("bytes", justify="right")
    for name, entries, size in sizes.hot_tables:
        hot.add_row(name, f"{entries:,}", f"{size:,}")
    hot.add_row("[bold]total[/bold]", "", f"[bold]{sizes.hot_bytes:,}[/bold] ({_mib(sizes.hot_bytes)})")
    console.print(hot)

    cold = Table(title=f"cold tier: zstd segments in {store.cold.dir}")
    for column in ("segments", "blocks", "compressed", "uncompressed", "ratio"):
        cold.add_column(column, justify="right")
    c = sizes.cold
    if c is None:
        cold.add_row("0", "0", "0", "0", "-")
    else:
        cold.add_row(
            f"{c.segments:,}",
            f"{c.blocks:,} ({c.first}..{c.through})",
            f"{c.compressed:,}",
            f"{c.raw:,}",
            f"{c.raw / c.compressed:.2f}x" if c.compressed else "-",
        )
    console.print(cold)
    return 0
