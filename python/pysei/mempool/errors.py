"""Why the mempool refused a transaction.

``str(error)`` is worded exactly as go-ethereum words it, because ethers, viem and web3.py classify JSON-RPC
errors by matching those strings (``nonce too low``, ``replacement transaction underpriced``, ...). The numbers
are also kept as attributes so that callers never have to parse the message.
"""

from __future__ import annotations


def _hex_address(address: bytes) -> str:
    """EIP-55 form, as geth's ``common.Address.Hex()`` prints it in error messages."""
    # Imported here: only the error path needs keccak, and eth_utils is slow to import.
    from eth_utils.address import to_checksum_address

    return to_checksum_address(address)


class MempoolError(Exception):
    """Root of every rejection; the message is the geth wording."""


class AlreadyKnownError(MempoolError):
    def __init__(self, tx_hash: bytes) -> None:
        super().__init__("already known")
        self.tx_hash = tx_hash


class NonceTooLowError(MempoolError):
    """The nonce is below the committed nonce, or already taken for a block that has not executed yet."""

    def __init__(self, next_nonce: int, tx_nonce: int) -> None:
        super().__init__(f"nonce too low: next nonce {next_nonce}, tx nonce {tx_nonce}")
        self.next_nonce = next_nonce
        self.tx_nonce = tx_nonce


class ReplacementUnderpricedError(MempoolError):
    """A same-nonce replacement did not raise both fee cap and tip by the configured bump."""

    def __init__(self, min_fee_cap: int, min_tip: int) -> None:
        super().__init__("replacement transaction underpriced")
        self.min_fee_cap = min_fee_cap
        self.min_tip = min_tip


class InsufficientFundsError(MempoolError):
    """The balance does not cover the transaction's cost (gas limit × fee cap + value) on top of what the sender's
    pooled and in-flight transactions may already spend (``queued``), geth's ``ErrInsufficientFunds`` wording."""

    def __init__(self, balance: int, cost: int, queued: int = 0) -> None:
        detail = (
            f"balance {balance}, tx cost {cost}"
            if not queued
            else f"balance {balance}, queued cost {queued}, tx cost {cost}"
        )
        super().__init__(f"insufficient funds for gas * price + value: {detail}, overshot {queued + cost - balance}")
        self.balance = balance
        self.cost = cost
        self.queued = queued

    @property
    def overshot(self) -> int:
        return self.queued + self.cost - self.balance


class FeeCapTooLowError(MempoolError):
    """Sei refuses fee caps below the current base fee instead of parking them until the base fee falls."""

    def __init__(self, address: bytes, max_fee_per_gas: int, base_fee: int) -> None:
        super().__init__(
            f"max fee per gas less than block base fee: address {_hex_address(address)}, "
            f"maxFeePerGas: {max_fee_per_gas}, baseFee: {base_fee}"
        )
        self.address = address
        self.max_fee_per_gas = max_fee_per_gas
        self.base_fee = base_fee


class TipAboveFeeCapError(MempoolError):
    """EIP-1559 forbids a tip above the fee cap; such a transaction can never be included."""

    def __init__(self, address: bytes, max_priority_fee_per_gas: int, max_fee_per_gas: int) -> None:
        super().__init__(
            f"max priority fee per gas higher than max fee per gas: address {_hex_address(address)}, "
            f"maxPriorityFeePerGas: {max_priority_fee_per_gas}, maxFeePerGas: {max_fee_per_gas}"
        )
        self.address = address
        self.max_priority_fee_per_gas = max_priority_fee_per_gas
        self.max_fee_per_gas = max_fee_per_gas


class UnderpricedError(MempoolError):
    """The fee cap is below the node's configured minimum gas price."""

    def __init__(self, max_fee_per_gas: int, minimum: int) -> None:
        super().__init__(f"transaction underpriced: gas fee cap {max_fee_per_gas}, minimum needed {minimum}")
        self.max_fee_per_gas = max_fee_per_gas
        self.minimum = minimum


class TxPoolFullError(MempoolError):
    """The pool is at its global limit and nothing pooled is cheaper than the new transaction."""

    def __init__(self) -> None:
        super().__init__("txpool is full")


class AccountLimitError(MempoolError):
    """The sender already has ``max_txs_per_sender`` pooled transactions (geth's ``ErrAccountLimitExceeded``)."""

    def __init__(self, address: bytes, pooled: int) -> None:
        super().__init__(f"account limit exceeded: pooled {pooled} txs")
        self.address = address
        self.pooled = pooled
