"""Hostile input on both transports: malformed envelopes, ids, quantities, addresses and raw transactions each get
a JSON-RPC error with the right code, nothing is logged as a traceback, and the node keeps serving.

Requests are built by hand (``requests`` for HTTP, ``websockets``' sync client for WebSocket), as a fuzzer sends
them; a hypothesis test draws them from strategies and sends every one over both transports.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import rlp
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.exceptions import Web3RPCError
from websockets.sync.client import ClientConnection, connect

try:
    from tests.conftest import Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import Devnet, start_devnet  # type: ignore[no-redef]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
SERVER_ERROR = -32000
ADDR = "0x000000000000000000000000000000000000dEaD"
QUANTITY = re.compile(r"0[xX](0|[1-9a-fA-F][0-9a-fA-F]*)")
ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
TAGS = {"latest", "earliest", "pending", "safe", "finalized"}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = start_devnet(tmp_path_factory.mktemp("hostile"), "--block-time", "0.1", "--log-level", "DEBUG")
    yield devnet
    code = devnet.stop()
    log = devnet.log_path.read_text() if devnet.log_path else ""
    assert code == 0, f"node exited with {code}: {log[-3000:]}"
    # Nothing any test here sent may have been logged as a failure of the node.
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:6000]
    assert " ERROR " not in log and " CRITICAL " not in log, log[-3000:]


@pytest.fixture(scope="module")
def ws(node: Devnet) -> Iterator[ClientConnection]:
    # No keepalive pings: their thread would draw from `random` while hypothesis generates examples.
    with connect(node.ws_url, open_timeout=10, close_timeout=5, max_size=None, ping_interval=None) as conn:
        yield conn


def over_http(node: Devnet, body: bytes) -> Any:
    resp = requests.post(node.http_url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 200, resp.text[:500]
    return resp.json()


def over_ws(ws: ClientConnection, body: bytes) -> Any:
    ws.send(body.decode())
    return orjson.loads(ws.recv(timeout=30))


def both(node: Devnet, ws: ClientConnection, body: bytes | dict[str, Any]) -> list[Any]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return [over_http(node, raw), over_ws(ws, raw)]


def req(method: str, *params: Any, rid: Any = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}


def assert_error(answers: list[Any], code: int, *, contains: str = "") -> None:
    for answer in answers:
        assert isinstance(answer, dict) and "error" in answer, answer
        assert answer["error"]["code"] == code, answer
        assert contains in answer["error"]["message"], answer
        assert len(answer["error"]["message"]) <= 1024, len(answer["error"]["message"])


def still_serving(node: Devnet, ws: ClientConnection) -> None:
    for answer in both(node, ws, req("eth_chainId")):
        assert answer["result"] == hex(node.chain_id)


# --------------------------------------------------------------------------------------------- ids


def nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


@pytest.mark.parametrize("rid", [nested(300), nested(1), [1], {"a": 1}, True, 1.5, 2**64 + 1, -(2**63) - 1])
def test_bad_ids_are_invalid_requests(node: Devnet, ws: ClientConnection, rid: Any) -> None:
    """Nested ids made the HTTP answer a plain-text 500 and the WebSocket close; big integers came back as floats."""
    answers = both(node, ws, request_with_id("eth_chainId", [], rid))
    assert_error(answers, INVALID_REQUEST, contains="id must be")
    assert all(a["id"] is None for a in answers)
    still_serving(node, ws)


def request_with_id(method: str, params: list[Any], rid: Any) -> bytes:
    """A request whose id may be an integer orjson cannot write (beyond 64 bits); JSON can carry it."""
    if isinstance(rid, int) and not isinstance(rid, bool):
        body = orjson.dumps({"jsonrpc": "2.0", "id": 0, "method": method, "params": params})
        return body.replace(b'"id":0', b'"id":' + str(rid).encode())
    # The standard library writes nesting orjson refuses (it stops at 254 levels).
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}).encode()


def test_string_and_integer_ids_round_trip(node: Devnet, ws: ClientConnection) -> None:
    for rid in ("abc", 0, 2**63 - 1, None):
        for answer in both(node, ws, req("eth_chainId", rid=rid)):
            assert answer["id"] == rid and "result" in answer


# --------------------------------------------------------------------------------------------- values


@pytest.mark.parametrize("bad", ["0x+1", "0x1_0", "0x 1", "0x1 ", " 0x1", "0x-1", "0x", "0x01", "1", "0xg", -1, 1.5])
def test_loose_quantities_are_refused(node: Devnet, ws: ClientConnection, bad: Any) -> None:
    assert_error(both(node, ws, req("eth_getBalance", ADDR, bad)), INVALID_PARAMS)
    assert_error(both(node, ws, req("eth_getBlockByNumber", bad, False)), INVALID_PARAMS)
    assert_error(both(node, ws, req("eth_call", {"to": ADDR, "value": bad}, "latest")), INVALID_PARAMS)
    assert_error(both(node, ws, req("eth_getLogs", {"fromBlock": bad})), INVALID_PARAMS)


def test_negative_quantity_says_why(node: Devnet, ws: ClientConnection) -> None:
    assert_error(both(node, ws, req("eth_getBalance", ADDR, "0x-1")), INVALID_PARAMS, contains="not a hex quantity")


@pytest.mark.parametrize("flag", [1, "true", [], {}])
def test_full_flag_must_be_a_boolean(node: Devnet, ws: ClientConnection, flag: Any) -> None:
    assert_error(both(node, ws, req("eth_getBlockByNumber", "latest", flag)), INVALID_PARAMS, contains="boolean")


@pytest.mark.parametrize("field", ["to", "from"])
@pytest.mark.parametrize("bad", [False, [], {}, "", 0, "0x1234"])
def test_present_but_wrong_addresses_are_refused(node: Devnet, ws: ClientConnection, field: str, bad: Any) -> None:
    """``false``, ``[]``, ``{}`` and ``""`` were read as an absent field."""
    call = {"to": ADDR, field: bad}
    assert_error(both(node, ws, req("eth_call", call, "latest")), INVALID_PARAMS, contains=field)


@pytest.mark.parametrize("topics", [{}, "0x00", 1, [{}]])
def test_topics_must_be_an_array(node: Devnet, ws: ClientConnection, topics: Any) -> None:
    assert_error(both(node, ws, req("eth_getLogs", {"topics": topics})), INVALID_PARAMS)


@pytest.mark.parametrize("field", ["gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"])
@pytest.mark.parametrize("method", ["eth_call", "eth_estimateGas"])
def test_huge_prices_name_the_field(node: Devnet, ws: ClientConnection, method: str, field: str) -> None:
    """2^256-1 was `-32603 internal error: int too big to convert`."""
    call = {"from": ADDR, "to": ADDR, field: hex(2**256 - 1)}
    assert_error(both(node, ws, req(method, call, "latest")), INVALID_PARAMS, contains=field)


def test_echoed_input_is_cut(node: Devnet, ws: ClientConnection) -> None:
    """A megabyte block tag gave a megabyte error."""
    huge = "0x" + "z" * 1_000_000
    assert_error(both(node, ws, req("eth_getBalance", ADDR, huge)), INVALID_PARAMS)
    assert_error(both(node, ws, req("eth_getBalance", huge)), INVALID_PARAMS)
    assert_error([over_ws(ws, orjson.dumps(req("eth_subscribe", huge)))], INVALID_PARAMS)
    assert_error(both(node, ws, req("x" * 1_000_000)), -32601)


# --------------------------------------------------------------------------------------------- raw transactions


def _legacy_fields(node: Devnet) -> list[Any]:
    acct = Account.from_key(node.accounts[0].key)
    tx = {"to": ADDR, "value": 1, "gas": 21_000, "gasPrice": 2 * 10**9, "nonce": 0, "chainId": node.chain_id}
    return list(rlp.decode(bytes(acct.sign_transaction(tx).raw_transaction)))


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [
        (0, b"\x01" * 9, "nonce"),
        (3, b"\x01" * 3, "to"),
        (1, [b"\x01"], "gasPrice"),
        (6, [b"\x01"], "v"),
        (8, [b"\x01"], "s"),
    ],
)
def test_malformed_legacy_transactions_name_the_field(node: Devnet, index: int, value: Any, field: str) -> None:
    """Every malformed legacy transaction said `rlp: Unexpected type flag. Got 0.`"""
    fields = _legacy_fields(node)
    fields[index] = value
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    with pytest.raises(Web3RPCError, match=f"invalid field {field}"):
        w3.eth.send_raw_transaction(rlp.encode(fields))


def test_truncated_legacy_transaction_names_the_missing_field(node: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    with pytest.raises(Web3RPCError, match="missing field value"):
        w3.eth.send_raw_transaction(rlp.encode(_legacy_fields(node)[:4]))


# --------------------------------------------------------------------------------------------- the socket


def test_client_gone_mid_body_is_one_debug_line(node: Devnet, ws: ClientConnection) -> None:
    host, port = node.http_url.removeprefix("http://").rsplit(":", 1)
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            time.sleep(0.1)
    still_serving(node, ws)
    assert node.log_path is not None
    deadline = time.monotonic() + 10
    while node.log_path.read_text().count("disconnected before its request was read") < 3:
        assert time.monotonic() < deadline, node.log_path.read_text()[-3000:]
        time.sleep(0.1)


def test_listen_backlog(node: Devnet) -> None:
    """300 clients connecting at once overflowed the default backlog; `ss` shows a listener's backlog in Send-Q."""
    port = node.http_url.rsplit(":", 1)[1]
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert int(out.split()[2]) == min(2048, somaxconn), out


