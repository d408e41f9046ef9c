"""What clients show users, side by side with anvil: revert reasons of custom errors and panics, receipts' and
eth_feeHistory's blob fields, eth_subscribe("syncing"), and CORS for a dapp page in a real headless Chromium.

The revert and receipt checks run against pysei and anvil (from @foundry-rs/anvil) alike: the same client call
must read the same on both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
import requests
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractPanicError
from websockets.sync.client import connect

try:
    from tests.clients.anvil_plugin import AnvilProcess, anvil_binary
    from tests.clients.tooling import ensure_installed
    from tests.conftest import Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from clients.anvil_plugin import AnvilProcess, anvil_binary  # type: ignore[no-redef]
    from clients.tooling import ensure_installed  # type: ignore[no-redef]
    from conftest import Devnet, start_devnet  # type: ignore[no-redef]

REVERTER = "0x00000000000000000000000000000000000000AA"
RETURN_ARGS = "60246000fd"
"""REVERT with the 36 bytes at 0 (a selector and one word)."""


def panic_code(code: int) -> str:
    """Runtime code that reverts with Panic(code)."""
    return f"0x634e487b7160e01b60005260{code:02x}600452" + RETURN_ARGS


CUSTOM_ERROR = "0x63deadbeef60e01b600052602a600452" + RETURN_ARGS
"""Reverts with the custom error 0xdeadbeef and the word 42."""


@pytest.fixture(scope="module")
def pysei(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = start_devnet(tmp_path_factory.mktemp("compat"), "--automine")
    yield devnet
    assert devnet.stop() == 0


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    ensure_installed()
    log_dir = Path(tempfile.mkdtemp(prefix="pysei-compat-anvil-"))
    node = AnvilProcess(anvil_binary(), log_dir)
    node.start()
    yield f"http://127.0.0.1:{node.port}"
    node.stop()
    shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(params=["pysei", "anvil"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "anvil":
        return str(request.getfixturevalue("anvil_url"))
    return str(request.getfixturevalue("pysei").http_url)


def rpc(url: str, method: str, *params: object) -> dict[str, object]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return dict(requests.post(url, json=body, timeout=30).json())


def call_error(url: str, code: str) -> dict[str, object]:
    answer = rpc(url, "eth_call", {"to": REVERTER}, "latest", {REVERTER: {"code": code}})
    error = answer["error"]
    assert isinstance(error, dict), answer
    return error


# --------------------------------------------------------------------------------------------- reverts


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (0x01, "assertion failed"),
        (0x11, "arithmetic underflow or overflow"),
        (0x12, "division or modulo by zero"),
        (0x32, "array out-of-bounds access"),
        (0x99, "unknown code"),
    ],
)
def test_panic_reason_reads_as_anvil(url: str, code: int, reason: str) -> None:
    """Was `execution reverted: panic code 0x1`."""
    error = call_error(url, panic_code(code))
    assert error["code"] == 3
    assert error["message"] == f"execution reverted: panic: {reason} (0x{code:02x})"
    assert error["data"] == "0x4e487b71" + code.to_bytes(32, "big").hex()


def test_custom_error_selector_in_message(url: str) -> None:
    """Was a bare `execution reverted`; the data stays whole for clients that decode it with the ABI."""
    error = call_error(url, CUSTOM_ERROR)
    assert error["code"] == 3
    assert str(error["message"]).startswith("execution reverted: custom error 0xdeadbeef")
    assert error["data"] == "0xdeadbeef" + (42).to_bytes(32, "big").hex()


def test_web3py_sees_panic_and_custom_error(pysei: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(pysei.http_url))
    with pytest.raises(ContractPanicError, match="Assert evaluates to false"):
        w3.eth.call({"to": REVERTER}, "latest", {REVERTER: {"code": panic_code(1)}})
    with pytest.raises(ContractCustomError) as info:
        w3.eth.call({"to": REVERTER}, "latest", {REVERTER: {"code": CUSTOM_ERROR}})
    assert "0xdeadbeef" in str(info.value)


# --------------------------------------------------------------------------------------------- blob fields


def test_receipts_carry_blob_gas_price(url: str, pysei: Devnet) -> None:
    w3 = Web3(Web3.HTTPProvider(url))
    acct = Account.from_key(pysei.accounts[3].key)
    tx = {
        "to": REVERTER,
        "value": 1,
        "gas": 21_000,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(acct.address),
        "chainId": w3.eth.chain_id,
    }
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(acct.sign_transaction(tx).raw_transaction)
    )
    assert receipt["blobGasPrice"] == 1


def test_fee_history_blob_fields(url: str) -> None:
    result = rpc(url, "eth_feeHistory", "0x1", "latest", [50])["result"]
    assert isinstance(result, dict), result
    assert result["baseFeePerBlobGas"] == ["0x1", "0x1"]
    assert result["blobGasUsedRatio"] == [0.0]
    assert len(result["reward"]) == 1


def test_fee_history_edge_cases_as_geth(pysei: Devnet) -> None:
    """geth answers blockCount 0 with no blocks, and leaves `reward` out when no percentiles are asked for."""
    assert rpc(pysei.http_url, "eth_feeHistory", "0x0", "latest", [50])["result"] == {
        "oldestBlock": "0x0",
        "gasUsedRatio": None,
    }
    result = rpc(pysei.http_url, "eth_feeHistory", "0x1", "latest", [])["result"]
    assert isinstance(result, dict) and "reward" not in result and len(result["gasUsedRatio"]) == 1
    assert "reward" not in dict(rpc(pysei.http_url, "eth_feeHistory", "0x1", "latest")["result"])  # type: ignore[arg-type]
    w3 = Web3(Web3.HTTPProvider(pysei.http_url))
    assert len(w3.eth.fee_history(1, "latest", [25, 75])["reward"][0]) == 2


def test_subscribe_syncing(pysei: Devnet) -> None:
    """Was refused; geth accepts it. A devnet never syncs, so it never notifies."""
    with connect(pysei.ws_url, open_timeout=10, close_timeout=5) as ws:
        ws.send(orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["syncing"]}).decode())
        sub = orjson.loads(ws.recv(timeout=10))["result"]
        ws.send(orjson.dumps({"jsonrpc": "2.0", "id": 2, "method": "eth_unsubscribe", "params": [sub]}).decode())
        assert orjson.loads(ws.recv(timeout=10)) == {"jsonrpc": "2.0", "id": 2, "result": True}
    error = rpc(pysei.http_url, "eth_subscribe", "syncing")["error"]
    assert isinstance(error, dict) and "notifications not supported over HTTP" in str(error["message"])


# --------------------------------------------------------------------------------------------- documentation

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_methods() -> list[str]:
    """The devnet methods the README's "JSON-RPC methods" section lists (``X/ByHash`` expands to both names)."""
    text = README.read_text()
    section = text[text.index("### JSON-RPC methods") :]
    section = section[: section.index("\n- **")]
    # Methods of a validator (sei_consensusStatus & co.) are not on the devnet; tests/test_localnet.py has them.
    section = re.sub(r"on\s+a\s+validator\s+also[^.]*\.", "", section)
    names = []
    for name in re.findall(r"`([a-z0-9]+_[A-Za-z0-9_/]+)`", section):
        first, *variants = name.split("/")
        names.append(first)
        stem = re.sub(r"By[A-Z][a-z]+$", "", first)
        names += [stem + v for v in variants]
    return names


