"""JSON-RPC error catalogue: codes and messages as Ethereum clients recognise them.

ethers, viem and web3.py map errors by code and by message text (e.g. "nonce too low", "insufficient funds for
gas * price + value", "replacement transaction underpriced", "execution reverted"), so messages follow geth's
wording exactly.
"""

from __future__ import annotations

from pysei.chain.revert import revert_reason

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


def revert_message(output: bytes) -> str:
    """geth's message for a revert, with the reason decoded as anvil does (``pysei.chain.revert``)."""
    reason = revert_reason(output)
    return "execution reverted" if reason is None else f"execution reverted: {reason}"


def reverted(output: bytes) -> RpcError:
    return RpcError(EXECUTION_REVERTED, revert_message(output), "0x" + output.hex())
