"""The consensus committee is the staking module's active set, epoch by epoch, on real validator processes.

Four validators of a localnet are the genesis's staking validators (1,000 SEI self-delegated each, power 1 per
SEI); epochs are 10 blocks. Through the staking precompile a dev account delegates 3,000 SEI to validator 0 and
another 100 SEI to validator 3. From slot 15 on validator 3 double-votes (the test-only fault hook): a leader
proves it, the proof goes into a block, and the slashing module slashes validator 3 and its delegators (5%) and
jails it. From the epoch whose record follows those blocks, every validator's consensus runs with stakes
4,000 / 1,000 / 1,000 / 0 (transactions sent to the jailed validator still finalise, through the others' lanes);
and it does use them: with validator 2 killed and validator 3 jailed, validators 0 and
1 alone (5,000 of 6,000 stake) still make quorum and commit, which four equal stakes could not do with two of
four validators gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from pysei.consensus.genesis import GENESIS
from pysei.native import precompile_abis
from tests.clients import solc
from tests.test_localnet import KEYS, Sender, rpc, same_chain, start_network, wait_for

STAKING = Web3.to_checksum_address("0x0000000000000000000000000000000000001005")
SLASHING = Web3.to_checksum_address("0x0000000000000000000000000000000000001014")
SLASHING_ABI = next(p.abi for p in precompile_abis() if p.name == "slashing")
"""The slashing precompile's ABI as `pysei abi slashing` prints it: its end-of-block `Slashed` event included."""
EPOCH = 10
SEI = 10**18
USEI = 10**6


def staking_validators(w3: Web3) -> dict[str, tuple[Any, ...]]:
    """The staking precompile's `validators()` query, by operator address."""
    raw = w3.eth.call({"to": STAKING, "data": Web3.keccak(text="validators()")[:4]})
    (out,) = w3.codec.decode(["(string,address,uint256,uint256,bool)[]"], raw)
    return {v[1].lower(): tuple(v) for v in out}


def stakes(url: str) -> list[int]:
    return [v["stake"] for v in rpc(url, "sei_validators")]


def test_delegation_and_slashing_set_the_next_epochs_committee(tmp_path: Path) -> None:
    net, _ = start_network(tmp_path, env={3: {"PYSEI_TEST_FAULT": "double-vote@15"}}, epoch_blocks=EPOCH)
    try:
        urls = [net.url(i) for i in range(4)]
        operators = [v["operator"].lower() for v in json.loads((tmp_path / GENESIS).read_text())["validators"]]
        assert stakes(urls[0]) == [1_000] * 4
        sender = Sender(net, urls[:2])
        payee = Account.from_key(KEYS[11]).address
        w3 = Web3(Web3.HTTPProvider(urls[0]))
        staking = w3.eth.contract(STAKING, abi=solc.interface("IStaking"))
        delegations = [(KEYS[5], operators[0], 3_000 * SEI), (KEYS[7], operators[3], 100 * SEI)]
        hashes = [
            sender.send(key, STAKING, bytes.fromhex(staking.encode_abi("delegate", [op])[2:]), 300_000, value)
            for key, op, value in delegations
        ]
        assert all(r["status"] == 1 for r in sender.wait(hashes))
        delegator = Account.from_key(KEYS[7]).address

        def delegated() -> int:
            return int(staking.functions.delegation(delegator, operators[3]).call()[0][0])  # balance.amount, usei

        assert delegated() == 100 * USEI

        def jailed() -> tuple[Any, ...] | None:
            sender.send(KEYS[6], payee, value=1)  # a block a slot, so leaders see (and prove) the double votes
            v3 = staking_validators(w3)[operators[3]]
            return v3 if v3[4] else None

        v3 = wait_for(jailed, 90, "validator 3 jailed for double-signing")
        assert v3[2] == 1_045 * USEI  # 5% of its 1,100 SEI bonded slashed (and burned)
        assert delegated() == 95 * USEI  # its delegator's share went with it
        # The slash is a log of the block that carried the evidence (a system log of the slashing module).
        (log,) = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": SLASHING})
        slashed = w3.eth.contract(abi=SLASHING_ABI).events.Slashed().process_log(log)["args"]
        assert (slashed["operator"].lower(), slashed["reason"], slashed["slashedUsei"]) == (
            operators[3], "double_sign", 55 * USEI)  # fmt: skip
        assert log["transactionHash"] == Web3.keccak(b"pysei/end-block/" + log["blockNumber"].to_bytes(8, "big"))

        def new_weights() -> list[int] | None:
            sender.send(KEYS[6], payee, value=1)
            return stakes(urls[0]) if stakes(urls[0]) == [4_000, 1_000, 1_000, 0] else None

        wait_for(new_weights, 120, "the next epoch's committee with the new stakes")
        for url in urls[1:3]:
            wait_for(lambda u=url: stakes(u) == [4_000, 1_000, 1_000, 0], 60, "the same committee everywhere")

        # Jailed, validator 3 has no lane in cuts: transactions sent to it go to the committee's lanes.
        via3 = Sender(net, [urls[3]])
        via3.nonces = sender.nonces
        assert all(r["status"] == 1 for r in via3.wait([via3.send(KEYS[9], payee, value=1) for _ in range(3)]))

        # 5,000 of 6,000 stake is a quorum (W − F = 4,334): validators 0 and 1 commit alone.
        net.kill(2)
        hashes = [sender.send(KEYS[i], payee, value=1) for i in range(4)]
        assert all(r["status"] == 1 for r in sender.wait(hashes))
        head = min(int(rpc(u, "eth_blockNumber"), 16) for u in urls[:2])
        same_chain(urls[:2], head)
        assert rpc(urls[0], "sei_consensusStatus")["committedSlot"] >= head
    finally:
        net.stop_all()
