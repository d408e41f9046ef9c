"""The nodes ``pysei bench e2e`` compares: how each is started on a free loopback port, watched and stopped.

Every target runs with the same chain id (713714), the same 20 dev accounts of the standard test mnemonic with
10,000 ETH/SEI each, and its own per-transaction logging off (pysei ``--quiet``, anvil ``--quiet``, Hardhat
``hardhat_setLoggingEnabled false``) unless ``logs=True``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID

REPO = Path(__file__).resolve().parents[3]
CLIENTS = REPO / "tests" / "clients"


@dataclass(frozen=True, slots=True)
class Mode:
    key: str
    family: str
    label: str
    mining: str
    """``interval`` (with ``block_time``) or ``automine``."""
    block_time: float | None = None


MODES: dict[str, Mode] = {
    m.key: m
    for m in (
        Mode("pysei-400ms", "pysei", "pysei, 400 ms blocks", "interval", 0.4),
        Mode("pysei-automine", "pysei", "pysei, automine", "automine"),
        Mode("anvil-automine", "anvil", "anvil, automine", "automine"),
        Mode("anvil-bt1", "anvil", "anvil, --block-time 1", "interval", 1.0),
        Mode("hardhat-automine", "hardhat", "Hardhat 2, automine", "automine"),
    )
}
FAMILIES = {
    "pysei": ["pysei-400ms", "pysei-automine"],
    "anvil": ["anvil-automine", "anvil-bt1"],
    "hardhat": ["hardhat-automine"],
}
REFERENCE = "pysei-400ms"
"""The mode the ratios are taken against: pysei's default devnet."""


def parse_targets(spec: str) -> list[Mode]:
    """``pysei,anvil,hardhat`` → every mode of each; a mode key (``pysei-automine``) → that mode only."""
    out: list[Mode] = []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        keys = FAMILIES.get(name) or ([name] if name in MODES else None)
        if keys is None:
            raise ValueError(f"unknown target {name!r}: use {', '.join([*FAMILIES, *MODES])}")
        out += [MODES[k] for k in keys if MODES[k] not in out]
    if not out:
        raise ValueError("no targets")
    return out


def anvil_binary(override: str | None = None) -> str:
    override = override or os.environ.get("ANVIL_BIN")
    if override:
        return override
    js = CLIENTS / "js" / "node_modules"
    for c in (
        js / "@foundry-rs/anvil-linux-amd64/bin/anvil",
        js / "@foundry-rs/anvil-linux-arm64/bin/anvil",
        js / ".bin/anvil",
    ):
        if c.exists() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("anvil")
    if found:
        return found
    raise FileNotFoundError(f"anvil not found under {js}: run `bash tests/clients/install.sh` (or set ANVIL_BIN)")


def hardhat_dir(override: str | None = None) -> Path:
    d = Path(override) if override else CLIENTS / "hardhat2"
    if not (d / "node_modules" / ".bin" / "hardhat").exists() or not (d / "hardhat.bench-node.config.js").exists():
        raise FileNotFoundError(f"Hardhat 2 not installed in {d}: run `bash tests/clients/install.sh`")
    return d


def tool_versions(modes: list[Mode], anvil_bin: str | None = None, hh_dir: str | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    families = {m.family for m in modes}
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10)
        out["pysei"] = sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        out["pysei"] = "unknown"
    if "anvil" in families:
        try:
            v = subprocess.run([anvil_binary(anvil_bin), "--version"], capture_output=True, text=True, timeout=10)
            out["anvil"] = v.stdout.splitlines()[0].removeprefix("anvil Version: ").strip()
        except (OSError, IndexError, subprocess.SubprocessError):
            out["anvil"] = "unknown"
    if "hardhat" in families:
        try:
            pkg = hardhat_dir(hh_dir) / "node_modules" / "hardhat" / "package.json"
            out["hardhat"] = json.loads(pkg.read_text())["version"]
        except (OSError, KeyError, ValueError):
            out["hardhat"] = "unknown"
    return out


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 5.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


