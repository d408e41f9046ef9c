"""The devnet composition root: one process with the node (ordering, execution, store) and its JSON-RPC server;
prints the banner and stops cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import signal

from rich.console import Console

from pysei.chain.constants import WEI_PER_SEI
from pysei.execution.simulator import Simulator
from pysei.explorer.site import PREFIX, mount_explorer
from pysei.node.config import NodeConfig
from pysei.node.metrics import NodeMetrics
from pysei.node.node import Node
from pysei.rpc.api import RpcApi, Services, build_api
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
    console.print(f"Explorer:          http://{cfg.host}:{port}{PREFIX}", highlight=False)


def rpc_api(node: Node) -> RpcApi:
    """The JSON-RPC namespaces over this node's implementations of the RPC's interfaces."""
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
            dev=node.dev,
            tracer=simulator,
            index=node.store,
        )
    )


async def serve(config: NodeConfig, *, quiet: bool = False) -> int:
    """Runs the node until SIGINT/SIGTERM or until a stage fails; returns the process exit code."""
    node = Node(config)
    api = rpc_api(node)
    server = RpcServer(api, cors_origins=config.cors_origins)
    mount_explorer(server.app, rpc_url="/", ws_url="/")  # the explorer's pages call this same endpoint
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
