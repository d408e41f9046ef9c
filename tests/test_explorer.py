"""The block explorer in a real headless Chromium (Debian's ``chromium``, driven by Playwright) against a node.

One node (automine off, 100 ms blocks) serves /explorer/ itself; a second test runs ``pysei explorer --rpc`` in
front of it. Every page visited is also photographed at phone and desktop width into ``build/explorer-screenshots``
(``PYSEI_SCREENSHOTS`` overrides the folder), and every test fails on a console error or an uncaught exception.

Uses dev accounts 10-13 (other suites use 0-5 and 19) and its own node, so no test shares nonces with another.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector as selector
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from web3 import Web3
from websockets.sync.client import connect as ws_connect

from pysei.app.localnet import ValidatorProcesses, create_genesis
from pysei.chain import governance as gov
from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC
from pysei.explorer.proxy import READ_METHODS, filter_request, merge_batch
from pysei.native import precompile_abis
from pysei.token_cli import VALIDATOR

try:
    from tests.clients import solc
    from tests.clients.web3_utils import deploy, make_w3, sign_and_send, wait
    from tests.conftest import ROOT, Devnet, start_devnet
except ImportError:  # tests/ itself is the import root
    from clients import solc  # type: ignore[no-redef]
    from clients.web3_utils import deploy, make_w3, sign_and_send, wait  # type: ignore[no-redef]
    from conftest import ROOT, Devnet, start_devnet  # type: ignore[no-redef]

SHOTS = Path(os.environ.get("PYSEI_SCREENSHOTS", ROOT / "build" / "explorer-screenshots"))
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
HTML_NAME = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
NFT = json.loads((ROOT / "python/pysei/bench/contracts/contracts.json").read_text())["contracts"]["BenchNFT"]
ETHER = 10**18


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    devnet = start_devnet(tmp_path_factory.mktemp("explorer"), "--block-time", "0.1")
    yield devnet
    assert devnet.stop() == 0


@pytest.fixture(scope="module")
def w3(node: Devnet) -> Web3:
    return make_w3(node.http_url, *(a.key for a in node.accounts[10:14]))


@pytest.fixture(scope="module")
def chain(node: Devnet, w3: Web3) -> dict[str, Any]:
    """A token with an HTML name and a transfer of it, an NFT mint, and a reverted transaction."""
    owner, alice = node.accounts[10], node.accounts[11]
    token_art = solc.contract("Token")
    token, _ = deploy(w3, owner.key, token_art["abi"], token_art["bytecode"], HTML_NAME, "<b>X</b>", 1000 * ETHER)
    tx = token.functions.transfer(alice.address, 25 * ETHER).build_transaction({"from": owner.address})
    transfer_hash, _ = sign_and_send(w3, owner.key, tx)
    transfer = wait(w3, transfer_hash)
    assert transfer["status"] == 1

    nft, _ = deploy(w3, owner.key, NFT["abi"], NFT["bytecode"])
    mint_hash, _ = sign_and_send(w3, alice.key, nft.functions.mint().build_transaction({"from": alice.address}))
    assert wait(w3, mint_hash)["status"] == 1

    rev_art = solc.contract("Reverter")
    reverter, _ = deploy(w3, owner.key, rev_art["abi"], rev_art["bytecode"])
    bad = reverter.functions.setValue(101).build_transaction({"from": owner.address, "gas": 200_000})
    bad_hash, _ = sign_and_send(w3, owner.key, bad)
    failed = wait(w3, bad_hash)
    assert failed["status"] == 0
    return {
        "token": token.address,
        "nft": nft.address,
        "transfer": "0x" + bytes(transfer_hash).hex(),
        "transfer_block": transfer["blockNumber"],
        "transfer_block_hash": "0x" + bytes(transfer["blockHash"]).hex(),
        "reverted": "0x" + bytes(bad_hash).hex(),
        "mint": "0x" + bytes(mint_hash).hex(),
        "owner": owner.address,
        "alice": alice.address,
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "chromium is missing: run `make browser-deps` (tests/explorer/install-chromium.sh)"
    with sync_playwright() as pw:
        yield _launch(pw, executable)


def _launch(pw: Playwright, executable: str) -> Browser:
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    return pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop-width page that fails the test on any console error, uncaught exception or dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    pg.on("pageerror", lambda e: problems.append(f"exception: {e}"))
    pg.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg
    context.close()
    assert not problems, problems


def open_page(pg: Page, base: str, route: str, shot: str | None = None) -> None:
    pg.goto(f"{base}/explorer/#{route}")
    # From another explorer page this is a same-document navigation: wait for this route's page, not the last one.
    pg.wait_for_selector(f"body[data-ready='1'][data-route='#{route}']", timeout=20_000)
    ready(pg, shot)


def ready(pg: Page, shot: str | None = None) -> None:
    """Waits for the router to finish the page; photographs it at both widths when ``shot`` names it (once the parts
    that load after the page, such as decoded calls and module sections, are in)."""
    pg.wait_for_selector("body[data-ready='1']", timeout=20_000)
    if shot:
        expect(pg.locator("[data-deferred='loading']")).to_have_count(0, timeout=20_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width, (w, h) in WIDTHS.items():
            pg.set_viewport_size({"width": w, "height": h})
            pg.screenshot(path=str(SHOTS / f"{shot}-{width}.png"), full_page=True)
        pg.set_viewport_size({"width": 1280, "height": 900})


def click_and_wait(pg: Page, locator: Any, page_name: str) -> None:
    locator.click()
    pg.wait_for_selector(f"body[data-ready='1'][data-page='{page_name}']", timeout=20_000)


def test_home_shows_new_blocks_arriving(node: Devnet, w3: Web3, chain: dict[str, Any], page: Page) -> None:
    open_page(page, node.http_url, "/", shot="home")
    head = int(page.get_attribute("[data-head]", "data-head") or -1)
    assert head >= chain["transfer_block"]
    sender, to = node.accounts[12], node.accounts[13]
    tx_hash, _ = sign_and_send(w3, sender.key, {"to": to.address, "value": 1, "gas": 21_000})
    receipt = wait(w3, tx_hash)
    # The new block and its transaction appear without a reload (the WebSocket newHeads subscription).
    expect(page.locator(f"#blocks tr[data-block='{receipt['blockNumber']}']")).to_be_visible(timeout=10_000)
    expect(page.locator(f"#txs tr[data-tx='0x{bytes(tx_hash).hex()}']")).to_be_visible(timeout=10_000)
    # The head moves on to (at least) that block; empty blocks may follow it for a while (the sequencer's trail).
    page.wait_for_function(
        "n => Number(document.querySelector('[data-head]').dataset.head) >= n",
        arg=receipt["blockNumber"],
        timeout=10_000,
    )
    assert page.locator("figure.chart svg rect").count() > 0


def test_click_through_block_tx_address_token(node: Devnet, chain: dict[str, Any], page: Page) -> None:
    block = chain["transfer_block"]
    open_page(page, node.http_url, f"/block/{block}", shot="block")
    assert f"Block {block:,}" in page.inner_text("main")
    # A devnet's blocks carry no AppQC (one sequencer); a consensus node says whether a quorum certified the block.
    expect(page.locator("[data-unavailable='appqc'], [data-appqc]").first).to_be_visible()
    click_and_wait(page, page.locator(f"main a[href='#/tx/{chain['transfer']}' i]"), "tx")
    ready(page, "tx")
    main = page.locator("main")
    expect(main.locator("[data-status]")).to_have_text("success")
    expect(main.locator("[data-decoded]")).to_have_attribute("data-decoded", "transfer")
    expect(main.locator("[data-log='Transfer']")).to_have_count(1)
    assert "25" in main.locator("[data-log='Transfer']").inner_text()
    expect(main.locator("ul.calls")).to_contain_text("transfer(…)")  # the call tree decodes its frames too
    click_and_wait(page, main.locator(f"a[href='#/address/{chain['token']}' i]").first, "address")
    ready(page, "address")
    expect(page.locator("[data-token]")).to_contain_text("ERC-20")
    page.fill("input[name=slot]", "2")  # Token's totalSupply slot (after name and symbol)
    page.click("form.inline button")
    expect(page.locator("[data-storage]")).to_have_text("0x" + f"{1000 * ETHER:064x}")
    # The address page feature-detects the address index (and the creator): shown, or "not available", never an error.
    assert page.locator("main .problem").count() == 0
    click_and_wait(page, page.locator("[data-token] a"), "token")
    ready(page, "token")
    # The HTML-named token is shown as text: no element was created from it and no script ran.
    expect(page.locator("[data-token-name]")).to_have_text(HTML_NAME)
    assert page.evaluate("document.querySelectorAll('main script, main img, main b').length") == 0
    assert page.title() == "pysei explorer"
    holders = page.inner_text("main")
    assert "975" in holders and "25" in holders  # owner's and alice's balances from the Transfer logs


def test_nft_token_page(node: Devnet, chain: dict[str, Any], page: Page) -> None:
    open_page(page, node.http_url, f"/token/{chain['nft']}", shot="nft")
    text = page.inner_text("main")
    assert "ERC-721" in text and "#1" in text and chain["alice"].lower() in text.lower()
    # The mint calls BenchNFT.mint(), no standard's function: decoded with the project's own contracts' ABIs.
    click_and_wait(page, page.locator(f"main a[href='#/tx/{chain['mint']}' i]").first, "tx")
    expect(page.locator("[data-decoded]")).to_have_attribute("data-decoded", "mint")
    expect(page.locator("[data-decoded]")).to_contain_text("BenchNFT")


def test_search_by_each_key(node: Devnet, chain: dict[str, Any], page: Page) -> None:
    open_page(page, node.http_url, "/")
    cases = [
        (str(chain["transfer_block"]), "block", f"#/block/{chain['transfer_block']}"),
        (chain["transfer_block_hash"], "block", f"#/block/{chain['transfer_block_hash']}"),
        (chain["transfer"], "tx", f"#/tx/{chain['transfer']}"),
        (chain["alice"], "address", f"#/address/{chain['alice']}"),
        ("0x" + "ab" * 32, "search", "#/search/" + "0x" + "ab" * 32),
        ("not a key", "search", "#/search/not%20a%20key"),
    ]
    for query, page_name, route in cases:
        page.fill("#q", query)
        page.press("#q", "Enter")
        # The search resolves asynchronously (a hash is looked up as a transaction, then a block): wait for the
        # page of the route it chose.
        page.wait_for_selector(f"body[data-ready='1'][data-route='{route}'][data-page='{page_name}']", timeout=20_000)
        if page_name == "search":
            expect(page.locator("[data-notfound]")).to_contain_text("Nothing found")
    ready(page, "search-miss")


def test_reverted_transaction_shows_reason(node: Devnet, chain: dict[str, Any], page: Page) -> None:
    open_page(page, node.http_url, f"/tx/{chain['reverted']}", shot="tx-reverted")
    expect(page.locator("[data-status]")).to_have_text("reverted")
    expect(page.locator("[data-revert]")).to_have_text("Reverter: value too large")
    # The call tree and the state diff come from debug_traceTransaction (callTracer, prestateTracer in diff mode).
    expect(page.locator("ul.calls")).to_contain_text("Reverter: value too large")
    expect(page.locator("ul.calls")).to_contain_text("CALL")
    expect(page.locator("section:has(h2:text('State diff')) tbody tr").first).to_be_visible()


def test_network_page(node: Devnet, chain: dict[str, Any], page: Page) -> None:
    deadline = time.monotonic() + 30
    while _rpc(node.http_url, "sei_getStateCommitment", "latest")["commitment"] is None:  # the worker trails
        assert time.monotonic() < deadline, "the commitment worker did not reach the head of an idle devnet"
        time.sleep(0.1)
    open_page(page, node.http_url, "/network", shot="network")
    expect(page.locator("#exec-stats tbody tr").first).to_be_visible()
    # The page reads the worker's lag: 0 once it has reached the head (waited for above).
    expect(page.locator("[data-commitment-lag]")).to_have_attribute("data-commitment-lag", "0")
    for method in ("sei_consensusStatus", "sei_validators", "sei_proposals"):
        # Present on a node that has consensus and staking; otherwise a note, not an error.
        assert page.locator(f"[data-unavailable='{method}']").count() in (0, 1)
    assert not page.locator("main .problem").count()


STAKING = "0x0000000000000000000000000000000000001005"


def test_staking_validators_delegations_and_decoded_module_calls(node: Devnet, w3: Web3, page: Page) -> None:
    """The staking module through the explorer: the validators with their bonded stake on the network page, an
    address's delegation and unbonding entry on its page, and a call to the precompile decoded with Sei's ABI."""
    # validators() of the staking precompile (the devnet's genesis has one): its bech32 name and operator.
    ((name, validator, *_),) = _staking_validators(node)
    staking = w3.eth.contract(address=Web3.to_checksum_address(STAKING), abi=solc.interface("IStaking"))
    delegator = node.accounts[13]
    before = _bonded(page, node, validator)
    tx = staking.functions.delegate(name).build_transaction(
        {"from": delegator.address, "value": 3 * ETHER, "gas": 300_000}
    )
    delegated, _ = sign_and_send(w3, delegator.key, tx)
    assert wait(w3, delegated)["status"] == 1
    undo = staking.functions.undelegate(name, 10**6).build_transaction({"from": delegator.address, "gas": 300_000})
    undone, _ = sign_and_send(w3, delegator.key, undo)
    assert wait(w3, undone)["status"] == 1
    # 3 SEI bonded, 1 SEI of it unbonding: the validator's stake grew by 2 SEI.
    assert _bonded(page, node, validator) == before + 2
    open_page(page, node.http_url, f"/address/{delegator.address}", shot="address-staking")
    row = page.locator("#delegations tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2 SEI")
    expect(row).to_contain_text("1 SEI on ")
    # The rewards it can withdraw, from the distribution precompile's rewards() (fees of these few blocks: a
    # fraction of a usei may show as 0 SEI).
    assert re.fullmatch(r"[0-9,]+(\.[0-9]+)? SEI", row.locator("[data-rewards]").inner_text())
    open_page(page, node.http_url, f"/tx/0x{bytes(delegated).hex()}")
    expect(page.locator("main [data-decoded]")).to_have_attribute("data-decoded", "delegate")
    expect(page.locator("main [data-log='Delegate']")).to_have_count(1)


def test_governance_proposals_and_decoded_calls(node: Devnet, w3: Web3, page: Page) -> None:
    """A proposal submitted through the governance precompile: listed on the network page (sei_proposals), and its
    submission decoded with Sei's ABI on the transaction page."""
    proposer = node.accounts[12]
    body = {"title": "Explorer <b>test</b>", "description": "Shown on the network page."}
    tx = {"to": "0x" + gov.GOVERNANCE.hex(), "data": "0x" + gov.submit_data(body).hex(), "value": 3_500 * ETHER}
    submitted, _ = sign_and_send(w3, proposer.key, {**tx, "from": proposer.address, "gas": 1_000_000})
    assert wait(w3, submitted)["status"] == 1
    open_page(page, node.http_url, "/network", shot="network-governance")
    row = page.locator("#proposals tbody tr[data-status='voting_period']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Explorer <b>test</b>")  # shown as text, not markup
    expect(row).to_contain_text("3,500 SEI")
    open_page(page, node.http_url, f"/tx/0x{bytes(submitted).hex()}")
    expect(page.locator("main [data-decoded]")).to_have_attribute("data-decoded", "submitProposal")
    expect(page.locator("main [data-log='ProposalSubmitted']")).to_have_count(1)


