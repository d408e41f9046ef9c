"""Background threads that keep derived data trailing the chain: the state commitment and the storage tiers.

Both follow committed blocks the same way — told the newest committed block, they catch up to it on a daemon
thread, one step at a time, never concurrently with themselves and never on the event loop — and differ only in
the step and in what a failed step means, which subclasses define.
"""

from __future__ import annotations

import threading


class TrailingWorker:
    """A thread that brings some derived data up to the newest committed block it was told about."""

    def __init__(self, name: str, done: int) -> None:
        self._done = done
        self._target = done
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def done(self) -> int:
        """The last block the worker has caught up with (-1: none yet)."""
        return self._done

    def notify(self, number: int) -> None:
        """Block ``number`` (and every block before it) is committed: advance to it."""
        with self._cond:
            if number > self._target:
                self._target = number
                self._cond.notify_all()

    def close(self) -> None:
        """Stops after the step in progress (a step is never cut short by a clean stop)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _advance(self, target: int) -> None:
        """Brings the derived data up to block ``target``."""
        raise NotImplementedError

    def _failed(self, error: BaseException, target: int) -> bool:
        """Handles a failed step: True goes on as if it had succeeded, False stops the thread."""
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._target > self._done)
                if self._closed:
                    return
                target = self._target
            try:
                self._advance(target)
            except BaseException as e:
                if not self._failed(e, target):
                    return
            with self._cond:
                self._done = target
                self._cond.notify_all()
