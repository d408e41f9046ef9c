"""JSON-RPC error catalogue: codes and messages as Ethereum clients recognise them.

ethers, viem and web3.py map errors by code and by message text (e.g. "nonce too low", "insufficient funds for
gas * price + value", "replacement transaction underpriced", "execution reverted"), so messages follow geth's
wording exactly.
"""

from __future__ import annotations

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
"""geth's code for transaction rejections and unavailable data."""
EXECUTION_REVERTED = 3
"""geth's code for a reverted eth_call / eth_estimateGas, with the revert data in ``data``."""


MAX_MESSAGE = 1024
"""Characters of an error message answered; the rest is cut, so no input is ever echoed whole."""


def cut(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RpcError(Exception):
    """An error answered to the client (never a crash of the server)."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        message = cut(message)
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, object]:
        err: dict[str, object] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def server_error(message: str) -> RpcError:
    return RpcError(SERVER_ERROR, message)


_ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
_PANIC_SELECTOR = bytes.fromhex("4e487b71")
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
"""Bytes of a custom error's arguments shown in the message (all of them stay in ``data``)."""


def revert_message(output: bytes) -> str:
    """geth's message for a revert, with the reason decoded as anvil does: ``Error(string)``'s text, a panic's
    reason, or a custom error's selector and arguments."""
    if output[:4] == _ERROR_STRING_SELECTOR and len(output) >= 68:
        try:
            length = int.from_bytes(output[36:68], "big")
            reason = output[68 : 68 + length].decode("utf-8")
            return f"execution reverted: {reason}"
        except (UnicodeDecodeError, ValueError):
            pass
    if output[:4] == _PANIC_SELECTOR and len(output) == 36:
        code = int.from_bytes(output[4:], "big")
        return f"execution reverted: panic: {PANIC_REASONS.get(code, 'unknown code')} (0x{code:02x})"
    if len(output) >= 4 and output[:4] not in (_ERROR_STRING_SELECTOR, _PANIC_SELECTOR):
        args = output[4:]
        shown = args[:SHOWN_ERROR_ARGS].hex() + ("…" if len(args) > SHOWN_ERROR_ARGS else "")
        return f"execution reverted: custom error 0x{output[:4].hex()}" + (f": 0x{shown}" if args else "")
    return "execution reverted"


def reverted(output: bytes) -> RpcError:
    return RpcError(EXECUTION_REVERTED, revert_message(output), "0x" + output.hex())
