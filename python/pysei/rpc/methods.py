"""Ethereum JSON-RPC methods over the node: reads of committed data, calls through the kernel, ingest.

Every read goes to what the execution stage has committed; state queries are answered at the head (a past
block's state needs the history layer, and is refused with a clear error rather than answered wrongly).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import to_checksum_address

from pysei.chain.block import BlockRecord
from pysei.chain.constants import GWEI
from pysei.chain.fees import next_base_fee
from pysei.chain.transaction import Transaction
from pysei.mempool import MempoolError
from pysei.native import BlockEnv, CallRequest, CallResult, call, create_access_list, decode_transactions, estimate_gas
from pysei.node.node import Node
from pysei.rpc import codec
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.dev import DevApi, PoolApi, client_version, get_proof
from pysei.rpc.errors import RpcError, invalid_params, reverted, server_error
from pysei.rpc.filters import Filter, FilterRegistry, LogCriteria, parse_criteria
from pysei.rpc.format import block_json, block_log_json, receipt_json, tx_json

SUGGESTED_TIP = 1 * GWEI
OFFLOAD_DECODE = 16
"""Batches at least this large are decoded on a worker thread rather than on the event loop."""
MAX_LOG_RANGE = 100_000
"""Blocks one eth_getLogs may scan (block blooms make empty blocks cheap to skip)."""
MAX_FEE_HISTORY = 1024

Handler = Callable[[list[Any]], Awaitable[Any]]


def _halt_message(halt: str) -> str:
    if halt.startswith("OutOfGas"):
        return "out of gas"
    if halt.startswith("OutOfFunds"):
        # Only the top-level value transfer halts with OutOfFunds (a nested CALL just fails); geth's wording.
        return "insufficient funds for transfer"
    return f"execution halted: {halt}"


T = TypeVar("T")


class EthApi:
    """The method table; one instance per node, shared by HTTP and WebSocket connections."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.store = node.store
        self.filters = FilterRegistry()
        self.dev_keys = {a.address: a.private_key for a in node.accounts}
        node.block_listeners.append(self._feed_filters)
        node.pending_listeners.append(self._feed_pending_filters)
        self.methods: dict[str, Handler] = {
            name[len("rpc_") :]: getattr(self, name) for name in dir(self) if name.startswith("rpc_")
        }
        self.methods.update(DevApi(self).methods)
        self.methods.update(PoolApi(self).methods)
        self.methods["eth_getProof"] = get_proof

    # --- helpers -------------------------------------------------------------------------------------------
    @property
    def head(self) -> BlockRecord:
        head = self.node.executor.head
        assert head is not None
        return head

    def block_number(self, tag: Any) -> int:
        head = self.head.header.number
        if tag is None or tag in ("latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            return 0
        if isinstance(tag, dict):
            if "blockHash" in tag:
                number = self.store.block_number(codec.hash32(tag["blockHash"], "blockHash"))
                if number is None:
                    raise server_error(f"header for hash {tag['blockHash']} not found")
                return number
            if "blockNumber" not in tag:
                raise invalid_params("invalid block: object needs blockHash or blockNumber")
            return self.block_number(tag["blockNumber"])
        return codec.quantity(tag, "block number", 64)

    def state_block(self, tag: Any) -> BlockRecord:
        """The block whose state a query wants. State reads then pass its number, so a block committed meanwhile
        does not leak into the answer; past blocks are read from the history index down to the pruning floor."""
        number = self.block_number(tag)
        head = self.head
        if number > head.header.number:
            raise server_error(f"block {number} not found (head is {head.header.number})")
        if number == head.header.number:
            return head
        self._check_retained(number)
        block = self.store.block(number)
        if block is None:
            raise server_error(f"block {number} not found")
        return block

    def _check_retained(self, number: int) -> None:
        floor = self.store.history_floor()
        if number < floor:
            raise server_error(
                f"historical state not available: block {number} is below the retained history "
                f"(blocks {floor}..{self.head.header.number}; run with --pruning archive to keep all)"
            )

    def read_state(self, tag: Any, read: Callable[[BlockRecord], T]) -> tuple[BlockRecord, T]:
        """Runs ``read`` on the state after the block ``tag`` names, and checks the history floor again afterwards:
        a pruning pass that advanced it meanwhile may have deleted history entries the read used."""
        block = self.state_block(tag)
        out = read(block)
        self._check_retained(block.header.number)
        return block, out

    def block_env(self, block: BlockRecord) -> BlockEnv:
        h = block.header
        return BlockEnv(
            number=h.number,
            timestamp=h.timestamp,
            gas_limit=h.gas_limit,
            base_fee=h.base_fee,
            beneficiary=h.beneficiary,
            prevrandao=h.prevrandao,
            chain_id=self.node.config.chain_id,
        )

    def call_request(self, obj: Any) -> CallRequest:
        if not isinstance(obj, dict):
            raise invalid_params("transaction object expected")
        data = obj.get("input", obj.get("data"))
        price = obj.get("gasPrice")
        max_fee = obj.get("maxFeePerGas", price)
        access = obj.get("accessList") or []
        return CallRequest(
            sender=codec.address(obj["from"], "from") if obj.get("from") else b"\x00" * 20,
            to=codec.address(obj["to"], "to") if obj.get("to") else None,
            gas=codec.quantity(obj["gas"], "gas", 64) if obj.get("gas") is not None else None,
            max_fee_per_gas=codec.quantity(max_fee, "maxFeePerGas") if max_fee is not None else None,
            max_priority_fee_per_gas=(
                codec.quantity(obj["maxPriorityFeePerGas"], "maxPriorityFeePerGas")
                if obj.get("maxPriorityFeePerGas") is not None
                else None
            ),
            value=codec.quantity(obj["value"], "value") if obj.get("value") is not None else 0,
            data=codec.data(data, "input") if data is not None else b"",
            nonce=codec.quantity(obj["nonce"], "nonce", 64) if obj.get("nonce") is not None else None,
            access_list=[
                (codec.address(e["address"]), [codec.hash32(k, "storage key") for k in e.get("storageKeys", [])])
                for e in access
            ],
        )

    # --- ingest --------------------------------------------------------------------------------------------
    async def ingest(self, raws: list[bytes]) -> list[str | RpcError]:
        """Validates, decodes (one native call for the whole batch) and pools raw transactions."""
        cfg = self.node.config
        results: list[str | RpcError | None] = [None] * len(raws)
        to_decode: list[int] = []
        for i, raw in enumerate(raws):
            if len(raw) > cfg.max_tx_size:
                results[i] = server_error(f"oversized data: transaction size {len(raw)}, limit {cfg.max_tx_size}")
            else:
                to_decode.append(i)
        batch = [raws[i] for i in to_decode]
        # Recovery (~20 µs a signature, GIL released) would otherwise block the event loop for a whole batch;
        # off the loop, other connections' requests and receipts are served meanwhile.
        decoded = (
            await asyncio.to_thread(decode_transactions, batch)
            if len(batch) >= OFFLOAD_DECODE
            else decode_transactions(batch)
        )
        accepted: list[tuple[int, Transaction]] = []
        for i, item in zip(to_decode, decoded, strict=True):
            if isinstance(item, str):
                results[i] = server_error(item)
                continue
            tx = item.tx
            if (impersonated := self.node.dev.aliases.get(tx.sender)) is not None:
                tx = msgspec.structs.replace(tx, sender=impersonated)
            if tx.chain_id is None:
                results[i] = server_error("only replay-protected (EIP-155) transactions allowed over RPC")
            elif tx.chain_id != cfg.chain_id:
                results[i] = server_error(f"invalid chain id for signer: have {tx.chain_id} want {cfg.chain_id}")
            elif tx.gas_limit < item.intrinsic_gas:
                results[i] = server_error(
                    f"intrinsic gas too low: gas {tx.gas_limit}, minimum needed {item.intrinsic_gas}"
                )
            elif tx.gas_limit > (block_gas := self.node.executor.params.gas_limit):
                results[i] = server_error(f"exceeds block gas limit: gas {tx.gas_limit}, limit {block_gas}")
            else:
                accepted.append((i, tx))
        outcomes = self.node.submit([tx for _, tx in accepted])
        mined: list[bytes] = []
        for (i, tx), outcome in zip(accepted, outcomes, strict=True):
            if isinstance(outcome, MempoolError):
                results[i] = server_error(str(outcome))
            else:
                results[i] = hb(tx.hash)
                mined.append(tx.hash)
        if self.node.sequencer.automine and mined:
            await self.node.wait_executed(mined)
        return [r if r is not None else server_error("internal: unprocessed") for r in results]

    async def rpc_eth_sendRawTransaction(self, params: list[Any]) -> str:
        result = (await self.ingest([codec.data(param(params, 0, "data"), "raw transaction")]))[0]
        if isinstance(result, RpcError):
            raise result
        return result

    def _sign_tx(self, obj: dict[str, Any]) -> bytes:
        sender = codec.address(param([obj.get("from")], 0, "from"), "from")
        key = self.dev_keys.get(sender) or self.node.dev.signing_key(sender)
        if key is None:
            raise server_error("unknown account")
        req = self.call_request(obj)
        base_fee = self.node.executor.next_base_fee
        tx: dict[str, Any] = {
            "chainId": self.node.config.chain_id,
            "nonce": req.nonce if req.nonce is not None else self.node.mempool.pending_nonce(sender),
            "value": req.value,
            "data": req.data,
        }
        if req.to is not None:
            # eth-account refuses an all-lowercase address that has letters: give it the EIP-55 form.
            tx["to"] = to_checksum_address(req.to)
        if "gasPrice" in obj and "maxFeePerGas" not in obj:
            tx["gasPrice"] = codec.quantity(obj["gasPrice"], "gasPrice")
        else:
            tip = req.max_priority_fee_per_gas if req.max_priority_fee_per_gas is not None else SUGGESTED_TIP
            tx["maxPriorityFeePerGas"] = tip
            tx["maxFeePerGas"] = req.max_fee_per_gas if req.max_fee_per_gas is not None else 2 * base_fee + tip
            tx["type"] = 2
        if req.access_list:
            tx["accessList"] = [
                {"address": "0x" + a.hex(), "storageKeys": ["0x" + k.hex() for k in ks]} for a, ks in req.access_list
            ]
        if req.gas is not None:
            tx["gas"] = req.gas
        else:
            est = estimate_gas(self.store.native, self.block_env(self.head), req)
            if isinstance(est, CallResult):
                raise self._call_failure(est)
            tx["gas"] = est
        return bytes(Account.sign_transaction(tx, key).raw_transaction)

    async def rpc_eth_sendTransaction(self, params: list[Any]) -> str:
        raw = self._sign_tx(param(params, 0, "transaction"))
        result = (await self.ingest([raw]))[0]
        if isinstance(result, RpcError):
            raise result
        return result

    async def rpc_eth_signTransaction(self, params: list[Any]) -> str:
        return hb(self._sign_tx(param(params, 0, "transaction")))

    # --- signing with dev accounts -------------------------------------------------------------------------
    def _key(self, addr: Any) -> bytes:
        key = self.dev_keys.get(codec.address(addr))
        if key is None:
            raise server_error("unknown account")
        return key

    async def rpc_eth_sign(self, params: list[Any]) -> str:
        key = self._key(param(params, 0, "address"))
        message = codec.data(param(params, 1, "message"), "message")
        return hb(Account.sign_message(encode_defunct(primitive=message), key).signature)

    async def rpc_personal_sign(self, params: list[Any]) -> str:
        key = self._key(param(params, 1, "address"))
        message = codec.data(param(params, 0, "message"), "message")
        return hb(Account.sign_message(encode_defunct(primitive=message), key).signature)

    async def rpc_eth_signTypedData_v4(self, params: list[Any]) -> str:
        key = self._key(param(params, 0, "address"))
        typed = param(params, 1, "typedData")
        if isinstance(typed, str):
            try:
                typed = json.loads(typed)
            except json.JSONDecodeError as e:
                raise invalid_params(f"invalid typed data: {e}") from None
        try:
            signable = encode_typed_data(full_message=typed)
        except Exception as e:  # eth-account raises assorted errors for malformed typed data
            raise invalid_params(f"invalid typed data: {e}") from None
        return hb(Account.sign_message(signable, key).signature)

    # --- chain info ----------------------------------------------------------------------------------------
    async def rpc_web3_clientVersion(self, params: list[Any]) -> str:
        return client_version(self.node.config.dev_methods)

    async def rpc_web3_sha3(self, params: list[Any]) -> str:
        from pysei.native import keccak

        return hb(keccak(codec.data(param(params, 0, "data"))))

    async def rpc_net_version(self, params: list[Any]) -> str:
        return str(self.node.config.chain_id)

    async def rpc_net_listening(self, params: list[Any]) -> bool:
        return True

    async def rpc_net_peerCount(self, params: list[Any]) -> str:
        return "0x0"

    async def rpc_eth_chainId(self, params: list[Any]) -> str:
        return hx(self.node.config.chain_id)

    async def rpc_eth_syncing(self, params: list[Any]) -> bool:
        return False

    async def rpc_eth_mining(self, params: list[Any]) -> bool:
        return True

    async def rpc_eth_coinbase(self, params: list[Any]) -> str:
        return codec.checksum(self.node.params.beneficiary)

    async def rpc_eth_accounts(self, params: list[Any]) -> list[str]:
        return [a.checksum_address for a in self.node.accounts]

    async def rpc_eth_blockNumber(self, params: list[Any]) -> str:
        return hx(self.head.header.number)

    async def rpc_eth_gasPrice(self, params: list[Any]) -> str:
        return hx(self.node.executor.next_base_fee + SUGGESTED_TIP)

    async def rpc_eth_maxPriorityFeePerGas(self, params: list[Any]) -> str:
        return hx(SUGGESTED_TIP)

    async def rpc_eth_blobBaseFee(self, params: list[Any]) -> str:
        raise server_error("blobs are not supported (Sei runs Pectra without blobs)")

    async def rpc_eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:
        count = min(codec.quantity(param(params, 0, "blockCount"), "blockCount", 64), MAX_FEE_HISTORY)
        newest = min(self.block_number(param(params, 1, "newestBlock")), self.head.header.number)
        percentiles = param(params, 2, "rewardPercentiles", required=False, default=None)
        if percentiles is not None and (
            not isinstance(percentiles, list)
            or any(not isinstance(p, int | float) or not 0 <= p <= 100 for p in percentiles)
            or percentiles != sorted(percentiles)
        ):
            raise invalid_params("invalid reward percentiles")
        oldest = max(0, newest - count + 1)
        blocks = [b for n in range(oldest, newest + 1) if count and (b := self.store.block(n)) is not None]
        base_fees, ratios, rewards = [], [], []
        for blk in blocks:
            h = blk.header
            base_fees.append(hx(h.base_fee))
            ratios.append(h.gas_used / h.gas_limit if h.gas_limit else 0.0)
            if percentiles is not None:
                rewards.append([hx(r) for r in self._block_rewards(blk, percentiles)])
        if blocks:
            last = blocks[-1].header
            base_fees.append(hx(next_base_fee(last.base_fee, last.gas_used, last.gas_limit, self.node.params.fees)))
        out: dict[str, Any] = {"oldestBlock": hx(oldest), "baseFeePerGas": base_fees, "gasUsedRatio": ratios}
        if percentiles is not None:
            out["reward"] = rewards
        return out

    def _block_rewards(self, block: BlockRecord, percentiles: list[float]) -> list[int]:
        """Effective tips at gas-weighted percentiles, as geth computes them."""
        if not block.tx_hashes:
            return [0] * len(percentiles)
        records = [r for r in self.store.txs(block.tx_hashes) if r is not None]
        base = block.header.base_fee
        tips = sorted(
            (tx.effective_tip(base), r.gas_used)
            for tx, r in zip(self.store.transactions(records), records, strict=True)
        )
        total = sum(g for _, g in tips) or 1
        out, acc, i = [], 0, 0
        for p in percentiles:
            threshold = total * p / 100
            while i < len(tips) - 1 and acc + tips[i][1] < threshold:
                acc += tips[i][1]
                i += 1
            out.append(tips[i][0])
        return out

    # --- state ---------------------------------------------------------------------------------------------
    async def rpc_eth_getBalance(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        tag = param(params, 1, "block", required=False, default="latest")
        return hx(self.read_state(tag, lambda b: self.store.balance(addr, b.header.number))[1])

    async def rpc_eth_getTransactionCount(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        tag = param(params, 1, "block", required=False, default="latest")
        if tag == "pending":
            return hx(self.node.mempool.pending_nonce(addr))
        return hx(self.read_state(tag, lambda b: self.store.nonce(addr, b.header.number))[1])

    async def rpc_eth_getCode(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        tag = param(params, 1, "block", required=False, default="latest")
        return hb(self.read_state(tag, lambda b: self.store.code(addr, b.header.number))[1])

    async def rpc_eth_getStorageAt(self, params: list[Any]) -> str:
        addr = codec.address(param(params, 0, "address"))
        slot = codec.quantity(param(params, 1, "slot"), "storage slot")
        if slot >= 2**256:
            raise invalid_params("invalid storage slot: exceeds 32 bytes")
        tag = param(params, 2, "block", required=False, default="latest")
        return hb(
            self.read_state(tag, lambda b: self.store.storage(addr, slot, b.header.number))[1].to_bytes(32, "big")
        )

    # --- calls ---------------------------------------------------------------------------------------------
    def _call_failure(self, result: CallResult, *, estimating: bool = False, gas: int | None = None) -> RpcError:
        if result.halt is None:
            return reverted(result.output)
        if estimating and result.halt.startswith("OutOfGas"):
            return server_error(f"gas required exceeds allowance ({gas})")
        return server_error(_halt_message(result.halt))

    async def rpc_eth_call(self, params: list[Any]) -> str:
        req = self.call_request(param(params, 0, "transaction"))
        tag = param(params, 1, "block", required=False, default="latest")
        try:
            _, result = self.read_state(tag, lambda b: call(self.store.native, self.block_env(b), req, b.header.number))
        except ValueError as e:
            raise server_error(str(e)) from None
        if not result.success:
            raise self._call_failure(result)
        return hb(result.output)

    async def rpc_eth_estimateGas(self, params: list[Any]) -> str:
        req = self.call_request(param(params, 0, "transaction"))
        tag = param(params, 1, "block", required=False, default="latest")
        try:
            block, result = self.read_state(
                tag, lambda b: estimate_gas(self.store.native, self.block_env(b), req, b.header.number)
            )
        except ValueError as e:
            raise server_error(str(e)) from None
        if isinstance(result, CallResult):
            raise self._call_failure(result, estimating=True, gas=req.gas or block.header.gas_limit)
        return hx(result)

    async def rpc_eth_createAccessList(self, params: list[Any]) -> dict[str, Any]:
        req = self.call_request(param(params, 0, "transaction"))
        tag = param(params, 1, "block", required=False, default="latest")
        try:
            _, (access, result) = self.read_state(
                tag, lambda b: create_access_list(self.store.native, self.block_env(b), req, b.header.number)
            )
        except ValueError as e:
            raise server_error(str(e)) from None
        out: dict[str, Any] = {
            "accessList": [{"address": codec.checksum(a), "storageKeys": [hb(k) for k in keys]} for a, keys in access],
            "gasUsed": hx(result.gas_used),
        }
        if not result.success:
            out["error"] = self._call_failure(result).message
        return out

    # --- blocks and transactions ---------------------------------------------------------------------------
    def _block_by_tag(self, tag: Any) -> BlockRecord | None:
        number = self.block_number(tag)
        return self.store.block(number) if number <= self.head.header.number else None

    def _render_block(self, block: BlockRecord | None, full: bool) -> dict[str, Any] | None:
        if block is None:
            return None
        if not full:
            return block_json(block, [hb(h) for h in block.tx_hashes])
        records = [r for r in self.store.txs(block.tx_hashes) if r is not None]
        txs = self.store.transactions(records)
        return block_json(block, [tx_json(tx, r) for tx, r in zip(txs, records, strict=True)])

    async def rpc_eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        return self._render_block(
            self._block_by_tag(param(params, 0, "block")), bool(param(params, 1, "full", required=False, default=False))
        )

    async def rpc_eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:
        number = self.store.block_number(codec.hash32(param(params, 0, "block hash")))
        block = None if number is None else self.store.block(number)
        return self._render_block(block, bool(param(params, 1, "full", required=False, default=False)))

    async def rpc_eth_getBlockTransactionCountByNumber(self, params: list[Any]) -> str | None:
        block = self._block_by_tag(param(params, 0, "block"))
        return None if block is None else hx(len(block.tx_hashes))

    async def rpc_eth_getBlockTransactionCountByHash(self, params: list[Any]) -> str | None:
        number = self.store.block_number(codec.hash32(param(params, 0, "block hash")))
        block = None if number is None else self.store.block(number)
        return None if block is None else hx(len(block.tx_hashes))

    async def rpc_eth_getUncleCountByBlockNumber(self, params: list[Any]) -> str:
        return "0x0"

    async def rpc_eth_getUncleCountByBlockHash(self, params: list[Any]) -> str:
        return "0x0"

    async def rpc_eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:
        tx_hash = codec.hash32(param(params, 0, "transaction hash"))
        record = self.store.tx(tx_hash)
        if record is not None:
            return tx_json(self.store.transactions([record])[0], record)
        pending = self.node.mempool.get(tx_hash)
        return None if pending is None else tx_json(pending, None)

    def _tx_at(self, block: BlockRecord | None, index: Any) -> dict[str, Any] | None:
        i = codec.quantity(index, "index", 64)
        if block is None or i >= len(block.tx_hashes):
            return None
        record = self.store.tx(block.tx_hashes[i])
        return None if record is None else tx_json(self.store.transactions([record])[0], record)

    async def rpc_eth_getTransactionByBlockNumberAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        return self._tx_at(self._block_by_tag(param(params, 0, "block")), param(params, 1, "index"))

    async def rpc_eth_getTransactionByBlockHashAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        number = self.store.block_number(codec.hash32(param(params, 0, "block hash")))
        block = None if number is None else self.store.block(number)
        return self._tx_at(block, param(params, 1, "index"))

    async def rpc_eth_getTransactionReceipt(self, params: list[Any]) -> dict[str, Any] | None:
        record = self.store.tx(codec.hash32(param(params, 0, "transaction hash")))
        return None if record is None else receipt_json(record)

    async def rpc_eth_getBlockReceipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        tag = param(params, 0, "block")
        if isinstance(tag, str) and len(tag) == 66:
            number = self.store.block_number(codec.hash32(tag))
            block = None if number is None else self.store.block(number)
        else:
            block = self._block_by_tag(tag)
        if block is None:
            return None
        return [receipt_json(r) for r in self.store.txs(block.tx_hashes) if r is not None]

    # --- logs and filters ----------------------------------------------------------------------------------
    def _log_range(self, obj: dict[str, Any]) -> tuple[int, int]:
        if obj.get("blockHash") is not None:
            if obj.get("fromBlock") is not None or obj.get("toBlock") is not None:
                raise invalid_params("cannot specify both blockHash and fromBlock/toBlock")
            number = self.store.block_number(codec.hash32(obj["blockHash"], "blockHash"))
            if number is None:
                raise server_error("unknown block")
            return number, number
        head = self.head.header.number
        start = self.block_number(obj.get("fromBlock", "latest"))
        end = min(self.block_number(obj.get("toBlock", "latest")), head)
        if start > end and start <= head:
            raise invalid_params("invalid block range params")
        return start, end

    def logs_in(self, start: int, end: int, criteria: LogCriteria) -> list[dict[str, Any]]:
        if end - start + 1 > MAX_LOG_RANGE:
            raise server_error(f"query exceeds max block range {MAX_LOG_RANGE}")
        out: list[dict[str, Any]] = []
        for number in range(start, end + 1):
            block = self.store.block(number)
            if block is None or not any(block.header.logs_bloom):
                continue
            out.extend(
                block_log_json(e, number, block.hash) for e in self.store.block_logs(number) if criteria.matches(e.log)
            )
        return out

    async def rpc_eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        obj = param(params, 0, "filter")
        if not isinstance(obj, dict):
            raise invalid_params("filter object expected")
        start, end = self._log_range(obj)
        return self.logs_in(start, end, parse_criteria(obj))

    async def rpc_eth_newFilter(self, params: list[Any]) -> str:
        obj = param(params, 0, "filter")
        if not isinstance(obj, dict):
            raise invalid_params("filter object expected")
        criteria = parse_criteria(obj)
        head = self.head.header.number
        from_block = self.block_number(obj["fromBlock"]) if obj.get("fromBlock") not in (None, "latest") else None
        to_block = self.block_number(obj["toBlock"]) if obj.get("toBlock") not in (None, "latest") else None
        flt = Filter("logs", criteria=criteria, from_block=from_block, to_block=to_block)
        if from_block is not None and from_block <= head:
            flt.changes = self.logs_in(from_block, min(head, to_block if to_block is not None else head), criteria)
        return self.filters.install(flt)

    async def rpc_eth_newBlockFilter(self, params: list[Any]) -> str:
        return self.filters.install(Filter("blocks"))

    async def rpc_eth_newPendingTransactionFilter(self, params: list[Any]) -> str:
        return self.filters.install(Filter("pending"))

    async def rpc_eth_getFilterChanges(self, params: list[Any]) -> list[Any]:
        flt = self.filters.get(param(params, 0, "filter id"))
        if flt is None:
            raise server_error("filter not found")
        changes, flt.changes = flt.changes, []
        return changes

    async def rpc_eth_getFilterLogs(self, params: list[Any]) -> list[Any]:
        flt = self.filters.get(param(params, 0, "filter id"))
        if flt is None or flt.kind != "logs" or flt.criteria is None:
            raise server_error("filter not found")
        head = self.head.header.number
        start = flt.from_block if flt.from_block is not None else head
        end = min(flt.to_block if flt.to_block is not None else head, head)
        return self.logs_in(start, end, flt.criteria)

    async def rpc_eth_uninstallFilter(self, params: list[Any]) -> bool:
        return self.filters.remove(param(params, 0, "filter id"))

    def _feed_filters(self, executed: Any) -> None:
        self.filters.expire()
        block = executed.block
        number = block.header.number
        for flt in self.filters.of_kind("blocks"):
            self.filters.push(flt, [hb(block.hash)])
        for flt in self.filters.of_kind("logs"):
            assert flt.criteria is not None
            if (flt.from_block is not None and number < flt.from_block) or (
                flt.to_block is not None and number > flt.to_block
            ):
                continue
            matched = [block_log_json(e, number, block.hash) for e in executed.logs if flt.criteria.matches(e.log)]
            if matched:
                self.filters.push(flt, matched)

    def _feed_pending_filters(self, hashes: Sequence[bytes]) -> None:
        pending = self.filters.of_kind("pending")
        if pending:
            rendered = [hb(h) for h in hashes]
            for flt in pending:
                self.filters.push(flt, rendered)

    # --- state commitment ----------------------------------------------------------------------------------
    async def rpc_sei_getStateCommitment(self, params: list[Any]) -> dict[str, Any]:
        """The LtHash commitment of the state after a block, and the block whose header carries it.

        ``commitment`` is null while the worker has not reached the block yet (it trails execution by design);
        once the certifying block ``number + k`` exists, its ``stateRoot`` equals this commitment."""
        number = self.block_number(param(params, 0, "block", required=False, default="latest"))
        head = self.head.header.number
        if number > head:
            raise server_error(f"block {number} not found (head is {head})")
        digest = self.store.commitment(number)
        delay = self.node.params.commitment_delay
        return {
            "blockNumber": hx(number),
            "commitment": None if digest is None else hb(digest),
            "certifiedInBlock": hx(number + delay),
            "delay": hx(delay),
            "scheme": "lthash16-1024-blake3",
        }

    # --- metrics -------------------------------------------------------------------------------------------
    async def rpc_pysei_executionStats(self, params: list[Any]) -> list[dict[str, Any]]:
        """Execution statistics of the most recent blocks (at most ``count``, default 100), newest last."""
        count = codec.quantity(param(params, 0, "count", required=False, default=100), "count", bits=16)
        recent = list(self.node.recent_stats)[-count:] if count else []
        return [{"block": n, **stats, "fallback": fallback} for n, stats, fallback in recent]

    # --- pool ----------------------------------------------------------------------------------------------
    async def rpc_txpool_status(self, params: list[Any]) -> dict[str, str]:
        pool = self.node.mempool
        return {"pending": hx(pool.pending_count + pool.in_flight_count), "queued": hx(pool.queued_count)}
