"""What the mempool needs from the rest of the node, as protocols, so it can be tested without a state store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

NewPendingCallback = Callable[[Sequence[bytes]], None]
"""Receives the hashes of transactions that just became executable, one batch per mempool call."""


class AccountReader(Protocol):
    """Read access to the *committed* (executed) state.

    The pool never trusts its own idea of an account's nonce for long: execution can skip transactions, and
    delegated (EIP-7702) code can bump an EOA's nonce without a transaction from it, so it re-reads here whenever
    a sender's transactions are admitted or executed.
    """

    def nonce_and_balance(self, address: bytes) -> tuple[int, int]:
        """Nonce and balance (wei) of ``address`` in the latest committed state; ``(0, 0)`` when absent."""
        ...

    def nonces_and_balances(self, addresses: Sequence[bytes]) -> list[tuple[int, int]]:
        """``nonce_and_balance`` of many addresses from one snapshot: a JSON-RPC batch reads all its senders in one
        call instead of one store round trip each."""
        ...
