"""The RPC answers from one head. The store writes a block's transaction records before the executor moves its
head, so a client that polls for a receipt can find it in that gap; it must not then read ``latest`` state from
the block before (CI saw a benchmark set-up find all of an account's receipts and then its nonce at 0)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from pysei.chain import genesis as gen
from pysei.chain.block import BlockRecord, OrderedBlock
from pysei.chain.constants import FEE_COLLECTOR
from pysei.chain.fees import FeeParams
from pysei.chain.transaction import decode_with_senders
from pysei.execution.executor import ChainParams, Executor
from pysei.rpc.chainview import ChainView
from pysei.state.store import ChainStore

CHAIN_ID = 713714
SENDER = Account.create()


@dataclass
class Head:
    """The executor's head as the RPC saw it at some instant."""

    head: BlockRecord | None
    next_base_fee: int = 0


def test_records_of_a_block_above_the_head_are_not_served(tmp_path: Path) -> None:
    store = ChainStore(tmp_path / "chain", sync=False)
    executor = Executor(
        store, ChainParams(chain_id=CHAIN_ID, gas_limit=30_000_000, beneficiary=FEE_COLLECTOR, fees=FeeParams())
    )
    try:
        sender = bytes.fromhex(SENDER.address[2:])
        genesis = executor.init_genesis(gen.alloc(gen.default_genesis(CHAIN_ID), [(sender, 10**21)]), 1_700_000_000)
        signed = Account.sign_transaction(
            {"to": FEE_COLLECTOR, "value": 1, "gas": 21_000, "gasPrice": 10**11, "nonce": 0, "chainId": CHAIN_ID},
            SENDER.key,
        )
        tx = decode_with_senders([bytes(signed.raw_transaction)], [sender])
        block = executor.execute(OrderedBlock(1, 1_700_000_001, tx)).block
        tx_hash = bytes(signed.hash)

        # The instant between the commit and the head's move: the block is in the store, the head is genesis.
        before = ChainView(store, Head(genesis))
        assert store.tx(tx_hash) is not None
        assert before.tx(tx_hash) is None
        assert before.block_by_hash("0x" + block.hash.hex()) is None
        assert before.read_state("latest", lambda b: store.nonce(sender, b.header.number))[1] == 0

        # Once the head moves, the receipt and the state it implies appear together.
        after = ChainView(store, executor)
        record = after.tx(tx_hash)
        assert record is not None and record.block_number == 1
        assert after.block_by_hash("0x" + block.hash.hex()) == block
        assert after.read_state("latest", lambda b: store.nonce(sender, b.header.number))[1] == 1
    finally:
        executor.close()
