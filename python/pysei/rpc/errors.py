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


class RpcError(Exception):
    """An error answered to the client (never a crash of the server)."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
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


def revert_message(output: bytes) -> str:
    """geth's message for a revert: with the decoded reason for Error(string), else plain."""
    if output[:4] == _ERROR_STRING_SELECTOR and len(output) >= 68:
        try:
            length = int.from_bytes(output[36:68], "big")
            reason = output[68 : 68 + length].decode("utf-8")
            return f"execution reverted: {reason}"
        except (UnicodeDecodeError, ValueError):
            pass
    if output[:4] == _PANIC_SELECTOR and len(output) == 36:
        return f"execution reverted: panic code 0x{int.from_bytes(output[4:], 'big'):x}"
    return "execution reverted"


def reverted(output: bytes) -> RpcError:
    return RpcError(EXECUTION_REVERTED, revert_message(output), "0x" + output.hex())
