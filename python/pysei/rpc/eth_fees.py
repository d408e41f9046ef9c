"""eth_ fee methods: gas price suggestions and eth_feeHistory."""

from __future__ import annotations

from typing import Any

from pysei.chain.block import BlockRecord
from pysei.chain.constants import GWEI
from pysei.chain.fees import next_base_fee
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hx, param
from pysei.rpc.errors import invalid_params
from pysei.rpc.format import BLOB_BASE_FEE
from pysei.rpc.interfaces import ChainHead, ChainSettings

SUGGESTED_TIP = 1 * GWEI
MAX_FEE_HISTORY = 1024


class EthFees:
    def __init__(self, view: ChainView, head: ChainHead, params: ChainSettings) -> None:
        self.view = view
        self.chain = view.chain
        self.head = head
        self.params = params

    async def rpc_eth_gasPrice(self, params: list[Any]) -> str:
        return hx(self.head.next_base_fee + SUGGESTED_TIP)

    async def rpc_eth_maxPriorityFeePerGas(self, params: list[Any]) -> str:
        return hx(SUGGESTED_TIP)

    async def rpc_eth_blobBaseFee(self, params: list[Any]) -> str:
        return hx(BLOB_BASE_FEE)

    async def rpc_eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:
        """geth's answer, field for field: ``blockCount`` 0 gives no blocks, and ``reward`` is present only when
        percentiles were asked for."""
        count = min(codec.quantity(param(params, 0, "blockCount"), "blockCount", 64), MAX_FEE_HISTORY)
        newest = min(self.view.block_number(param(params, 1, "newestBlock")), self.view.head.header.number)
        percentiles = param(params, 2, "rewardPercentiles", required=False, default=[])
        if not isinstance(percentiles, list) or any(
            isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100 for p in percentiles
        ):
            raise invalid_params("invalid reward percentiles: expected numbers between 0 and 100")
        if percentiles != sorted(percentiles):
            raise invalid_params("invalid reward percentiles: not in ascending order")
        if count == 0:
            return {"oldestBlock": hx(0), "gasUsedRatio": None}
        oldest = max(0, newest - count + 1)
        blocks = [b for n in range(oldest, newest + 1) if (b := self.chain.block(n)) is not None]
        base_fees, ratios, rewards = [], [], []
        for blk in blocks:
            h = blk.header
            base_fees.append(hx(h.base_fee))
            ratios.append(h.gas_used / h.gas_limit if h.gas_limit else 0.0)
            if percentiles:
                rewards.append([hx(r) for r in self._block_rewards(blk, percentiles)])
        if blocks:
            last = blocks[-1].header
            base_fees.append(hx(next_base_fee(last.base_fee, last.gas_used, last.gas_limit, self.params.fees)))
        out: dict[str, Any] = {
            "oldestBlock": hx(oldest),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
            "baseFeePerBlobGas": [hx(BLOB_BASE_FEE)] * len(base_fees),
            "blobGasUsedRatio": [0.0] * len(ratios),
        }
        if percentiles:
            out["reward"] = rewards
        return out

    def _block_rewards(self, block: BlockRecord, percentiles: list[float]) -> list[int]:
        """Effective tips at gas-weighted percentiles, as geth computes them."""
        if not block.tx_hashes:
            return [0] * len(percentiles)
        records = [r for r in self.chain.txs(block.tx_hashes) if r is not None]
        base = block.header.base_fee
        tips = sorted(
            (tx.effective_tip(base), r.gas_used)
            for tx, r in zip(self.chain.transactions(records), records, strict=True)
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
