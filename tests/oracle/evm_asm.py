"""A tiny EVM assembler for hand-written test contracts.

``asm(...)`` takes a flat sequence of items:

* ``"ADD"``, ``"SSTORE"``, … — an opcode mnemonic (case-insensitive);
* ``"name:"`` — a label; emits a JUMPDEST at that point;
* ``"@name"`` — pushes the label's offset (always PUSH2, so the layout is known in one pass);
* an ``int`` — pushed with the shortest PUSH (PUSH0 for 0: every spec under test is Shanghai or later);
* ``bytes`` — pushed verbatim with PUSH<len> (1..32 bytes), e.g. a 20-byte address;
* ``Raw(b"...")`` — bytes emitted as-is (data, or hand-encoded code).

Example: ``asm(32, "CALLDATALOAD", 0, "CALLDATALOAD", "SSTORE", "STOP")`` stores calldata word 1 at the slot
named by calldata word 0.
"""

from __future__ import annotations

from dataclasses import dataclass

OPCODES: dict[str, int] = {
    "STOP": 0x00, "ADD": 0x01, "MUL": 0x02, "SUB": 0x03, "DIV": 0x04, "SDIV": 0x05, "MOD": 0x06, "SMOD": 0x07,
    "ADDMOD": 0x08, "MULMOD": 0x09, "EXP": 0x0A, "SIGNEXTEND": 0x0B,
    "LT": 0x10, "GT": 0x11, "SLT": 0x12, "SGT": 0x13, "EQ": 0x14, "ISZERO": 0x15, "AND": 0x16, "OR": 0x17,
    "XOR": 0x18, "NOT": 0x19, "BYTE": 0x1A, "SHL": 0x1B, "SHR": 0x1C, "SAR": 0x1D,
    "KECCAK256": 0x20, "SHA3": 0x20,
    "ADDRESS": 0x30, "BALANCE": 0x31, "ORIGIN": 0x32, "CALLER": 0x33, "CALLVALUE": 0x34, "CALLDATALOAD": 0x35,
    "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37, "CODESIZE": 0x38, "CODECOPY": 0x39, "GASPRICE": 0x3A,
    "EXTCODESIZE": 0x3B, "EXTCODECOPY": 0x3C, "RETURNDATASIZE": 0x3D, "RETURNDATACOPY": 0x3E, "EXTCODEHASH": 0x3F,
    "BLOCKHASH": 0x40, "COINBASE": 0x41, "TIMESTAMP": 0x42, "NUMBER": 0x43, "PREVRANDAO": 0x44,
    "DIFFICULTY": 0x44, "GASLIMIT": 0x45, "CHAINID": 0x46, "SELFBALANCE": 0x47, "BASEFEE": 0x48,
    "BLOBHASH": 0x49, "BLOBBASEFEE": 0x4A,
    "POP": 0x50, "MLOAD": 0x51, "MSTORE": 0x52, "MSTORE8": 0x53, "SLOAD": 0x54, "SSTORE": 0x55, "JUMP": 0x56,
    "JUMPI": 0x57, "PC": 0x58, "MSIZE": 0x59, "GAS": 0x5A, "JUMPDEST": 0x5B, "TLOAD": 0x5C, "TSTORE": 0x5D,
    "MCOPY": 0x5E, "PUSH0": 0x5F,
    **{f"PUSH{i}": 0x5F + i for i in range(1, 33)},
    **{f"DUP{i}": 0x7F + i for i in range(1, 17)},
    **{f"SWAP{i}": 0x8F + i for i in range(1, 17)},
    "LOG0": 0xA0, "LOG1": 0xA1, "LOG2": 0xA2, "LOG3": 0xA3, "LOG4": 0xA4,
    "CREATE": 0xF0, "CALL": 0xF1, "CALLCODE": 0xF2, "RETURN": 0xF3, "DELEGATECALL": 0xF4, "CREATE2": 0xF5,
    "STATICCALL": 0xFA, "REVERT": 0xFD, "INVALID": 0xFE, "SELFDESTRUCT": 0xFF,
}  # fmt: skip


@dataclass(frozen=True)
class Raw:
    data: bytes


def push(value: int | bytes | bytearray) -> bytes:
    """Shortest PUSH for an int (PUSH0 for 0), or a PUSH of exactly ``len(value)`` bytes."""
    if isinstance(value, bytes | bytearray):
        if not 1 <= len(value) <= 32:
            raise ValueError("can push 1..32 bytes")
        return bytes([0x5F + len(value)]) + bytes(value)
    if value < 0 or value >= 2**256:
        raise ValueError(f"push value out of range: {value}")
    if value == 0:
        return b"\x5f"
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes([0x5F + len(raw)]) + raw


def _size(item: object) -> int:
    if isinstance(item, str):
        if item.startswith("@"):
            return 3
        return 1
    if isinstance(item, Raw):
        return len(item.data)
    return len(push(item))  # type: ignore[arg-type]


def asm(*items: object) -> bytes:
    labels: dict[str, int] = {}
    pc = 0
    for item in items:
        if isinstance(item, str) and item.endswith(":"):
            name = item[:-1]
            if name in labels:
                raise ValueError(f"duplicate label {name}")
            labels[name] = pc
        pc += _size(item)
    out = bytearray()
    for item in items:
        if isinstance(item, str):
            if item.endswith(":"):
                out.append(OPCODES["JUMPDEST"])
            elif item.startswith("@"):
                out += b"\x61" + labels[item[1:]].to_bytes(2, "big")
            else:
                out.append(OPCODES[item.upper()])
        elif isinstance(item, Raw):
            out += item.data
        elif isinstance(item, int | bytes | bytearray):
            out += push(item)
        else:
            raise TypeError(f"cannot assemble {item!r}")
    return bytes(out)


def initcode(runtime: bytes, ctor: bytes = b"") -> bytes:
    """Initcode that runs ``ctor`` (must fall through, leaving the stack as it found it) then returns ``runtime``."""
    trailer_len = 11  # PUSH2 n, DUP1, PUSH2 off, PUSH0, CODECOPY, PUSH0, RETURN
    offset = len(ctor) + trailer_len
    trailer = (
        b"\x61" + len(runtime).to_bytes(2, "big") + b"\x80" + b"\x61" + offset.to_bytes(2, "big") + b"\x5f\x39\x5f\xf3"
    )
    assert len(trailer) == trailer_len
    return ctor + trailer + runtime


def word(value: int | bytes) -> bytes:
    """32-byte big-endian ABI-style word (addresses / short bytes are left-padded)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).rjust(32, b"\x00")
    return (value % 2**256).to_bytes(32, "big")
