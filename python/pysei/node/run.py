"""Running a devnet node: start the stages and the RPC server, print the banner, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import signal

from rich.console import Console

from pysei.chain.constants import WEI_PER_SEI
from pysei.node.config import NodeConfig
from pysei.node.metrics import NodeMetrics
from pysei.node.node import Node
from pysei.rpc.methods import EthApi
from pysei.rpc.server import RpcServer


def banner(console: Console, node: Node, port: int) -> None:
    cfg = node.config
    console.print("[bold]pysei devnet[/bold]\n")
    console.print("Available Accounts\n==================")
    for i, a in enumerate(node.accounts):
        console.print(f"({i}) {a.checksum_address} ({cfg.dev_balance // WEI_PER_SEI} SEI)")
    console.print("\nPrivate Keys\n==================")
    for i, a in enumerate(node.accounts):
        console.print(f"({i}) 0x{a.private_key.hex()}")
    console.print(f"\nMnemonic:          {cfg.mnemonic}")
    console.print("Derivation path:   m/44'/60'/0'/0/")
    console.print(f"\nChain ID:          {cfg.chain_id}")
    mining = "automine" if cfg.automine else f"every {cfg.block_time * 1000:.0f} ms while transactions are pending"
    console.print(f"Block gas limit:   {cfg.gas_limit:,}\nBlocks:            {mining}")
    console.print(f"Data directory:    {'(ephemeral) ' if cfg.ephemeral else ''}{node.data_dir}")
    console.print(f"\nListening on {cfg.host}:{port} (HTTP and WebSocket)", highlight=False)


async def serve(config: NodeConfig, *, quiet: bool = False) -> int:
    """Runs the node until SIGINT/SIGTERM or until a stage fails; returns the process exit code."""
    node = Node(config)
    api = EthApi(node)
    server = RpcServer(api)
    metrics_runner = None
    if config.metrics_port is not None:
        metrics = NodeMetrics(node)
        metrics.known(set(api.methods))
        server.observe = metrics.observe_rpc
        metrics_runner, metrics_port = await metrics.serve(config.host, config.metrics_port)
        print(f"metrics {config.host}:{metrics_port}", flush=True)
    await node.start()
    port = await server.start(config.host, config.port)
    if not quiet:
        banner(Console(), node, port)
    else:
        print(f"listening {config.host}:{port}", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stopped.set)
    await node.stopped.wait()
    failure = node.failure
    await server.stop()
    if metrics_runner is not None:
        await metrics_runner.cleanup()
    await node.stop()
    if failure is not None:
        logging.getLogger("pysei").critical("node stopped after a failure: %r", failure)
        return 1
    return 0


def run(config: NodeConfig, *, quiet: bool = False) -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # uvloop is a speed-up only
        pass
    return asyncio.run(serve(config, quiet=quiet))
