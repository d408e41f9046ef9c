"""Sending and signing: eth_sendRawTransaction, and the dev accounts' eth_sendTransaction and signatures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils.address import to_checksum_address

from pysei.chain.accounts import DevAccount
from pysei.native import CallResult
from pysei.rpc import codec
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, param
from pysei.rpc.errors import invalid_params, server_error
from pysei.rpc.eth_call import call_failure, call_request
from pysei.rpc.eth_fees import SUGGESTED_TIP
from pysei.rpc.ingest import Ingest
from pysei.rpc.interfaces import ChainHead, ChainSettings, Impersonation, PendingPool, Simulator


class EthSend:
    def __init__(
        self,
        ingest: Ingest,
        view: ChainView,
        head: ChainHead,
        params: ChainSettings,
        pool: PendingPool,
        simulator: Simulator,
        accounts: Sequence[DevAccount],
        impersonation: Impersonation | None = None,
    ) -> None:
        self.ingest = ingest
        self.view = view
        self.head = head
        self.params = params
        self.pool = pool
        self.simulator = simulator
        self.dev_keys = {a.address: a.private_key for a in accounts}
        self.impersonation = impersonation

    async def rpc_eth_sendRawTransaction(self, params: list[Any]) -> str:
        return await self.ingest.one(param(params, 0, "data"))

    async def rpc_eth_sendTransaction(self, params: list[Any]) -> str:
        return await self.ingest.one(self._sign_tx(param(params, 0, "transaction")))

    async def rpc_eth_signTransaction(self, params: list[Any]) -> str:
        return hb(self._sign_tx(param(params, 0, "transaction")))

    def _sign_tx(self, obj: dict[str, Any]) -> bytes:
        sender = codec.address(param([obj.get("from")], 0, "from"), "from")
        key = self.dev_keys.get(sender)
        if key is None and self.impersonation is not None:
            key = self.impersonation.signing_key(sender)
        if key is None:
            raise server_error("unknown account")
        req = call_request(obj)
        base_fee = self.head.next_base_fee
        tx: dict[str, Any] = {
            "chainId": self.params.chain_id,
            "nonce": req.nonce if req.nonce is not None else self.pool.pending_nonce(sender),
            "value": req.value,
            "data": req.data,
        }
        if req.to is not None:
            # eth-account >= 0.14 refuses a lower-case address that is not EIP-55 checksummed.
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
                {"address": to_checksum_address(a), "storageKeys": ["0x" + k.hex() for k in ks]}
                for a, ks in req.access_list
            ]
        if req.gas is not None:
            tx["gas"] = req.gas
        else:
            est = self.simulator.estimate_gas(self.view.head, req)
            if isinstance(est, CallResult):
                raise call_failure(est)
            tx["gas"] = est
        return bytes(Account.sign_transaction(tx, key).raw_transaction)

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
