"""The pysei side of the differential test: the same block through the native kernel over a real LMDB store."""

from __future__ import annotations

import tempfile

from pysei.native import BlockEnv as NativeEnv
from pysei.native import Store, decode_transactions, execute_block
from tests.oracle.model import Account, BlockEnv, BlockOutcome, PreState, TxOutcome, block_hash

fallbacks: list[str | None] = []
"""Why each block executed here ran sequentially (None: in parallel); tests check the parallel path ran."""

_MAP_SIZE = 1 << 30
"""1 GiB of address space per store: hypothesis opens hundreds of stores in one process."""


def run_block(pre: PreState, env: BlockEnv, raw_txs: list[bytes], threads: int = 1) -> BlockOutcome:
    with tempfile.TemporaryDirectory(prefix="pysei-diff-") as tmp:
        store = Store(tmp, [], map_size=_MAP_SIZE, sync=False)
        alloc = [(a, acct.balance, acct.nonce, acct.code, sorted(acct.storage.items())) for a, acct in pre.items()]
        hashes = [(n, block_hash(n)) for n in range(max(0, env.number - 256), env.number)]
        store.commit(alloc=alloc, hashes=hashes)
        # Execution trusts the senders recovered at ingest; transactions that do not even decode are skipped by
        # the node before ordering, and here given a zero sender so that the kernel skips them too.
        senders = [d.tx.sender if not isinstance(d, str) else b"\x00" * 20 for d in decode_transactions(raw_txs)]
        native_env = NativeEnv(
            number=env.number,
            timestamp=env.timestamp,
            gas_limit=env.gas_limit,
            base_fee=env.base_fee,
            beneficiary=env.coinbase,
            prevrandao=env.prevrandao,
            chain_id=env.chain_id,
            spec_name=env.spec,
        )
        result = execute_block(store, native_env, raw_txs, b"".join(senders), threads=threads)
        fallbacks.append(result.fallback)
        txs = []
        for skip, success, gas_used, _cum, created, logs, _out, _halt in result.outcomes():
            if skip is not None:
                txs.append(TxOutcome.skipped())
                continue
            txs.append(
                TxOutcome(
                    status=1 if success else 0,
                    gas_used=gas_used,
                    logs=[(a, list(t), d) for a, t, d in logs],
                    contract_address=created,
                    included=True,
                )
            )
        store.commit(result=result)
        accounts, storage = store.dump_state()
        post: PreState = {a: Account(balance, nonce, code, {}) for a, balance, nonce, code in accounts}
        for a, slot, value in storage:
            post.setdefault(a, Account()).storage[slot] = value
        del store
        return BlockOutcome(txs=txs, post=post)
