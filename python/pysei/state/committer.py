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
import threading

from pysei.state.store import ChainStore

log = logging.getLogger("pysei.commitment")


class CommitmentError(RuntimeError):
    """The worker failed: the node must stop, since no later header can be built."""


class CommitmentWorker:
    """A thread that advances the commitment to the newest committed block it was told about."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store
        state = store.native.commitment_state()
        self._done = -1 if state is None else state[0]
        self._target = self._done
        self._error: BaseException | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="commitment", daemon=True)
        self._thread.start()

    @property
    def done(self) -> int:
        """The last block whose commitment is recorded (-1: none yet)."""
        return self._done

    def notify(self, number: int) -> None:
        """Block ``number`` (and every block before it) is committed: advance to it."""
        with self._cond:
            if number > self._target:
                self._target = number
                self._cond.notify_all()

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

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._target > self._done)
                if self._closed:
                    return
                target = self._target
            try:
                self._store.native.advance_commitment(target)
            except BaseException as e:  # a Rust panic too: surface it to every waiter, then stop
                log.critical("commitment worker failed at block %d: %r", self._done + 1, e)
                with self._cond:
                    self._error = e
                    self._cond.notify_all()
                return
            with self._cond:
                self._done = target
                self._cond.notify_all()