def test_validator_and_proposal_pages(node: Devnet, w3: Web3, page: Page) -> None:
    """A proposal voted by two delegators (yes; no with veto): its page shows the tally the RPC reports and how it
    stands against quorum, threshold and veto; the devnet's validator page shows the staking module's record and
    the delegations to it. Both are linked from the network page and found by search."""
    yes_voter, veto_voter = node.accounts[12], node.accounts[11]
    staking = w3.eth.contract(address=Web3.to_checksum_address(STAKING), abi=solc.interface("IStaking"))
    ((name, operator, _, commission, jailed, _, tombstoned),) = _staking_validators(node)
    body = {"title": "<img src=x onerror=alert(1)> upgrade", "description": "Line one.\n<script>alert(2)</script>"}
    gov_address = "0x" + gov.GOVERNANCE.hex()
    tx = {"to": gov_address, "data": "0x" + gov.submit_data(body).hex(), "value": 3_500 * ETHER, "gas": 1_000_000}
    submitted, _ = sign_and_send(w3, yes_voter.key, {**tx, "from": yes_voter.address})
    assert wait(w3, submitted)["status"] == 1
    (proposal,) = [p for p in _rpc(node.http_url, "sei_proposals") if p["title"] == body["title"]]
    pid = proposal["id"]
    for voter, sei, option in ((yes_voter, 5, "yes"), (veto_voter, 2, "no_with_veto")):
        bond = staking.functions.delegate(name).build_transaction(
            {"from": voter.address, "value": sei * ETHER, "gas": 300_000}
        )
        assert wait(w3, sign_and_send(w3, voter.key, bond)[0])["status"] == 1
        vote = {"to": gov_address, "data": "0x" + gov.vote_data(pid, option).hex(), "gas": 300_000}
        assert wait(w3, sign_and_send(w3, voter.key, {**vote, "from": voter.address})[0])["status"] == 1
    tally = _rpc(node.http_url, "sei_proposal", hex(pid))["tally"]
    assert int(tally["yes"]) >= 5 * 10**6 and int(tally["no_with_veto"]) >= 2 * 10**6, tally

    open_page(page, node.http_url, "/network")
    click_and_wait(page, page.locator(f"#proposals a[href='#/proposal/{pid}']").first, "proposal")
    ready(page, "proposal")
    main = page.locator("main")
    expect(main.locator("[data-title]")).to_have_text(body["title"])  # markup in a title is text
    expect(main.locator("[data-description]")).to_have_text(body["description"])
    expect(main.locator("[data-status]")).to_have_attribute("data-status", "voting_period")
    expect(main.locator("#tally tbody tr")).to_have_count(4)
    for option in ("yes", "abstain", "no", "no_with_veto"):
        expect(main.locator(f"#tally tr[data-option='{option}'] [data-usei]")).to_have_attribute(
            "data-usei", tally[option]
        )
    assert page.evaluate("document.querySelectorAll('main script, main img').length") == 0
    # 7 SEI of the 1,000,000+ SEI bonded: far below the 33.4% quorum, so it would fail if voting ended now.
    expect(main.locator("[data-quorum]")).to_have_attribute("data-quorum", "missed")
    expect(main.locator("[data-outcome]")).to_have_attribute("data-outcome", "fail")

    open_page(page, node.http_url, "/network")
    click_and_wait(page, page.locator(f"#staking-validators a[href='#/validator/{name}']"), "validator")
    ready(page, "validator")
    expect(main.locator("[data-valoper]")).to_have_text(name)
    expect(main.locator("[data-tokens]")).to_have_attribute("data-tokens", str(_staking_validators(node)[0][2]))
    expect(main.locator("[data-jailed]")).to_have_attribute("data-jailed", "yes" if jailed else "no")
    expect(main.locator("[data-tombstoned]")).to_have_attribute("data-tombstoned", "yes" if tombstoned else "no")
    assert f"{commission / 10**16:.2f}%" in main.inner_text()
    assert operator.lower() in main.inner_text().lower()
    # A devnet runs no consensus: the committee part says so instead of failing.
    expect(main.locator("[data-unavailable='sei_validators']")).to_be_visible()
    for voter, sei in ((yes_voter, 5), (veto_voter, 2)):
        expect(main.locator(f"#validator-delegations tr[data-delegator='{voter.address.lower()}']")).to_contain_text(
            f"{sei} SEI"
        )
    assert page.locator("main .problem").count() == 0
    open_page(page, node.http_url, f"/validator/{operator}")  # the operator's 0x address names it too
    expect(main.locator("[data-valoper]")).to_have_text(name)
    open_page(page, node.http_url, "/validator/seivaloper1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq")
    expect(main.locator(".problem")).to_contain_text("none of this node's 1 staking validators")
    open_page(page, node.http_url, f"/validator/{name}")
    # The operator's address page links back to the validator it operates.
    click_and_wait(page, main.locator(f"a[href='#/address/{operator}' i]").first, "address")
    expect(main.locator("[data-operates]")).to_have_attribute("data-operates", name)

    for query, page_name, route in (
        (name, "validator", f"#/validator/{name}"),
        (f"proposal {pid}", "proposal", f"#/proposal/{pid}"),
    ):
        page.fill("#q", query)
        page.press("#q", "Enter")
        page.wait_for_selector(f"body[data-ready='1'][data-route='{route}'][data-page='{page_name}']", timeout=20_000)
    open_page(page, node.http_url, "/proposal/999999")
    expect(page.locator("main .problem")).to_contain_text("999999")

    # A validator created through the precompile: its moniker (from its ValidatorCreated event) shows as text.
    creator = node.accounts[10]
    moniker = "<b>bold</b><img src=x onerror=alert(3)>"
    create = staking.functions.createValidator("cd" * 32, moniker, "0.05", "0.20", "0.01", 10**6).build_transaction(
        {"from": creator.address, "value": 2 * ETHER, "gas": 500_000}
    )
    created = wait(w3, sign_and_send(w3, creator.key, create)[0])
    assert created["status"] == 1
    (event,) = staking.events.ValidatorCreated().process_receipt(created)
    open_page(page, node.http_url, f"/validator/{event['args']['validatorAddress']}", shot="validator-created")
    expect(main.locator("[data-moniker]")).to_have_text(moniker)
    expect(main.locator("[data-consensus-key]")).to_have_text("0x" + "cd" * 32)
    expect(main.locator(f"#validator-delegations tr[data-delegator='{creator.address.lower()}']")).to_contain_text(
        "2 SEI"
    )
    assert page.evaluate("document.querySelectorAll('main b, main img, main script').length") == 0


