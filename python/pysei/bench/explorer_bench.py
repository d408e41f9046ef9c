"""``pysei bench explorer``: how long each explorer page takes to load on a large chain, in headless Chromium.

The chain is built quickly by the node itself: with ``--automine`` every JSON-RPC batch of pre-signed transactions
becomes one block, so N requests make N blocks (a BenchToken transfer and a value transfer in each, so token
pages, logs and addresses have history). ``--data-dir`` keeps the chain for the next run, which only tops it up.

A page's load time is what a user waits for: from the start of navigation (a fresh tab, so the HTML, scripts and
every JSON-RPC read are included) until the page's data is on screen (the router marks the body ready). The parts
that load after that — decoded calls and logs on the transaction page, the module sections of the address, network
and validator pages and the proposal's outcome (read or decoded through ethers' ABI coder, a 400 KB script) — are
timed separately: "complete" is when the last of them is in.

The chain also gets one governance proposal (submitted once, kept with the chain) for the proposal page.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from coincurve import PrivateKey
from rich.console import Console
from rich.table import Table

from pysei.bench.signer import Signer
from pysei.bench.workloads import MAX_FEE, SELECTORS, TIP, artifact, create_address
from pysei.chain import governance as gov
from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC, DEVNET_CHAIN_ID
from pysei.chain.genesis import placeholder_address

TOKEN_SUPPLY = 10**30
RECIPIENTS = 2_000
"""Distinct token recipients (the token's holders)."""
SENDERS = 19
"""Dev accounts 1..19 send the value transfers; account 0 deploys the token and sends every token transfer."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explorer", help="explorer page load times (headless Chromium) on a chain of --blocks blocks")
    p.add_argument("--blocks", type=int, default=100_000, help="chain length to measure on (built if shorter)")
    p.add_argument("--data-dir", type=Path, default=None, help="keep the chain here and reuse it (default: temporary)")
    p.add_argument("--loads", type=int, default=5, help="loads of each page; min, median and max are reported")
    p.add_argument("--chromium", default=shutil.which("chromium"), help="Chromium executable (Debian's chromium)")
    p.set_defaults(func=main)


def _start_node(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    argv = [sys.executable, "-m", "pysei.cli", "node", "--port", "0", "--quiet", "--automine", "--no-fsync"]
    argv += ["--data-dir", str(data_dir), "--exec-threads", "1", "--log-level", "WARNING"]
    # stderr to a file, not a pipe nobody drains: its tail says why a node did not start (e.g. a data dir made
    # with another genesis).
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("listening"):
            proc.kill()
            proc.wait()
            log.seek(0)
            raise RuntimeError(f"the node did not start: {log.read().decode(errors='replace')[-2000:].strip()}")
    return proc, f"http://{line.split()[1]}"


async def _rpc(session: aiohttp.ClientSession, url: str, method: str, *params: Any) -> Any:
    async with session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}) as r:
        answer = await r.json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


async def build_chain(url: str, blocks: int, console: Console) -> None:
    """Tops the chain up to ``blocks`` blocks, one automined batch (one block) per request."""
    signers = [Signer(PrivateKey(bytes(a.private_key)), a.address) for a in dev_accounts(DEV_MNEMONIC, 20)]
    owner, senders = signers[0], signers[1 : 1 + SENDERS]
    rng = random.Random(7)
    recipients = [rng.randbytes(20) for _ in range(RECIPIENTS)]
    async with aiohttp.ClientSession() as session:
        head = int(await _rpc(session, url, "eth_blockNumber"), 16)
        if head >= blocks:
            return
        nonces = [int(await _rpc(session, url, "eth_getTransactionCount", "0x" + s.address.hex()), 16) for s in signers]
        token = create_address(owner.address, 0)

        def sign(i: int, to: bytes | None, data: bytes = b"", value: int = 0, gas: int = 60_000) -> str:
            raw = signers[i].sign_1559(
                chain_id=DEVNET_CHAIN_ID,
                nonce=nonces[i],
                to=to,
                value=value,
                data=data,
                gas=gas,
                max_fee=MAX_FEE,
                tip=TIP,
            )
            nonces[i] += 1
            return "0x" + raw.hex()

        if nonces[0] == 0:
            code = bytes.fromhex(artifact("BenchToken")["bytecode"].removeprefix("0x")) + TOKEN_SUPPLY.to_bytes(
                32, "big"
            )
            await _rpc(session, url, "eth_sendRawTransaction", sign(0, None, code, gas=1_000_000))
            head += 1
        start, t0 = head, time.monotonic()
        with console.status("") as status:
            while head < blocks:
                to = recipients[rng.randrange(RECIPIENTS)]
                data = (
                    SELECTORS["transfer(address,uint256)"]
                    + to.rjust(32, b"\0")
                    + rng.randrange(1, 10**20).to_bytes(32, "big")
                )
                sender = 1 + head % len(senders)
                batch = [sign(0, token, data), sign(sender, recipients[head % RECIPIENTS], value=10**12, gas=21_000)]
                body = [
                    {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [r]}
                    for i, r in enumerate(batch)
                ]
                async with session.post(url, json=body) as r:
                    answers = await r.json()
                failed = [a["error"] for a in answers if "error" in a]
                if failed:
                    raise RuntimeError(f"building the chain failed at block {head + 1}: {failed}")
                head += 1
                if head % 500 == 0:
                    rate = (head - start) / (time.monotonic() - t0)
                    status.update(f"building the chain: block {head:,} of {blocks:,} ({rate:,.0f} blocks/s)")
        console.print(f"built blocks {start + 1:,}..{head:,} in {time.monotonic() - t0:.0f} s")


PROPOSER = 19
"""The dev account that submits the benchmark's proposal (it sends value transfers too: its nonce is read afresh)."""


async def _proposal(session: aiohttp.ClientSession, url: str) -> int:
    """The id of a governance proposal on the chain; the first run submits one (one more automined block)."""
    proposals = await _rpc(session, url, "sei_proposals")
    if proposals:
        return int(proposals[0]["id"])
    account = dev_accounts(DEV_MNEMONIC, PROPOSER + 1)[PROPOSER]
    signer = Signer(PrivateKey(bytes(account.private_key)), account.address)
    nonce = int(await _rpc(session, url, "eth_getTransactionCount", "0x" + account.address.hex()), 16)
    body = {"title": "Benchmark proposal", "description": "Submitted by pysei bench explorer."}
    raw = signer.sign_1559(
        chain_id=DEVNET_CHAIN_ID,
        nonce=nonce,
        to=gov.GOVERNANCE,
        value=3_500 * 10**18,
        data=gov.submit_data(body),
        gas=1_000_000,
        max_fee=MAX_FEE,
        tip=TIP,
    )
    await _rpc(session, url, "eth_sendRawTransaction", "0x" + raw.hex())
    return int((await _rpc(session, url, "sei_proposals"))[0]["id"])


async def _pages(url: str) -> dict[str, str]:
    """The pages to time, on data deep in the chain (not only at its head)."""
    async with aiohttp.ClientSession() as session:
        proposal = await _proposal(session, url)
        head = int(await _rpc(session, url, "eth_blockNumber"), 16)
        middle = await _rpc(session, url, "eth_getBlockByNumber", hex(max(1, head // 2)), False)
        tx = await _rpc(session, url, "eth_getTransactionByHash", middle["transactions"][0])
    owner_address = dev_accounts(DEV_MNEMONIC, 1)[0].address
    owner, token = "0x" + owner_address.hex(), "0x" + create_address(owner_address, 0).hex()
    return {
        "home": "/",
        "block (head)": f"/block/{head}",
        f"block {head // 2:,}": f"/block/{head // 2}",
        "transaction": f"/tx/{tx['hash']}",
        "address (token sender)": f"/address/{owner}",
        "address (holder)": f"/address/{tx['to']}",
        "token": f"/token/{token}",
        "network": "/network",
        "validator": f"/validator/{placeholder_address('validator/0')}",  # the default genesis's (by operator)
        "proposal": f"/proposal/{proposal}",
        "search miss (no JSON-RPC: the page shell)": "/search/nothing",
    }


_COMPLETE_MS = (
    "Math.max(Number(document.body.dataset.readyMs),"
    " ...[...document.querySelectorAll('[data-done-ms]')].map((e) => Number(e.dataset.doneMs)))"
)
"""When the last part that loads after the page was in (the page's ready time if it has none)."""

_RPC_MS = (
    "performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'fetch')"
    ".reduce((sum, e) => sum + e.duration, 0)"
)
"""Time spent waiting for JSON-RPC answers (the page's fetches; they are mostly sequential)."""


def measure(url: str, pages: dict[str, str], loads: int, chromium: str) -> dict[str, list[tuple[float, float, float]]]:
    """(load ms, complete ms, JSON-RPC ms) of each load of each page."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in pages}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for _ in range(loads):
            for name, route in pages.items():
                page = context.new_page()
                page.goto(f"{url}/explorer/#{route}")
                page.wait_for_selector(f"body[data-ready='1'][data-route='#{route}']", timeout=60_000)
                if page.locator("main .problem").count():
                    raise RuntimeError(f"{name}: {page.inner_text('main .problem')}")
                loaded = float(page.get_attribute("body", "data-ready-ms") or "nan")
                page.wait_for_selector("[data-deferred='loading']", state="detached", timeout=60_000)
                if page.locator("main .problem").count():
                    raise RuntimeError(f"{name}: {page.inner_text('main .problem')}")
                times[name].append((loaded, page.evaluate(_COMPLETE_MS), page.evaluate(_RPC_MS)))
                page.close()
        browser.close()
    return times


def main(args: argparse.Namespace) -> int:
    console = Console()
    if not args.chromium:
        console.print("chromium not found: install it with `make browser-deps` or pass --chromium")
        return 1
    tmp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="pysei-explorer-bench-")
    data_dir = args.data_dir or Path(tmp.name)  # type: ignore[union-attr]
    proc, url = _start_node(data_dir)
    try:
        asyncio.run(build_chain(url, args.blocks, console))
        pages = asyncio.run(_pages(url))
        times = measure(url, pages, args.loads, args.chromium)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if tmp is not None:
            tmp.cleanup()
    table = Table(title=f"explorer page load on a chain of {args.blocks:,} blocks ({args.loads} loads each, ms)")
    for col in ("page", "min", "median", "max", "complete (median)", "JSON-RPC (median)"):
        table.add_column(col, justify="left" if col == "page" else "right")
    for name, runs in times.items():
        ms = [t for t, _, _ in runs]
        complete = statistics.median(c for _, c, _ in runs)
        rpc = statistics.median(r for _, _, r in runs)
        table.add_row(
            name, f"{min(ms):.0f}", f"{statistics.median(ms):.0f}", f"{max(ms):.0f}", f"{complete:.0f}", f"{rpc:.0f}"
        )
    console.print(table)
    console.print(
        "from navigation start to the page's data on screen (complete: to its last deferred part), in a fresh tab"
        " each time (headless Chromium)"
    )
    return 0
