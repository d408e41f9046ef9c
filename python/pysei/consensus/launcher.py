"""Validator processes of a local network (one per ``v<i>`` directory beside the genesis file): start, kill,
restart, stop. Used by ``pysei localnet``, ``pysei bench consensus`` and the process tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pysei.consensus.genesis import GENESIS, Genesis


class ValidatorProcesses:
    """The validator processes of a genesis directory (``v<i>`` = validator i): start, kill, restart, stop.
    Used by ``pysei localnet``, ``pysei bench consensus`` and the process tests."""

    def __init__(
        self,
        data_dir: Path,
        *,
        fsync: bool = True,
        env: dict[int, dict[str, str]] | None = None,
        p2p_listen: dict[int, int] | None = None,
        args: dict[int, list[str]] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.genesis_path = data_dir / GENESIS
        self.genesis = Genesis.load(self.genesis_path)
        self.homes = [data_dir / f"v{i}" for i in range(self.genesis.committee.n)]
        self.fsync = fsync
        self.env = env or {}
        self.p2p_listen = p2p_listen or {}
        """validator → port it listens on instead of its genesis p2p port (behind a proxy)"""
        self.args = args or {}
        """validator → further `pysei validator` options (e.g. --metrics-port)"""
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def url(self, i: int) -> str:
        m = self.genesis.committee.members[i]
        return f"http://{m.host}:{m.rpc_port}"

    def start(self, i: int) -> None:
        cmd = [sys.executable, "-m", "pysei.cli", "validator", "--home", str(self.homes[i])]
        cmd += ["--genesis", str(self.genesis_path)] + ([] if self.fsync else ["--no-fsync"])
        if i in self.p2p_listen:
            cmd += ["--p2p-listen", str(self.p2p_listen[i])]
        cmd += self.args.get(i, [])
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env.get(i, {})}
        with open(self.homes[i] / "validator.log", "ab") as out:
            self.procs[i] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    def start_all(self) -> None:
        for i in range(len(self.homes)):
            self.start(i)

    def wait_ready(self, i: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"validator {i} exited: {self.log_tail(i)}")
            try:
                with socket.create_connection(("127.0.0.1", self.genesis.committee.members[i].rpc_port), 0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"validator {i} did not start: {self.log_tail(i)}")

    def log_tail(self, i: int, chars: int = 3000) -> str:
        return (self.homes[i] / "validator.log").read_text(errors="replace")[-chars:]

    def kill(self, i: int, sig: int = signal.SIGKILL) -> int:
        proc = self.procs[i]
        if proc.poll() is None:
            proc.send_signal(sig)
        return self._wait(i)

    def _wait(self, i: int) -> int:
        proc = self.procs[i]
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def stop_all(self) -> dict[int, int]:
        """SIGTERM to every validator (once: a second one would land while its loop is closing), then waits."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        return {i: self._wait(i) for i in self.procs}