# --------------------------------------------------------------------------------------------- property-based

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON = st.recursive(
    JSON_SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3)
)
HEXISH = st.text(alphabet="0123456789abcdefABCDEFxX+-_ g\t", max_size=70)


def _is_quantity(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool) and v >= 0) or (
        isinstance(v, str) and bool(QUANTITY.fullmatch(v))
    )


def _valid_id(v: Any) -> bool:
    return v is None or isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[bytes, int]:
    """A malformed request and the error code it must get."""
    kind = draw(st.sampled_from(["json", "envelope", "id", "quantity", "address", "raw"]))
    if kind == "json":
        text = draw(st.text(max_size=40))
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return text.encode(), PARSE_ERROR
        return text.encode() + b"}", PARSE_ERROR  # valid JSON followed by a stray brace
    if kind == "envelope":
        bad_version = st.fixed_dictionaries(
            {"jsonrpc": JSON.filter(lambda v: v != "2.0"), "id": st.just(1), "method": st.just("eth_chainId")}
        )
        bad_method = st.fixed_dictionaries(
            {"jsonrpc": st.just("2.0"), "id": st.just(1), "method": JSON.filter(lambda v: not isinstance(v, str))}
        )
        return orjson.dumps(draw(st.one_of(JSON_SCALARS, bad_version, bad_method))), INVALID_REQUEST
    if kind == "id":
        rid = draw(JSON.filter(lambda v: not _valid_id(v)))
        return request_with_id("eth_chainId", [], rid), INVALID_REQUEST
    if kind == "quantity":
        tag = draw(
            st.one_of(HEXISH.map(lambda s: "0x" + s), HEXISH, JSON).filter(
                lambda v: (
                    v is not None
                    and not isinstance(v, dict)
                    and not _is_quantity(v)
                    and not (isinstance(v, str) and v in TAGS)
                )
            )
        )
        return orjson.dumps(req("eth_getBalance", ADDR, tag)), INVALID_PARAMS
    if kind == "address":
        addr = draw(
            st.one_of(HEXISH.map(lambda s: "0x" + s), JSON).filter(
                lambda v: v is not None and not (isinstance(v, str) and ADDRESS.fullmatch(v))
            )
        )
        return orjson.dumps(req("eth_getBalance", addr, "latest")), INVALID_PARAMS
    raw = draw(st.binary(min_size=1, max_size=300))
    return orjson.dumps(req("eth_sendRawTransaction", "0x" + raw.hex())), SERVER_ERROR


