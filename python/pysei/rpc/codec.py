"""Parsing and formatting of JSON-RPC values (0x-quantities, data, addresses, block tags)."""

from __future__ import annotations

from typing import Any

from pysei.rpc.errors import invalid_params


def quantity(value: Any, name: str = "quantity", bits: int = 256) -> int:
    """A 0x-prefixed hex quantity of at most ``bits`` bits (ints are tolerated, as geth does for some clients).

    Too wide a value is invalid params, as geth's ``hexutil.Big`` / ``hexutil.Uint64`` answer, rather than an
    overflow deeper down (the kernel takes u64 gas/nonces/numbers and U256 amounts).
    """
    if isinstance(value, bool):
        raise invalid_params(f"invalid {name}: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise invalid_params(f"invalid {name}: negative")
        number = value
    elif not isinstance(value, str) or not value.startswith(("0x", "0X")) or len(value) < 3:
        raise invalid_params(f"invalid {name}: {value!r}")
    else:
        try:
            number = int(value[2:], 16)
        except ValueError:
            raise invalid_params(f"invalid {name}: {value!r}") from None
    if number >> bits:
        raise invalid_params(f"invalid {name}: hex number > {bits} bits")
    return number


def data(value: Any, name: str = "data") -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise invalid_params(f"invalid {name}: expected 0x-prefixed hex string")
    body = value[2:]
    if len(body) % 2:
        raise invalid_params(f"invalid {name}: odd number of hex digits")
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise invalid_params(f"invalid {name}: not hex") from None


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


def param(params: list[Any], index: int, name: str, *, required: bool = True, default: Any = None) -> Any:
    if index < len(params) and params[index] is not None:
        return params[index]
    if required:
        raise invalid_params(f"missing value for required argument {index} ({name})")
    return default
