"""Otterscan's API (ots_*, erigon_getHeaderByNumber) on pysei compared with anvil for the same chain, with the
searches paged across page boundaries and, on pysei, across blocks that moved to the cold tier."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from web3 import Web3

from pysei.state.store import ChainStore
from pysei.state.tiering import cold_state
from tests.oracle.contracts import create_address

try:
    from tests.clients import solc
    from tests.clients.anvil_plugin import AnvilProcess, anvil_binary
    from tests.conftest import start_devnet
except ImportError:  # tests/ itself is the import root
    from clients import solc  # type: ignore[no-redef]
    from clients.anvil_plugin import AnvilProcess, anvil_binary  # type: ignore[no-redef]
    from conftest import start_devnet  # type: ignore[no-redef]

PRICE = 3 * 10**9
ALICE, BOB, CAROL = 3, 4, 5


class Chain:
    def __init__(self, url: str, keys: list[str]) -> None:
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 120}))
        self.keys = keys
        self.addresses = [self.w3.eth.account.from_key(k).address for k in keys]
        self.nonces = [0, 0, 0]
        self.sent: list[str] = []

    def send(self, who: int, to: str | None, data: str = "0x", value: int = 0, gas: int = 500_000) -> str:
        tx: dict[str, Any] = {"nonce": self.nonces[who], "gas": gas, "maxFeePerGas": PRICE, "value": value}
        tx |= {"maxPriorityFeePerGas": PRICE, "chainId": self.w3.eth.chain_id, "data": data}
        if to is not None:
            tx["to"] = to
        self.nonces[who] += 1
        raw = self.w3.eth.account.sign_transaction(tx, self.keys[who]).raw_transaction
        tx_hash = Web3.to_hex(self.w3.eth.send_raw_transaction(raw))
        self.w3.eth.wait_for_transaction_receipt(tx_hash)
        self.sent.append(tx_hash)
        return tx_hash

    def rpc(self, method: str, *params: Any) -> Any:
        response = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        assert "error" not in response, (method, response)
        return response["result"]

    def build(self) -> None:
        """The same transactions on both nodes, one per block: transfers between Alice and Bob, Carol's
        unrelated ones, a deployment, a reverting call and a call with internal operations."""
        alice, bob, carol = self.addresses
        for i in range(5):
            self.send(0, bob, value=i + 1)
            self.send(2, carol, value=1)
        self.send(1, alice, value=7)
        callee = self.deploy(0, "Callee", [])
        caller = self.deploy(0, "Caller", [callee])
        iface = self.w3.eth.contract(abi=solc.contract("Caller")["abi"])
        self.reverting = self.send(0, caller, iface.encode_abi("pokeThenFail", [1]), gas=300_000)
        self.multi = self.send(1, caller, iface.encode_abi("multi", []), value=5)
        self.callee, self.caller = callee, caller
        for _ in range(4):
            self.send(2, carol, value=1)
        # Carol's: addresses only the transactions' traces name (see test_search_finds_what_only_the_trace_names).
        self.spawner = self.deploy(2, "Spawner", [])
        spawned = [Web3.to_checksum_address(create_address(bytes.fromhex(self.spawner[2:]), n)) for n in (1, 2)]
        self.spawned, self.unborn = spawned
        self.stranger = Web3.to_checksum_address("0x" + "5e" * 20)
        iface = self.w3.eth.contract(abi=solc.contract("Spawner")["abi"])
        self.spawned_by = self.send(2, self.spawner, iface.encode_abi("spawn", []), gas=300_000)
        self.spawn = self.send(2, self.spawner, iface.encode_abi("spawnThenFail", []), gas=300_000)
        self.overspend = self.send(2, self.spawner, iface.encode_abi("overspend", [self.stranger]), gas=300_000)

    def deploy(self, who: int, name: str, args: list[Any]) -> str:
        artifact = solc.contract(name)
        data = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"]).constructor(*args)
        tx_hash = self.send(who, None, data.data_in_transaction, gas=2_000_000)
        return str(self.w3.eth.get_transaction_receipt(tx_hash)["contractAddress"])


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Chain, Chain]]:
    tmp = tmp_path_factory.mktemp("otterscan")
    data_dir = tmp / "data"
    args = ["--automine", "--no-fsync", "--hot-blocks", "4", "--segment-blocks", "4", "--exec-threads", "1"]
    anvil = AnvilProcess(anvil_binary(), tmp)  # before the node: a missing anvil must not leave the node running
    node = start_devnet(tmp, *args, data_dir=data_dir)
    try:
        anvil.start()
        keys = [node.accounts[i].key for i in (ALICE, BOB, CAROL)]
        ours, theirs = Chain(node.http_url, keys), Chain(f"http://127.0.0.1:{anvil.port}", keys)
        ours.build()
        theirs.build()
        # Wait (bounded) until the tiering worker moved the early blocks to the cold tier.
        store = ChainStore(data_dir / "state")  # a second reader of the running node's store
        for _ in range(600):
            cold = cold_state(store)
            if cold is not None and cold.through >= 8:
                break
            time.sleep(0.05)
        assert cold is not None and cold.through >= 8, cold
        yield ours, theirs
    finally:
        anvil.stop()
        assert node.stop() == 0


def search(chain: Chain, method: str, address: str, size: int) -> list[tuple[list[str], bool, bool]]:
    """Every page of a search, following Otterscan's paging, as (hashes, firstPage, lastPage)."""
    pages = []
    number = 0
    for _ in range(20):
        page = chain.rpc(method, address, number, size)
        hashes = [t["hash"] for t in page["txs"]]
        pages.append((hashes, page["firstPage"], page["lastPage"]))
        assert [r["transactionHash"] for r in page["receipts"]] == hashes
        done = page["lastPage"] if method.endswith("Before") else page["firstPage"]
        if done or not hashes:
            break
        blocks = [int(t["blockNumber"], 16) for t in page["txs"]]
        number = min(blocks) if method.endswith("Before") else max(blocks)
    return pages