def _staking_validators(url_or_node: Devnet | str) -> list[tuple[Any, ...]]:
    """validators() of the staking precompile now: (name, operator, bonded usei, commission rate, jailed,
    consensus key, tombstoned)."""
    url = url_or_node if isinstance(url_or_node, str) else url_or_node.http_url
    raw = _rpc(url, "eth_call", {"to": STAKING, "data": "0x" + selector("validators()").hex()}, "latest")
    return list(decode([f"{VALIDATOR}[]"], bytes.fromhex(raw[2:]))[0])


def _bonded(page: Page, node: Devnet, validator: str) -> int:
    """The validator's bonded stake in whole SEI, as the network page shows it."""
    open_page(page, node.http_url, "/network", shot="network-staking")
    assert re.fullmatch(r"[0-9,]+(\.[0-9]+)? SEI", page.locator("[data-community-pool]").inner_text())
    cell = page.locator(f"[data-staking-validator='{validator.lower()}'] td").nth(2).inner_text()
    assert cell.endswith(" SEI") and "." not in cell, cell
    return int(cell.removesuffix(" SEI").replace(",", ""))


def test_unknown_route_and_missing_block(node: Devnet, page: Page) -> None:
    open_page(page, node.http_url, "/block/99999999")
    expect(page.locator("main .problem")).to_contain_text("does not exist")
    open_page(page, node.http_url, "/nowhere")
    expect(page.locator("main .problem")).to_contain_text("No page")
    open_page(page, node.http_url, "/search/%E0%A4%A")  # not valid percent-encoding: a message, no exception
    expect(page.locator("main .problem")).to_contain_text("Could not load this page")


