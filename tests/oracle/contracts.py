"""Hand-assembled test contracts (runtime code), their fixed pre-state addresses, and a set of initcodes.

Calldata layouts (32-byte words, ``w[i]`` = calldata word i, ``rest`` = calldata after the listed words):

* STORE       ``w0=slot, w1=value, w2=read_slot``: ``sstore(w0, w1); sstore(2**64, sload(w2))``
* TRANSIENT   same layout with TSTORE/TLOAD (invalid opcode in Shanghai):
              ``tstore(w0, w1); sstore(1, tload(w2)); sstore(2, tload(w0))``
* LOGGER      ``n = w0 % 5``; emits LOG<n> with topics ``w1..w<n>`` and the whole calldata as data
* FACTORY     ``w0=mode, w1=salt, w2=value, rest=initcode``: CREATE (mode&1 == 0) or CREATE2 (mode&1) with
              ``value``; ``sstore(0, child)``, ``sstore(1, sload(1)+1)``; if mode&2 calls the child with empty
              calldata and stores the success flag at slot 2; if mode&4 finally REVERTs (undoing everything)
* REVERTER    ``sstore(1, sload(1)+1)`` then REVERT with the calldata as revert data
* LOOPER      ``sstore(1, 1)`` then loops forever (out of gas)
* DESTRUCTOR  ``SELFDESTRUCT(w0)``
* CALLER      ``w0=target, w1=value, w2=mode, rest=inner calldata``; kind = mode & 3 (0 CALL, 1 DELEGATECALL,
              2 STATICCALL, 3 CALLCODE), gas = mode >> 8 or all available when that is 0; then
              ``sstore(0, success)``, ``sstore(1, returndatasize)``, LOG1(topic=success, data=returndata)
* ARITH       (code drawn per example by ``strategies.arith_code``) straight-line arithmetic / memory /
              KECCAK / MCOPY / transient-storage statements on edge-case constants and calldata words, results
              SSTOREd to slots 0..7 (may halt: RETURNDATACOPY out of bounds, huge memory, …)
* ENVREADER   ``w0=blockhash argument, w1=address``: MSTOREs a list of environment values (NUMBER, TIMESTAMP,
              BASEFEE, CHAINID, COINBASE, PREVRANDAO, GASLIMIT, BLOCKHASH(NUMBER-1), BLOCKHASH(w0), ORIGIN, CALLER,
              CALLVALUE, SELFBALANCE, BALANCE(w1), EXTCODESIZE(w1), EXTCODEHASH(w1), GASPRICE, ADDRESS, CODESIZE,
              BALANCE(COINBASE), GAS [, BLOBBASEFEE, BLOBHASH(0) from Cancun]) and LOG0s them, then SSTOREs
              NUMBER, BLOCKHASH(w0), COINBASE, BASEFEE, CHAINID, TIMESTAMP, PREVRANDAO, BALANCE(w1) at 0x10..0x17
"""

from __future__ import annotations

from eth_hash.auto import keccak

from .evm_asm import asm, initcode

SPEC_ORDER = {"shanghai": 0, "cancun": 1, "prague": 2}


def _addr(tag: int) -> bytes:
    return bytes.fromhex("c0de") + b"\x00" * 16 + tag.to_bytes(2, "big")


STORE = asm(32, "CALLDATALOAD", 0, "CALLDATALOAD", "SSTORE", 64, "CALLDATALOAD", "SLOAD", 2**64, "SSTORE", "STOP")

TRANSIENT = asm(
    32, "CALLDATALOAD", 0, "CALLDATALOAD", "TSTORE",
    64, "CALLDATALOAD", "TLOAD", 1, "SSTORE",
    0, "CALLDATALOAD", "TLOAD", 2, "SSTORE",
    "STOP",
)  # fmt: skip


def _logger() -> bytes:
    items: list[object] = ["CALLDATASIZE", 0, 0, "CALLDATACOPY", 5, 0, "CALLDATALOAD", "MOD"]
    for k in range(4):
        items += ["DUP1"] + (["ISZERO"] if k == 0 else [k, "EQ"]) + [f"@L{k}", "JUMPI"]
    items += ["@L4", "JUMP"]
    for k in range(5):
        items.append(f"L{k}:")
        for t in range(k, 0, -1):  # topic k-1 pushed first, topic 0 last
            items += [32 * t, "CALLDATALOAD"]
        items += ["CALLDATASIZE", 0, f"LOG{k}", "STOP"]
    return asm(*items)


LOGGER = _logger()