def index_of(chain: Chain, pages: list[tuple[list[str], bool, bool]]) -> list[tuple[list[int], bool, bool]]:
    """Pages with hashes replaced by the order each transaction was sent in (the two chains' hashes agree, but
    this names them)."""
    return [([chain.sent.index(h) for h in hashes], first, last) for hashes, first, last in pages]


def same_search(chains: tuple[Chain, Chain], method: str, address: str, size: int) -> list[str]:
    """Searches ``address`` on both chains, asserts the same pages, and returns pysei's hashes, in page order."""
    ours, theirs = chains
    pysei_pages, anvil_pages = search(ours, method, address, size), search(theirs, method, address, size)
    end = 2 if method.endswith("Before") else 1  # the flag that says the search is done: lastPage / firstPage
    if anvil_pages[-1][0] == [] and len(anvil_pages) == len(pysei_pages) + 1:
        # anvil ends a page that filled up without looking past it even when no older (Before) or newer (After)
        # transaction follows, so it says the search goes on and needs one more, empty, page; pysei knows from its
        # index that nothing follows.
        assert anvil_pages[-1][end] and not anvil_pages[-2][end] and pysei_pages[-1][end]
        hashes, first, last = anvil_pages[-2]
        anvil_pages = [*anvil_pages[:-2], (hashes, first or end == 1, last or end == 2)]
    assert index_of(ours, pysei_pages) == index_of(theirs, anvil_pages)
    assert len(pysei_pages) >= 2
    return [h for hashes, _, _ in pysei_pages for h in hashes]


@pytest.mark.parametrize("method", ["ots_searchTransactionsBefore", "ots_searchTransactionsAfter"])
@pytest.mark.parametrize("who", [ALICE, BOB])
def test_search_matches_anvil_across_pages_and_the_cold_tier(
    chains: tuple[Chain, Chain], method: str, who: int
) -> None:
    ours, _ = chains
    found = same_search(chains, method, ours.addresses[[ALICE, BOB, CAROL].index(who)], 3)
    assert len(found) == len(set(found))
    assert min(int(ours.w3.eth.get_transaction(h)["blockNumber"]) for h in found) <= 8  # some are cold


@pytest.mark.parametrize("method", ["ots_searchTransactionsBefore", "ots_searchTransactionsAfter"])
def test_search_finds_internal_calls_as_anvil_does(chains: tuple[Chain, Chain], method: str) -> None:
    """The callee is only ever reached by the caller's internal calls (and deployed at top level): the index
    files those transactions under it too, as anvil's search (which traces every block) finds them."""
    ours, _ = chains
    found = same_search(chains, method, ours.callee, 1)
    assert {ours.reverting, ours.multi} <= set(found) and len(found) == 3