def test_uploaded_abi_decodes_input(node: Devnet, chain: dict[str, Any], page: Page) -> None:
    abi = json.dumps(solc.contract("Reverter")["abi"])
    open_page(page, node.http_url, "/abi")
    page.fill("input[name=label]", "Reverter")
    page.fill("textarea[name=abi]", abi)
    page.click("form.stack button[type=submit]")
    expect(page.locator("main [role=status]")).to_have_text("Saved Reverter.")
    ready(page, "abi")
    open_page(page, node.http_url, f"/tx/{chain['reverted']}")
    expect(page.locator("[data-decoded]")).to_have_attribute("data-decoded", "setValue")
    open_page(page, node.http_url, "/abi")
    page.fill("input[name=label]", "broken")
    page.fill("textarea[name=abi]", "[{]")
    page.click("form.stack button[type=submit]")
    expect(page.locator("main [role=status]")).to_contain_text("Not a valid ABI")


def test_standalone_explorer_serves_read_methods_only(node: Devnet, chain: dict[str, Any], page: Page) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pysei.cli", "explorer", "--rpc", node.http_url, "--port", "0"],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        match = re.search(r"http://([\d.]+:\d+)/explorer/", line)
        assert match, line
        base = f"http://{match.group(1)}"
        rpc = f"{base}/explorer/rpc"
        send = {"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [{"from": chain["owner"]}]}
        refused = requests.post(rpc, json=send, timeout=10).json()
        assert refused["error"]["code"] == -32601
        assert "not available through the explorer" in refused["error"]["message"]
        mixed = [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "anvil_setBalance", "params": [chain["owner"], "0x1"]},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": []},
        ]
        answers = requests.post(rpc, json=mixed, timeout=10).json()
        assert [a["id"] for a in answers] == [1, 2, 3]
        assert "result" in answers[0] and "error" in answers[1] and answers[2]["result"] == hex(node.chain_id)
        with ws_connect(f"ws://{match.group(1)}/explorer/ws") as ws:
            ws.send(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "eth_sign", "params": [chain["owner"], "0x00"]}))
            assert json.loads(ws.recv(timeout=10))["error"]["code"] == -32601
            pending = {"jsonrpc": "2.0", "id": 8, "method": "eth_subscribe", "params": ["newPendingTransactions"]}
            ws.send(json.dumps(pending))
            assert json.loads(ws.recv(timeout=10))["error"]["code"] == -32601
            ws.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "eth_chainId", "params": []}))
            assert json.loads(ws.recv(timeout=10)) == {"jsonrpc": "2.0", "id": 9, "result": hex(node.chain_id)}
        open_page(page, base, f"/tx/{chain['transfer']}")
        expect(page.locator("[data-status]")).to_have_text("success")
        open_page(page, base, "/")
        head = int(page.get_attribute("[data-head]", "data-head") or -1)
        assert head >= chain["transfer_block"]
        w3 = make_w3(node.http_url)
        key = node.accounts[12]
        tx_hash, _ = sign_and_send(w3, key.key, {"to": node.accounts[13].address, "value": 1, "gas": 21_000})
        number = wait(w3, tx_hash)["blockNumber"]
        expect(page.locator(f"#blocks tr[data-block='{number}']")).to_be_visible(timeout=10_000)
    finally:
        page.goto("about:blank")  # leave before the proxy goes, so its live updates end quietly
        proc.terminate()
        proc.wait(timeout=30)


