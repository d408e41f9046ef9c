"""Chain-wide constants: Sei's chain ids, denominations and the addresses the protocol reserves."""

import hashlib

DEVNET_CHAIN_ID = 713714
"""Sei's default EVM chain id (x/evm/config); pacific-1 is 1329, atlantic-2 1328, arctic-1 713715."""

WEI_PER_SEI = 10**18
"""1 SEI in the EVM's unit: SEI has 18 decimals in the EVM, like ether."""

WEI_PER_USEI = 10**12
"""1 usei (the Cosmos-side base denomination, 10^-6 SEI) in wei; the bank module keeps the remainder below it."""

GWEI = 10**9

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The mnemonic anvil and Hardhat use, so existing configurations and keys work unchanged."""

FEE_COLLECTOR = hashlib.sha256(b"fee_collector").digest()[:20]
"""Sei's fee collector module account (a Cosmos module address is sha256(name)[:20]); it is the block's
COINBASE and receives every fee, base fee included: Sei burns nothing."""

EMPTY_ROOT = bytes.fromhex("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
"""Root of an empty Merkle Patricia trie (transactionsRoot/receiptsRoot/withdrawalsRoot of an empty list)."""

EMPTY_OMMERS_HASH = bytes.fromhex("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347")
"""keccak256(rlp([])): sha3Uncles of every post-merge block."""

EMPTY_REQUESTS_HASH = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
"""EIP-7685 requestsHash of a block with no requests (sha256 of nothing)."""

EMPTY_CODE_HASH = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
"""keccak256 of empty code: the code hash of an account without code."""

ZERO_HASH = b"\x00" * 32
ZERO_ADDRESS = b"\x00" * 20

CREATE2_DEPLOYER = bytes.fromhex("4e59b44847b379578588920ca78fbf26c0b4956c")
"""The deterministic deployment proxy (Arachnid's, deployed by Nick's method: a keyless pre-EIP-155 transaction):
calldata salt(32) ‖ init code → CREATE2. Predeployed at genesis, as anvil does and as Sei's networks have it, so
Foundry's and Hardhat's deterministic deployments work."""

CREATE2_DEPLOYER_CODE = bytes.fromhex(
    "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182"
    "fd5b8082525050506014600cf3"
)
"""Its runtime code (the same on every chain that has it)."""