def test_search_finds_what_only_the_trace_names(chains: tuple[Chain, Chain]) -> None:
    """A contract that a transaction created and then undid by reverting, and an address that only a call that
    failed before its frame started (more value than the caller had) reached: neither is in the transaction's state
    diff, both are in its trace, and anvil's search (which traces every block) finds the transaction by them."""
    for chain in chains:
        assert chain.w3.eth.get_transaction_receipt(chain.spawn)["status"] == 0
        assert chain.w3.eth.get_transaction_receipt(chain.overspend)["status"] == 1
        assert chain.rpc("eth_getCode", chain.unborn, "latest") == "0x"
    ours = chains[0]
    for address, name in ((ours.unborn, "spawn"), (ours.stranger, "overspend")):
        for method in ("ots_searchTransactionsBefore", "ots_searchTransactionsAfter"):
            pages = [index_of(chain, search(chain, method, address, 5)) for chain in chains]
            assert pages[0] == pages[1] == [([ours.sent.index(getattr(ours, name))], True, True)], (name, method)
    # anvil also names the undone creation's transaction as its contract's creator (it scans the traces); the
    # index keeps only the contracts that stayed.
    assert ours.rpc("ots_getContractCreator", ours.unborn) is None


def test_point_queries_match_anvil(chains: tuple[Chain, Chain]) -> None:
    ours, theirs = chains
    assert ours.rpc("ots_getApiLevel") == theirs.rpc("ots_getApiLevel") == 8
    for chain in chains:
        creator = chain.rpc("ots_getContractCreator", chain.callee)
        assert creator["hash"] in chain.sent and creator["creator"].lower() == chain.addresses[0].lower()
        assert chain.rpc("ots_getContractCreator", chain.addresses[2]) is None
        # A contract a contract created: its creator is the factory, not the transaction's sender.
        creator = chain.rpc("ots_getContractCreator", chain.spawned)
        assert (creator["hash"], creator["creator"].lower()) == (chain.spawned_by, chain.spawner.lower())
        assert chain.rpc("ots_hasCode", chain.callee, "latest") is True
        assert chain.rpc("ots_hasCode", chain.addresses[0], "latest") is False
        # Alice's fourth transaction (nonce 3) was the seventh sent.
        assert chain.sent.index(chain.rpc("ots_getTransactionBySenderAndNonce", chain.addresses[0], 3)) == 6
        assert chain.rpc("ots_getTransactionBySenderAndNonce", chain.addresses[0], 99) is None
    assert ours.rpc("ots_getTransactionError", ours.reverting) == theirs.rpc(
        "ots_getTransactionError", theirs.reverting
    )
    assert ours.rpc("ots_getTransactionError", ours.multi) == "0x"
    number = ours.w3.eth.get_transaction_receipt(ours.multi)["blockNumber"]
    details, theirs_details = ours.rpc("ots_getBlockDetails", number), theirs.rpc("ots_getBlockDetails", number)
    assert details["block"]["transactionCount"] == theirs_details["block"]["transactionCount"] == 1
    assert details["totalFees"] == theirs_details["totalFees"]
    block = ours.rpc("ots_getBlockTransactions", number, 0, 10)
    assert [t["hash"] for t in block["fullblock"]["transactions"]] == [ours.multi]
    assert block["receipts"][0]["status"] == "0x1"
    assert ours.rpc("erigon_getHeaderByNumber", number)["number"] == hex(number)


def test_call_tree_and_internal_operations_match_anvil(chains: tuple[Chain, Chain]) -> None:
    ours, theirs = chains

    def lowered(value: Any) -> Any:
        if isinstance(value, list):
            return [lowered(v) for v in value]
        if isinstance(value, dict):
            return {k: lowered(v) for k, v in value.items()}
        return value.lower() if isinstance(value, str) else value

    for name in ("multi", "reverting"):
        tree = lowered(ours.rpc("ots_traceTransaction", getattr(ours, name)))
        assert tree == lowered(theirs.rpc("ots_traceTransaction", getattr(theirs, name)))
        assert [f["depth"] for f in tree][:2] == [0, 1]
    operations = lowered(ours.rpc("ots_getInternalOperations", ours.multi))
    anvil = lowered(theirs.rpc("ots_getInternalOperations", theirs.multi))
    # anvil lists the transaction's own top-level transfer too; the API (Erigon's) lists internal operations only.
    top = {"type": 0, "from": theirs.addresses[1].lower(), "to": theirs.caller.lower(), "value": "0x5"}
    assert anvil[0] == top
    assert operations == anvil[1:] and operations == [
        {"type": 0, "from": ours.caller.lower(), "to": ours.callee.lower(), "value": "0x5"}
    ]


def test_cold_blocks_are_served(chains: tuple[Chain, Chain]) -> None:
    ours, _ = chains
    first = ours.sent[0]
    receipt = ours.w3.eth.get_transaction_receipt(first)
    details = ours.rpc("ots_getBlockDetails", receipt["blockNumber"])
    assert details["block"]["hash"] == Web3.to_hex(receipt["blockHash"])
