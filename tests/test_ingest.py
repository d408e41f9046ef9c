"""Ingest in one native call (``pysei.chain.transaction.ingest``): the kernel parses the hex of
``eth_sendRawTransaction`` parameters, decodes, recovers and applies the node's rules for a whole batch.

Properties: its hex refusals are word for word those of ``pysei.rpc.codec.data`` (the parser it replaced on the
hot path); a batch answers exactly as its entries one at a time (the parallel path agrees with the sequential
one); and over a real node a JSON-RPC batch mixing every kind of entry answers each with its own code and message
while the valid ones are mined.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysei.chain.transaction import IngestBatch, ingest
from pysei.native import keccak
from pysei.node.config import NodeConfig
from pysei.rpc import codec
from pysei.rpc.errors import RpcError

try:
    from tests.conftest import Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from conftest import Devnet, start_devnet  # type: ignore[no-redef]

DEFAULTS = NodeConfig()
CHAIN_ID = DEFAULTS.chain_id
KEY = Account.from_key(b"\x11" * 32)
SINK = "0x000000000000000000000000000000000000dEaD"


def run(params: list[Any], *, max_tx_size: int = DEFAULTS.max_tx_size) -> IngestBatch:
    return ingest(
        params,
        chain_id=CHAIN_ID,
        allow_unprotected=False,
        gas_limit=DEFAULTS.gas_limit,
        max_tx_size=max_tx_size,
        aliases={},
    )


def sign(nonce: int, **over: Any) -> str:
    tx = {
        "to": SINK,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "nonce": nonce,
        "chainId": CHAIN_ID,
        **over,
    }
    return "0x" + bytes(KEY.sign_transaction(tx).raw_transaction).hex()


HEXISH = st.text(alphabet="0123456789abcdefABCDEFxX \t_é\u00a0", max_size=12)
PARAMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=12),
    HEXISH,
    st.sampled_from(["0x", "0X", "0x0x12", "0X0xab"]).flatmap(lambda p: HEXISH.map(lambda s: p + s)),
    st.sampled_from(["0x", "0X"]).flatmap(lambda p: st.binary(max_size=40).map(lambda b: p + b.hex())),
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(param=PARAMS)
def test_hex_refusals_are_word_for_word_codec_data(param: Any) -> None:
    batch = run([param])
    try:
        codec.data(param, "raw transaction")
    except RpcError as err:
        assert batch.refused == [(0, True, str(err))]
        return
    # Hex data: whatever the kernel says next is about the transaction, a server error, never invalid params.
    assert batch.indices == [] and len(batch.refused) == 1 and batch.refused[0][:2] == (0, False)


ENTRIES = st.one_of(
    st.integers(0, 5).map(lambda n: sign(n)),
    st.integers(0, 5).map(lambda n: sign(n, chainId=1)),
    st.integers(0, 5).map(lambda n: sign(n, gas=20_999)),
    st.integers(0, 5).map(lambda n: sign(n, gas=DEFAULTS.gas_limit + 1)),
    st.integers(0, 5).map(lambda n: sign(n, data=b"\x01" * 300, gas=100_000)),
    st.integers(0, 5).map(lambda n: sign(n)[:-6]),
    st.binary(max_size=30).map(lambda b: "0x" + b.hex()),
    PARAMS,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=st.lists(ENTRIES, min_size=32, max_size=80))
def test_a_batch_answers_as_its_entries_one_by_one(params: list[Any]) -> None:
    # 32 entries and more are recovered in parallel; one entry never is. A size limit that some drawn
    # transactions pass and others do not puts the oversize rule in the mix.
    batch = run(params, max_tx_size=300)
    alone = [run([p], max_tx_size=300) for p in params]
    assert batch.indices == [i for i, a in enumerate(alone) if a.indices]
    assert batch.hashes == [h for a in alone for h in a.hashes]
    assert batch.txs == [t for a in alone for t in a.txs]
    assert batch.refused == [(i, *a.refused[0][1:]) for i, a in enumerate(alone) if a.refused]


def test_admitted_transactions_carry_their_fields() -> None:
    raw = sign(3, data=b"\xab\xcd", value=7, gas=50_000)
    batch = run([raw, bytes.fromhex(raw[2:])])
    assert batch.indices == [0, 1] and batch.refused == []
    tx = batch.txs[0]
    assert batch.txs[1] == tx
    assert batch.hashes == ["0x" + tx.hash.hex()] * 2
    assert (tx.sender, tx.nonce, tx.value, tx.input, tx.raw.hex()) == (
        bytes.fromhex(KEY.address[2:]),
        3,
        7,
        b"\xab\xcd",
        raw[2:],
    )
    aliased = ingest(
        [raw],
        chain_id=CHAIN_ID,
        allow_unprotected=False,
        gas_limit=DEFAULTS.gas_limit,
        max_tx_size=DEFAULTS.max_tx_size,
        aliases={tx.sender: b"\x42" * 20},
    )
    assert aliased.txs[0].sender == b"\x42" * 20 and aliased.hashes == batch.hashes[:1]


# --------------------------------------------------------------------------------------------- over a real node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = start_devnet(tmp_path_factory.mktemp("ingest"), "--block-time", "0.1")
    yield devnet
    assert devnet.stop() == 0


def test_json_rpc_batch_answers_each_entry(node: Devnet) -> None:
    dev = Account.from_key(node.accounts[2].key)

    def dev_tx(nonce: int, **over: Any) -> str:
        tx = {"to": SINK, "value": 1, "gas": 21_000, "gasPrice": 10 * 10**9, "nonce": nonce, "chainId": node.chain_id}
        return "0x" + bytes(dev.sign_transaction({**tx, **over}).raw_transaction).hex()

    first, second = dev_tx(0), dev_tx(1)
    entries: list[tuple[Any, int, str]] = [
        (first, 0, ""),
        (5, -32602, "invalid raw transaction: expected 0x-prefixed hex string"),
        ("0xabc", -32602, "invalid raw transaction: odd number of hex digits"),
        ("0x0x12", -32602, "invalid raw transaction: not hex"),
        ("0xé1", -32602, "invalid raw transaction: not hex"),
        ("0X" + second[2:].upper(), 0, ""),
        (first, -32000, "already known"),
        (dev_tx(2, chainId=1), -32000, f"invalid chain id for signer: have 1 want {node.chain_id}"),
        (dev_tx(2, gas=20_000), -32000, "intrinsic gas too low: gas 20000, minimum needed 21000"),
        (dev_tx(0, value=2), -32000, "replacement transaction underpriced"),
    ]
    body = [
        {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [p]}
        for i, (p, _, _) in enumerate(entries)
    ]
    answers = requests.post(node.http_url, data=orjson.dumps(body), timeout=30).json()
    assert [a["id"] for a in answers] == list(range(len(entries)))
    for (param, code, message), answer in zip(entries, answers, strict=True):
        if code == 0:
            assert answer["result"] == "0x" + keccak(bytes.fromhex(param[2:])).hex(), answer
        else:
            assert answer["error"] == {"code": code, "message": message}, (param, answer)
    for tx_hash in (answers[0]["result"], answers[5]["result"]):
        deadline = time.monotonic() + 30
        receipt = None
        while receipt is None and time.monotonic() < deadline:
            time.sleep(0.05)
            receipt = requests.post(
                node.http_url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": [tx_hash]},
                timeout=30,
            ).json()["result"]
        assert receipt is not None and receipt["status"] == "0x1", tx_hash
