"""Development-network controls: what anvil's and Hardhat's dev RPC methods do to a running devnet.

Mining on request, the block clock, state edits, snapshots and reverts, impersonation. Every edit of committed
state runs while the pipeline is paused — the sequencer's lock held (no block is being ordered) and the execution
queue drained (none is executing) — so it never races a block.

State edits are amendments of the head block (``Store.amend_head``): its change set, history index and (if it got
that far) the commitment absorb them, so every consumer of change sets stays consistent. A snapshot is only a
checkpoint — the head block number, the clock and a position in the journal of amendments — and a revert rolls
the later blocks back from their change sets (``Store.rollback``) and undoes the amendments made to the
checkpoint's own block since, so neither costs a copy of the store.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from eth_account import Account as EthAccount

from pysei.native import keccak
from pysei.state.commitment import (
    EMPTY_CODE_HASH,
    Account,
    account_key,
    account_value,
    code_key,
    storage_key,
    storage_value,
)

if TYPE_CHECKING:
    from pysei.node.node import Node

Record = tuple[bytes, bytes | None]
"""A state record in the commitment's encoding, None deleting it."""

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True, slots=True)
class Checkpoint:
    block: int
    journal: int
    """Amendments made before the snapshot (``DevControl._journal`` length then)."""
    time_offset: int


class DevError(ValueError):
    """A dev request that cannot be carried out; the message says why."""


def impersonation_key(address: bytes) -> bytes:
    """The key that signs transactions sent as an impersonated ``address`` (anvil signs them with a fixed
    signature; here it is derived from the address, so two impersonated senders' transactions never share a
    hash). Its signer's address is mapped back to ``address`` at ingest while the impersonation lasts."""
    scalar = int.from_bytes(keccak(b"pysei impersonation" + address), "big") % (SECP256K1_N - 1) + 1
    return scalar.to_bytes(32, "big")


