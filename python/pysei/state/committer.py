"""The commitment worker: keeps the LtHash state commitment trailing execution, off the critical path.

Execution commits each block with its change set (every record's old and new value) and only then tells the
worker; a thread applies the change sets in order in the native kernel (BLAKE3 on Rust threads, GIL released) and
records the digest of each block. The header of block ``n + delay`` carries the commitment of block ``n``, so
execution waits for the worker only if it falls ``delay`` blocks behind.

Crash safety comes from the store: the accumulator and the digests it produced are written in one LMDB
transaction, and every committed block's change set is durable with the block, so after a kill the worker resumes
from the last block it recorded and computes the same digests again.
"""

from __future__ import annotations

import logging

from pysei.state.store import ChainStore
from pysei.state.trailing import TrailingWorker

log = logging.getLogger("pysei.commitment")


class CommitmentError(RuntimeError):
    """The worker failed: the node must stop, since no later header can be built."""


class CommitmentWorker(TrailingWorker):
    """A thread that advances the commitment to the newest committed block it was told about."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store
        self._error: BaseException | None = None
        state = store.native.commitment_state()
        super().__init__("commitment", -1 if state is None else state[0])

    def wait_for(self, number: int, timeout: float | None = None) -> bytes:
        """The commitment after block ``number``, waiting for the worker to reach it.

        Raises CommitmentError if the worker failed or TimeoutError if it did not get there in time."""
        self.notify(number)
        with self._cond:
            if not self._cond.wait_for(lambda: self._done >= number or self._error is not None, timeout):
                raise TimeoutError(f"commitment of block {number} not ready after {timeout} s")
            if self._error is not None:
                raise CommitmentError(f"commitment worker failed: {self._error!r}") from self._error
        digest = self._store.commitment(number)
        assert digest is not None, f"commitment {number} recorded but not found"
        return digest

    def rewind(self, number: int) -> None:
        """The store rolled back to block ``number`` (its accumulator with it); call only while the worker is idle,
        which it is once it has caught up with every committed block and no block is being committed."""
        with self._cond:
            self._done = min(self._done, number)
            self._target = min(self._target, number)

    def _advance(self, target: int) -> None:
        self._store.native.advance_commitment(target)

    def _failed(self, error: BaseException, target: int) -> bool:
        # A Rust panic too: surface it to every waiter, then stop (no later header can be built).
        log.critical("commitment worker failed at block %d: %r", self._done + 1, error)
        with self._cond:
            self._error = error
            self._cond.notify_all()
        return False