FACTORY = asm(
    96, "CALLDATASIZE", "SUB",  # [size]
    "DUP1", 96, 0, "CALLDATACOPY",
    1, 0, "CALLDATALOAD", "AND", "@C2", "JUMPI",
    0, 64, "CALLDATALOAD", "CREATE", "@AFTER", "JUMP",
    "C2:",
    32, "CALLDATALOAD", "SWAP1", 0, 64, "CALLDATALOAD", "CREATE2",
    "AFTER:",  # [child]
    "DUP1", 0, "SSTORE",
    1, "SLOAD", 1, "ADD", 1, "SSTORE",
    2, 0, "CALLDATALOAD", "AND", "ISZERO", "@NOCALL", "JUMPI",
    0, 0, 0, 0, 0, "DUP6", "GAS", "CALL", 2, "SSTORE",
    "NOCALL:",
    4, 0, "CALLDATALOAD", "AND", "ISZERO", "@END", "JUMPI",
    0, 0, "REVERT",
    "END:",
    "STOP",
)  # fmt: skip

REVERTER = asm(
    1, "SLOAD", 1, "ADD", 1, "SSTORE",
    "CALLDATASIZE", 0, 0, "CALLDATACOPY",
    "CALLDATASIZE", 0, "REVERT",
)  # fmt: skip

LOOPER = asm(1, 1, "SSTORE", "loop:", "@loop", "JUMP")

DESTRUCTOR = asm(0, "CALLDATALOAD", "SELFDESTRUCT")

CALLER_ = asm(
    96, "CALLDATASIZE", "SUB",  # [size]
    "DUP1", 96, 0, "CALLDATACOPY",
    64, "CALLDATALOAD",  # [size, mode]
    "DUP1", 8, "SHR",  # [size, mode, g]
    "DUP1", "@HAVEGAS", "JUMPI",
    "POP", "GAS",
    "HAVEGAS:",  # [size, mode, g]
    "SWAP1", 3, "AND",  # [size, g, kind]
    "DUP1", "ISZERO", "@DOCALL", "JUMPI",
    "DUP1", 1, "EQ", "@DODELEGATE", "JUMPI",
    "DUP1", 2, "EQ", "@DOSTATIC", "JUMPI",
    # CALLCODE
    "POP", 0, 0, "DUP4", 0, 32, "CALLDATALOAD", 0, "CALLDATALOAD", "DUP7", "CALLCODE", "@RET", "JUMP",
    "DOCALL:",
    "POP", 0, 0, "DUP4", 0, 32, "CALLDATALOAD", 0, "CALLDATALOAD", "DUP7", "CALL", "@RET", "JUMP",
    "DODELEGATE:",
    "POP", 0, 0, "DUP4", 0, 0, "CALLDATALOAD", "DUP6", "DELEGATECALL", "@RET", "JUMP",
    "DOSTATIC:",
    "POP", 0, 0, "DUP4", 0, 0, "CALLDATALOAD", "DUP6", "STATICCALL",
    "RET:",  # [size, g, success]
    0, "SSTORE",
    "RETURNDATASIZE", 1, "SSTORE",
    "RETURNDATASIZE", 0, 0, "RETURNDATACOPY",
    0, "SLOAD", "RETURNDATASIZE", 0, "LOG1",
    "STOP",
)  # fmt: skip


def envreader(spec: str) -> bytes:
    values: list[list[object]] = [
        ["NUMBER"], ["TIMESTAMP"], ["BASEFEE"], ["CHAINID"], ["COINBASE"], ["PREVRANDAO"], ["GASLIMIT"],
        [1, "NUMBER", "SUB", "BLOCKHASH"], [0, "CALLDATALOAD", "BLOCKHASH"],
        ["ORIGIN"], ["CALLER"], ["CALLVALUE"], ["SELFBALANCE"],
        [32, "CALLDATALOAD", "BALANCE"], [32, "CALLDATALOAD", "EXTCODESIZE"], [32, "CALLDATALOAD", "EXTCODEHASH"],
        ["GASPRICE"], ["ADDRESS"], ["CODESIZE"], ["COINBASE", "BALANCE"], ["GAS"],
    ]  # fmt: skip
    if SPEC_ORDER[spec] >= SPEC_ORDER["cancun"]:
        values += [["BLOBBASEFEE"], [0, "BLOBHASH"]]
    items: list[object] = []
    for i, v in enumerate(values):
        items += v + [32 * i, "MSTORE"]
    items += [32 * len(values), 0, "LOG0"]
    stored: list[list[object]] = [
        ["NUMBER"], [0, "CALLDATALOAD", "BLOCKHASH"], ["COINBASE"], ["BASEFEE"], ["CHAINID"], ["TIMESTAMP"],
        ["PREVRANDAO"], [32, "CALLDATALOAD", "BALANCE"],
    ]  # fmt: skip
    for i, v in enumerate(stored):
        items += v + [0x10 + i, "SSTORE"]
    items.append("STOP")
    return asm(*items)