_METHODS = st.sampled_from(sorted(READ_METHODS) + ["eth_sendTransaction", "eth_sign", "anvil_mine", "admin_peers"])


@given(st.lists(st.tuples(_METHODS, st.booleans()), min_size=1, max_size=12))
def test_proxy_filter_keeps_batch_order(entries: list[tuple[str, bool]]) -> None:
    """Refused entries are answered in place (refused notifications not at all); the node sees only allowed
    methods, in order."""
    batch = [
        {"jsonrpc": "2.0", "method": m, "params": ["newHeads"], **({"id": i} if with_id else {})}
        for i, (m, with_id) in enumerate(entries)
    ]
    forward, refused = filter_request(json.dumps(batch).encode())
    sent = json.loads(forward) if forward else []
    assert [r["method"] for r in sent] == [m for m, _ in entries if m in READ_METHODS]
    node_answers = [{"jsonrpc": "2.0", "id": r["id"], "result": None} for r in sent if "id" in r]
    answers = merge_batch(node_answers, refused or []) if refused is not None else node_answers
    assert [a["id"] for a in answers] == [i for i, (_, with_id) in enumerate(entries) if with_id]
    for a in answers:
        assert ("error" in a) == (entries[a["id"]][0] not in READ_METHODS)


def test_explorer_assets_are_local() -> None:
    """Nothing the pages load comes from another origin (fonts, scripts, styles are served by the node)."""
    static = ROOT / "python/pysei/explorer/static"
    for path in static.rglob("*"):
        if path.suffix in (".html", ".css", ".js") and "vendor" not in path.parts:
            text = path.read_text()
            assert not re.search(r"(src|href)=[\"']https?:|url\(\s*[\"']?https?:|from [\"']https?:", text), path
            assert "innerHTML" not in text and "insertAdjacentHTML" not in text and "document.write" not in text, path


