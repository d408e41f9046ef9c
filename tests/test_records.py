"""Stored records are made once, in the kernel (``native/src/records.rs``), and read by Python through the
msgspec structs of ``pysei.chain.block`` (the one definition of each record).

Random blocks from the differential test's strategies (deploys, logs, reverts, skips, calls between contracts)
are executed and committed; every stored ``TxRecord`` and the block's ``BlockLog`` list must equal what the
kernel's per-transaction outcomes and the decoded transactions say, field by field, both as read back from the
store and through the executor's lazily decoded views.
"""

from __future__ import annotations

import json
import tempfile
from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, example, given, settings

from pysei.chain.block import (
    BlockLog,
    BlockLogs,
    Log,
    TxRecord,
    TxRecords,
    decode_block_logs,
    decode_tx_record,
)
from pysei.chain.transaction import Decoded, decode_transactions
from pysei.native import Store, execute_block, logs_bloom, trace_block
from pysei.native import receipt_json as native_receipt_json
from pysei.rpc import format
from pysei.state.store import ADDRESS_TXS, BLOCK_LOGS, CREATORS, TABLES, TXS, address_index_writes
from tests.oracle.contracts import ADDR, FRESH, initcodes, runtimes
from tests.oracle.evm_asm import word
from tests.oracle.model import Account, BlockEnv, block_hash
from tests.oracle.pysei_runner import _native_env
from tests.oracle.strategies import COINBASE_FRESH, EOA_KEYS, EOAS, RandomBlock, random_block
from tests.oracle.txsign import TxSpec, sign_tx

BLOCK_HASH = bytes(range(32))


def _expected(
    block: RandomBlock, outcomes: list[tuple[Any, ...]], decoded: list[Decoded | str]
) -> tuple[list[TxRecord], list[BlockLog]]:
    """The records as the node built them in Python before the kernel encoded them."""
    records: list[TxRecord] = []
    logs: list[BlockLog] = []
    for raw, d, (skip, success, gas_used, cumulative, created, raw_logs, output, _halt) in zip(
        block.raw_txs, decoded, outcomes, strict=True
    ):
        if skip is not None:
            continue
        assert not isinstance(d, str)
        tx = d.tx
        index, first_log = len(records), len(logs)
        tx_logs = [Log(a, list(t), data) for a, t, data in raw_logs]
        logs.extend(BlockLog(log, tx.hash, index, first_log + i) for i, log in enumerate(tx_logs))
        records.append(
            TxRecord(
                tx.hash,
                raw,
                tx.sender,
                tx.to,
                tx.type,
                block.env.number,
                BLOCK_HASH,
                index,
                success,
                gas_used,
                cumulative,
                tx.effective_gas_price(block.env.base_fee),
                created,
                tx_logs,
                first_log,
                output,
            )
        )
    return records, logs


def _reached(record: TxRecord, frames: list[dict[str, Any]]) -> tuple[bytes, ...]:
    """What anvil's Otterscan search matches in a transaction's Parity frames, less the record's own addresses."""
    found: set[bytes] = set()
    for frame in frames:
        action, result = frame["action"], frame.get("result") or {}
        found.update(bytes.fromhex(action[k][2:]) for k in ("from", "to") if k in action)
        if frame["type"] == "create" and "address" in result:
            found.add(bytes.fromhex(result["address"][2:]))
    return tuple(sorted(found - {record.sender, record.to, record.contract_address}))


def _created(frames: list[dict[str, Any]]) -> tuple[tuple[bytes, bytes], ...]:
    """The contracts a transaction's internal creations made that stayed, with their creators, from its Parity
    frames: creations below top level that succeeded and that no frame above them undid by failing."""
    failed = [tuple(f["traceAddress"]) for f in frames if "error" in f]
    found = {
        (bytes.fromhex(f["result"]["address"][2:]), bytes.fromhex(f["action"]["from"][2:]))
        for f in frames
        if f["type"] == "create" and f["traceAddress"] and "address" in (f.get("result") or {})
        and not any(tuple(f["traceAddress"][: len(a)]) == a for a in failed)
    }  # fmt: skip
    return tuple(sorted(found))


def _addresses_trace_names_but_no_state_diff() -> RandomBlock:
    """Transactions whose traces name addresses their state diffs do not show (a random run found the first).
    FACTORY creates a contract, which its trace names, then REVERTs, undoing the creation; it does so again after
    calling the child (CREATE2); CALLER calls a fresh address with more value than it has, a call that fails
    before its frame starts and that the trace names with its error. Then a creation that stays (``created``)."""
    inits = initcodes("prague")
    calls = [
        (ADDR["FACTORY"], word(4) + word(0) + word(0) + inits["store"]),
        (ADDR["FACTORY"], word(7) + word(1) + word(0) + inits["logger"]),
        (ADDR["CALLER"], word(int.from_bytes(FRESH[1], "big")) + word(10**18) + word(0)),
        (ADDR["FACTORY"], word(2) + word(0) + word(0) + inits["store"]),
    ]
    pre = {a: Account(balance=10**21) for a in EOAS}
    pre |= {ADDR[name]: Account(nonce=1, code=code) for name, code in runtimes("prague").items()}
    raw = [
        sign_tx(TxSpec(0, 1, nonce, 1_000_000, to, 0, data, 0), EOA_KEYS[0]) for nonce, (to, data) in enumerate(calls)
    ]
    env = BlockEnv(1, 1, 30_000_000, 0, COINBASE_FRESH, bytes(32), 1, "prague")
    descr = ["FACTORY: create, revert", "FACTORY: create2, call the child, revert", "CALLER: value over balance",
             "FACTORY: create, call the child"]  # fmt: skip
    return RandomBlock(pre=pre, env=env, raw_txs=raw, descr=descr)


