"""The node's data directory: one process at a time (an exclusive lock), the chain's genesis parameters kept with
it (a restart with other settings would silently change the chain), and ``--reset``.

Layout: ``state/`` (LMDB), ``cold/`` (segments), ``LOCK`` (the lock file, holding the owner's pid).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from pathlib import Path

import msgspec

from pysei.state.store import META, ChainStore

LOCK_FILE = "LOCK"
CHAIN_DIRS = ("state", "cold")
"""What ``--reset`` deletes: the chain, never anything else a user may have put in the directory."""
_GENESIS_KEY = b"genesis"


class StartupError(Exception):
    """The node cannot start with these settings; the message says what happened and what to do."""


class GenesisParams(msgspec.Struct, frozen=True):
    """What a chain was started with and a restart must not change (``None``: not known, e.g. an imported
    snapshot carries no genesis allocation)."""

    chain_id: int
    commitment_delay: int | None = None
    gas_limit: int | None = None
    alloc_root: bytes | None = None
    """LtHash commitment of the genesis allocation: the dev accounts' addresses and balances."""


_decode_genesis = msgspec.msgpack.Decoder(GenesisParams).decode


class DataDirLock:
    """An exclusive ``flock`` on ``<dir>/LOCK``, released by the kernel when the process exits, however it exits
    (a stale pid in the file never blocks a start). The file holds the owner's pid for the refusal message."""

    def __init__(self, data_dir: Path) -> None:
        if data_dir.exists() and not data_dir.is_dir():
            raise StartupError(f"data directory {data_dir} is a file: choose a directory with --data-dir")
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StartupError(f"cannot use data directory {data_dir}: {e.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StartupError(f"cannot lock data directory {data_dir}: {e.strerror}") from None
            raise StartupError(
                f"data directory {data_dir} is in use by another pysei process (pid {holder}): stop it, "
                "or choose another --data-dir"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


def reset(data_dir: Path) -> None:
    """Deletes the chain in ``data_dir`` (the caller holds the lock)."""
    for name in CHAIN_DIRS:
        shutil.rmtree(data_dir / name, ignore_errors=True)


def stored_genesis(store: ChainStore) -> GenesisParams | None:
    raw = store.native.get(META, _GENESIS_KEY)
    return None if raw is None else _decode_genesis(raw)


def record_genesis(store: ChainStore, params: GenesisParams) -> None:
    store.native.write_tables([(META, _GENESIS_KEY, msgspec.msgpack.encode(params))])


def check_genesis(stored: GenesisParams, wanted: GenesisParams, data_dir: Path) -> None:
    """Refuses a restart whose settings would change the chain ``data_dir`` holds."""
    flags = (("chain_id", "--chain-id"), ("commitment_delay", "--commitment-delay"), ("gas_limit", "--gas-limit"))
    for name, flag in flags:
        have, want = getattr(stored, name), getattr(wanted, name)
        if have is not None and have != want:
            raise StartupError(
                f"the chain in {data_dir} was started with {flag} {have}, not {want}: start with {flag} {have}, "
                "or add --reset to delete it and start a new chain"
            )
    if stored.alloc_root is not None and stored.alloc_root != wanted.alloc_root:
        raise StartupError(
            f"the chain in {data_dir} was started with another genesis allocation: other dev accounts (--mnemonic, "
            "--accounts), another --genesis file, or a pysei version whose default genesis differs; start with the "
            "same settings and version, or add --reset to delete it and start a new chain"
        )
