"""State sync on real validator processes: a validator far behind takes a verified snapshot from its peers.

Four validators whose journals keep only 20 slots below their heads. Validator 3 stops after the first blocks
(its lane has committed cars), the other three go on well past what their journals keep, so nobody can serve
validator 3 the slots it lacks one by one. Restarted with ``--state-sync`` it downloads a peer's snapshot,
checks the snapshot's records against the AppQC-certified commitment, resumes consensus from the snapshot's
block with its own lane where its peers last voted (no fork of its own lane: transactions sent to it finalise),
keeps its old chain aside, and agrees with the others on every later block and certified commitment.
"""

from __future__ import annotations

import re
from pathlib import Path

from eth_account import Account
from web3 import Web3

from tests.test_localnet import KEYS, Sender, certified_everywhere, rpc, same_chain, start_network, wait_for

RETENTION = 20


def test_a_validator_far_behind_syncs_from_a_snapshot(tmp_path: Path) -> None:
    args = {i: ["--journal-retention", str(RETENTION)] for i in range(4)}
    net, _ = start_network(tmp_path, args=args)
    try:
        urls = [net.url(i) for i in range(4)]
        payee = Account.from_key(KEYS[11]).address
        sender = Sender(net, urls)
        lane3_sender = Sender(net, [urls[3]])
        lane3_sender.nonces = sender.nonces
        # KEYS[10]'s transactions belong to lane 3 (routing hashes the sender): validator 3's lane gets a car.
        first = [sender.send(KEYS[i], payee, value=1) for i in range(8)] + [lane3_sender.send(KEYS[10], payee, value=1)]
        assert all(r["status"] == 1 for r in sender.wait(first))
        lane3 = rpc(urls[0], "sei_consensusStatus")["laneCommitted"][3]
        assert lane3 > 0
        net.kill(3)
        stopped_at = int(rpc(urls[3 - 1], "eth_blockNumber"), 16)
        live = Sender(net, urls[:3])
        live.nonces = sender.nonces
        for _ in range(4 * RETENTION):  # one block per slot, well past what the journals keep
            (r,) = live.wait([live.send(KEYS[8], payee, value=1)])
            assert r["status"] == 1
        head = int(rpc(urls[0], "eth_blockNumber"), 16)
        assert head > stopped_at + 3 * RETENTION

        net.args[3] = [*args[3], "--state-sync"]
        net.start(3)
        net.wait_ready(3, timeout=120)
        log = net.log_tail(3, 20_000)
        assert "state sync: imported the state after block" in log, log
        assert list((net.homes[3]).glob("behind-*")), "the old chain is kept aside"
        synced_at = int(re.search(r"imported the state after block (\d+)", log).group(1))  # type: ignore[union-attr]
        assert synced_at > stopped_at + RETENTION
        assert rpc(urls[3], "eth_getBlockByNumber", hex(stopped_at), False) is None  # no history below the snapshot

        # It votes and orders again: its own lane takes transactions (sent to it) and they finalise.
        sender.nonces[KEYS[8]] = live.nonces[KEYS[8]]
        own = Sender(net, [urls[3]])
        own.nonces = sender.nonces
        receipts = own.wait([own.send(KEYS[10], payee, value=1) for _ in range(5)], urls[3])
        assert all(r["status"] == 1 for r in receipts)
        wait_for(lambda: rpc(urls[0], "sei_consensusStatus")["laneCommitted"][3] > lane3, 30, "validator 3's lane")
        new_head = min(int(rpc(u, "eth_blockNumber"), 16) for u in urls)
        wait_for(lambda: int(rpc(urls[3], "eth_blockNumber"), 16) >= new_head, 60, "validator 3 at the head")
        for number in range(synced_at + 1, new_head + 1):
            blocks = {rpc(u, "eth_getBlockByNumber", hex(number), False)["hash"] for u in urls}
            assert len(blocks) == 1, f"block {number} differs"
        same_chain(urls[:3], new_head)
        certified_everywhere(urls, new_head)
        balances = {Web3(Web3.HTTPProvider(u)).eth.get_balance(payee, new_head) for u in urls}
        assert len(balances) == 1, balances
    finally:
        net.stop_all()