def test_every_documented_method_is_served(pysei: Devnet) -> None:
    names = documented_methods()
    assert len(names) >= 45 and "eth_getBlockTransactionCountByHash" in names, names
    for name in names:
        error = rpc(pysei.http_url, name).get("error")
        assert not (isinstance(error, dict) and "does not exist" in str(error["message"])), name


# --------------------------------------------------------------------------------------------- CORS

DAPP = """<html><body><pre id="out">pending</pre><script>
fetch("{rpc}", {{method: "POST", headers: {{"content-type": "application/json"}},
                body: JSON.stringify({{jsonrpc: "2.0", id: 1, method: "eth_chainId", params: []}})}})
  .then(r => r.json()).then(j => {{ document.getElementById("out").textContent = "chain " + j.result; }})
  .catch(e => {{ document.getElementById("out").textContent = "blocked " + e; }});
</script></body></html>"""


@pytest.fixture(scope="module")
def dapp_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A static web server on another origin (another port), as a dapp's page would be served."""
    root = tmp_path_factory.mktemp("dapp")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def page_result(dapp: tuple[Path, str], rpc_url: str, name: str) -> str:
    """Loads a page that calls ``rpc_url`` with a JSON body (so the browser sends a preflight) in headless
    Chromium, and returns what it wrote."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing (Debian package chromium)"
    root, origin = dapp
    (root / name).write_text(DAPP.format(rpc=rpc_url))
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom"]
        + [f"{origin}/{name}"],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    start = dom.index('<pre id="out">') + len('<pre id="out">')
    return dom[start : dom.index("</pre>", start)]


def test_dapp_page_calls_the_node(pysei: Devnet, dapp_dir: tuple[Path, str]) -> None:
    """Was blocked: OPTIONS answered 405 and no Access-Control-* header was sent."""
    assert page_result(dapp_dir, pysei.http_url, "allowed.html") == f"chain {hex(pysei.chain_id)}"


def test_preflight_headers(pysei: Devnet) -> None:
    headers = {
        "Origin": "http://dapp.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    resp = requests.options(pysei.http_url, headers=headers, timeout=10)
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type"


def test_allowed_origins_are_configurable(tmp_path: Path, dapp_dir: tuple[Path, str]) -> None:
    _, origin = dapp_dir
    node = start_devnet(tmp_path, "--allow-origin", "http://dapp.example")
    try:
        assert page_result(dapp_dir, node.http_url, "refused.html").startswith("blocked")
        resp = requests.post(
            node.http_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            headers={"Origin": "http://dapp.example"},
            timeout=10,
        )
        assert resp.headers["Access-Control-Allow-Origin"] == "http://dapp.example"
        assert (
            "Access-Control-Allow-Origin"
            not in requests.post(
                node.http_url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
                headers={"Origin": origin},
                timeout=10,
            ).headers
        )
    finally:
        assert node.stop() == 0
