"""What the RPC layer needs from the node, as narrow protocols.

Each namespace module takes only the interfaces it uses, so the RPC never reaches into the node's attributes and
can be served by any node that implements these (the devnet today, a consensus node later). The composition
root (``pysei/app`` or ``pysei/node/run.py``) passes the node's implementations in; see ``rpc/README.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from pysei.chain.block import BlockLog, BlockRecord, TxRecord
from pysei.chain.fees import FeeParams
from pysei.chain.transaction import Transaction
from pysei.mempool import AddOutcome, MempoolError, PoolContent
from pysei.native import BlockOverrides, CallRequest, CallResult

AccessList = list[tuple[bytes, list[bytes]]]


class ChainReader(Protocol):
    """Committed chain data: blocks, transactions, receipts, logs and state at any retained block."""

    def block(self, number: int) -> BlockRecord | None: ...

    def block_number(self, block_hash: bytes) -> int | None: ...

    def tx(self, tx_hash: bytes) -> TxRecord | None: ...

    def txs(self, tx_hashes: list[bytes]) -> list[TxRecord | None]: ...

    def tx_bytes(self, tx_hash: bytes) -> bytes | None:
        """The stored (encoded) ``TxRecord``, as the receipt path reads it."""
        ...

    def txs_bytes(self, tx_hashes: list[bytes]) -> list[bytes | None]: ...

    def transactions(self, records: list[TxRecord]) -> list[Transaction]:
        """The decoded transactions of stored records."""
        ...

    def block_logs(self, number: int) -> list[BlockLog]: ...

    def balance(self, address: bytes, at: int | None = None) -> int: ...

    def nonce(self, address: bytes, at: int | None = None) -> int: ...

    def code(self, address: bytes, at: int | None = None) -> bytes: ...

    def storage(self, address: bytes, slot: int, at: int | None = None) -> int: ...

    def history_floor(self) -> int:
        """The lowest block whose state can still be read."""
        ...

    def commitment(self, number: int) -> bytes | None:
        """The LtHash state commitment after block ``number``; None while the worker has not reached it."""
        ...


class ChainHead(Protocol):
    """The executed head, which moves as blocks commit."""

    @property
    def head(self) -> BlockRecord | None: ...

    @property
    def next_base_fee(self) -> int: ...


class ChainSettings(Protocol):
    """The chain's parameters."""

    @property
    def chain_id(self) -> int: ...

    @property
    def gas_limit(self) -> int: ...

    @property
    def beneficiary(self) -> bytes:
        """The fee collector: COINBASE of every block."""
        ...

    @property
    def fees(self) -> FeeParams: ...

    @property
    def commitment_delay(self) -> int: ...


class IngestSettings(Protocol):
    """Admission rules of ``eth_sendRawTransaction`` beyond the mempool's."""

    @property
    def chain_id(self) -> int: ...

    @property
    def gas_limit(self) -> int: ...

    @property
    def max_tx_size(self) -> int: ...

    @property
    def automine(self) -> bool:
        """Answer a send only once the transaction is executed."""
        ...

    @property
    def allow_unprotected_txs(self) -> bool:
        """Accept pre-EIP-155 transactions (no chain id in the signature)."""
        ...


class Simulator(Protocol):
    """Runs calls against the state after a committed block, writing nothing (eth_call, estimates, access lists)."""

    def call(self, block: BlockRecord, request: CallRequest, env: BlockOverrides | None = None) -> CallResult:
        """Raises ValueError when the call is an invalid transaction (e.g. a nonce or fee rule). ``env``
        overrides fields of the block's environment; the state read is still the block's."""
        ...

    def estimate_gas(
        self, block: BlockRecord, request: CallRequest, env: BlockOverrides | None = None
    ) -> int | CallResult:
        """The least gas with which the call succeeds, or the failing result at the gas cap."""
        ...

    def create_access_list(
        self, block: BlockRecord, request: CallRequest, env: BlockOverrides | None = None
    ) -> tuple[AccessList, CallResult]: ...


class AddressIndex(Protocol):
    """The address index written with each block commit (Otterscan's searches)."""

    def address_txs(
        self, address: bytes, *, below: int | None, above: int | None, limit: int
    ) -> list[tuple[int, bytes]]:
        """``(block, tx hash)`` of an address's transactions below ``below`` (newest first) or above ``above``
        (oldest first)."""
        ...

    def creator(self, address: bytes) -> bytes | None:
        """The transaction that deployed a contract at top level."""
        ...


class Tracer(Protocol):
    """Replays committed transactions, or a call, with one of the kernel's tracers (``kind`` "geth", "parity" or
    "replay" with ``options`` as JSON); answers JSON. Raises ValueError with the reason a trace is refused."""

    def trace_block(
        self, block: BlockRecord, first: int, last: int, kind: str, options: str, max_bytes: int
    ) -> list[str]: ...

    def trace_call(self, block: BlockRecord, request: CallRequest, kind: str, options: str, max_bytes: int) -> str: ...