VALID_EVERY = 5
"""Every this many hostile requests, a valid transaction goes in between (the fuzz run that found these sent 198)."""


@pytest.fixture(scope="module")
def valid_sends() -> list[str]:
    """Hashes of the valid transactions sent between hostile requests; all must be mined."""
    return []


@pytest.fixture(scope="module")
def examples() -> Iterator[int]:
    return itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=hostile_requests())
def test_fuzzed_requests_get_json_rpc_errors(
    node: Devnet, ws: ClientConnection, valid_sends: list[str], examples: Iterator[int], case: tuple[bytes, int]
) -> None:
    body, code = case
    for answer in both(node, ws, body):
        assert isinstance(answer, dict) and answer["error"]["code"] == code, (body[:200], answer)
        assert len(answer["error"]["message"]) <= 1024
    if next(examples) % VALID_EVERY == 0:
        acct = Account.from_key(node.accounts[1].key)
        tx = {
            "to": ADDR,
            "value": 1,
            "gas": 21_000,
            "gasPrice": 10 * 10**9,
            "nonce": len(valid_sends),
            "chainId": node.chain_id,
        }
        raw = "0x" + bytes(acct.sign_transaction(tx).raw_transaction).hex()
        answer = over_http(node, orjson.dumps(req("eth_sendRawTransaction", raw)))
        assert "result" in answer, answer
        valid_sends.append(answer["result"])


def test_fuzzing_lost_nothing(node: Devnet, ws: ClientConnection, valid_sends: list[str]) -> None:
    """Every valid transaction sent between the hostile requests was mined, and the node still serves."""
    assert valid_sends, "the fuzz test sent no valid transaction"
    w3 = Web3(Web3.HTTPProvider(node.http_url))
    for tx_hash in valid_sends:
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60).status == 1  # type: ignore[arg-type]
    assert w3.eth.get_transaction_count(node.accounts[1].address) == len(valid_sends)
    still_serving(node, ws)
