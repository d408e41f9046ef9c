"""The pysei side of the differential test: the same block through the native kernel over a real LMDB store."""

from __future__ import annotations

import dataclasses
import itertools
import tempfile

from pysei.chain.block import TxRecords
from pysei.chain.constants import EMPTY_CODE_HASH
from pysei.chain.transaction import decode_transactions
from pysei.native import BlockEnv as NativeEnv
from pysei.native import Store, execute_block, keccak
from pysei.state.commitment import state_commitment
from tests.oracle.model import Account, BlockEnv, BlockOutcome, PreState, TxOutcome, block_hash

fallbacks: list[str | None] = []
"""Why each block executed here ran sequentially (None: in parallel); tests check the parallel path ran."""
reached: list[list[tuple[bytes, ...]]] = []
"""The addresses each block's included transactions reached (their records' ``internal``), one list per block
executed here: the oracle has no such field, so the parallel test compares these between its two runs."""

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
        native_env = _native_env(env)
        result = execute_block(store, native_env, raw_txs, b"".join(senders), threads=threads)
        fallbacks.append(result.fallback)
        reached.append([record.internal for record in TxRecords(result.records(bytes(32)))])
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
        post = _dump(store)
        check_chain(store, {env.number - 1: pre, env.number: post})
        del store
        return BlockOutcome(txs=txs, post=post)


def _native_env(env: BlockEnv) -> NativeEnv:
    return NativeEnv(
        number=env.number,
        timestamp=env.timestamp,
        gas_limit=env.gas_limit,
        base_fee=env.base_fee,
        beneficiary=env.coinbase,
        prevrandao=env.prevrandao,
        chain_id=env.chain_id,
        spec_name=env.spec,
    )


def _dump(store: Store) -> PreState:
    accounts, storage = store.dump_state()
    state: PreState = {a: Account(balance, nonce, code, {}) for a, balance, nonce, code in accounts}
    for a, slot, value in storage:
        state.setdefault(a, Account()).storage[slot] = value
    return state


def _commitment(state: PreState, extra_codes: dict[bytes, bytes] | None = None) -> bytes:
    accounts = {
        a: (acct.nonce, acct.balance, keccak(acct.code) if acct.code else EMPTY_CODE_HASH) for a, acct in state.items()
    }
    codes = {keccak(acct.code): acct.code for acct in state.values() if acct.code} | (extra_codes or {})
    storage = {(a, slot): value for a, acct in state.items() for slot, value in acct.storage.items()}
    return state_commitment(accounts, codes, storage).digest()


def check_chain(store: Store, states: dict[int, PreState]) -> None:
    """The store's other views of a chain agree with the whole-state dumps taken after each block:

    - the commitment worker's incremental LtHash (from each block's change set) equals the reference LtHash
      computed from scratch over the dump (code stays once stored: it is content-addressed);
    - reads at each block (through the history index, after later blocks were committed) return that block's
      dump, for every account and slot any of the dumps holds.
    """
    numbers = sorted(states)
    digests = dict(store.advance_commitment(numbers[-1]))
    codes: dict[bytes, bytes] = {}
    addresses = {a for state in states.values() for a in state}
    slots = {(a, slot) for state in states.values() for a, acct in state.items() for slot in acct.storage}
    for at in numbers:
        state = states[at]
        codes |= {keccak(acct.code): acct.code for acct in state.values() if acct.code}
        assert digests[at] == _commitment(state, codes), f"incremental LtHash != from scratch at block {at}"
        for address in addresses:
            acct = state.get(address)
            got = store.account(address, at)
            if acct is None:
                assert got is None, (at, address.hex(), got)
                continue
            assert got is not None and (got[0], got[1]) == (acct.balance, acct.nonce), (at, address.hex(), got)
            assert store.code(address, at) == acct.code
        for address, slot in slots:
            acct = states[at].get(address)
            assert store.storage(address, slot, at) == (acct.storage.get(slot, 0) if acct else 0), (at, slot)


def run_chain(pre: PreState, env: BlockEnv, raw_txs: list[bytes], cuts: list[int], threads: int = 1) -> None:
    """Runs ``raw_txs`` as consecutive blocks (split at ``cuts``) on one store, then checks the whole chain."""
    with tempfile.TemporaryDirectory(prefix="pysei-chain-") as tmp:
        store = Store(tmp, [], map_size=_MAP_SIZE, sync=False)
        alloc = [(a, acct.balance, acct.nonce, acct.code, sorted(acct.storage.items())) for a, acct in pre.items()]
        store.commit(
            env.number - 1,
            alloc=alloc,
            hashes=[(n, block_hash(n)) for n in range(max(0, env.number - 256), env.number)],
        )
        states = {env.number - 1: pre}
        bounds = [0, *sorted(set(cuts)), len(raw_txs)]
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            number = env.number + i
            txs = raw_txs[lo:hi]
            senders = [d.tx.sender if not isinstance(d, str) else b"\x00" * 20 for d in decode_transactions(txs)]
            native_env = _native_env(dataclasses.replace(env, number=number, timestamp=env.timestamp + i))
            result = execute_block(store, native_env, txs, b"".join(senders), threads=threads)
            store.commit(number, result=result, hashes=[(number, block_hash(number))])
            states[number] = _dump(store)
        check_chain(store, states)
        del store
