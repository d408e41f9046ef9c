"""The execution stage: runs ordered blocks through the native kernel and commits the results.

It trails ordering: blocks arrive already numbered and timed, execution builds the header from the results
(gas, roots, bloom, state commitment), and commits block, state and indexes in one store transaction. RPC serves
only what this stage has committed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pysei.chain.block import BlockLogs, BlockRecord, Header, OrderedBlock, TxRecords
from pysei.chain.constants import EMPTY_CODE_HASH, EMPTY_ROOT, ZERO_HASH
from pysei.chain.events import ExecutedBlock
from pysei.chain.fees import FeeParams, next_base_fee
from pysei.native import BlockEnv, execute_block, keccak
from pysei.state.commitment import Account, state_commitment
from pysei.state.committer import CommitmentWorker
from pysei.state.store import Alloc, ChainStore

EMPTY_BLOOM = b"\x00" * 256


@dataclass(frozen=True, slots=True)
class ChainParams:
    chain_id: int
    gas_limit: int
    beneficiary: bytes
    """The fee collector: COINBASE of every block."""
    fees: FeeParams
    spec: str = "prague"
    exec_threads: int = 1
    """Worker threads of the parallel executor (1 = sequential)."""
    commitment_delay: int = 2
    """k: the header of block n carries the state commitment of block n − k (of genesis while n < k), so that
    computing the commitment never delays execution. A consensus parameter."""


def prevrandao(timestamp: int, number: int) -> bytes:
    """Sei derives PREVRANDAO from the block time; the number is mixed in so equal-second blocks differ."""
    return keccak(number.to_bytes(8, "big") + timestamp.to_bytes(8, "big"))


def genesis_commitment(alloc: Alloc) -> bytes:
    """The LtHash commitment of the genesis state, from scratch (the reference implementation; the commitment
    worker's incremental one must agree, which the executor checks at genesis)."""
    accounts: dict[bytes, Account] = {}
    codes: dict[bytes, bytes] = {}
    storage: dict[tuple[bytes, int], int] = {}
    for address, balance, nonce, code, slots in alloc:
        code_hash = keccak(code) if code else EMPTY_CODE_HASH
        accounts[address] = Account(nonce, balance, code_hash)
        if code:
            codes[code_hash] = code
        for slot, value in slots:
            storage[(address, slot)] = value
    return state_commitment(accounts, codes, storage).digest()


class Executor:
    """Executes and commits ordered blocks, one at a time, in order; owns the commitment worker."""

    def __init__(self, store: ChainStore, params: ChainParams) -> None:
        if params.commitment_delay < 1:
            raise ValueError("commitment_delay must be at least 1: a block cannot carry its own commitment")
        self.store = store
        self.params = params
        head = store.head()
        self.head: BlockRecord | None = None if head is None else store.block(head)
        self.commitments = CommitmentWorker(store)
        self.base_fee_override: int | None = None
        """The next block's base fee, once (anvil_setNextBlockBaseFeePerGas); devnet only."""
        self.prevrandao_override: bytes | None = None
        """The next block's PREVRANDAO, once (hardhat_setPrevRandao); devnet only."""
        if head is not None:
            self.commitments.notify(head)  # after a restart: catch up with what was committed before

    def close(self) -> None:
        self.commitments.close()

    def state_root(self, number: int) -> bytes:
        """The ``stateRoot`` of block ``number``: the commitment of block ``number − k`` (waits for it)."""
        return self.commitments.wait_for(max(number - self.params.commitment_delay, 0))

    @property
    def next_base_fee(self) -> int:
        """Base fee of the next block (Sei computes it at the end of each block)."""
        if self.base_fee_override is not None:
            return self.base_fee_override
        if self.head is None:
            return self.params.fees.min_base_fee
        h = self.head.header
        return next_base_fee(h.base_fee, h.gas_used, h.gas_limit, self.params.fees)

    def init_genesis(self, alloc: Alloc, timestamp: int) -> BlockRecord:
        """Commits block 0 with the allocations, unless the store already holds a chain."""
        if self.head is not None:
            return self.head
        header = Header(
            parent_hash=ZERO_HASH,
            beneficiary=self.params.beneficiary,
            state_root=genesis_commitment(alloc),
            transactions_root=EMPTY_ROOT,
            receipts_root=EMPTY_ROOT,
            logs_bloom=EMPTY_BLOOM,
            number=0,
            gas_limit=self.params.gas_limit,
            gas_used=0,
            timestamp=timestamp,
            extra_data=b"pysei",
            prevrandao=prevrandao(timestamp, 0),
            base_fee=self.params.fees.min_base_fee,
        )
        block = BlockRecord(header=header, hash=header.hash(), tx_hashes=[], size=len(header.encode()))
        self.store.commit_block(block, alloc=alloc)
        self.head = block
        if (computed := self.commitments.wait_for(0)) != header.state_root:
            raise RuntimeError(f"genesis commitment {computed.hex()} != reference {header.state_root.hex()}")
        return block

    def rewind(self, head: BlockRecord) -> None:
        """Makes ``head`` the head again after the store rolled the later blocks back (devnet revert)."""
        self.head = head
        self.commitments.rewind(head.header.number)
        self.base_fee_override = self.prevrandao_override = None

    def execute(self, ordered: OrderedBlock) -> ExecutedBlock:
        """Executes ``ordered`` on top of the head and commits it. Runs off the event loop (GIL released)."""
        parent = self.head
        assert parent is not None, "genesis must be committed first"
        if ordered.number != parent.header.number + 1:
            raise ValueError(f"ordered block {ordered.number} does not follow head {parent.header.number}")
        base_fee = self.next_base_fee
        timestamp = max(ordered.timestamp, parent.header.timestamp)
        randao = self.prevrandao_override or prevrandao(timestamp, ordered.number)
        self.base_fee_override = self.prevrandao_override = None
        env = BlockEnv(
            number=ordered.number,
            timestamp=timestamp,
            gas_limit=self.params.gas_limit,
            base_fee=base_fee,
            beneficiary=self.params.beneficiary,
            prevrandao=randao,
            chain_id=self.params.chain_id,
            spec_name=self.params.spec,
            evidence=[(e.pubkey, e.height, e.kind) for e in ordered.evidence],
            signers=None if ordered.signers is None else list(ordered.signers),
        )
        started = time.perf_counter_ns()
        result = execute_block(
            self.store.native,
            env,
            [t.raw for t in ordered.txs],
            b"".join(t.sender for t in ordered.txs),
            threads=self.params.exec_threads,
        )
        executed_at = time.perf_counter_ns()
        header = Header(
            parent_hash=parent.hash,
            beneficiary=self.params.beneficiary,
            state_root=self.state_root(ordered.number),
            transactions_root=result.transactions_root,
            receipts_root=result.receipts_root,
            logs_bloom=result.logs_bloom,
            number=ordered.number,
            gas_limit=self.params.gas_limit,
            gas_used=result.gas_used,
            timestamp=timestamp,
            extra_data=b"",
            prevrandao=randao,
            base_fee=base_fee,
        )
        block_hash = header.hash()
        # The kernel encodes the stored records (GIL released); Python decodes one only when it reads it.
        records = result.records(block_hash)
        skipped = [(ordered.txs[i], reason) for i, reason in result.skipped()]
        size = len(header.encode()) + records.raw_bytes
        block = BlockRecord(header=header, hash=block_hash, tx_hashes=records.tx_hashes(), size=size)
        committing = time.perf_counter_ns()
        self.store.commit_block(block, result=result, records=records)
        stats = dict(result.stats())
        stats["execute_ns"] = executed_at - started
        stats["commit_ns"] = time.perf_counter_ns() - committing
        self.commitments.notify(ordered.number)
        self.head = block
        return ExecutedBlock(
            block=block,
            txs=TxRecords(records),
            logs=BlockLogs(records.logs, records.log_count),
            skipped=skipped,
            stats=stats,
            fallback=result.fallback,
        )
