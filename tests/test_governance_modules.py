"""Governance through the node's execution stage: random sequences of proposals, deposits, votes, delegations and
block-time advances, executed as signed transactions block by block, sequentially and in parallel.

Properties, after every block: each transaction succeeds or reverts as a plain Python model of Cosmos's rules
says; every delegator's balance moves by exactly its fees, stakes and deposits and the refunds the model expects
(so a deposit is refunded or burned exactly once); the bank's total supply falls by exactly the burned deposits
and equals Σ balances + bonded stake + the deposits of open proposals; proposals end with the model's status; the
sequential and the parallel chain have the same LtHash commitment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from eth_abi import encode
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pysei.chain import genesis as gen
from pysei.chain import governance as gov
from pysei.chain.constants import WEI_PER_SEI, WEI_PER_USEI
from tests.test_modules import (
    BANK,
    CHAIN_ID,
    DELEGATORS,
    DISTRIBUTION,
    OPERATORS,
    STAKING,
    USEI,
    Chain,
    chain,
    execute_both,
    selector,
    signed,
    split_blocks,
)

MIN_DEPOSIT_SEI = 10
DEPOSIT_PERIOD = 40
VOTING_PERIOD = 60
SELF_DELEGATION = 1 * USEI
"""Small validators, so that delegators' votes can reach the quorum."""


SPEND_USEI = 2_000
"""What a community-pool spend asks for: the pool (all fees) holds that after a few transactions, or not yet."""
UNITS_PER_USEI = 10**30
"""The distribution module's book units (usei with 30 decimals)."""


def network() -> gen.Genesis:
    """Community tax 1: every fee goes to the community pool, so delegations earn nothing and balances move only by
    what the governance model says; the pool grows by exactly the fees."""
    return gen.default_genesis(
        CHAIN_ID,
        [(op, SELF_DELEGATION) for op in OPERATORS],
        gen.StakingParams(unbonding_time=1_000),
        gen.DistributionParams(community_tax="1"),
        gen.GovParams(
            min_deposit_usei=MIN_DEPOSIT_SEI * USEI, max_deposit_period=DEPOSIT_PERIOD, voting_period=VOTING_PERIOD
        ),
    )


Op = tuple[str, int, int, int]
"""(kind, account, target, amount): submit (target 0 text, 1 parameter change, 2 a community-pool spend to the
next account; amount SEI deposited), deposit
(target proposal, amount SEI), vote (target proposal, amount the option), delegate (target validator, SEI),
advance (amount seconds)."""

ops = st.one_of(
    st.tuples(st.just("submit"), st.integers(0, 4), st.integers(0, 2), st.integers(4, 12)),
    st.tuples(st.just("deposit"), st.integers(0, 4), st.integers(1, 3), st.integers(1, 6)),
    st.tuples(st.just("vote"), st.integers(0, 4), st.integers(1, 2), st.integers(1, 4)),
    st.tuples(st.just("vote"), st.integers(0, 4), st.integers(1, 2), st.just(1)),
    st.tuples(st.just("delegate"), st.integers(0, 4), st.integers(0, 1), st.integers(1, 8)),
    st.tuples(st.just("advance"), st.just(0), st.just(0), st.integers(1, VOTING_PERIOD)),
)

PASSES: list[Op] = [("delegate", 0, 0, 5), ("submit", 1, 1, 10), ("advance", 0, 0, 1), ("vote", 0, 1, 1)]
"""A parameter change voted through by a delegator holding 5 of the 7 bonded SEI (then the voting period ends)."""
SPENDS: list[Op] = [("delegate", 0, 0, 5), ("submit", 1, 2, 10), ("advance", 0, 0, 1), ("vote", 0, 1, 1)]
"""A community-pool spend voted through; the fees of a few more transactions fill the pool enough to pay it."""


@dataclass
class Proposal:
    status: str
    end: int
    deposits: dict[int, int] = field(default_factory=dict)
    votes: dict[int, int] = field(default_factory=dict)
    spend_to: int | None = None


