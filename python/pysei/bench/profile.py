"""Sampling profiles of a running pysei node with py-spy, and their summary (where the node's time goes).

``pysei bench e2e --profile`` records each pysei run's timed phase with ``py-spy record --nonblocking --threads
--format raw`` (collapsed stacks: one ``frame;frame;… count`` line per distinct stack, readable by speedscope and
flamegraph.pl) and summarises it: the functions with the most samples on top of the stack (self) and anywhere in
it (inclusive), and the share of each thread (the asyncio loop vs the execution worker).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_LINE = re.compile(r":\d+\)$")


def py_spy_binary() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


class PySpy:
    """``py-spy record`` attached to ``pid`` until :meth:`stop`."""

    def __init__(self, pid: int, out: Path, rate: int = 250) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise FileNotFoundError("py-spy not found: pip install py-spy (it is in the bench extras)")
        self.out = out
        self.log = out.with_suffix(".log")
        argv = [binary, "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking", "--threads"]
        argv += ["--format", "raw", "--output", str(out)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop(self) -> Path | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.out if self.out.exists() else None


_PLUMBING = re.compile(
    r"<frozen runpy>|asyncio/(runners|base_events|events)\.py|threading\.py|concurrent/futures/thread\.py|"
    r"pysei/cli\.py|pysei/app/devnet\.py|aiohttp/web_protocol\.py|aiohttp/web_app\.py|^<module>"
)
"""Frames every sample of a thread passes through (entry points, event loop, thread pool): left out of the
inclusive ranking, where they would only say "100%"."""


def _frame_name(frame: str) -> str:
    """``execute (pysei/execution/executor.py:88)`` → ``execute (pysei/execution/executor.py)``."""
    frame = _LINE.sub(")", frame.strip())
    return re.sub(r"\(/.*?/(pysei|site-packages|lib/python3\.\d+)/", r"(\1/", frame)


def summarise_folded(path: Path, top: int = 10) -> dict[str, Any]:
    """Top functions by self and inclusive samples, and samples per thread, from py-spy's raw output."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = "?"
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        if frames and frames[0].startswith("thread "):
            thread, frames = frames[0], frames[1:]
            if frames and "(" not in frames[0]:  # py-spy adds the thread's name: MainThread, asyncio_0, …
                thread, frames = f"{thread} {frames[0]}", frames[1:]
        if not frames:
            continue
        total += n
        names = [_frame_name(f) for f in frames]
        self_c[names[-1]] += n
        for name in set(names):
            if not _PLUMBING.search(name):
                incl[name] += n
        threads[thread] += n

    def share(c: Counter[str]) -> list[dict[str, Any]]:
        return [{"function": k, "samples": v, "share": round(v / total, 4)} for k, v in c.most_common(top)]

    return {"samples": total, "self": share(self_c), "inclusive": share(incl), "threads": share(threads)}