class TxSubmitter(Protocol):
    """Hands decoded transactions to the node's pool and ordering."""

    def submit(self, txs: list[Transaction]) -> list[AddOutcome | MempoolError]: ...

    def wait_executed(self, tx_hashes: list[bytes]) -> Awaitable[None]:
        """Resolves once every transaction was executed (included or skipped)."""
        ...


class PendingPool(Protocol):
    """Read access to transactions not yet executed."""

    def pending_nonce(self, sender: bytes) -> int: ...

    def get(self, tx_hash: bytes) -> Transaction | None: ...

    def why_dropped(self, tx_hash: bytes) -> tuple[int, str] | None:
        """(block, reason) if execution skipped the transaction and it left the pool for good."""
        ...

    @property
    def pending_count(self) -> int: ...

    @property
    def queued_count(self) -> int: ...

    @property
    def in_flight_count(self) -> int: ...

    def content(self) -> PoolContent:
        """Every pooled and in-flight transaction by sender and nonce (txpool_content)."""
        ...


class CommittedBlock(Protocol):
    """A commit event: the block and its logs, published after the block is durable."""

    @property
    def block(self) -> BlockRecord: ...

    @property
    def logs(self) -> Sequence[BlockLog]: ...


BlockListener = Callable[[CommittedBlock], None]
PendingListener = Callable[[Sequence[bytes]], None]


class CommitEvents(Protocol):
    """Where committed blocks and newly pending transaction hashes are announced."""

    def on_block(self, listener: BlockListener) -> None: ...

    def on_pending(self, listener: PendingListener) -> None: ...


ExecutionStats = tuple[int, dict[str, int], str | None]
"""(block number, execution statistics, why it ran sequentially if it did)."""


class StatsSource(Protocol):
    @property
    def recent_stats(self) -> Sequence[ExecutionStats]:
        """Recent blocks' execution statistics, oldest first."""
        ...


class ConsensusView(Protocol):
    """A validator's consensus engine, as the sei_ consensus methods see it (absent on the devnet)."""

    def status(self) -> dict[str, Any]:
        """Slot, view, leader, lane tips, commit counts, peers (sei_consensusStatus)."""
        ...

    def validators(self) -> list[dict[str, Any]]: ...

    def evidence(self) -> list[dict[str, Any]]:
        """Stored evidence: two conflicting messages signed by one validator."""
        ...

    def certificate(self, block: int) -> tuple[bytes, list[bytes]] | None:
        """The AppQC of ``block``: (certified commitment, signers' public keys), or None."""
        ...


class Impersonation(Protocol):
    """A devnet's impersonated accounts: ``eth_sendTransaction`` signs for them with a stand-in key, and ingest
    sends a transaction signed by that key as the account."""

    def signing_key(self, address: bytes) -> bytes | None: ...

    @property
    def aliases(self) -> dict[bytes, bytes]:
        """Stand-in signer → the impersonated account its transactions are sent as, while impersonated."""
        ...


class DevNode(IngestSettings, Impersonation, Protocol):
    """A devnet's dev controls (anvil's/Hardhat's dev methods); see ``pysei.node.dev``. Methods raise ValueError
    with the reason for a request they refuse."""

    @property
    def enabled(self) -> bool:
        """False on a network with other validators: every dev method is refused."""
        ...

    @property
    def instance_id(self) -> bytes: ...

    async def mine(self, count: int = 1, interval: int | None = None, timestamp: int | None = None) -> int: ...

    def check_next_timestamp(self, timestamp: int) -> None: ...

    def set_automine(self, enabled: bool) -> None: ...

    def set_interval(self, seconds: float) -> None: ...

    def increase_time(self, seconds: int) -> int: ...

    def set_next_timestamp(self, timestamp: int) -> None: ...

    def set_time(self, timestamp: int) -> None: ...

    def set_gas_limit(self, gas_limit: int) -> None: ...

    def set_base_fee(self, base_fee: int) -> None: ...

    def set_prevrandao(self, value: bytes) -> None: ...

    def set_coinbase(self, address: bytes) -> None: ...

    async def set_account(
        self, address: bytes, *, balance: int | None = None, nonce: int | None = None, code: bytes | None = None
    ) -> None: ...

    async def add_balance(self, address: bytes, amount: int) -> None: ...

    async def set_storage(self, address: bytes, slot: int, value: int) -> None: ...

    def dump_state(self) -> bytes: ...

    async def load_state(self, blob: bytes) -> None: ...

    async def snapshot(self) -> int: ...

    async def revert(self, snapshot_id: int) -> bool: ...

    async def reset(self) -> None: ...

    def impersonate(self, address: bytes) -> None: ...

    def stop_impersonating(self, address: bytes) -> None: ...

    def set_auto_impersonate(self, enabled: bool) -> None: ...

    def drop_transaction(self, tx_hash: bytes) -> bool: ...

    async def drop_all_transactions(self) -> None: ...

    def snapshot_blocks(self) -> dict[int, int]: ...

    def environment(self) -> dict[str, Any]: ...
