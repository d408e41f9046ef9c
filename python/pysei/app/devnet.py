"""The devnet composition root: one process with the node (ordering, execution, store) and its JSON-RPC server;
prints the banner and stops cleanly on a signal."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import time
from collections.abc import Awaitable
from decimal import Decimal

from aiohttp import web
from prometheus_client.registry import Collector
from rich.console import Console

from pysei.chain.constants import WEI_PER_SEI
from pysei.execution.simulator import Simulator
from pysei.explorer.site import PREFIX, mount_explorer
from pysei.node.config import NodeConfig
from pysei.node.datadir import StartupError
from pysei.node.metrics import NodeMetrics
from pysei.node.node import Node
from pysei.rpc.api import RpcApi, Services, build_api
from pysei.rpc.interfaces import ConsensusView
from pysei.rpc.server import RpcServer

log = logging.getLogger("pysei")


def banner(console: Console, node: Node, port: int) -> None:
    cfg = node.config
    console.print("[bold]pysei devnet[/bold]\n")
    console.print("Available Accounts\n==================")
    balances = node.store.nonces_and_balances([a.address for a in node.accounts])
    for i, (a, (_, balance)) in enumerate(zip(node.accounts, balances, strict=True)):
        # The balance now, not the genesis one: a resumed chain's accounts have spent.
        console.print(f"({i}) {a.checksum_address} ({Decimal(balance) / WEI_PER_SEI:f} SEI)")
    console.print("\nPrivate Keys\n==================")
    for i, a in enumerate(node.accounts):
        console.print(f"({i}) 0x{a.private_key.hex()}")
    console.print(f"\nMnemonic:          {cfg.mnemonic}")
    console.print("Derivation path:   m/44'/60'/0'/0/")
    console.print(f"\nChain ID:          {cfg.chain_id}")
    mining = "automine" if cfg.automine else f"every {cfg.block_time * 1000:.0f} ms while transactions are pending"
    console.print(f"Block gas limit:   {cfg.gas_limit:,}\nBlocks:            {mining}")
    console.print(f"Data directory:    {'(ephemeral) ' if cfg.ephemeral else ''}{node.data_dir}", highlight=False)
    if node.resumed_at is None:
        console.print("Chain:             new (genesis written now)")
    else:
        console.print(
            f"Chain:             resumed at block {node.resumed_at:,} (--reset deletes it and starts a new chain)"
        )
    console.print(f"\nListening on {cfg.host}:{port} (HTTP and WebSocket)", highlight=False)
    console.print(f"Explorer:          http://{cfg.host}:{port}{PREFIX}", highlight=False)


def rpc_api(node: Node, consensus: ConsensusView | None = None) -> RpcApi:
    """The JSON-RPC namespaces over this node's implementations of the RPC's interfaces (and, on a validator,
    its consensus engine's)."""
    simulator = Simulator(node.store, node.params.chain_id)
    return build_api(
        Services(
            chain=node.store,
            head=node.executor,
            params=node.params,
            ingest=node.dev,
            simulator=simulator,
            submitter=node,
            pool=node.mempool,
            events=node,
            stats=node,
            accounts=node.accounts,
            consensus=consensus,
            dev=node.dev,
            tracer=simulator,
            max_trace_bytes=node.config.max_trace_bytes,
            index=node.store,
        )
    )


def stop_on_signals(node: Node) -> None:
    """SIGINT/SIGTERM stop the node cleanly. Installed before the listening address is printed: whoever reads
    it may signal at once, and must get a clean stop."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stopped.set)


async def wait_for_stop(node: Node) -> BaseException | None:
    """Waits for a signal (see ``stop_on_signals``) or a failed stage; returns the failure, if any."""
    await node.stopped.wait()
    return node.failure


STOP_STEP_S = 10.0
"""The longest one shutdown step (the RPC server, the metrics server, consensus) may take before the node goes on
stopping without it."""


async def stop_step(name: str, step: Awaitable[None], limit: float = STOP_STEP_S) -> None:
    """Awaits one shutdown step, bounded by ``limit``, and logs how long it took: a stuck step (a client request
    that never finishes, a peer that never answers) must not keep a stopping node alive. Only for steps that lose
    nothing when cut short; the store's close (``Node.stop``) is never bounded."""
    started = time.monotonic()
    try:
        await asyncio.wait_for(step, limit)
    except TimeoutError:
        log.error("stopping %s took over %.0f s: going on without it", name, limit)
    else:
        log.info("stopped %s in %.2f s", name, time.monotonic() - started)


async def serve_metrics(
    node: Node, api: RpcApi, server: RpcServer, host: str, port: int | None, *collectors: Collector
) -> web.AppRunner | None:
    """Serves the node's Prometheus metrics (and ``collectors``') on ``host:port`` when a port is given, counting
    ``server``'s calls; prints the bound address. Returns the runner to clean up, or None."""
    if port is None:
        return None
    metrics = NodeMetrics(node)
    for collector in collectors:
        metrics.registry.register(collector)
    metrics.known(set(api.methods))
    server.observe = metrics.observe_rpc
    runner, bound = await metrics.serve(host, port)
    print(f"metrics {host}:{bound}", flush=True)
    return runner


async def serve(config: NodeConfig, *, quiet: bool = False) -> int:
    """Runs the node until SIGINT/SIGTERM or until a stage fails; returns the process exit code."""
    node = Node(config)
    api = rpc_api(node)
    server = RpcServer(api, cors_origins=config.cors_origins)
    mount_explorer(server.app, rpc_url="/", ws_url="/")  # the explorer's pages call this same endpoint
    metrics_runner = await serve_metrics(node, api, server, config.host, config.metrics_port)
    await node.start()
    try:
        port = await server.start(config.host, config.port)
    except OSError as e:
        await node.stop()
        # asyncio wraps the bind error's text; the errno says it plainly (gaierror's are negative: name lookups).
        reason = os.strerror(e.errno).lower() if e.errno and e.errno > 0 else str(e)
        hint = (
            "another node (or anvil) may be running: choose another --port"
            if e.errno == errno.EADDRINUSE
            else ("choose a local address with --host")
        )
        raise StartupError(f"cannot listen on {config.host}:{config.port}: {reason}; {hint}") from None
    stop_on_signals(node)
    if not quiet:
        banner(Console(soft_wrap=True), node, port)
    else:
        print(f"listening {config.host}:{port}", flush=True)
    failure = await wait_for_stop(node)
    await stop_step("the RPC server", server.stop())
    if metrics_runner is not None:
        await stop_step("the metrics server", metrics_runner.cleanup())
    await node.stop()
    if failure is not None:
        log.critical("node stopped after a failure: %r", failure)
        return 1
    return 0


def run(config: NodeConfig, *, quiet: bool = False) -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # uvloop is a speed-up only
        pass
    return asyncio.run(serve(config, quiet=quiet))
