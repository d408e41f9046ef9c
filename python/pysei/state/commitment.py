"""The state commitment: how pysei's state is encoded into LtHash key/value pairs. **This is a consensus rule.**

The state root is the digest (BLAKE3-256 of the 2048-byte vector, :mod:`pysei.state.lthash`) of the LtHash of
the set of pairs below, one pair per record of the flat store (``native/src/db.rs``):

=========  ======================================  ===================================================  ========
record     key                                     value                                                bytes
=========  ======================================  ===================================================  ========
account    ``b"a" ‖ address`` (1 + 20)             ``nonce (8, big-endian) ‖ balance (32, big-endian)    72
                                                   ‖ code_hash (32)`` — the store's account record
code       ``b"c" ‖ code_hash`` (1 + 32)           the bytecode                                         len(code)
storage    ``b"s" ‖ address ‖ slot`` (1 + 20 + 32) ``value`` (32, big-endian)                          32
=========  ======================================  ===================================================  ========

- An account that does not exist contributes nothing. An account that exists contributes its record even when
  it is empty (nonce 0, balance 0, no code): the commitment covers what the store holds, and EIP-161 removes
  touched empty accounts from it. An account without code has ``code_hash = keccak256(b"")``.
- A storage slot whose value is zero contributes nothing (the store does not hold it either).
- Code is content-addressed: each distinct bytecode contributes once, under its keccak256 hash, however many
  accounts use it, and stays after they are destroyed; empty code contributes nothing.
- Slots and values are unsigned 256-bit integers (or their 32-byte big-endian form); balances are 256-bit and
  nonces 64-bit.

An incremental update is exact: for each changed record, subtract the pair it had and add the pair it has now.
The (old, new) pairs must be the values really held before and after the block; a storage wipe
(SELFDESTRUCT or a contract created over old storage) must be given as one deletion per slot it removed, and
code additions must list only code that was not already in the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from pysei.chain.constants import EMPTY_CODE_HASH
from pysei.state import lthash
from pysei.state.lthash import LtHash

ACCOUNT_PREFIX = b"a"
CODE_PREFIX = b"c"
STORAGE_PREFIX = b"s"


class Account(NamedTuple):
    """An existing account's record. (The kernel's write set gives ``(balance, nonce, code_hash)``.)"""

    nonce: int
    balance: int
    code_hash: bytes = EMPTY_CODE_HASH


Word = int | bytes
"""A 256-bit word: an int in [0, 2^256) or its 32-byte big-endian encoding."""
AccountLike = Account | tuple[int, int, bytes]
"""An Account or a plain ``(nonce, balance, code_hash)`` tuple."""
AccountChange = tuple[bytes, AccountLike | None, AccountLike | None]
"""``(address, old, new)``; None: the account does not exist."""
StorageChange = tuple[bytes, Word, Word | None, Word | None]
"""``(address, slot, old_value, new_value)``; zero or None: the slot is empty."""
StorageMap = Mapping[tuple[bytes, int], Word] | Mapping[tuple[bytes, bytes], Word] | Mapping[tuple[bytes, Word], Word]
"""(address, slot) → value."""


def _word(x: Word) -> bytes:
    if isinstance(x, int):
        try:
            return x.to_bytes(32, "big")  # raises for negative or ≥ 2^256
        except OverflowError:
            raise ValueError(f"not a 256-bit word: {x}") from None
    if len(x) != 32:
        raise ValueError(f"a word is 32 bytes, got {len(x)}")
    return bytes(x)


def _address(a: bytes) -> bytes:
    if len(a) != 20:
        raise ValueError(f"an address is 20 bytes, got {len(a)}")
    return bytes(a)


def account_key(address: bytes) -> bytes:
    return ACCOUNT_PREFIX + _address(address)


def account_value(account: AccountLike | None) -> bytes | None:
    """The 72-byte record of an account, None for one that does not exist."""
    if account is None:
        return None
    nonce, balance, code_hash = account
    if len(code_hash) != 32:
        raise ValueError(f"a code hash is 32 bytes, got {len(code_hash)}")
    try:
        return nonce.to_bytes(8, "big") + balance.to_bytes(32, "big") + bytes(code_hash)
    except OverflowError:
        raise ValueError(f"nonce or balance out of range: {nonce}, {balance}") from None


def code_key(code_hash: bytes) -> bytes:
    if len(code_hash) != 32:
        raise ValueError(f"a code hash is 32 bytes, got {len(code_hash)}")
    return CODE_PREFIX + bytes(code_hash)


def storage_key(address: bytes, slot: Word) -> bytes:
    if len(address) != 20:
        raise ValueError(f"an address is 20 bytes, got {len(address)}")
    return STORAGE_PREFIX + bytes(address) + _word(slot)


def storage_value(value: Word | None) -> bytes | None:
    """The 32-byte value of a slot, None for zero (a zero slot contributes nothing)."""
    if not value:  # None or 0
        return None
    if isinstance(value, int):
        return _word(value)
    v = _word(value)
    return v if any(v) else None


def state_pairs(
    accounts: Mapping[bytes, AccountLike | None],
    codes: Mapping[bytes, bytes],
    storage: StorageMap,
) -> Iterable[tuple[bytes, bytes | None]]:
    """The state's key/value pairs (including those that contribute nothing, with value None or empty)."""
    for address, account in accounts.items():
        yield account_key(address), account_value(account)
    for code_hash, code in codes.items():
        yield code_key(code_hash), code
    for (address, slot), value in storage.items():
        yield storage_key(address, slot), storage_value(value)


def state_commitment(
    accounts: Mapping[bytes, AccountLike | None],
    codes: Mapping[bytes, bytes],
    storage: StorageMap,
) -> LtHash:
    """The LtHash of a full state, from scratch.

    ``accounts``: address → Account (``(nonce, balance, code_hash)``) or None; ``codes``: code_hash → bytecode;
    ``storage``: (address, slot) → value.
    """
    return lthash.hash_pairs(state_pairs(accounts, codes, storage))


def write_set_changes(
    account_changes: Iterable[AccountChange],
    storage_changes: Iterable[StorageChange],
    code_additions: Iterable[tuple[bytes, bytes]] = (),
) -> list[tuple[bytes, bytes | None, bytes | None]]:
    """Encodes a write set as LtHash ``(key, old, new)`` changes (see :func:`apply_write_set`)."""
    changes: list[tuple[bytes, bytes | None, bytes | None]] = []
    for address, old, new in account_changes:
        changes.append((account_key(address), account_value(old), account_value(new)))
    for address, slot, old_v, new_v in storage_changes:
        changes.append((storage_key(address, slot), storage_value(old_v), storage_value(new_v)))
    seen: set[bytes] = set()
    for code_hash, code in code_additions:
        if code_hash not in seen:
            seen.add(code_hash)
            changes.append((code_key(code_hash), None, code))
    return changes


def apply_write_set(
    acc: LtHash,
    account_changes: Iterable[AccountChange],
    storage_changes: Iterable[StorageChange],
    code_additions: Iterable[tuple[bytes, bytes]] = (),
) -> LtHash:
    """The commitment after a block's writes, from the one before it.

    ``account_changes``: ``(address, old, new)`` with Account / None (None: the account does not exist);
    ``storage_changes``: ``(address, slot, old_value, new_value)`` (zero or None: the slot is empty);
    ``code_additions``: ``(code_hash, code)`` for code not yet in the state (a hash listed twice counts once).
    """
    return lthash.update(acc, write_set_changes(account_changes, storage_changes, code_additions))