def test_node_serves_explorer_with_csp(node: Devnet) -> None:
    r = requests.get(f"{node.http_url}/explorer", timeout=10)
    assert r.status_code == 200 and r.url.endswith("/explorer/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert '<meta name="pysei-rpc" content="/">' in r.text
    assert requests.get(f"{node.http_url}/explorer/../pyproject.toml", timeout=10).status_code == 404


def test_localnet_consensus_view_and_appqc(tmp_path: Path, page: Page) -> None:
    """On a 4-validator localnet the network page shows the live consensus view (one row per lane), a block page
    shows the AppQC that certifies its state commitment, and a validator page its staking record."""
    ports = _free_ports(8)
    create_genesis(tmp_path, 4, ports=[(ports[2 * i], ports[2 * i + 1]) for i in range(4)])
    net = ValidatorProcesses(tmp_path, fsync=False)
    net.start_all()
    try:
        for i in range(4):
            net.wait_ready(i)
        url = net.url(0)
        w3 = make_w3(url)
        keys = dev_accounts(DEV_MNEMONIC, 13)
        tx = {"to": Web3.to_checksum_address(keys[12].address), "value": 1, "gas": 21_000, "nonce": 0}
        tx_hash, _ = sign_and_send(w3, "0x" + keys[11].private_key.hex(), tx)
        number = wait(w3, tx_hash)["blockNumber"]
        deadline = time.monotonic() + 120
        while not _rpc(url, "sei_getStateCommitment", hex(number)).get("certified"):
            assert time.monotonic() < deadline, "no AppQC for the block within 120 s"
            time.sleep(0.5)
        open_page(page, url, "/network", shot="network-localnet")
        expect(page.locator("[data-consensus]")).to_be_visible()
        expect(page.locator("#lanes tbody tr")).to_have_count(4)
        # The committee from sei_validators: one row per validator with its stake and uptime. Every commit
        # certificate carries at least a quorum (3 of 4), so the uptimes add up to 3 or more.
        expect(page.locator("#validators tbody tr")).to_have_count(4)
        uptimes = [
            float(u or 0) for u in page.locator("[data-uptime]").evaluate_all("es => es.map(e => e.dataset.uptime)")
        ]
        assert len(uptimes) == 4 and sum(uptimes) >= 3 and all(0 <= u <= 1 for u in uptimes), uptimes
        # Finality latency: the cars that carried the transaction were held, then committed.
        status = _rpc(url, "sei_consensusStatus")
        assert status["finalityMs"]["samples"] >= 1 and status["finalityMs"]["p50"] > 0, status["finalityMs"]
        assert status["slotMs"]["samples"] >= 1, status["slotMs"]
        expect(page.locator("[data-finality]")).to_contain_text("ms median")
        open_page(page, url, f"/block/{number}", shot="block-localnet")
        expect(page.locator("[data-appqc='certified']")).to_contain_text("certified by")
        # A validator page from another validator's RPC port: the staking module's record, and the committee seat
        # matched by consensus key (or a note that there is none to match).
        other = net.url(1)
        (name, _, bonded, _, _, consensus_key, _), *_ = _staking_validators(other)
        open_page(page, other, "/network")
        # Each localnet validator is a staking validator (its operator key, its stake as self-delegation).
        expect(page.locator("#staking-validators tbody tr")).to_have_count(4)
        click_and_wait(page, page.locator(f"#staking-validators a[href='#/validator/{name}']"), "validator")
        ready(page, "validator-localnet")
        expect(page.locator("main [data-valoper]")).to_have_text(name)
        expect(page.locator("main [data-tokens]")).to_have_attribute("data-tokens", str(bonded))
        # Its consensus key (the staking record) finds its seat in the committee that sei_validators lists.
        expect(page.locator("main [data-consensus-key]")).to_have_text("0x" + consensus_key.hex())
        seats = {v["publicKey"]: v["index"] for v in _rpc(other, "sei_validators")}
        expect(page.locator("main [data-committee]")).to_have_attribute(
            "data-committee", str(seats["0x" + consensus_key.hex()])
        )
        expect(page.locator("main [data-uptime]")).to_be_visible()
        # A committee member's key on the network page opens its seat: stake, connection and uptime.
        open_page(page, other, "/network")
        key = page.locator("#validators tr[data-validator='2'] a").get_attribute("href")
        click_and_wait(page, page.locator("#validators tr[data-validator='2'] a"), "validator")
        ready(page, "validator-seat-localnet")
        assert key and page.evaluate("location.hash") == key
        expect(page.locator("main [data-committee='2']")).to_contain_text("validator 2")
        assert 0 <= float(page.locator("main [data-uptime]").get_attribute("data-uptime") or 0) <= 1
        # A proposal submitted through one validator (a delegator votes on it) is viewed through another.
        voter, voter_address = keys[10], Web3.to_checksum_address(keys[10].address)
        body = {"title": "localnet <b>proposal</b>", "description": "Viewed from validator 1."}
        gov_address = "0x" + gov.GOVERNANCE.hex()
        staking = w3.eth.contract(address=Web3.to_checksum_address(STAKING), abi=solc.interface("IStaking"))
        bond = staking.functions.delegate(name).build_transaction(
            {"from": voter_address, "value": 5 * ETHER, "gas": 300_000, "nonce": 0}
        )
        key = "0x" + voter.private_key.hex()
        steps = [
            bond,
            {"to": gov_address, "data": "0x" + gov.submit_data(body).hex(), "value": 3_500 * ETHER, "gas": 1_000_000},
        ]
        for nonce, step in enumerate(steps):
            assert wait(w3, sign_and_send(w3, key, {**step, "from": voter_address, "nonce": nonce})[0])["status"] == 1
        (proposal,) = [p for p in _rpc(url, "sei_proposals") if p["title"] == body["title"]]
        pid = proposal["id"]
        vote = {"to": gov_address, "data": "0x" + gov.vote_data(pid, "yes").hex(), "gas": 300_000, "nonce": 2}
        assert wait(w3, sign_and_send(w3, key, {**vote, "from": voter_address})[0])["status"] == 1
        wait_for_rpc = time.monotonic() + 30
        while _rpc(other, "sei_proposal", hex(pid))["tally"] != _rpc(url, "sei_proposal", hex(pid))["tally"]:
            assert time.monotonic() < wait_for_rpc, "validator 1 never reached validator 0's tally"
            time.sleep(0.2)
        tally = _rpc(other, "sei_proposal", hex(pid))["tally"]
        assert int(tally["yes"]) >= 5 * 10**6, tally
        open_page(page, other, "/network")
        click_and_wait(page, page.locator(f"#proposals a[href='#/proposal/{pid}']").first, "proposal")
        ready(page, "proposal-localnet")
        expect(page.locator("main [data-title]")).to_have_text(body["title"])
        for option in ("yes", "abstain", "no", "no_with_veto"):
            expect(page.locator(f"main #tally tr[data-option='{option}'] [data-usei]")).to_have_attribute(
                "data-usei", tally[option]
            )
    finally:
        page.goto("about:blank")  # leave before the validators go, so live updates end quietly
        net.stop_all()


def _free_ports(k: int) -> list[int]:
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _rpc(url: str, method: str, *params: Any) -> Any:
    answer = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10)
    return answer.json()["result"]


