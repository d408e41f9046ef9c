"""Bad input gets the right JSON-RPC error, and the node keeps serving with nothing lost.

Raw HTTP (``requests`` with bodies built here) and WebSocket (``websockets``' sync client), transactions signed
with eth-account and, for the malformed ones, re-encoded with ``rlp``. Every test checks afterwards that a normal
call still works, and the transaction tests that the sender's balance and nonces did not move.

The module runs its own node (interval mining at 100 ms) so that its account nonces never interleave with other
suites'; each test uses its own dev account.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from websockets.sync.client import connect

try:
    from tests.conftest import DevKey, Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import DevKey, Devnet, start_devnet  # type: ignore[no-redef]

GWEI = 10**9
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
BLOCK_GAS_LIMIT = 500_000_000
MAX_TX_SIZE = 128 * 1024
MAX_BATCH = 10_000
ERROR_SELECTOR = bytes.fromhex("08c379a0")
REVERT_REASON = "pysei says no"
SINK = "0x000000000000000000000000000000000000dEaD"

# Dev account per test (index into the 20 funded accounts); no two tests share a sender.
ACCT_REJECTS = 0
ACCT_NONCE_LOW = 1
ACCT_GAP = 2
ACCT_REPLACE = 3
ACCT_BATCH = 4
ACCT_REVERTER = 5
ACCT_FEES = 6
ACCT_NOTIFY = 7


# --------------------------------------------------------------------------------------------- plumbing


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = start_devnet(tmp_path_factory.mktemp("rpc-errors"), "--block-time", "0.1")
    yield devnet
    code = devnet.stop()
    log = devnet.log_path.read_text()[-3000:] if devnet.log_path else ""
    assert code == 0, f"node exited with {code}: {log}"


def post(node: Devnet, body: bytes | str) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(node.http_url, data=data, headers={"Content-Type": "application/json"}, timeout=30)


def post_json(node: Devnet, obj: Any) -> Any:
    resp = post(node, orjson.dumps(obj))
    assert resp.status_code == 200, resp.text
    return resp.json()


_ids = iter(range(1, 1 << 62))


def rpc(node: Devnet, method: str, *params: Any) -> dict[str, Any]:
    """The whole response object of a single request, id checked."""
    rid = next(_ids)
    resp = post_json(node, {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)})
    assert resp["jsonrpc"] == "2.0" and resp["id"] == rid, resp
    return resp


def ok(node: Devnet, method: str, *params: Any) -> Any:
    resp = rpc(node, method, *params)
    assert "error" not in resp, resp
    return resp["result"]


def err(node: Devnet, method: str, *params: Any) -> dict[str, Any]:
    resp = rpc(node, method, *params)
    assert "error" in resp and "result" not in resp, resp
    return resp["error"]


def assert_error(error: dict[str, Any], code: int, fragment: str | tuple[str, ...] | None = None) -> None:
    """``fragment``: a substring the message must contain, or a tuple of alternatives."""
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    if fragment is not None:
        alternatives = (fragment,) if isinstance(fragment, str) else fragment
        assert any(f in error["message"] for f in alternatives), error


def assert_serving(node: Devnet) -> None:
    assert node.process.poll() is None, "node died"
    assert ok(node, "eth_chainId") == hex(node.chain_id)
    assert int(ok(node, "eth_blockNumber"), 16) >= 0


def account_state(node: Devnet, address: str) -> tuple[int, int, int]:
    """(balance, committed nonce, pending nonce)."""
    return (
        int(ok(node, "eth_getBalance", address, "latest"), 16),
        int(ok(node, "eth_getTransactionCount", address, "latest"), 16),
        int(ok(node, "eth_getTransactionCount", address, "pending"), 16),
    )


def pool_status(node: Devnet) -> tuple[int, int]:
    st = ok(node, "txpool_status")
    return int(st["pending"], 16), int(st["queued"], 16)


def acct(node: Devnet, index: int) -> DevKey:
    return node.accounts[index]


def tx_fields(node: Devnet, nonce: int, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "type": 2,
        "chainId": node.chain_id,
        "nonce": nonce,
        "to": SINK,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 20 * GWEI,
        "maxPriorityFeePerGas": 1 * GWEI,
    }
    fields.update(overrides)
    return fields


def signed(fields: dict[str, Any], key: str) -> bytes:
    return bytes(Account.sign_transaction(fields, key).raw_transaction)


def hexs(raw: bytes) -> str:
    return "0x" + raw.hex()


def send_raw(node: Devnet, raw: bytes) -> dict[str, Any]:
    return rpc(node, "eth_sendRawTransaction", hexs(raw))


def wait_receipt(node: Devnet, tx_hash: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = ok(node, "eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            return receipt
        time.sleep(0.05)
    raise AssertionError(f"no receipt for {tx_hash} after {timeout}s")


def mine_some(node: Devnet, key_index: int, blocks: int = 3) -> None:
    """Mines ``blocks`` blocks by sending one transfer per block from a scratch account (blocks are only cut
    while transactions are pending)."""
    k = acct(node, key_index)
    for _ in range(blocks):
        nonce = int(ok(node, "eth_getTransactionCount", k.address, "pending"), 16)
        h = ok(node, "eth_sendRawTransaction", hexs(signed(tx_fields(node, nonce), k.key)))
        wait_receipt(node, h)


# --------------------------------------------------------------------------------------------- envelope


@pytest.mark.parametrize(
    "body",
    [
        b"{bad json",
        b"",
        b"   ",
        b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"',
        b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId",}',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
        b'[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},',
    ],
    ids=["garbage", "empty", "blank", "truncated", "trailing-comma", "not-utf8", "deep-nesting", "truncated-batch"],
)
def test_malformed_json_is_parse_error(node: Devnet, body: bytes) -> None:
    resp = post(node, body)
    assert resp.status_code == 200
    out = resp.json()
    assert out["jsonrpc"] == "2.0" and out["id"] is None, out
    assert_error(out["error"], -32700)
    assert_serving(node)


@pytest.mark.parametrize(
    ("request_obj", "want_id"),
    [
        (1, None),
        ("eth_chainId", None),
        (None, None),
        ({"id": 1, "method": "eth_chainId"}, 1),
        ({"jsonrpc": "1.0", "id": 2, "method": "eth_chainId"}, 2),
        ({"jsonrpc": "2.0", "id": 3}, 3),
        ({"jsonrpc": "2.0", "id": 4, "method": 5}, 4),
        ({"jsonrpc": "2.0", "id": "s", "method": None}, "s"),
    ],
    ids=["number", "string", "null", "no-jsonrpc", "jsonrpc-1.0", "no-method", "method-not-string", "method-null"],
)
def test_not_a_request_is_invalid_request(node: Devnet, request_obj: Any, want_id: Any) -> None:
    out = post_json(node, request_obj)
    assert isinstance(out, dict), out
    assert out["id"] == want_id, out
    assert_error(out["error"], -32600)
    assert_serving(node)


def test_empty_batch_is_invalid_request(node: Devnet) -> None:
    out = post_json(node, [])
    assert isinstance(out, dict) and out["id"] is None, out
    assert_error(out["error"], -32600)
    assert_serving(node)


@pytest.mark.parametrize("method", ["eth_nope", "ETH_CHAINID", "eth_chainId ", "admin_peers", "debug_nope"])
def test_unknown_method(node: Devnet, method: str) -> None:
    assert_error(err(node, method), -32601, "does not exist")
    assert_serving(node)


def test_get_over_http_is_not_a_crash(node: Devnet) -> None:
    resp = requests.get(node.http_url, timeout=10)
    assert resp.status_code == 200
    assert_error(resp.json()["error"], -32600)
    assert_serving(node)


# --------------------------------------------------------------------------------------------- params

ADDR = "0x" + "11" * 20
HASH = "0x" + "22" * 32


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("eth_getBalance", []),
        ("eth_getBalance", ["0xzz" + "00" * 19, "latest"]),
        ("eth_getBalance", ["0x1234", "latest"]),
        ("eth_getBalance", [1234, "latest"]),
        ("eth_getBalance", [ADDR[2:], "latest"]),
        ("eth_getBalance", [ADDR + "0", "latest"]),
        ("eth_getBalance", [ADDR, "latest-ish"]),
        ("eth_getBalance", [ADDR, {}]),
        ("eth_getBalance", [ADDR, True]),
        ("eth_getBalance", [ADDR, "0x" + "f" * 20]),
        ("eth_getTransactionCount", [None]),
        ("eth_getCode", [["0x00"]]),
        ("eth_getStorageAt", [ADDR, "zz", "latest"]),
        ("eth_getStorageAt", [ADDR, "0x1" + "0" * 64, "latest"]),
        ("eth_getTransactionByHash", ["0x12"]),
        ("eth_getTransactionByHash", [HASH + "00"]),
        ("eth_getTransactionByHash", [{"hash": HASH}]),
        ("eth_getTransactionReceipt", []),
        ("eth_getBlockByHash", ["0xnothex"]),
        ("eth_getTransactionByBlockNumberAndIndex", ["0x0", "zero"]),
        ("eth_getTransactionByBlockNumberAndIndex", ["0x0", "0x" + "f" * 20]),
        ("eth_call", []),
        ("eth_call", ["0xdeadbeef"]),
        ("eth_call", [{"to": "0x12"}]),
        ("eth_call", [{"to": ADDR, "data": "0x123"}]),
        ("eth_call", [{"to": ADDR, "data": "0xzz"}]),
        ("eth_call", [{"to": ADDR, "value": "0x" + "f" * 65}]),
        ("eth_call", [{"to": ADDR, "gas": "0x" + "f" * 17}]),
        ("eth_call", [{"to": ADDR, "gas": -1}]),
        ("eth_call", [{"to": ADDR, "value": "ten"}]),
        ("eth_call", [{"to": ADDR, "accessList": [5]}]),
        ("eth_estimateGas", [{"from": "me"}]),
        ("eth_getLogs", ["latest"]),
        ("eth_getLogs", [{"fromBlock": "bogus"}]),
        ("eth_getLogs", [{"address": "0x12"}]),
        ("eth_getLogs", [{"topics": ["0x12"]}]),
        ("eth_getLogs", [{"topics": [None, None, None, None, None]}]),
        ("eth_getLogs", [{"blockHash": HASH, "fromBlock": "0x0"}]),
        ("eth_newFilter", [42]),
        ("eth_feeHistory", ["0x1", "latest", [50, 10]]),
        ("eth_feeHistory", ["0x1", "latest", [101]]),
        ("eth_feeHistory", ["one", "latest"]),
        ("eth_sendRawTransaction", []),
        ("eth_sendRawTransaction", ["f86b"]),
        ("eth_sendRawTransaction", ["0xzz"]),
        ("eth_sendRawTransaction", ["0x123"]),
        ("eth_sendRawTransaction", [1234]),
        ("web3_sha3", ["hello"]),
        ("eth_signTypedData_v4", ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"]),
        ("eth_signTypedData_v4", ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "{not json"]),
    ],
)
def test_invalid_params(node: Devnet, method: str, params: list[Any]) -> None:
    assert_error(err(node, method, *params), -32602)
    assert_serving(node)


@pytest.mark.parametrize("params", [{"address": ADDR}, "0x00", 5, True])
def test_params_not_an_array(node: Devnet, params: Any) -> None:
    out = post_json(node, {"jsonrpc": "2.0", "id": 9, "method": "eth_getBalance", "params": params})
    assert out["id"] == 9
    assert_error(out["error"], -32602)
    assert_serving(node)


@pytest.mark.parametrize(
    "tag",
    ["foo", "", "0x", "0xzz", "LATEST", "-0x1", "1", True, 1.5, [], {}, {"foo": "latest"}, "0x" + "f" * 17],
    ids=repr,
)
def test_get_block_by_number_invalid_tag(node: Devnet, tag: Any) -> None:
    assert_error(err(node, "eth_getBlockByNumber", tag, False), -32602)
    assert_serving(node)


def test_get_block_by_number_valid_tags_still_work(node: Devnet) -> None:
    for tag in ("latest", "earliest", "pending", "safe", "finalized", "0x0"):
        block = ok(node, "eth_getBlockByNumber", tag, False)
        assert block is not None and block["number"].startswith("0x"), tag
    assert ok(node, "eth_getBlockByNumber", "0x" + "f" * 15, False) is None  # well-formed, just not there


# --------------------------------------------------------------------------------------------- batches


def test_batch_mixing_good_and_bad_entries(node: Devnet) -> None:
    k = acct(node, ACCT_BATCH)
    nonce = account_state(node, k.address)[2]
    good_tx = hexs(signed(tx_fields(node, nonce), k.key))
    wrong_chain_tx = hexs(signed(tx_fields(node, nonce + 1, chainId=1), k.key))
    batch: list[Any] = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": "two", "method": "eth_nope"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # notification: no response
        42,
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x12"]},
        {"jsonrpc": "2.0", "id": 4, "method": "eth_sendRawTransaction", "params": [good_tx]},
        {"jsonrpc": "2.0", "id": 5, "method": "eth_sendRawTransaction", "params": ["0xc0ffee"]},
        {"jsonrpc": "2.0", "id": 6, "method": "eth_sendRawTransaction", "params": [wrong_chain_tx]},
        {"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": ["0x00"]},  # notification
        {"jsonrpc": "2.0", "id": 7, "method": "eth_sendRawTransaction", "params": []},
        {"id": 8, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "method": 5},  # invalid, not a notification: answered with id null
        {"jsonrpc": "2.0", "id": None, "method": "eth_chainId"},  # id null is an id
        {"jsonrpc": "2.0", "id": 9, "method": "eth_getBlockByNumber", "params": ["0x0", False]},
    ]
    out = post_json(node, batch)
    assert isinstance(out, list)
    assert len(out) == 12, out
    by_pos = dict(enumerate(out))
    assert by_pos[0] == {"jsonrpc": "2.0", "id": 1, "result": hex(node.chain_id)}
    assert by_pos[1]["id"] == "two" and by_pos[1]["error"]["code"] == -32601
    assert by_pos[2]["id"] is None and by_pos[2]["error"]["code"] == -32600
    assert by_pos[3]["id"] == 3 and by_pos[3]["error"]["code"] == -32602
    assert by_pos[4]["id"] == 4 and by_pos[4]["result"] == "0x" + keccak(bytes.fromhex(good_tx[2:])).hex()
    assert by_pos[5]["id"] == 5 and by_pos[5]["error"]["code"] == -32000 and "rlp" in by_pos[5]["error"]["message"]
    assert by_pos[6]["id"] == 6 and "invalid chain id for signer" in by_pos[6]["error"]["message"]
    assert by_pos[7]["id"] == 7 and by_pos[7]["error"]["code"] == -32602
    assert by_pos[8]["id"] == 8 and by_pos[8]["error"]["code"] == -32600
    assert by_pos[9]["id"] is None and by_pos[9]["error"]["code"] == -32600
    assert by_pos[10] == {"jsonrpc": "2.0", "id": None, "result": hex(node.chain_id)}
    assert by_pos[11]["id"] == 9 and by_pos[11]["result"]["number"] == "0x0"
    receipt = wait_receipt(node, by_pos[4]["result"])
    assert receipt["status"] == "0x1"
    assert account_state(node, k.address)[1:] == (nonce + 1, nonce + 1)
    assert_serving(node)


def test_notifications_get_no_response(node: Devnet) -> None:
    # A single notification: executed, nothing answered.
    resp = post(node, b'{"jsonrpc":"2.0","method":"eth_chainId"}')
    assert resp.status_code == 200 and resp.content == b""
    # A batch of notifications only: no (empty-array) response either.
    resp = post(node, b'[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_nope"}]')
    assert resp.status_code == 200 and resp.content == b""
    # A notification is still executed: a raw transaction sent as one is pooled and mined.
    k = acct(node, ACCT_NOTIFY)
    nonce = account_state(node, k.address)[2]
    raw = signed(tx_fields(node, nonce), k.key)
    resp = post(node, orjson.dumps({"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": [hexs(raw)]}))
    assert resp.status_code == 200 and resp.content == b""
    assert wait_receipt(node, hexs(keccak(raw)))["status"] == "0x1"
    assert_serving(node)


def test_huge_batch_answered(node: Devnet) -> None:
    methods = ["eth_chainId", "eth_blockNumber", "net_version", "eth_nope", "eth_getBalance"]
    batch = []
    for i in range(MAX_BATCH):
        m = methods[i % len(methods)]
        params = [node.accounts[i % 20].address, "latest"] if m == "eth_getBalance" else []
        batch.append({"jsonrpc": "2.0", "id": i, "method": m, "params": params})
    out = post_json(node, batch)
    assert isinstance(out, list) and len(out) == MAX_BATCH
    assert [r["id"] for r in out] == list(range(MAX_BATCH))
    for r in out:
        if batch[r["id"]]["method"] == "eth_nope":
            assert r["error"]["code"] == -32601
        else:
            assert "result" in r, r
    assert {r["result"] for r in out if batch[r["id"]]["method"] == "eth_chainId"} == {hex(node.chain_id)}
    # One over the limit: refused as a whole, as a single invalid-request error.
    too_big = post_json(node, [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId"} for i in range(MAX_BATCH + 1)])
    assert isinstance(too_big, dict)
    assert_error(too_big["error"], -32600, "batch too large")
    assert_serving(node)


# --------------------------------------------------------------------------------------------- transactions


def _reencode(raw: bytes, mutate) -> bytes:  # type: ignore[no-untyped-def]
    """Decodes a typed (EIP-2718) transaction's RLP payload, lets ``mutate`` edit its field list, re-encodes."""
    fields = list(rlp.decode(raw[1:]))
    mutate(fields)
    return raw[:1] + rlp.encode(fields)


