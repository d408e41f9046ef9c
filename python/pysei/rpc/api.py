"""The devnet's JSON-RPC surface: every namespace wired to the node's interfaces, in one method table.

To add a namespace (e.g. ``debug_``, ``trace_``, ``ots_``, ``anvil_``): write a module with a class whose
``rpc_<method>`` coroutines take the params list, give its constructor only the interfaces it needs (add a
protocol to :mod:`pysei.rpc.interfaces` if none fits, and pass the node's implementation in :class:`Services`
from the composition root), and ``table.add(...)`` it in :func:`build_api`. See ``rpc/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pysei.chain.accounts import DevAccount
from pysei.rpc.chainview import ChainView
from pysei.rpc.consensus import Consensus
from pysei.rpc.dev import DevApi, PoolContent, Proofs, client_version
from pysei.rpc.eth_blocks import EthBlocks
from pysei.rpc.eth_call import EthCall
from pysei.rpc.eth_chain import EthChain
from pysei.rpc.eth_fees import EthFees
from pysei.rpc.eth_filters import EthFilters
from pysei.rpc.eth_send import EthSend
from pysei.rpc.eth_state import EthState
from pysei.rpc.fanout import Fanout
from pysei.rpc.filters import FilterRegistry
from pysei.rpc.ingest import Ingest
from pysei.rpc.interfaces import (
    AddressIndex,
    ChainHead,
    ChainReader,
    ChainSettings,
    CommitEvents,
    ConsensusView,
    DevNode,
    IngestSettings,
    PendingPool,
    Simulator,
    StatsSource,
    Tracer,
    TxSubmitter,
)
from pysei.rpc.net import Net
from pysei.rpc.ots import Otterscan
from pysei.rpc.pysei import Pysei
from pysei.rpc.sei import Sei
from pysei.rpc.subscriptions import Subscriptions
from pysei.rpc.table import Handler, MethodTable
from pysei.rpc.trace import Tracing
from pysei.rpc.txpool import TxPool


@dataclass(frozen=True, slots=True)
class Services:
    """The node's implementations of what the RPC needs, passed in by the composition root."""

    chain: ChainReader
    head: ChainHead
    params: ChainSettings
    ingest: IngestSettings
    simulator: Simulator
    submitter: TxSubmitter
    pool: PendingPool
    events: CommitEvents
    stats: StatsSource
    accounts: Sequence[DevAccount]
    """Unlocked dev accounts (eth_accounts, eth_sendTransaction, eth_sign)."""
    max_trace_bytes: int
    """Bytes a trace may record per transaction (debug_trace*, trace_*, ots_*) before it is refused."""
    consensus: ConsensusView | None = None
    """A validator's consensus engine (sei_consensusStatus & co.); None on the single-process devnet."""
    dev: DevNode | None = None
    """A devnet's dev controls (anvil_*/hardhat_*/evm_*, impersonation); None: the dev methods are refused."""
    tracer: Tracer | None = None
    """Replays transactions with a tracer (debug_trace*, trace_*); None: those methods are not served."""
    index: AddressIndex | None = None
    """The address index (Otterscan's ots_* with the tracer); None: not served."""


@dataclass(frozen=True, slots=True)
class RpcApi:
    """What the server dispatches to: the method table, plus the ingest it calls directly for batches of
    raw transactions and the subscriptions whose connections it registers."""

    methods: MethodTable
    ingest: Ingest
    subscriptions: Subscriptions


def build_api(services: Services) -> RpcApi:
    s = services
    view = ChainView(s.chain, s.head)
    ingest = Ingest(s.ingest, s.submitter, s.dev)
    filters = FilterRegistry()
    subscriptions = Subscriptions()
    Fanout(s.events, filters, subscriptions)
    table = MethodTable()
    for namespace in (
        Net(s.params),
        EthChain(view, s.params, s.accounts),
        EthFees(view, s.head, s.params),
        EthState(view, s.pool),
        EthCall(view, s.simulator),
        EthBlocks(view, s.pool),
        EthFilters(view, filters),
        EthSend(ingest, view, s.head, s.params, s.pool, s.simulator, s.accounts, s.dev),
        subscriptions,
        TxPool(s.pool),
        PoolContent(s.pool),
        Proofs(),
        Sei(view, s.params, s.simulator, s.consensus),
        Pysei(s.stats),
    ):
        table.add(namespace)
    if s.consensus is not None:
        table.add(Consensus(s.consensus))
    if s.tracer is not None:
        table.add(Tracing(view, s.tracer, s.max_trace_bytes))
        if s.index is not None:
            table.add(Otterscan(view, s.index, s.tracer, s.max_trace_bytes))
    for name, handler in DevApi(s.dev, view).methods.items():
        table.register(name, handler)
    if s.dev is not None:
        table.replace("web3_clientVersion", _client_version(s.dev))
    return RpcApi(table, ingest, subscriptions)


def _client_version(dev: DevNode) -> Handler:
    async def rpc_web3_clientVersion(params: list[Any]) -> str:
        return client_version(dev.enabled)

    return rpc_web3_clientVersion
