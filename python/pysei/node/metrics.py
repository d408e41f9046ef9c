"""Prometheus metrics of a running node (``prometheus-client``), served on a loopback port of their own.

Names follow geth's where geth has the metric (``chain_head_block``, ``chain_execution``, ``chain_write``,
``chain_mgasps``, ``txpool_pending``, ``txpool_queued``, ``rpc_requests``/``rpc_success``/``rpc_failure``), in
Prometheus's unit-suffixed form (``_seconds``, ``_total``); the rest are ``pysei_*``. Block metrics move when a
block is published (a block listener), pool and commitment gauges are read at scrape time, RPC metrics are
observed by the server per call. A validator adds ``consensus_*`` metrics, read from its engine at scrape time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from pysei.consensus.observer import ConsensusObserver, Samples
    from pysei.execution.executor import ExecutedBlock
    from pysei.node.node import Node

log = logging.getLogger("pysei.metrics")

_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class NodeMetrics:
    """The node's metrics in a registry of their own (tests and several nodes in one process never collide)."""

    def __init__(self, node: Node) -> None:
        self.registry = registry = CollectorRegistry()
        self.head = Gauge("chain_head_block", "Number of the newest committed block", registry=registry)
        self.transactions = Counter("chain_transactions", "Transactions included in blocks", registry=registry)
        self.skipped = Counter(
            "pysei_transactions_skipped",
            "Ordered transactions execution left out (invalid when run)",
            registry=registry,
        )
        self.gas = Counter("chain_gas_used", "Gas used by committed blocks", registry=registry)
        self.block_txs = Histogram(
            "chain_block_transactions",
            "Transactions per block",
            buckets=(0, 1, 10, 100, 1_000, 5_000, 10_000, 20_000),
            registry=registry,
        )
        self.execution = Histogram(
            "chain_execution_seconds", "Block execution time in the kernel", buckets=_SECONDS, registry=registry
        )
        self.write = Histogram(
            "chain_write_seconds",
            "Block commit time (one LMDB write transaction, fsync included unless --no-fsync)",
            buckets=_SECONDS,
            registry=registry,
        )
        self.mgasps = Gauge("chain_mgasps", "Million gas per second of the last block's execution", registry=registry)
        self.reexecutions = Counter(
            "pysei_execution_reexecutions", "Transactions the parallel executor ran again", registry=registry
        )
        self.fallbacks = Counter(
            "pysei_execution_sequential_fallbacks", "Blocks run sequentially, by reason", ["reason"], registry=registry
        )
        pool = node.mempool
        Gauge("txpool_pending", "Executable pool transactions (in flight included)", registry=registry).set_function(
            lambda: pool.pending_count + pool.in_flight_count
        )
        Gauge("txpool_queued", "Pool transactions waiting for a nonce gap", registry=registry).set_function(
            lambda: pool.queued_count
        )
        executor = node.executor

        def lag() -> float:
            head = executor.head
            return 0 if head is None else head.header.number - max(executor.commitments.done, 0)

        Gauge(
            "pysei_commitment_lag_blocks", "Blocks the state commitment trails the head", registry=registry
        ).set_function(lag)
        self.rpc_requests = Counter("rpc_requests", "JSON-RPC calls", ["method"], registry=registry)
        self.rpc_failures = Counter(
            "rpc_failure", "JSON-RPC calls answered with an error", ["method", "code"], registry=registry
        )
        self.rpc_duration = Histogram(
            "rpc_duration_seconds", "JSON-RPC call latency", ["method"], buckets=_SECONDS, registry=registry
        )
        self._node_methods: set[str] = set()
        node.block_listeners.append(self.on_block)

    def on_block(self, executed: ExecutedBlock) -> None:
        stats = executed.stats
        self.head.set(executed.block.header.number)
        self.transactions.inc(len(executed.txs))
        self.skipped.inc(len(executed.skipped))
        self.gas.inc(stats["gas_used"])
        self.block_txs.observe(len(executed.txs))
        seconds = stats.get("execute_ns", 0) / 1e9
        self.execution.observe(seconds)
        self.write.observe(stats.get("commit_ns", 0) / 1e9)
        if seconds > 0:
            self.mgasps.set(stats["gas_used"] / seconds / 1e6)
        self.reexecutions.inc(max(stats.get("incarnations", 0) - stats.get("txs", 0), 0))
        if executed.fallback:
            self.fallbacks.labels(executed.fallback).inc()

    def known(self, methods: set[str]) -> None:
        """Methods the node serves: others are counted under ``unknown`` (label values stay bounded)."""
        self._node_methods = methods

    def observe_rpc(self, method: str, seconds: float, error_code: int | None) -> None:
        label = method if method in self._node_methods else "unknown"
        self.rpc_requests.labels(label).inc()
        self.rpc_duration.labels(label).observe(seconds)
        if error_code is not None:
            self.rpc_failures.labels(label, str(error_code)).inc()

    async def serve(self, host: str, port: int) -> tuple[web.AppRunner, int]:
        """Serves ``/metrics`` on ``host:port`` (0 = any free port); returns the runner and the bound port."""

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        log.info("metrics on http://%s:%d/metrics", host, bound)
        return runner, int(bound)


class ConsensusCollector(Collector):
    """A validator's consensus progress, read from its engine when Prometheus scrapes: slot and view, commits by
    path, view changes, evidence, connected peers, and the slot-time and finality-latency summaries."""

    def __init__(self, status: Callable[[], dict[str, Any]], observer: ConsensusObserver) -> None:
        self.status = status
        self.observer = observer

    def collect(self) -> Iterator[Metric]:
        st = self.status()
        yield GaugeMetricFamily("consensus_slot", "Slot this validator is ordering", value=st["slot"])
        yield GaugeMetricFamily("consensus_view", "View of the current slot", value=st["view"])
        yield GaugeMetricFamily("consensus_committed_slot", "Newest committed slot", value=st["committedSlot"])
        commits = CounterMetricFamily(
            "consensus_commits", "Commit certificates this validator assembled, by path", labels=["path"]
        )
        commits.add_metric(["fast"], st["fastCommits"])
        commits.add_metric(["slow"], st["slowCommits"])
        yield commits
        yield CounterMetricFamily("consensus_view_changes", "Views abandoned by timeout", value=st["viewChanges"])
        yield CounterMetricFamily("consensus_evidence", "Misbehaviour evidence stored", value=st["evidence"])
        yield GaugeMetricFamily(
            "consensus_peers_connected",
            "Validators connected to this one",
            value=sum(p["connected"] for p in st["peers"]),
        )
        yield _summary("consensus_slot_seconds", "Time from entering a slot to its commit", self.observer.slots)
        yield _summary(
            "consensus_finality_seconds",
            "Time from holding a car to the commit that includes it",
            self.observer.finality,
        )


def _summary(name: str, documentation: str, samples: Samples) -> SummaryMetricFamily:
    """A summary with p50/p90 over the recent samples (client-side quantiles, as a Go client would export)."""
    family = SummaryMetricFamily(name, documentation, labels=[])
    quantiles = [(str(q), v) for q in (0.5, 0.9) if (v := samples.quantile(q)) is not None]
    family.add_metric([], count_value=samples.count, sum_value=samples.sum)
    for q, v in quantiles:
        family.add_sample(name, {"quantile": q}, v)
    return family