def _set_sig(y_parity: bytes | None = None, r: bytes | None = None, s: bytes | None = None):  # type: ignore[no-untyped-def]
    def mutate(fields: list[Any]) -> None:
        if y_parity is not None:
            fields[-3] = y_parity
        if r is not None:
            fields[-2] = r
        if s is not None:
            fields[-1] = s

    return mutate


def _high_s(fields: list[Any]) -> None:
    s = int.from_bytes(fields[-1], "big")
    fields[-1] = (SECP256K1_N - s).to_bytes(32, "big")
    fields[-3] = b"" if fields[-3] == b"\x01" else b"\x01"  # the flipped-s twin recovers with the other parity


def _bad_cases(node: Devnet, key: str, nonce: int) -> list[tuple[str, bytes, str | tuple[str, ...]]]:
    good = signed(tx_fields(node, nonce), key)
    legacy = {"nonce": nonce, "to": SINK, "value": 1, "gas": 21_000, "gasPrice": 20 * GWEI}
    rnd = os.urandom
    return [
        ("rlp-garbage", b"\xc0\xff\xee", "rlp"),
        ("rlp-empty-list", b"\xc0", "rlp"),
        ("rlp-unknown-type", b"\x12\x34", "rlp"),
        ("rlp-typed-empty", b"\x02\xc0", "rlp"),
        ("rlp-truncated", good[:-7], "rlp"),
        ("rlp-trailing-bytes", good + b"\x00", "rlp"),
        ("rlp-extra-field", _reencode(good, lambda f: f.append(b"\x01")), "rlp"),
        ("rlp-missing-field", _reencode(good, lambda f: f.pop(3)), "rlp"),
        ("sig-s-zero", _reencode(good, _set_sig(s=b"")), "invalid"),
        ("sig-r-zero", _reencode(good, _set_sig(r=b"")), "invalid"),
        # A random (r, s) either fails recovery or recovers some unfunded stranger: refused either way.
        ("sig-random-rs", _reencode(good, _set_sig(r=rnd(32), s=rnd(31))), ("invalid", "insufficient funds")),
        ("sig-r-above-n", _reencode(good, _set_sig(r=(2**256 - 1).to_bytes(32, "big"))), "invalid"),
        ("sig-high-s", _reencode(good, _high_s), "invalid"),
        ("wrong-chain-id", signed(tx_fields(node, nonce, chainId=1), key), "invalid chain id for signer"),
        ("wrong-chain-id-legacy", signed({**legacy, "chainId": 1}, key), "invalid chain id for signer"),
        # A pre-EIP-155 transaction is accepted on the devnet (keyless deployments); its refusal under
        # --refuse-unprotected-txs is tested in test_deterministic_deploy.py.
        ("intrinsic-gas-too-low", signed(tx_fields(node, nonce, gas=20_999), key), "intrinsic gas too low"),
        (
            "intrinsic-gas-too-low-calldata",
            signed(tx_fields(node, nonce, gas=21_100, data=b"\x01" * 100), key),
            "intrinsic gas too low",
        ),
        (
            "intrinsic-gas-too-low-create",
            signed(tx_fields(node, nonce, to=b"", gas=50_000, data=b"\x00"), key),
            "intrinsic gas too low",
        ),
        (
            "exceeds-block-gas-limit",
            signed(tx_fields(node, nonce, gas=BLOCK_GAS_LIMIT + 1, maxFeePerGas=GWEI + 1), key),
            "exceeds block gas limit",
        ),
        (
            "oversized-data",
            signed(tx_fields(node, nonce, gas=10_000_000, data=b"\x01" * (MAX_TX_SIZE + 1)), key),
            "oversized data",
        ),
        (
            "max-fee-below-base-fee",
            signed(tx_fields(node, nonce, maxFeePerGas=GWEI // 2, maxPriorityFeePerGas=1), key),
            "max fee per gas less than block base fee",
        ),
        (
            "tip-above-fee-cap",
            signed(tx_fields(node, nonce, maxFeePerGas=2 * GWEI, maxPriorityFeePerGas=3 * GWEI), key),
            "max priority fee per gas higher than max fee per gas",
        ),
        (
            "value-above-balance",
            signed(tx_fields(node, nonce, value=10**40), key),
            "insufficient funds for gas * price + value",
        ),
    ]


_BAD_IDS = [
    "rlp-garbage",
    "rlp-empty-list",
    "rlp-unknown-type",
    "rlp-typed-empty",
    "rlp-truncated",
    "rlp-trailing-bytes",
    "rlp-extra-field",
    "rlp-missing-field",
    "sig-s-zero",
    "sig-r-zero",
    "sig-random-rs",
    "sig-r-above-n",
    "sig-high-s",
    "wrong-chain-id",
    "wrong-chain-id-legacy",
    "intrinsic-gas-too-low",
    "intrinsic-gas-too-low-calldata",
    "intrinsic-gas-too-low-create",
    "exceeds-block-gas-limit",
    "oversized-data",
    "max-fee-below-base-fee",
    "tip-above-fee-cap",
    "value-above-balance",
]


@pytest.mark.parametrize("case", _BAD_IDS)
def test_rejected_transaction(node: Devnet, case: str) -> None:
    k = acct(node, ACCT_REJECTS)
    before = account_state(node, k.address)
    pool_before = pool_status(node)
    assert before[1] == before[2], "sender has pending transactions"
    cases = {name: (raw, fragment) for name, raw, fragment in _bad_cases(node, k.key, before[2])}
    assert set(cases) == set(_BAD_IDS)
    raw, fragment = cases[case]
    error = send_raw(node, raw)["error"]
    assert_error(error, -32000, fragment)
    if case.startswith("rlp-"):
        assert error["message"].startswith("rlp"), error
    # Nothing pooled, nothing mined, nothing charged; the node still takes this sender's next transaction.
    assert pool_status(node) == pool_before
    assert ok(node, "eth_getTransactionByHash", hexs(keccak(raw))) is None
    assert account_state(node, k.address) == before
    assert_serving(node)


def test_rejected_transactions_then_good_one_is_mined(node: Devnet) -> None:
    """After every kind of rejection the sender's very next valid transaction (same nonce) goes through."""
    k = acct(node, ACCT_REJECTS)
    balance, nonce, pending = account_state(node, k.address)
    assert nonce == pending
    for _name, raw, fragment in _bad_cases(node, k.key, nonce):
        assert_error(send_raw(node, raw)["error"], -32000, fragment)
    assert account_state(node, k.address) == (balance, nonce, pending)
    h = ok(node, "eth_sendRawTransaction", hexs(signed(tx_fields(node, nonce, value=12345), k.key)))
    receipt = wait_receipt(node, h)
    assert receipt["status"] == "0x1"
    fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert account_state(node, k.address) == (balance - 12345 - fee, nonce + 1, nonce + 1)


def test_insufficient_funds_from_fresh_key(node: Devnet) -> None:
    fresh = Account.create()
    raw = signed(tx_fields(node, 0), "0x" + bytes(fresh.key).hex())
    error = send_raw(node, raw)["error"]
    assert_error(error, -32000, "insufficient funds for gas * price + value")
    assert account_state(node, fresh.address) == (0, 0, 0)
    assert ok(node, "eth_getTransactionByHash", hexs(keccak(raw))) is None
    assert_serving(node)


def test_nonce_too_low_after_mined(node: Devnet) -> None:
    k = acct(node, ACCT_NONCE_LOW)
    _, nonce, _ = account_state(node, k.address)
    raw = signed(tx_fields(node, nonce), k.key)
    tx_hash = ok(node, "eth_sendRawTransaction", hexs(raw))
    assert wait_receipt(node, tx_hash)["status"] == "0x1"
    after = account_state(node, k.address)
    assert after[1:] == (nonce + 1, nonce + 1)
    # The same bytes again, and a different transaction with the used nonce: both "nonce too low".
    assert_error(send_raw(node, raw)["error"], -32000, "nonce too low")
    other = signed(tx_fields(node, nonce, value=777, maxFeePerGas=50 * GWEI, maxPriorityFeePerGas=5 * GWEI), k.key)
    assert_error(send_raw(node, other)["error"], -32000, "nonce too low")
    if nonce > 0:
        assert_error(send_raw(node, signed(tx_fields(node, 0), k.key))["error"], -32000, "nonce too low")
    assert account_state(node, k.address) == after
    assert ok(node, "eth_getTransactionByHash", hexs(keccak(other))) is None
    assert_serving(node)


def test_nonce_gap_queued_until_filled(node: Devnet) -> None:
    k = acct(node, ACCT_GAP)
    balance, nonce, _ = account_state(node, k.address)
    pending0, queued0 = pool_status(node)
    later = signed(tx_fields(node, nonce + 1, value=2), k.key)
    later_hash = ok(node, "eth_sendRawTransaction", hexs(later))
    assert later_hash == hexs(keccak(later))
    # The same queued transaction twice is "already known".
    assert_error(send_raw(node, later)["error"], -32000, "already known")
    # Let several blocks pass (cut for another account's transactions): the gapped one must not be mined.
    mine_some(node, ACCT_FEES, blocks=3)
    assert ok(node, "eth_getTransactionReceipt", later_hash) is None
    seen = ok(node, "eth_getTransactionByHash", later_hash)
    # The node shows pooled transactions (queued included) as pending: no block yet.
    assert seen is not None and seen["blockNumber"] is None and seen["blockHash"] is None
    assert int(seen["nonce"], 16) == nonce + 1
    assert pool_status(node) == (pending0, queued0 + 1)
    # Queued transactions do not move the pending nonce (as in geth), and nothing was charged.
    assert account_state(node, k.address) == (balance, nonce, nonce)
    # Fill the gap: both are mined, in nonce order.
    first_hash = ok(node, "eth_sendRawTransaction", hexs(signed(tx_fields(node, nonce, value=1), k.key)))
    r1 = wait_receipt(node, first_hash)
    r2 = wait_receipt(node, later_hash)
    assert r1["status"] == r2["status"] == "0x1"
    assert (int(r1["blockNumber"], 16), int(r1["transactionIndex"], 16)) < (
        int(r2["blockNumber"], 16),
        int(r2["transactionIndex"], 16),
    )
    fees = sum(int(r["gasUsed"], 16) * int(r["effectiveGasPrice"], 16) for r in (r1, r2))
    assert account_state(node, k.address) == (balance - 3 - fees, nonce + 2, nonce + 2)
    assert pool_status(node) == (pending0, queued0)
    assert_serving(node)


def test_replacement_needs_ten_percent_bump(node: Devnet) -> None:
    k = acct(node, ACCT_REPLACE)
    balance, nonce, _ = account_state(node, k.address)
    fee, tip = 20 * GWEI, 2 * GWEI
    # Queued behind a gap at ``nonce`` so it stays in the pool while we try to replace it.
    original = signed(tx_fields(node, nonce + 1, value=100, maxFeePerGas=fee, maxPriorityFeePerGas=tip), k.key)
    original_hash = ok(node, "eth_sendRawTransaction", hexs(original))
    underpriced = [
        (fee, tip),  # same fees (different value, so a different transaction)
        (fee * 109 // 100, tip * 109 // 100),  # +9%
        (fee * 2, tip),  # tip not raised
        (fee, tip * 2),  # fee cap not raised
        (fee * 110 // 100, tip * 110 // 100 - 1),  # tip one wei short of +10%
    ]
    for new_fee, new_tip in underpriced:
        raw = signed(tx_fields(node, nonce + 1, value=200, maxFeePerGas=new_fee, maxPriorityFeePerGas=new_tip), k.key)
        error = send_raw(node, raw)["error"]
        assert_error(error, -32000, "replacement transaction underpriced")
        assert ok(node, "eth_getTransactionByHash", hexs(keccak(raw))) is None
    assert ok(node, "eth_getTransactionByHash", original_hash) is not None
    # Exactly +10% on both: accepted, and it replaces the original.
    replacement = signed(
        tx_fields(node, nonce + 1, value=300, maxFeePerGas=fee * 110 // 100, maxPriorityFeePerGas=tip * 110 // 100),
        k.key,
    )
    replacement_hash = ok(node, "eth_sendRawTransaction", hexs(replacement))
    assert ok(node, "eth_getTransactionByHash", original_hash) is None
    assert account_state(node, k.address) == (balance, nonce, nonce)
    # Fill the gap; the replacement is the one mined.
    first_hash = ok(node, "eth_sendRawTransaction", hexs(signed(tx_fields(node, nonce, value=1), k.key)))
    r1 = wait_receipt(node, first_hash)
    r2 = wait_receipt(node, replacement_hash)
    assert r1["status"] == r2["status"] == "0x1"
    mined = ok(node, "eth_getTransactionByHash", replacement_hash)
    assert int(mined["value"], 16) == 300 and mined["blockNumber"] is not None
    mine_some(node, ACCT_FEES, blocks=1)
    assert ok(node, "eth_getTransactionReceipt", original_hash) is None
    assert ok(node, "eth_getTransactionByHash", original_hash) is None
    fees = sum(int(r["gasUsed"], 16) * int(r["effectiveGasPrice"], 16) for r in (r1, r2))
    assert account_state(node, k.address) == (balance - 301 - fees, nonce + 2, nonce + 2)
    # And now the old nonce is simply too low.
    assert_error(send_raw(node, original)["error"], -32000, "nonce too low")
    assert_serving(node)


# --------------------------------------------------------------------------------------------- reverts


def _reverter_bytecode(reason: str) -> tuple[bytes, bytes]:
    """(init code, revert data) of a contract whose every call reverts with Error(reason).

    Runtime: CODECOPY the ABI-encoded Error(string) appended after the code to memory 0 and REVERT with it.
    Init: CODECOPY the runtime to memory 0 and RETURN it.
    """
    text = reason.encode()
    padded = text + b"\x00" * (-len(text) % 32)
    payload = ERROR_SELECTOR + (32).to_bytes(32, "big") + len(text).to_bytes(32, "big") + padded
    assert len(payload) < 256
    prefix_len = 12
    runtime = (
        bytes([0x60, len(payload), 0x60, prefix_len, 0x60, 0x00, 0x39])  # CODECOPY(0, prefix_len, len)
        + bytes([0x60, len(payload), 0x60, 0x00, 0xFD])  # REVERT(0, len)
        + payload
    )
    assert len(runtime) < 256
    init_len = 11
    init = (
        bytes([0x60, len(runtime), 0x80, 0x60, init_len, 0x60, 0x00, 0x39])  # CODECOPY(0, init_len, len)
        + bytes([0x60, 0x00, 0xF3])  # RETURN(0, len)
        + runtime
    )
    return init, payload


@pytest.fixture(scope="module")
def reverter(node: Devnet) -> tuple[str, bytes]:
    k = acct(node, ACCT_REVERTER)
    init, payload = _reverter_bytecode(REVERT_REASON)
    nonce = account_state(node, k.address)[2]
    raw = signed(tx_fields(node, nonce, to=b"", value=0, gas=200_000, data=init), k.key)
    receipt = wait_receipt(node, ok(node, "eth_sendRawTransaction", hexs(raw)))
    assert receipt["status"] == "0x1", receipt
    address = to_checksum_address(receipt["contractAddress"])
    assert ok(node, "eth_getCode", address, "latest") == hexs(init[11:])
    return address, payload


@pytest.mark.parametrize("method", ["eth_call", "eth_estimateGas"])
def test_revert_reason(node: Devnet, reverter: tuple[str, bytes], method: str) -> None:
    address, payload = reverter
    caller = acct(node, ACCT_REVERTER).address
    error = err(node, method, {"from": caller, "to": address, "data": "0x12345678"}, "latest")
    assert error == {"code": 3, "message": f"execution reverted: {REVERT_REASON}", "data": hexs(payload)}
    # Without a sender or data too.
    error = err(node, method, {"to": address})
    assert error["code"] == 3 and error["data"] == hexs(payload)
    assert_serving(node)


def test_call_of_reverting_init_code(node: Devnet) -> None:
    """A contract creation whose init code reverts: the same code 3 with the data, no deployment needed."""
    init, payload = _reverter_bytecode("no deploy")
    runtime_as_init = init[11:]  # run the runtime as init code: it reverts at once
    error = err(node, "eth_call", {"data": hexs(runtime_as_init)})
    assert error == {"code": 3, "message": "execution reverted: no deploy", "data": hexs(payload)}
    assert_serving(node)


def test_reverting_transaction_is_mined_with_status_zero(node: Devnet, reverter: tuple[str, bytes]) -> None:
    address, _ = reverter
    k = acct(node, ACCT_REVERTER)
    balance, nonce, _ = account_state(node, k.address)
    raw = signed(tx_fields(node, nonce, to=address, value=0, gas=100_000), k.key)
    receipt = wait_receipt(node, ok(node, "eth_sendRawTransaction", hexs(raw)))
    assert receipt["status"] == "0x0"
    fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert account_state(node, k.address) == (balance - fee, nonce + 1, nonce + 1)


def test_estimate_gas_insufficient_funds(node: Devnet) -> None:
    fresh = Account.create()
    error = err(node, "eth_estimateGas", {"from": fresh.address, "to": SINK, "value": "0x1"})
    assert_error(error, -32000, "insufficient funds")
    assert_serving(node)


# --------------------------------------------------------------------------------------------- transports


def test_subscribe_over_http_is_refused(node: Devnet) -> None:
    for kind in ("newHeads", "logs", "newPendingTransactions"):
        error = err(node, "eth_subscribe", kind)
        assert error["code"] in (-32601, -32000), error
        assert "notifications not supported" in error["message"], error
    assert ok(node, "eth_unsubscribe", "0x1") is False
    assert_serving(node)


def test_websocket_garbage_frames(node: Devnet) -> None:
    with connect(node.ws_url, open_timeout=10, close_timeout=5) as ws:

        def ask(frame: str | bytes) -> Any:
            ws.send(frame)
            return orjson.loads(ws.recv(timeout=10))

        for garbage in ["garbage", "", "{", '{"jsonrpc":"2.0","id":1,', b"\x00\xff\x13\x37", b"[" * 50_000]:
            out = ask(garbage)
            assert out["id"] is None and out["error"]["code"] == -32700, (garbage[:20], out)
            # The connection stays usable after each.
            assert ask('{"jsonrpc":"2.0","id":"after","method":"eth_chainId"}') == {
                "jsonrpc": "2.0",
                "id": "after",
                "result": hex(node.chain_id),
            }
        assert ask("[]")["error"]["code"] == -32600
        assert ask("17")["error"]["code"] == -32600
        assert ask('{"jsonrpc":"2.0","id":5,"method":"eth_nope"}')["error"]["code"] == -32601
        assert ask('{"jsonrpc":"2.0","id":6,"method":"eth_getBalance","params":["0x1"]}')["error"]["code"] == -32602
        assert ask('{"jsonrpc":"2.0","id":7,"method":"eth_subscribe","params":["nope"]}')["error"]["code"] == -32602
        batch = ask('[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"nope"}, 3]')
        assert [r["id"] for r in batch] == [1, 2, None]
        # A notification gets no answer: the next frame received answers the request after it.
        ws.send('{"jsonrpc":"2.0","method":"eth_chainId"}')
        assert ask('{"jsonrpc":"2.0","id":"next","method":"eth_blockNumber"}')["id"] == "next"
        # Subscriptions still work on this connection.
        sub = ask('{"jsonrpc":"2.0","id":8,"method":"eth_subscribe","params":["newHeads"]}')
        assert sub["id"] == 8 and sub["result"].startswith("0x")
        mine_some(node, ACCT_FEES, blocks=1)
        while True:
            msg = orjson.loads(ws.recv(timeout=10))
            if msg.get("method") == "eth_subscription":
                assert msg["params"]["subscription"] == sub["result"]
                assert msg["params"]["result"]["number"].startswith("0x")
                break
        out = ask(orjson.dumps({"jsonrpc": "2.0", "id": 9, "method": "eth_unsubscribe", "params": [sub["result"]]}))
        while out.get("method") == "eth_subscription":  # a notification may still be in flight
            out = orjson.loads(ws.recv(timeout=10))
        assert out == {"jsonrpc": "2.0", "id": 9, "result": True}
    assert_serving(node)