def test_explorer_module_abis_agree_with_the_kernels(node: Devnet, page: Page) -> None:
    """The explorer decodes module calls and events with its own copy of Sei's ABIs (``static/modules.js``, so it
    can read any node through ``pysei explorer --rpc``). Read in the browser as the pages read them, every function
    and event there has the kernel's types at the kernel's address (``pysei abi``), so the copy cannot drift."""
    open_page(page, node.http_url, "/")
    explorer = page.evaluate(
        """async () => {
            const ethers = await import('/explorer/vendor/ethers.min.js');
            const { MODULE_ABIS } = await import('/explorer/modules.js');
            return Object.values(MODULE_ABIS).map(({ address, abi }) =>
                [address.toLowerCase(), JSON.parse(ethers.Interface.from(abi).formatJson())]);
        }"""
    )

    def shape(entry: dict[str, Any]) -> tuple[Any, ...]:
        def params(ps: list[dict[str, Any]]) -> tuple[Any, ...]:
            return tuple((p["type"], bool(p.get("indexed")), params(p.get("components") or [])) for p in ps)

        return entry["type"], entry.get("name"), params(entry.get("inputs", [])), params(entry.get("outputs", []))

    kernel = {"0x" + p.address.hex(): {shape(e) for e in p.abi} for p in precompile_abis()}
    assert len(explorer) == 4
    for address, abi in explorer:
        assert abi and [shape(e) for e in abi if shape(e) not in kernel[address]] == []
