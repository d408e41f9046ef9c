"""What a revert's output says, decoded as Solidity encodes it: ``Error(string)`` and ``Panic(uint256)``."""

from __future__ import annotations

ERROR_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")

PANIC_REASONS = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}
"""Solidity's panic codes (docs.soliditylang.org, "Panic via assert and Error via require")."""


def revert_reason(output: bytes) -> str | None:
    """The reason in ``output``: the string of ``Error(string)``, a panic's meaning, else None."""
    if output[:4] == ERROR_SELECTOR and len(output) >= 68:
        length = int.from_bytes(output[36:68], "big")
        if 68 + length <= len(output):
            try:
                return output[68 : 68 + length].decode("utf-8")
            except UnicodeDecodeError:
                return None
    if output[:4] == PANIC_SELECTOR and len(output) == 36:
        code = int.from_bytes(output[4:], "big")
        return f"panic: {PANIC_REASONS.get(code, 'unknown panic code')} (0x{code:02x})"
    return None
