"""JSON shapes of blocks, transactions, receipts and logs, as geth returns them."""

from __future__ import annotations

from typing import Any

from pysei.chain.block import BlockLog, BlockRecord, Log, TxRecord
from pysei.chain.constants import EMPTY_OMMERS_HASH, EMPTY_REQUESTS_HASH, EMPTY_ROOT, ZERO_HASH
from pysei.chain.transaction import LEGACY_TX_TYPE, Transaction
from pysei.native import logs_bloom
from pysei.rpc.codec import checksum, hb, hx

BLOB_BASE_FEE = 1
"""The blob base fee of every block: headers carry zero excess blob gas (Sei runs Pectra without blobs), so it
stays at EIP-4844's minimum, which clients read from receipts and eth_feeHistory as geth and anvil report it."""


def block_json(block: BlockRecord, txs: list[Any]) -> dict[str, Any]:
    """``txs`` are hashes (hex strings) or full transaction objects, as the request asked."""
    h = block.header
    return {
        "number": hx(h.number),
        "hash": hb(block.hash),
        "parentHash": hb(h.parent_hash),
        "nonce": "0x0000000000000000",
        "sha3Uncles": hb(EMPTY_OMMERS_HASH),
        "logsBloom": hb(h.logs_bloom),
        "transactionsRoot": hb(h.transactions_root),
        "stateRoot": hb(h.state_root),
        "receiptsRoot": hb(h.receipts_root),
        "miner": checksum(h.beneficiary),
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": hb(h.extra_data),
        "size": hx(block.size),
        "gasLimit": hx(h.gas_limit),
        "gasUsed": hx(h.gas_used),
        "timestamp": hx(h.timestamp),
        "mixHash": hb(h.prevrandao),
        "baseFeePerGas": hx(h.base_fee),
        "withdrawalsRoot": hb(EMPTY_ROOT),
        "withdrawals": [],
        "blobGasUsed": "0x0",
        "excessBlobGas": "0x0",
        "parentBeaconBlockRoot": hb(ZERO_HASH),
        "requestsHash": hb(EMPTY_REQUESTS_HASH),
        "transactions": txs,
        "uncles": [],
    }


def tx_json(tx: Transaction, record: TxRecord | None, base_fee: int | None = None) -> dict[str, Any]:
    """A transaction; ``record`` places it in a block (None for a pending one)."""
    out: dict[str, Any] = {
        "type": hx(tx.type),
        "hash": hb(tx.hash),
        "nonce": hx(tx.nonce),
        "blockHash": None,
        "blockNumber": None,
        "transactionIndex": None,
        "from": checksum(tx.sender),
        "to": None if tx.to is None else checksum(tx.to),
        "value": hx(tx.value),
        "gas": hx(tx.gas_limit),
        "input": hb(tx.input),
        "v": hx(tx.v),
        "r": hx(tx.r),
        "s": hx(tx.s),
    }
    if tx.chain_id is not None:
        out["chainId"] = hx(tx.chain_id)
    if tx.type == LEGACY_TX_TYPE or tx.gas_price is not None:
        out["gasPrice"] = hx(tx.gas_price if tx.gas_price is not None else tx.max_fee_per_gas)
    if tx.type != LEGACY_TX_TYPE:
        out["accessList"] = [
            {"address": checksum(a), "storageKeys": [hb(k) for k in keys]} for a, keys in tx.access_list
        ]
        out["yParity"] = hx(tx.v)
    if tx.type >= 2:
        out["maxFeePerGas"] = hx(tx.max_fee_per_gas)
        out["maxPriorityFeePerGas"] = hx(tx.max_priority_fee_per_gas)
        price = record.effective_gas_price if record else tx.max_fee_per_gas
        out["gasPrice"] = hx(price)
    if record is not None:
        out["blockHash"] = hb(record.block_hash)
        out["blockNumber"] = hx(record.block_number)
        out["transactionIndex"] = hx(record.index)
    return out


def log_json(log: Log, block_number: int, block_hash: bytes, tx_hash: bytes, tx_index: int, index: int) -> dict:
    return {
        "address": checksum(log.address),
        "topics": [hb(t) for t in log.topics],
        "data": hb(log.data),
        "blockNumber": hx(block_number),
        "blockHash": hb(block_hash),
        "transactionHash": hb(tx_hash),
        "transactionIndex": hx(tx_index),
        "logIndex": hx(index),
        "removed": False,
    }


def block_log_json(entry: BlockLog, block_number: int, block_hash: bytes) -> dict[str, Any]:
    return log_json(entry.log, block_number, block_hash, entry.tx_hash, entry.tx_index, entry.log_index)


def receipt_json(record: TxRecord) -> dict[str, Any]:
    logs = [
        log_json(log, record.block_number, record.block_hash, record.hash, record.index, record.first_log_index + i)
        for i, log in enumerate(record.logs)
    ]
    return {
        "type": hx(record.type),
        "transactionHash": hb(record.hash),
        "transactionIndex": hx(record.index),
        "blockHash": hb(record.block_hash),
        "blockNumber": hx(record.block_number),
        "from": checksum(record.sender),
        "to": None if record.to is None else checksum(record.to),
        "cumulativeGasUsed": hx(record.cumulative_gas_used),
        "gasUsed": hx(record.gas_used),
        "effectiveGasPrice": hx(record.effective_gas_price),
        "blobGasPrice": hx(BLOB_BASE_FEE),
        "contractAddress": None if record.contract_address is None else checksum(record.contract_address),
        "logs": logs,
        "logsBloom": hb(logs_bloom([(log.address, log.topics) for log in record.logs])),
        "status": "0x1" if record.success else "0x0",
    }