class NodeProcess:
    """One node of one mode, started fresh (empty chain) on a free loopback port."""

    def __init__(
        self,
        mode: Mode,
        log_dir: Path,
        *,
        logs: bool = False,
        anvil_bin: str | None = None,
        hh_dir: str | None = None,
        pysei_args: tuple[str, ...] = (),
        anvil_args: tuple[str, ...] = (),
    ) -> None:
        self.mode = mode
        self.log_dir = log_dir
        self.logs = logs
        self.anvil_bin = anvil_bin
        self.hh_dir = hh_dir
        self.pysei_args = pysei_args
        self.anvil_args = anvil_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log_path = (
            log_dir / f"{mode.key}-{time.strftime('%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}.log"
        )

    def command(self, port: int) -> tuple[list[str], Path | None, dict[str, str]]:
        env = dict(os.environ)
        m = self.mode
        if m.family == "pysei":
            argv = [sys.executable, "-m", "pysei.cli", "node", "--ephemeral", "--port", str(port), "--quiet"]
            argv += ["--chain-id", str(DEVNET_CHAIN_ID)]
            argv += ["--automine"] if m.mining == "automine" else ["--block-time", str(m.block_time)]
            argv += list(self.pysei_args)
            if not self.logs:
                argv += ["--log-level", "WARNING"]
            return argv, None, env
        if m.family == "anvil":
            argv = [anvil_binary(self.anvil_bin), "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--chain-id", str(DEVNET_CHAIN_ID), "--accounts", "20", "--balance", "10000"]
            argv += ["--mnemonic", DEV_MNEMONIC]
            if m.mining == "interval":
                argv += ["--block-time", f"{m.block_time:g}"]
            if not self.logs:
                argv += ["--quiet"]
            return argv + list(self.anvil_args), None, env
        d = hardhat_dir(self.hh_dir)
        argv = [str(d / "node_modules/.bin/hardhat"), "--config", "hardhat.bench-node.config.js", "node"]
        argv += ["--hostname", "127.0.0.1", "--port", str(port)]
        env["PYSEI_BENCH_CHAIN_ID"] = str(DEVNET_CHAIN_ID)
        env["PYSEI_BENCH_INTERVAL"] = str(int((m.block_time or 0) * 1000)) if m.mining == "interval" else "0"
        env.setdefault("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
        return argv, d, env

    def start(self, timeout: float = 120.0, attempts: int = 3) -> str:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        last = ""
        for _ in range(attempts):
            port = free_port()
            argv, cwd, env = self.command(port)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env
                )
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if int(rpc_call(url, "eth_chainId", timeout=2), 16) == DEVNET_CHAIN_ID:
                        self.url = url
                        if self.mode.family == "hardhat" and not self.logs:
                            rpc_call(url, "hardhat_setLoggingEnabled", [False])
                        return url
                except (OSError, ValueError, RuntimeError, urllib.error.URLError):
                    pass
                time.sleep(0.1)
            last = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"{self.mode.label} did not start after {attempts} attempts:\n{last}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> int | None:
        """Stops the node and every process it started (by pid); returns its exit code."""
        if self.proc is None:
            return None
        proc = self.proc
        try:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.terminate()
        _, alive = psutil.wait_procs(tree, timeout=15)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=5)
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.proc = None
        return code


class TreeSampler:
    """Samples a process tree's resident memory (sum over the tree) every ``interval`` s; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.1, max_rss: int | None = None) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.max_rss = max_rss
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._procs: dict[int, psutil.Process] = {}

    def _tree(self) -> list[psutil.Process]:
        try:
            kids = self.root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for k in kids:
            self._procs.setdefault(k.pid, k)
        return [self.root, *kids]

    def rss(self) -> int:
        total = 0
        for p in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += p.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU of the tree's live processes (and their reaped children)."""
        total = 0.0
        for p in self._tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(self.interval)

    def start(self) -> TreeSampler:
        self.peak = self.rss()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def abort_reason(self) -> str | None:
        if self.max_rss is not None and self.peak > self.max_rss:
            return f"node memory above {self.max_rss / 2**20:,.0f} MiB ({self.peak / 2**20:,.0f} MiB): stopped"
        return None