@dataclass
class Model:
    proposals: list[Proposal] = field(default_factory=list)
    delegations: dict[tuple[int, int], int] = field(default_factory=dict)
    pool: int = 0
    """The community pool in book units."""

    def apply(self, op: Op, now: int) -> tuple[bool, int]:
        """Whether `op` succeeds, and the wei it takes from its sender besides the fee."""
        kind, d, target, amount = op
        if kind == "delegate":
            self.delegations[(d, target)] = self.delegations.get((d, target), 0) + amount * USEI
            return True, amount * WEI_PER_SEI
        if kind == "submit":
            spend_to = (d + 1) % len(DELEGATORS) if target == 2 else None
            self.proposals.append(Proposal("deposit_period", now + DEPOSIT_PERIOD, spend_to=spend_to))
            if amount:
                self._deposit(len(self.proposals) - 1, d, amount, now)
            return True, amount * WEI_PER_SEI
        if target > len(self.proposals):
            return False, 0
        p = self.proposals[target - 1]
        if kind == "deposit":
            if p.status == "voting_period" or (p.status == "deposit_period" and now < p.end):
                self._deposit(target - 1, d, amount, now)
                return True, amount * WEI_PER_SEI
            return False, 0
        if p.status != "voting_period" or now >= p.end:
            return False, 0
        p.votes[d] = amount
        return True, 0

    def _deposit(self, index: int, d: int, sei: int, now: int) -> None:
        p = self.proposals[index]
        p.deposits[d] = p.deposits.get(d, 0) + sei * USEI
        if p.status == "deposit_period" and sum(p.deposits.values()) >= MIN_DEPOSIT_SEI * USEI:
            p.status, p.end = "voting_period", now + VOTING_PERIOD

    def end_block(self, now: int, fees: int) -> tuple[list[int], int]:
        """The block's `fees` (wei) join the pool, then what ends at `now` closes: (usei refunded or paid by the
        pool, by delegator; usei burned)."""
        self.pool += fees * 10**18
        refunds = [0] * len(DELEGATORS)
        burned = 0
        bonded = SELF_DELEGATION * len(OPERATORS) + sum(self.delegations.values())
        for p in self.proposals:
            if p.status not in ("deposit_period", "voting_period") or p.end > now:
                continue
            if p.status == "deposit_period":
                p.status, burn = "rejected", True
            else:
                passes, burn = self.decide(p, bonded)
                p.status = "passed" if passes else "rejected"
                if passes and p.spend_to is not None:
                    if self.pool >= SPEND_USEI * UNITS_PER_USEI:
                        self.pool -= SPEND_USEI * UNITS_PER_USEI
                        refunds[p.spend_to] += SPEND_USEI
                    else:
                        p.status = "failed"
            for d, usei in p.deposits.items():
                if burn:
                    burned += usei
                else:
                    refunds[d] += usei
        return refunds, burned

    def decide(self, p: Proposal, bonded: int) -> tuple[bool, bool]:
        """Cosmos's tally rules with quorum 0.334, threshold 0.5, veto 0.334 (exact in integers)."""
        power = [0, 0, 0, 0]
        for d, option in p.votes.items():
            power[option - 1] += sum(self.delegations.get((d, v), 0) for v in range(len(OPERATORS)))
        yes, abstain, _, veto = power
        total = sum(power)
        if total * 1000 < 334 * bonded:
            return False, True
        if abstain == total:
            return False, False
        if veto * 1000 > 334 * total:
            return False, True
        return 2 * yes > total - abstain, False


def sign(op: Op, nonce: int, valopers: list[str]) -> bytes:
    kind, d, target, amount = op
    value = 0
    if kind == "delegate":
        data, value = selector("delegate(string)") + encode(["string"], [valopers[target]]), amount * WEI_PER_SEI
    elif kind == "submit":
        body: dict[str, object] = {"title": f"proposal by {d}", "description": "random"}
        if target == 1:
            body |= {
                "type": "ParameterChange",
                "changes": [{"subspace": "staking", "key": "MaxValidators", "value": "40"}],
            }
        elif target == 2:
            recipient = DELEGATORS[(d + 1) % len(DELEGATORS)].address
            body |= {"type": "CommunityPoolSpend", "recipient": recipient, "amount": str(SPEND_USEI)}
        data, value = gov.submit_data(body), amount * WEI_PER_SEI
    elif kind == "deposit":
        data, value = gov.deposit_data(target), amount * WEI_PER_SEI
    else:
        data = gov.vote_data(target, list(gov.OPTIONS)[amount - 1])
    return signed(d, nonce, STAKING if kind == "delegate" else gov.GOVERNANCE, value, data, gas=3_000_000)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(script=st.lists(ops, min_size=4, max_size=40))
