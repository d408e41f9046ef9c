"""Parsing and formatting of JSON-RPC values (0x-quantities, data, addresses, block tags)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pysei.rpc.errors import invalid_params

T = TypeVar("T")

SHOWN = 66
"""Characters of a bad value quoted in an error message (a hash's length): bad input is never echoed whole."""

_QUANTITY = re.compile(r"0[xX](0|[1-9a-fA-F][0-9a-fA-F]*)")
"""The Ethereum JSON-RPC spec's ``uint`` pattern (geth also takes upper-case digits and ``0X``)."""
_LEADING_ZERO = re.compile(r"0[xX]0[0-9a-fA-F]+")


def shown(value: Any) -> str:
    """``value`` as quoted in an error message, cut to :data:`SHOWN` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def quantity(value: Any, name: str = "quantity", bits: int = 256) -> int:
    """A hex quantity (``0x0``, ``0x1f``; no leading zeros, no sign, no spaces) of at most ``bits`` bits. JSON
    integers are tolerated, as geth does for block numbers, since some clients send them.

    Too wide a value is invalid params naming the field, as geth's ``hexutil.Big`` / ``hexutil.Uint64`` answer,
    rather than an overflow deeper down (the kernel takes u64 gas/nonces/numbers, u128 prices, U256 amounts).
    """
    if isinstance(value, bool):
        raise invalid_params(f"invalid {name}: {shown(value)} is not a hex quantity")
    if isinstance(value, int):
        if value < 0:
            raise invalid_params(f"invalid {name}: negative")
        number = value
    elif isinstance(value, str) and _QUANTITY.fullmatch(value):
        if len(value) - 2 > (bits + 3) // 4:
            raise invalid_params(f"invalid {name}: hex number > {bits} bits")
        number = int(value[2:], 16)
    elif isinstance(value, str) and _LEADING_ZERO.fullmatch(value):
        raise invalid_params(f"invalid {name}: hex number with leading zero digits")
    else:
        raise invalid_params(f"invalid {name}: {shown(value)} is not a hex quantity")
    if number >> bits:
        raise invalid_params(f"invalid {name}: hex number > {bits} bits")
    return number


def data(value: Any, name: str = "data") -> bytes:
    """Hex data: ``0x`` and an even number of hex digits."""
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise invalid_params(f"invalid {name}: expected 0x-prefixed hex string")
    body = value[2:]
    if len(body) % 2:
        raise invalid_params(f"invalid {name}: odd number of hex digits")
    try:
        out = bytes.fromhex(body)
    except ValueError:
        raise invalid_params(f"invalid {name}: not hex") from None
    # bytes.fromhex skips whitespace between digit pairs (a regex would cost 8x as much on the ingest path).
    if len(out) * 2 != len(body):
        raise invalid_params(f"invalid {name}: not hex")
    return out


def fixed(value: Any, size: int, name: str) -> bytes:
    raw = data(value, name)
    if len(raw) != size:
        raise invalid_params(f"invalid {name}: expected {size} bytes, got {len(raw)}")
    return raw


def address(value: Any, name: str = "address") -> bytes:
    return fixed(value, 20, name)


def hash32(value: Any, name: str = "hash") -> bytes:
    return fixed(value, 32, name)


def hx(n: int) -> str:
    return hex(n)


def hb(b: bytes) -> str:
    return "0x" + b.hex()


def checksum(addr: bytes) -> str:
    # Lower-case hex is valid everywhere and cheaper than EIP-55 on the hot path; clients checksum themselves.
    return "0x" + addr.hex()


def boolean(value: Any, name: str) -> bool:
    """A JSON boolean; ``1``, ``"true"`` and the like are refused, as geth refuses them."""
    if not isinstance(value, bool):
        raise invalid_params(f"invalid {name}: {shown(value)} is not a boolean")
    return value


def field(obj: dict[str, Any], key: str, parse: Callable[[Any], T]) -> T | None:
    """``obj[key]`` parsed, or None when absent or null; any other value must parse (``"to": false`` or ``""``
    is refused, not read as absent)."""
    value = obj.get(key)
    return None if value is None else parse(value)


def param(params: list[Any], index: int, name: str, *, required: bool = True, default: Any = None) -> Any:
    if index < len(params) and params[index] is not None:
        return params[index]
    if required:
        raise invalid_params(f"missing value for required argument {index} ({name})")
    return default
