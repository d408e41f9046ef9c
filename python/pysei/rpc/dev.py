"""Dev RPC methods under anvil's, Hardhat's and the evm_ names (as anvil aliases them), over ``pysei.node.dev``.

Served only on a devnet (``NodeConfig.dev_methods``); on a network with other validators, editing state or the
clock would fork this node from them, so each method answers a clear error instead. Every ``hardhat_*`` name is
an alias of its ``anvil_*`` twin, as in anvil; the ``evm_*`` methods are served under their ``anvil_*`` names too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from eth_utils import to_checksum_address

from pysei import __version__
from pysei.rpc import codec
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import invalid_params, server_error
from pysei.rpc.format import tx_json

if TYPE_CHECKING:
    from pysei.rpc.chainview import ChainView
    from pysei.rpc.interfaces import DevNode, PendingPool

Handler = Callable[[list[Any]], Awaitable[Any]]

ANVIL_VERSION = "1.7.1"
"""The anvil release whose dev-method behaviour pysei follows (checked against it)."""


def client_version(dev_methods: bool) -> str:
    """``web3_clientVersion``. Hardhat's network helpers refuse any node whose version does not start with
    ``hardhat``, ``anvil`` or ``zksync``; a devnet serves anvil's dev methods, so it says so first and names itself
    after: ``anvil/v1.7.1-compatible/pysei/v…``. A network without dev methods is plainly ``pysei/v…``."""
    own = f"pysei/v{__version__}/python"
    return f"anvil/v{ANVIL_VERSION}-compatible/{own}" if dev_methods else own


class DevApi:
    """anvil_*/hardhat_*/evm_* handlers; ``methods`` is registered in the node's method table."""

    EVM = ("snapshot", "revert", "mine", "increaseTime", "setNextBlockTimestamp", "setTime", "setAutomine",
           "setIntervalMining", "setBlockGasLimit")  # fmt: skip
    """Methods served under ``evm_*`` as well as ``anvil_*``/``hardhat_*``."""

    def __init__(self, dev: DevNode | None, view: ChainView) -> None:
        """``dev`` None (a node with other validators): every method is refused with the reason."""
        self._dev = dev
        self.view = view
        self.methods: dict[str, Handler] = {}
        for attr in dir(self):
            if not attr.startswith("dev_"):
                continue
            name = attr[len("dev_") :]
            handler = self._guarded(getattr(self, attr))
            prefixes = ("anvil", "hardhat", "evm") if name in self.EVM else ("anvil", "hardhat")
            for prefix in prefixes:
                self.methods[f"{prefix}_{name}"] = handler

    @property
    def dev(self) -> DevNode:
        assert self._dev is not None, "dev methods are guarded"
        return self._dev

    def _guarded(self, handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(params: list[Any]) -> Any:
            if self._dev is None or not self._dev.enabled:
                raise server_error(
                    f"{handler.__name__.removeprefix('dev_')}: dev methods are disabled on this network (they "
                    "would fork this node from the other validators); they are served on a devnet only"
                )
            try:
                return await handler(params)
            except ValueError as e:  # the node's refusal, with its reason
                raise server_error(str(e)) from None

        return guarded

    # --- mining --------------------------------------------------------------------------------------------
    async def dev_mine(self, params: list[Any]) -> Any:
        """``anvil_mine``/``hardhat_mine [count, interval]``; ``evm_mine [timestamp | {timestamp, blocks}]``."""
        first = param(params, 0, "count", required=False)
        if isinstance(first, dict):  # evm_mine's options object (ganache and anvil)
            count = codec.quantity(first.get("blocks", 1), "blocks", 32)
            ts = first.get("timestamp")
            await self.dev.mine(count, None, None if ts is None else self._timestamp(ts))
            return "0x0"
        count = 1 if first is None else codec.quantity(first, "count", 32)
        interval = param(params, 1, "interval", required=False)
        await self.dev.mine(count, None if interval is None else codec.quantity(interval, "interval", 64))
        return "0x0"

    def _timestamp(self, value: Any) -> int:
        ts = value if isinstance(value, int) else codec.quantity(value, "timestamp", 64)
        self.dev.check_next_timestamp(ts)
        return ts

    @staticmethod
    def _flag(params: list[Any]) -> bool:
        enabled = param(params, 0, "enabled")
        if not isinstance(enabled, bool):
            raise invalid_params("enabled must be a boolean")
        return enabled

    async def dev_setAutomine(self, params: list[Any]) -> bool:
        self.dev.set_automine(self._flag(params))
        return True

    async def dev_getAutomine(self, params: list[Any]) -> bool:
        return self.dev.automine

    async def dev_setIntervalMining(self, params: list[Any]) -> bool:
        """Seconds between blocks while transactions are pending; 0 turns interval mining off (manual mining)."""
        seconds = param(params, 0, "interval")
        interval = seconds if isinstance(seconds, (int, float)) else codec.quantity(seconds, "interval", 32)
        if interval < 0:
            raise invalid_params("interval must not be negative")
        self.dev.set_interval(float(interval))
        return True

    # --- the clock -----------------------------------------------------------------------------------------
    async def dev_increaseTime(self, params: list[Any]) -> str:
        seconds = param(params, 0, "seconds")
        return hx(
            self.dev.increase_time(seconds if isinstance(seconds, int) else codec.quantity(seconds, "seconds", 64))
        )

    async def dev_setNextBlockTimestamp(self, params: list[Any]) -> None:
        self.dev.set_next_timestamp(self._timestamp(param(params, 0, "timestamp")))

    async def dev_setTime(self, params: list[Any]) -> str:
        value = param(params, 0, "timestamp")
        ts = value if isinstance(value, int) else codec.quantity(value, "timestamp", 64)
        self.dev.set_time(ts)
        return hx(ts)

    # --- chain parameters ----------------------------------------------------------------------------------
    async def dev_setBlockGasLimit(self, params: list[Any]) -> bool:
        limit = codec.quantity(param(params, 0, "gasLimit"), "gas limit", 64)
        if limit < 21_000:
            raise invalid_params(f"gas limit {limit} is below a plain transfer's 21000")
        self.dev.set_gas_limit(limit)
        return True

    async def dev_setNextBlockBaseFeePerGas(self, params: list[Any]) -> None:
        self.dev.set_base_fee(codec.quantity(param(params, 0, "baseFee"), "base fee", 64))

    async def dev_setPrevRandao(self, params: list[Any]) -> None:
        self.dev.set_prevrandao(codec.fixed(param(params, 0, "prevRandao"), 32, "prevRandao"))

    dev_setNextBlockPrevRandao = dev_setPrevRandao

    async def dev_setCoinbase(self, params: list[Any]) -> None:
        self.dev.set_coinbase(codec.address(param(params, 0, "address")))

    # --- state ---------------------------------------------------------------------------------------------
    async def dev_setBalance(self, params: list[Any]) -> None:
        address = codec.address(param(params, 0, "address"))
        await self.dev.set_account(address, balance=codec.quantity(param(params, 1, "balance"), "balance"))

    async def dev_addBalance(self, params: list[Any]) -> None:
        address = codec.address(param(params, 0, "address"))
        await self.dev.add_balance(address, codec.quantity(param(params, 1, "balance"), "balance"))

    async def dev_setNonce(self, params: list[Any]) -> None:
        address = codec.address(param(params, 0, "address"))
        await self.dev.set_account(address, nonce=codec.quantity(param(params, 1, "nonce"), "nonce", 64))

    async def dev_setCode(self, params: list[Any]) -> None:
        address = codec.address(param(params, 0, "address"))
        await self.dev.set_account(address, code=codec.data(param(params, 1, "code"), "code"))

    async def dev_setStorageAt(self, params: list[Any]) -> bool:
        address = codec.address(param(params, 0, "address"))
        slot = codec.quantity(param(params, 1, "slot"), "slot")
        raw = param(params, 2, "value")
        # Hardhat's helpers send the value as a 32-byte word (leading zeros), which is not a quantity.
        value = (
            int.from_bytes(codec.fixed(raw, 32, "value"), "big")
            if isinstance(raw, str) and len(raw) == 66
            else (codec.quantity(raw, "value"))
        )
        await self.dev.set_storage(address, slot, value)
        return True

    async def dev_dumpState(self, params: list[Any]) -> str:
        return hb(self.dev.dump_state())

    async def dev_loadState(self, params: list[Any]) -> bool:
        await self.dev.load_state(codec.data(param(params, 0, "state"), "state"))
        return True

    # --- snapshots -----------------------------------------------------------------------------------------
    async def dev_snapshot(self, params: list[Any]) -> str:
        return hx(await self.dev.snapshot())

    async def dev_revert(self, params: list[Any]) -> bool:
        return await self.dev.revert(codec.quantity(param(params, 0, "snapshot id"), "snapshot id", 64))

    async def dev_reset(self, params: list[Any]) -> bool:
        options = param(params, 0, "options", required=False)
        if isinstance(options, dict) and options.get("forking"):
            raise server_error("forking is not supported: pysei resets to its own genesis only")
        await self.dev.reset()
        return True

    # --- impersonation -------------------------------------------------------------------------------------
    async def dev_impersonateAccount(self, params: list[Any]) -> None:
        self.dev.impersonate(codec.address(param(params, 0, "address")))

    async def dev_stopImpersonatingAccount(self, params: list[Any]) -> None:
        self.dev.stop_impersonating(codec.address(param(params, 0, "address")))

    async def dev_autoImpersonateAccount(self, params: list[Any]) -> None:
        self.dev.set_auto_impersonate(self._flag(params))

    # --- pool ----------------------------------------------------------------------------------------------
    async def dev_dropTransaction(self, params: list[Any]) -> str | None:
        tx_hash = codec.hash32(param(params, 0, "transaction hash"))
        return hb(tx_hash) if self.dev.drop_transaction(tx_hash) else None

    async def dev_dropAllTransactions(self, params: list[Any]) -> None:
        await self.dev.drop_all_transactions()

    # --- information ---------------------------------------------------------------------------------------
    async def dev_metadata(self, params: list[Any]) -> dict[str, Any]:
        head = self.view.head
        return {
            "clientVersion": client_version(True),
            "chainId": hx(self.dev.chain_id),
            "instanceId": hb(self.dev.instance_id),
            "latestBlockNumber": hx(head.header.number),
            "latestBlockHash": hb(head.hash),
            "forkConfig": {},
            "snapshots": {hx(k): hx(b) for k, b in self.dev.snapshot_blocks().items()},
        }

    async def dev_nodeInfo(self, params: list[Any]) -> dict[str, Any]:
        head = self.view.head
        env = self.dev.environment()
        return {
            "currentBlockNumber": hx(head.header.number),
            "currentBlockTimestamp": head.header.timestamp,
            "currentBlockHash": hb(head.hash),
            "hardFork": env["hardFork"],
            "transactionOrder": "fees",
            "environment": {
                "baseFee": hx(env["baseFee"]),
                "chainId": hx(env["chainId"]),
                "gasLimit": hx(env["gasLimit"]),
                "gasPrice": hx(env["baseFee"]),
            },
            "forkConfig": {},
        }


class PoolContent:
    """``txpool_content`` and ``txpool_inspect`` in geth's shape (in-flight transactions count as pending)."""

    def __init__(self, pool: PendingPool) -> None:
        self.pool = pool

    def _buckets(self) -> dict[str, dict[bytes, dict[int, Any]]]:
        content = self.pool.content()
        pending = {a: dict(txs) for a, txs in content.pending.items()}
        for address, txs in content.in_flight.items():
            pending.setdefault(address, {}).update(txs)
        return {"pending": pending, "queued": content.queued}

    async def rpc_txpool_content(self, params: list[Any]) -> dict[str, Any]:
        return {
            kind: {
                to_checksum_address(a): {str(n): tx_json(tx, None) for n, tx in sorted(txs.items())}
                for a, txs in by.items()
            }
            for kind, by in self._buckets().items()
        }

    async def rpc_txpool_inspect(self, params: list[Any]) -> dict[str, Any]:
        def line(tx: Any) -> str:
            to = "contract creation" if tx.to is None else to_checksum_address(tx.to)
            return f"{to}: {tx.value} wei + {tx.gas_limit} gas × {tx.max_fee_per_gas} wei"

        return {
            kind: {to_checksum_address(a): {str(n): line(tx) for n, tx in sorted(txs.items())} for a, txs in by.items()}
            for kind, by in self._buckets().items()
        }


class Proofs:
    async def rpc_eth_getProof(self, params: list[Any]) -> None:
        """pysei commits to state with an LtHash, a homomorphic set hash with no membership proofs."""
        raise server_error(
            "eth_getProof is not supported: pysei's state commitment is an LtHash (see sei_getStateCommitment), which "
            "has no Merkle proofs; read values with eth_getBalance/eth_getStorageAt at a block instead"
        )
