"""The pysei side of the differential test: the same block through the native kernel over a real LMDB store."""

from __future__ import annotations

import tempfile

from pysei.native import BlockEnv as NativeEnv
from pysei.native import Store, decode_transactions, execute_block, keccak
from pysei.state.commitment import EMPTY_CODE_HASH, state_commitment
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
        store.commit(env.number - 1, alloc=alloc, hashes=hashes)
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
        store.commit(env.number, result=result)
        accounts, storage = store.dump_state()
        post: PreState = {a: Account(balance, nonce, code, {}) for a, balance, nonce, code in accounts}
        for a, slot, value in storage:
            post.setdefault(a, Account()).storage[slot] = value
        check_history_and_commitment(store, env.number, pre, post)
        del store
        return BlockOutcome(txs=txs, post=post)


def _commitment(state: PreState, extra_codes: dict[bytes, bytes] | None = None) -> bytes:
    accounts = {
        a: (acct.nonce, acct.balance, keccak(acct.code) if acct.code else EMPTY_CODE_HASH) for a, acct in state.items()
    }
    codes = {keccak(acct.code): acct.code for acct in state.values() if acct.code} | (extra_codes or {})
    storage = {(a, slot): value for a, acct in state.items() for slot, value in acct.storage.items()}
    return state_commitment(accounts, codes, storage).digest()


def check_history_and_commitment(store: Store, number: int, pre: PreState, post: PreState) -> None:
    """The store's other views of the same block agree with the whole-state dump:

    - the commitment worker's incremental LtHash (from the change sets of the pre-state and of the block) equals
      the reference LtHash computed from scratch over the post-state — and over the pre-state at ``number - 1``;
    - reads at block ``number - 1`` (through the history index) return the pre-state, and at ``number`` the
      post-state, for every account and slot either side holds.
    """
    digests = dict(store.advance_commitment(number))
    # Code stays in the store once deployed (content-addressed), so the pre-state's code is in the post-state's
    # commitment too even when its account was destroyed.
    kept_code = {keccak(acct.code): acct.code for acct in pre.values() if acct.code}
    assert digests[number - 1] == _commitment(pre), "LtHash of the pre-state differs from the reference"
    assert digests[number] == _commitment(post, kept_code), "incremental LtHash != from scratch"
    for at, state in ((number - 1, pre), (number, post)):
        for address in pre.keys() | post.keys():
            acct = state.get(address)
            got = store.account(address, at)
            if acct is None:
                assert got is None, (at, address.hex(), got)
                continue
            assert got is not None and (got[0], got[1]) == (acct.balance, acct.nonce), (at, address.hex(), got)
            assert store.code(address, at) == acct.code
            slots = set(pre.get(address, Account()).storage) | set(post.get(address, Account()).storage)
            for slot in slots:
                assert store.storage(address, slot, at) == acct.storage.get(slot, 0), (at, address.hex(), slot)