# Fixed addresses of the pre-deployed contracts.
ADDR = {
    "STORE": _addr(1),
    "TRANSIENT": _addr(2),
    "LOGGER": _addr(3),
    "FACTORY": _addr(4),
    "REVERTER": _addr(5),
    "LOOPER": _addr(6),
    "DESTRUCTOR": _addr(7),
    "CALLER": _addr(8),
    "ENVREADER": _addr(9),
    "DESTRUCTOR2": _addr(10),  # a second self-destructing contract, so one can survive a block in Shanghai
    "ARITH": _addr(11),  # random straight-line code drawn per example (strategies.arith_code); not in runtimes()
}


def runtimes(spec: str) -> dict[str, bytes]:
    return {
        "STORE": STORE,
        "TRANSIENT": TRANSIENT,
        "LOGGER": LOGGER,
        "FACTORY": FACTORY,
        "REVERTER": REVERTER,
        "LOOPER": LOOPER,
        "DESTRUCTOR": DESTRUCTOR,
        "CALLER": CALLER_,
        "ENVREADER": envreader(spec),
        "DESTRUCTOR2": DESTRUCTOR,
    }


# -- initcodes ---------------------------------------------------------------------------------------------------

FRESH = [bytes.fromhex("fe" * 19) + bytes([i]) for i in range(1, 4)]
"""Addresses that never exist in a pre-state (value sinks / self-destruct beneficiaries)."""


def initcodes(spec: str) -> dict[str, bytes]:
    """Named initcodes used by deploy transactions and by FACTORY (CREATE/CREATE2)."""
    rt = runtimes(spec)
    codes = {
        "store": initcode(rt["STORE"]),
        "store+ctor": initcode(rt["STORE"], ctor=asm("CALLVALUE", 0, "SSTORE", 7, 3, "SSTORE")),
        "logger": initcode(rt["LOGGER"], ctor=asm(0xAB, 0, "MSTORE", 32, 0, "LOG0")),
        "reverter": initcode(rt["REVERTER"]),
        "destructor": initcode(rt["DESTRUCTOR"]),
        "caller": initcode(rt["CALLER"]),
        "envreader": initcode(rt["ENVREADER"]),
        "looper": initcode(rt["LOOPER"]),
        "factory": initcode(rt["FACTORY"]),
        "empty-runtime": asm(0, 0, "RETURN"),
        "stop": asm("STOP"),
        # constructor self-destructs (same-tx-as-creation case): beneficiary = deployer / coinbase / fresh address
        "ctor-selfdestruct-caller": asm(1, 1, "SSTORE", "CALLER", "SELFDESTRUCT"),
        "ctor-selfdestruct-coinbase": asm(1, 1, "SSTORE", "COINBASE", "SELFDESTRUCT"),
        "ctor-selfdestruct-fresh": asm(1, 1, "SSTORE", FRESH[0], "SELFDESTRUCT"),
        "ctor-selfdestruct-self": asm(1, 1, "SSTORE", "ADDRESS", "SELFDESTRUCT"),
        "ctor-revert": asm(1, 1, "SSTORE", 0xDEAD, 0, "MSTORE", 32, 0, "REVERT"),
        "ctor-oog": asm(1, 1, "SSTORE", "loop:", "@loop", "JUMP"),
        "ctor-invalid": asm(1, 1, "SSTORE", "INVALID"),
        "ctor-returns-ef": asm(0xEF, 0, "MSTORE8", 1, 0, "RETURN"),  # EIP-3541: rejected
        "ctor-returns-oversize": asm(24_577, 0, "RETURN"),  # EIP-170: rejected
        # constructor creates a grandchild and logs its address
        "ctor-creates": asm(*_create_inline(initcode(rt["STORE"])), 0, "MSTORE", 32, 0, "LOG0", 0, 0, "RETURN"),
    }
    return codes


def _create_inline(code: bytes) -> list[object]:
    """Items that CREATE ``code`` (value 0) and leave the new address on the stack; uses memory 0..len."""
    items: list[object] = []
    for i in range(0, len(code), 32):
        chunk = code[i : i + 32].ljust(32, b"\x00")
        items += [chunk, i, "MSTORE"]
    items += [len(code), 0, 0, "CREATE"]
    return items


def create_address(sender: bytes, nonce: int) -> bytes:
    import rlp

    return keccak(rlp.encode([sender, nonce]))[12:]


def create2_address(sender: bytes, salt: int, code: bytes) -> bytes:
    return keccak(b"\xff" + sender + salt.to_bytes(32, "big") + keccak(code))[12:]