@example(script=[*PASSES, ("advance", 0, 0, VOTING_PERIOD)])
@example(script=[*PASSES[:3], ("vote", 0, 1, 4), ("advance", 0, 0, VOTING_PERIOD)])  # vetoed: burned
@example(script=[*PASSES[1:3], ("vote", 2, 1, 1), ("advance", 0, 0, VOTING_PERIOD)])  # no stake voted: burned
@example(script=[("submit", 0, 0, 4), ("deposit", 1, 1, 3), ("advance", 0, 0, DEPOSIT_PERIOD)])  # never funded
@example(script=[*SPENDS, ("advance", 0, 0, VOTING_PERIOD)])  # the pool holds less: failed
@example(script=[*SPENDS, *[("deposit", d, 1, 1) for d in (2, 3, 4, 2, 3, 4)], ("advance", 0, 0, VOTING_PERIOD)])
def test_random_governance_operations(tmp_path_factory: pytest.TempPathFactory, script: list[Op]) -> None:
    tmp = tmp_path_factory.mktemp("governance")
    with chain(tmp, 1, network()) as seq, chain(tmp, 2, network()) as par:
        model = Model()
        nonces = [0] * len(DELEGATORS)
        (supply,) = seq.query(BANK, selector("supply(string)") + encode(["string"], ["usei"]), ["uint256"])
        for timestamp, block_ops in split_blocks(script):
            before = [seq.store.balance(bytes.fromhex(a.address[2:])) for a in DELEGATORS]
            cost = [0] * len(DELEGATORS)
            raws, senders, successes = [], [], []
            for op in block_ops:
                ok, wei = model.apply(op, timestamp)
                raws.append(sign(op, nonces[op[1]], seq.valopers))
                senders.append(bytes.fromhex(DELEGATORS[op[1]].address[2:]))
                nonces[op[1]] += 1
                successes.append(ok)
                cost[op[1]] += wei
            fees = execute_both(seq, par, timestamp, raws, senders, successes)
            refunds, burned = model.end_block(timestamp, sum(fees))
            supply -= burned  # type: ignore[operator]
            for d, account in enumerate(DELEGATORS):
                after = seq.store.balance(bytes.fromhex(account.address[2:]))
                assert after == before[d] - fees[d] - cost[d] + refunds[d] * WEI_PER_USEI, f"delegator {d}"
            check_supply(seq, model, supply)  # type: ignore[arg-type]


def check_supply(c: Chain, model: Model, supply: int) -> None:
    """The bank's supply is the model's (genesis minus burns) and equals what balances, stake, open deposits and the
    community pool hold; every proposal has the model's status and total deposit; the pool is the model's."""
    (now_supply,) = c.query(BANK, selector("supply(string)") + encode(["string"], ["usei"]), ["uint256"])
    assert now_supply == supply
    result = c.query(gov.GOVERNANCE, gov.proposals_data(), [f"{gov.PROPOSAL}[]", "bytes"])
    proposals = [gov.proposal_json(p) for p in result[0]]  # type: ignore[attr-defined]
    assert [p["status"] for p in proposals] == [p.status for p in model.proposals]
    assert [int(p["totalDepositUsei"]) for p in proposals] == [sum(p.deposits.values()) for p in model.proposals]
    open_deposits = sum(sum(p.deposits.values()) for p in model.proposals if p.status.endswith("_period"))
    balances = sum(c.store.balance(a) for a in c.addresses)
    bonded = SELF_DELEGATION * len(OPERATORS) + sum(model.delegations.values())
    (pool,) = c.query(DISTRIBUTION, selector("communityPool()"), ["(uint256,uint256,string)[]"])
    assert all(decimals == 30 for _, decimals, _ in pool)  # type: ignore[attr-defined]
    assert sum(amount for amount, _, _ in pool) == model.pool  # type: ignore[attr-defined]
    assert supply * UNITS_PER_USEI == balances * 10**18 + (bonded + open_deposits) * UNITS_PER_USEI + model.pool