class DevControl:
    """The devnet's dev controls; one per node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.instance_id = os.urandom(32)
        """Identifies this run of the node (anvil_metadata); tools use it to notice a restart."""
        self.snapshots: dict[int, Checkpoint] = {}
        self._next_snapshot = 1
        self._journal: list[tuple[int, list[Record]]] = []
        """(block, previous values) of every amendment, oldest first: what undoes them. Rollbacks trim it."""
        self.impersonated: set[bytes] = set()
        self.auto_impersonate = False
        self.aliases: dict[bytes, bytes] = {}
        """Signer of an impersonation key → the impersonated address, while impersonated."""

    # --- pausing -------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def paused(self) -> AsyncIterator[int]:
        """No block is ordered or executing inside; yields the head block number."""
        async with self.node.sequencer.lock:
            await self.node.quiesced()
            head = self.node.executor.head
            assert head is not None
            yield head.header.number

    # --- what the RPC's ingest needs (IngestSettings), as the dev methods changed it -------------------------
    @property
    def enabled(self) -> bool:
        return self.node.config.dev_methods

    @property
    def chain_id(self) -> int:
        return self.node.config.chain_id

    @property
    def gas_limit(self) -> int:
        return self.node.executor.params.gas_limit

    @property
    def max_tx_size(self) -> int:
        return self.node.config.max_tx_size

    @property
    def automine(self) -> bool:
        return self.node.sequencer.automine

    @property
    def allow_unprotected_txs(self) -> bool:
        return self.node.config.allow_unprotected_txs

    # --- mining and the clock ------------------------------------------------------------------------------
    def set_automine(self, enabled: bool) -> None:
        sequencer = self.node.sequencer
        # Turning automine off leaves interval mining if it was on, else mining on request only (as in anvil).
        block_time = None if sequencer.automine and not enabled else sequencer.block_time
        sequencer.set_mode(automine=enabled, block_time=block_time)

    def set_interval(self, seconds: float) -> None:
        """Seconds between blocks while transactions are pending; 0: mining on request only."""
        self.node.sequencer.set_mode(automine=False, block_time=seconds or None)

    def increase_time(self, seconds: int) -> int:
        self.node.sequencer.time_offset += seconds
        return self.node.sequencer.time_offset

    def set_next_timestamp(self, timestamp: int) -> None:
        self.check_next_timestamp(timestamp)
        self.node.sequencer.next_timestamp = timestamp

    def set_time(self, timestamp: int) -> None:
        self.node.sequencer.time_offset = timestamp - int(time.time())

    def set_base_fee(self, base_fee: int) -> None:
        self.node.executor.base_fee_override = base_fee

    def set_prevrandao(self, value: bytes) -> None:
        self.node.executor.prevrandao_override = value

    def environment(self) -> dict[str, Any]:
        """anvil_nodeInfo's chain settings."""
        executor = self.node.executor
        return {
            "hardFork": executor.params.spec,
            "baseFee": executor.next_base_fee,
            "chainId": self.node.config.chain_id,
            "gasLimit": executor.params.gas_limit,
        }

    def snapshot_blocks(self) -> dict[int, int]:
        return {k: c.block for k, c in self.snapshots.items()}

    def drop_transaction(self, tx_hash: bytes) -> bool:
        return self.node.mempool.remove(tx_hash)

    async def drop_all_transactions(self) -> None:
        async with self.paused():
            self.node.mempool.clear()

    async def mine(self, count: int = 1, interval: int | None = None, timestamp: int | None = None) -> int:
        """Mines ``count`` blocks (empty ones once the pool is drained), the first at ``timestamp`` if given and
        each later one ``interval`` seconds after the previous if given. Returns once all are executed."""
        sequencer = self.node.sequencer
        at = timestamp
        for _ in range(count):
            block = await sequencer.cut(at)
            at = None if interval is None else block.timestamp + interval
        await self.node.quiesced()
        head = self.node.executor.head
        assert head is not None
        return head.header.number

    def check_next_timestamp(self, timestamp: int) -> None:
        head = self.node.executor.head
        assert head is not None
        if timestamp < head.header.timestamp:
            raise DevError(
                f"timestamp {timestamp} is before the latest block's timestamp {head.header.timestamp}: "
                "block timestamps never go backwards"
            )

    # --- state edits ---------------------------------------------------------------------------------------
    def account(self, address: bytes) -> Account:
        found = self.node.store.native.account(address)
        if found is None:
            return Account(0, 0, EMPTY_CODE_HASH)
        balance, nonce, code_hash = found
        return Account(nonce, balance, code_hash)

    async def amend(self, build: Any) -> None:
        """Writes the records ``build()`` returns (built inside the pause, from the state as it is then) as part
        of the head block, and journals what undoes them."""
        async with self.paused() as head:
            records: list[Record] = build()
            previous = await asyncio.to_thread(self.node.store.native.amend_head, head, records)
            self._journal.append((head, previous))

    async def set_account(
        self, address: bytes, *, balance: int | None = None, nonce: int | None = None, code: bytes | None = None
    ) -> None:
        def build() -> list[Record]:
            current = self.account(address)
            records: list[Record] = []
            code_hash = current.code_hash
            if code is not None:
                code_hash = keccak(code) if code else EMPTY_CODE_HASH
                if code:
                    records.append((code_key(code_hash), code))
            new = Account(
                current.nonce if nonce is None else nonce,
                current.balance if balance is None else balance,
                code_hash,
            )
            records.append((account_key(address), account_value(new)))
            return records

        await self.amend(build)

    async def add_balance(self, address: bytes, amount: int) -> None:
        def build() -> list[Record]:
            current = self.account(address)
            balance = current.balance + amount
            if balance >= 2**256:
                raise DevError("balance would exceed 2^256 - 1")
            return [(account_key(address), account_value(current._replace(balance=balance)))]

        await self.amend(build)

    async def set_storage(self, address: bytes, slot: int, value: int) -> None:
        await self.amend(lambda: [(storage_key(address, slot), storage_value(value))])

    # --- snapshots -----------------------------------------------------------------------------------------
    async def snapshot(self) -> int:
        async with self.paused() as head:
            snapshot_id = self._next_snapshot
            self._next_snapshot += 1
            self.snapshots[snapshot_id] = Checkpoint(head, len(self._journal), self.node.sequencer.time_offset)
            return snapshot_id

    async def revert(self, snapshot_id: int) -> bool:
        """Back to the state, chain and clock of the snapshot; it and every later snapshot are consumed (as in
        Hardhat and anvil). False for an unknown snapshot."""
        checkpoint = self.snapshots.get(snapshot_id)
        if checkpoint is None:
            return False
        async with self.paused() as head:
            await self._rollback(head, checkpoint.block, checkpoint.journal)
            self.node.sequencer.time_offset = checkpoint.time_offset
            for later in [k for k in self.snapshots if k >= snapshot_id]:
                del self.snapshots[later]
        return True

    async def reset(self) -> None:
        """Back to genesis: blocks, state edits, snapshots, impersonations and the clock (anvil_reset)."""
        async with self.paused() as head:
            await self._rollback(head, 0, 0)
            self.snapshots.clear()
            self.impersonated.clear()
            self.aliases.clear()
            self.auto_impersonate = False
            self.node.sequencer.time_offset = 0
            self.set_gas_limit(self.node.config.gas_limit)

    async def _rollback(self, head: int, to: int, journal: int) -> None:
        node = self.node
        # The commitment worker must be idle while its accumulator moves back: let it finish the head first.
        await asyncio.to_thread(node.executor.commitments.wait_for, head)
        try:
            block = await asyncio.to_thread(node.store.rollback, to)
        except ValueError as e:
            raise DevError(str(e)) from None
        # Amendments of block ``to`` made since the checkpoint went with nothing: undo them, newest first.
        # Those of later blocks were undone with their blocks.
        for number, previous in reversed(self._journal[journal:]):
            if number == to:
                await asyncio.to_thread(node.store.native.amend_head, to, previous)
        del self._journal[journal:]
        node.executor.rewind(block)
        node.sequencer.rewind(to + 1, block.header.timestamp, node.sequencer.time_offset)
        node.mempool.clear()

    # --- chain parameters ----------------------------------------------------------------------------------
    def set_gas_limit(self, gas_limit: int) -> None:
        node = self.node
        node.executor.params = replace(node.executor.params, gas_limit=gas_limit)
        node.sequencer.config = replace(node.sequencer.config, gas_limit=gas_limit)

    def set_coinbase(self, address: bytes) -> None:
        self.node.executor.params = replace(self.node.executor.params, beneficiary=address)

    # --- impersonation -------------------------------------------------------------------------------------
    def impersonate(self, address: bytes) -> None:
        self.impersonated.add(address)
        self.aliases[bytes.fromhex(EthAccount.from_key(impersonation_key(address)).address[2:])] = address

    def stop_impersonating(self, address: bytes) -> None:
        self.impersonated.discard(address)
        self.aliases = {k: v for k, v in self.aliases.items() if v != address}

    def set_auto_impersonate(self, enabled: bool) -> None:
        self.auto_impersonate = enabled

    def signing_key(self, address: bytes) -> bytes | None:
        """The key that signs ``eth_sendTransaction`` for an impersonated (or, with auto-impersonation, any)
        account without a dev key; None when the account is not impersonated."""
        if address not in self.impersonated:
            if not self.auto_impersonate:
                return None
            self.impersonate(address)
        return impersonation_key(address)

    # --- dump and load -------------------------------------------------------------------------------------
    def dump_state(self) -> bytes:
        """Every account with its code and storage as anvil's dump format (gzip of JSON), for ``loadState``."""
        accounts_raw, storage_raw = self.node.store.native.dump_state()
        accounts: dict[str, dict[str, Any]] = {}
        for address, balance, nonce, code in accounts_raw:
            accounts["0x" + address.hex()] = {
                "nonce": nonce,
                "balance": hex(balance),
                "code": "0x" + code.hex(),
                "storage": {},
            }
        for address, slot, value in storage_raw:
            accounts["0x" + address.hex()]["storage"][hex(slot)] = hex(value)
        head = self.node.executor.head
        assert head is not None
        return gzip.compress(json.dumps({"block": {"number": hex(head.header.number)}, "accounts": accounts}).encode())

    async def load_state(self, blob: bytes) -> None:
        """Merges a ``dump_state`` blob (gzip or plain JSON) into the state."""
        try:
            data = json.loads(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)
            records: list[Record] = []
            for address_hex, account in data["accounts"].items():
                address = bytes.fromhex(address_hex.removeprefix("0x"))
                code = bytes.fromhex(str(account.get("code", "0x")).removeprefix("0x"))
                code_hash = keccak(code) if code else EMPTY_CODE_HASH
                if code:
                    records.append((code_key(code_hash), code))
                nonce = int(account.get("nonce", 0))
                balance = int(str(account.get("balance", "0x0")), 16)
                records.append((account_key(address), account_value(Account(nonce, balance, code_hash))))
                for slot, value in account.get("storage", {}).items():
                    records.append((storage_key(address, int(slot, 16)), storage_value(int(value, 16))))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise DevError(f"not a state dump: {e}") from None
        await self.amend(lambda: records)
