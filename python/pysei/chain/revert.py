"""What a revert's output says, decoded as anvil words it: ``Error(string)``'s text, a panic's reason, or a custom
error's selector and arguments. Shared by the RPC error messages and the node's transaction log."""

from __future__ import annotations

ERROR_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")
PANIC_REASONS = {
    0x00: "generic compiler panic",
    0x01: "assertion failed",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "failed to convert value into enum type",
    0x22: "storage byte array incorrectly encoded",
    0x31: "called `.pop()` on an empty array",
    0x32: "array out-of-bounds access",
    0x41: "memory allocation error",
    0x51: "called an invalid internal function",
}
"""Solidity's panic codes (``Panic(uint256)``), worded as anvil words them."""
SHOWN_ERROR_ARGS = 256
"""Bytes of a custom error's arguments shown in the reason (all of them stay in the revert data)."""


def revert_reason(output: bytes) -> str | None:
    """The reason in a revert's ``output``, or None when it carries none (empty, or an undecodable string)."""
    if output[:4] == ERROR_SELECTOR and len(output) >= 68:
        try:
            length = int.from_bytes(output[36:68], "big")
            return output[68 : 68 + length].decode("utf-8")
        except (UnicodeDecodeError, ValueError):
            pass
    if output[:4] == PANIC_SELECTOR and len(output) == 36:
        code = int.from_bytes(output[4:], "big")
        return f"panic: {PANIC_REASONS.get(code, 'unknown code')} (0x{code:02x})"
    if len(output) >= 4 and output[:4] not in (ERROR_SELECTOR, PANIC_SELECTOR):
        args = output[4:]
        shown = args[:SHOWN_ERROR_ARGS].hex() + ("…" if len(args) > SHOWN_ERROR_ARGS else "")
        return f"custom error 0x{output[:4].hex()}" + (f": 0x{shown}" if args else "")
    return None