def _bloom_bits(record: TxRecord) -> bytes:
    """``TxRecord.bloom_bits`` of the record's logs."""
    bloom = int.from_bytes(logs_bloom([(log.address, log.topics) for log in record.logs]), "little")
    return b"".join(p.to_bytes(2, "big") for p in range(2048) if bloom >> p & 1)


def _check_receipt(stored: bytes, record: TxRecord) -> None:
    """The kernel's receipt JSON of a stored record is byte for byte what the RPC served when Python formatted it
    (``orjson.dumps(receipt_json(record))``, which computes the bloom from the logs), from the kernel's encoding
    (the bloom from its stored bits), msgspec's (a record Python wrote: an imported snapshot's head block) and
    records written before ``bloom_bits`` (17 fields) and ``internal`` (16) existed."""
    expected = orjson.dumps(format.receipt_json(record))
    fields = msgspec.structs.astuple(record)
    older = [msgspec.msgpack.encode(fields[:n]) for n in (16, 17)]
    for raw in (stored, msgspec.msgpack.encode(record), *older):
        assert native_receipt_json(raw) == (record.block_number, expected)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(block=random_block("prague", max_txs=24))
@example(block=_addresses_trace_names_but_no_state_diff())
def test_kernel_records_match_outcomes(block: RandomBlock) -> None:
    with tempfile.TemporaryDirectory(prefix="pysei-records-") as tmp:
        store = Store(tmp, TABLES, map_size=1 << 30, sync=False)
        env = block.env
        alloc = [
            (a, acct.balance, acct.nonce, acct.code, sorted(acct.storage.items())) for a, acct in block.pre.items()
        ]
        store.commit(
            env.number - 1,
            alloc=alloc,
            hashes=[(n, block_hash(n)) for n in range(max(0, env.number - 256), env.number)],
        )
        decoded = decode_transactions(block.raw_txs)
        senders = b"".join(b"\x00" * 20 if isinstance(d, str) else d.tx.sender for d in decoded)
        result = execute_block(store, _native_env(env), block.raw_txs, senders)
        outcomes = result.outcomes()
        # Undecodable transactions are skipped by the kernel, so every included one decoded here.
        records, logs = _expected(block, outcomes, decoded)
        encoded = result.records(BLOCK_HASH)
        assert encoded.tx_hashes() == [r.hash for r in records]
        assert encoded.raw_bytes == sum(len(r.raw) for r in records)
        assert [i for i, _ in result.skipped()] == [i for i, o in enumerate(outcomes) if o[0] is not None]
        # The addresses each transaction reached, recorded by execution without an inspector, are those its
        # Parity trace names (calls' from and to, created contracts) other than its sender, `to` and contract; the
        # contracts its internal creations made are those of the trace that no failure above undid.
        traces = trace_block(
            store, _native_env(env), env.number - 1, BLOCK_HASH, [(r.raw, r.sender, r.hash) for r in records],
            0, "parity", "null", 1 << 30,
        )  # fmt: skip
        records = [
            msgspec.structs.replace(
                r, internal=_reached(r, frames), created=_created(frames), bloom_bits=_bloom_bits(r)
            )
            for r, frames in zip(records, map(json.loads, traces), strict=True)
        ]
        # The executor's views decode the same bytes.
        assert list(TxRecords(encoded)) == records
        assert list(BlockLogs(encoded.logs, encoded.log_count)) == logs
        assert len(BlockLogs(encoded.logs, encoded.log_count)) == len(logs)
        store.commit(env.number, result=result, records=(TXS, BLOCK_LOGS, ADDRESS_TXS, CREATORS, encoded))
        for record in records:
            stored = store.get(TXS, record.hash)
            assert stored is not None and decode_tx_record(stored) == record
            _check_receipt(stored, record)
        # The kernel's address index and creator entries are those Python derives from the records.
        index = store.scan(ADDRESS_TXS, b"\x00", b"\xff" * 33, limit=1 << 20)
        creators = store.scan(CREATORS, b"\x00", b"\xff" * 21, limit=1 << 20)
        expected = address_index_writes(records)
        assert sorted(index) == sorted((k, v) for t, k, v in expected if t == ADDRESS_TXS)
        assert sorted(creators) == sorted((k, v) for t, k, v in expected if t == CREATORS)
        stored_logs = store.get(BLOCK_LOGS, env.number.to_bytes(8, "big"))
        # Blocks without logs have no entry, as before.
        assert (stored_logs is None) == (not logs)
        if stored_logs is not None:
            assert decode_block_logs(stored_logs) == logs
        del store
