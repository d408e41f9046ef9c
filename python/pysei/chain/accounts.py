"""Development accounts derived from a BIP-39 mnemonic (m/44'/60'/0'/0/i), as anvil and Hardhat derive them."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic


@dataclass(frozen=True, slots=True)
class DevAccount:
    address: bytes
    private_key: bytes

    @property
    def checksum_address(self) -> str:
        return Account.from_key(self.private_key).address


def dev_accounts(mnemonic: str, count: int) -> list[DevAccount]:
    """The first ``count`` accounts of ``mnemonic``; the seed is derived once (PBKDF2 is the slow part)."""
    seed = seed_from_mnemonic(mnemonic, "")
    out = []
    for i in range(count):
        key = key_from_seed(seed, f"m/44'/60'/0'/0/{i}")
        out.append(DevAccount(address=bytes.fromhex(Account.from_key(key).address[2:]), private_key=key))
    return out
