"""eth_call / eth_estimateGas state and block overrides, reached the way users reach them: Foundry's ``cast call
--override-*`` / ``--block.*`` and web3.py's ``eth.call(tx, block, state_override)``.

The contracts are hand-assembled so each call reads exactly one overridden thing: its own balance, a storage slot
chosen by calldata, the block's timestamp or number.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import Web3RPCError

try:
    from tests.clients.tooling import cast_bin, ensure_installed
    from tests.conftest import Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from clients.tooling import cast_bin, ensure_installed  # type: ignore[no-redef]
    from conftest import Devnet, start_devnet  # type: ignore[no-redef]

RETURN_TOP = "60005260206000f3"
"""MSTORE the top of the stack at 0 and RETURN those 32 bytes."""
SELFBALANCE = "47" + RETURN_TOP
TIMESTAMP = "42" + RETURN_TOP
NUMBER = "43" + RETURN_TOP
SLOAD_ARG = "60003554" + RETURN_TOP
"""Returns SLOAD(calldata word 0)."""
STORE_5_6 = "6005600055" + "6006600155"
"""Constructor part: slot 0 = 5, slot 1 = 6."""
EMPTY = "0x00000000000000000000000000000000000000Aa"


def _init_code(runtime: str, constructor: str = "") -> str:
    n = len(runtime) // 2
    prefix_len = len(constructor) // 2 + 12
    return "0x" + constructor + f"60{n:02x}60{prefix_len:02x}600039" + f"60{n:02x}6000f3" + runtime


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    ensure_installed()
    devnet = start_devnet(tmp_path_factory.mktemp("overrides"), "--automine")
    yield devnet
    assert devnet.stop() == 0


@pytest.fixture(scope="module")
def w3(node: Devnet) -> Web3:
    return Web3(Web3.HTTPProvider(node.http_url))


@pytest.fixture(scope="module")
def store_contract(node: Devnet, w3: Web3) -> str:
    """A contract whose slots 0 and 1 hold 5 and 6 and which returns the slot its calldata names."""
    acct = Account.from_key(node.accounts[0].key)
    tx = {
        "from": acct.address,
        "data": _init_code(SLOAD_ARG, STORE_5_6),
        "gas": 200_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(acct.address),
        "chainId": node.chain_id,
    }
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    )
    assert receipt.status == 1
    return str(receipt.contractAddress)


def cast(node: Devnet, *args: str) -> str:
    proc = subprocess.run(
        [cast_bin(), *args, "--rpc-url", node.http_url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"FOUNDRY_DISABLE_NIGHTLY_WARNING": "1", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def word(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


def test_cast_override_balance_and_code(node: Devnet) -> None:
    out = cast(
        node, "call", EMPTY, "--override-code", f"{EMPTY}:0x{SELFBALANCE}", "--override-balance", f"{EMPTY}:12345"
    )
    assert int(out, 16) == 12345
    # Nothing persists: the account still has no code.
    assert cast(node, "code", EMPTY) == "0x"


def test_cast_override_state_and_state_diff(node: Devnet, store_contract: str) -> None:
    slot0, slot1 = word(0), word(1)
    assert int(cast(node, "call", store_contract, "--data", slot1), 16) == 6
    diff = ["--override-state-diff", f"{store_contract}:1:9"]
    assert int(cast(node, "call", store_contract, "--data", slot1, *diff), 16) == 9
    assert int(cast(node, "call", store_contract, "--data", slot0, *diff), 16) == 5  # the rest is kept
    state = ["--override-state", f"{store_contract}:1:9"]
    assert int(cast(node, "call", store_contract, "--data", slot1, *state), 16) == 9
    assert int(cast(node, "call", store_contract, "--data", slot0, *state), 16) == 0  # the rest is gone
    assert int(cast(node, "storage", store_contract, "1"), 16) == 6


def test_cast_block_overrides(node: Devnet) -> None:
    code = ["--override-code", f"{EMPTY}:0x{TIMESTAMP}"]
    assert int(cast(node, "call", EMPTY, *code, "--block.time", "4102444800"), 16) == 4102444800
    code = ["--override-code", f"{EMPTY}:0x{NUMBER}"]
    assert int(cast(node, "call", EMPTY, *code, "--block.number", "777777"), 16) == 777777


def test_web3py_state_override(node: Devnet, w3: Web3, store_contract: str) -> None:
    call = {"to": store_contract, "data": word(1)}
    assert int.from_bytes(w3.eth.call(call, "latest", {store_contract: {"stateDiff": {word(1): word(42)}}})) == 42
    # A sender with no funds can send value once its balance is overridden.
    poor = Account.create().address
    paying = {"from": poor, "to": store_contract, "data": word(0), "value": 1}
    with pytest.raises(Web3RPCError, match="insufficient funds"):
        w3.eth.call(paying)
    assert int.from_bytes(w3.eth.call(paying, "latest", {poor: {"balance": 10**18}})) == 5
    # A nonce named by the call must match the (overridden) account nonce.
    with pytest.raises(Web3RPCError, match="nonce"):
        w3.eth.call({**call, "from": poor, "nonce": 7})
    assert int.from_bytes(w3.eth.call({**call, "from": poor, "nonce": 7}, "latest", {poor: {"nonce": 7}})) == 6


def test_estimate_gas_sees_overrides(node: Devnet, w3: Web3) -> None:
    """The code override makes the estimate that of the overriding code, not of an empty account."""
    plain = w3.provider.make_request("eth_estimateGas", [{"to": EMPTY}])  # type: ignore[arg-type]
    over = w3.provider.make_request(
        "eth_estimateGas",  # type: ignore[arg-type]
        [{"to": EMPTY}, "latest", {EMPTY: {"code": "0x" + SLOAD_ARG}}],
    )
    assert int(over["result"], 16) > int(plain["result"], 16) == 21_000


def test_access_list_sees_overrides(w3: Web3, store_contract: str) -> None:
    """The overriding code's storage read shows in the access list (geth takes overrides there too)."""
    resp = w3.provider.make_request(
        "eth_createAccessList",  # type: ignore[arg-type]
        [{"to": EMPTY, "data": word(3)}, "latest", {EMPTY: {"code": "0x" + SLOAD_ARG}}],
    )
    assert resp["result"]["accessList"] == [{"address": EMPTY.lower(), "storageKeys": [word(3)]}], resp


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({EMPTY: {"movePrecompileToAddress": EMPTY}}, "unsupported state override field"),
        ({EMPTY: {"state": {}, "stateDiff": {}}}, "has both 'state' and 'stateDiff'"),
        ({EMPTY: {"balance": "0x" + "f" * 65}}, "balance override"),
        ({EMPTY: {"stateDiff": {"0x01": word(1)}}}, "stateDiff slot"),
        ({"0x1234": {"balance": "0x1"}}, "state override address"),
        ([EMPTY], "expected an object keyed by address"),
    ],
)
def test_bad_overrides_are_refused(w3: Web3, overrides: object, message: str) -> None:
    resp = w3.provider.make_request("eth_call", [{"to": EMPTY}, "latest", overrides])  # type: ignore[arg-type]
    assert resp["error"]["code"] == -32602, resp
    assert message in resp["error"]["message"]


def test_bad_block_override_is_refused(w3: Web3) -> None:
    resp = w3.provider.make_request(
        "eth_call",  # type: ignore[arg-type]
        [{"to": EMPTY}, "latest", None, {"blobBaseFee": "0x1"}],
    )
    assert resp["error"]["code"] == -32602, resp
    assert "unsupported block override field" in resp["error"]["message"]
