"""The governance precompile (0x…1006) as pysei's Python side reads it: call data for its queries and transactions
(Sei's ABI, ``precompiles/gov/Gov.sol``) and its answers decoded into JSON-ready dicts, shared by ``sei_proposals``
and ``pysei query proposals``.

The module itself lives in the kernel (``native/src/modules/governance.rs``); this file only knows its ABI.
"""

from __future__ import annotations

import json
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

GOVERNANCE = bytes.fromhex("0000000000000000000000000000000000001006")

TALLY = "(string,string,string,string)"
PROPOSAL = f"(uint64,int32,{TALLY},int64,int64,(uint256,string)[],int64,int64,bool,bytes)"

STATUS = {1: "deposit_period", 2: "voting_period", 3: "passed", 4: "rejected", 5: "failed"}
OPTIONS = {"yes": 1, "abstain": 2, "no": 3, "no_with_veto": 4}
"""Vote options by name, Cosmos's numbers."""


def calldata(signature: str, types: list[str], args: list[Any]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, args)


def proposals_data(status: int = 0, page_key: bytes = b"") -> bytes:
    """``proposals(status, voter, depositor, pageKey)``: one page (status 0: all)."""
    zero = "0x" + "00" * 20
    return calldata(
        "proposals(int32,address,address,bytes)",
        ["int32", "address", "address", "bytes"],
        [status, zero, zero, page_key],
    )


def decode_proposals(output: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """A page of proposals and the next page's key (empty: the last page)."""
    proposals, next_key = decode([f"{PROPOSAL}[]", "bytes"], output)
    return [proposal_json(p) for p in proposals], next_key


def proposal_data(proposal_id: int) -> bytes:
    return calldata("proposal(uint64)", ["uint64"], [proposal_id])


def decode_proposal(output: bytes) -> dict[str, Any]:
    (p,) = decode([PROPOSAL], output)
    return proposal_json(p)


def tally_data(proposal_id: int) -> bytes:
    return calldata("tallyResult(uint64)", ["uint64"], [proposal_id])


def decode_tally(output: bytes) -> dict[str, str]:
    (t,) = decode([TALLY], output)
    return _tally(t)


def _tally(t: tuple[str, str, str, str]) -> dict[str, str]:
    return dict(zip(OPTIONS, t, strict=True))


def proposal_json(p: tuple[Any, ...]) -> dict[str, Any]:
    """A decoded ``ProposalData`` as JSON: amounts in usei as strings (they exceed 2^53), times in seconds, and the
    submitted JSON's title, description, type and changes."""
    pid, status, final, submit, deposit_end, deposit, voting_start, voting_end, _expedited, content = p
    try:
        body = json.loads(content)
    except ValueError:
        body = {}
    out: dict[str, Any] = {
        "id": pid,
        "status": STATUS.get(status, str(status)),
        "type": body.get("type") or "Text",
        "title": body.get("title", ""),
        "description": body.get("description", ""),
        "submitTime": submit,
        "depositEndTime": deposit_end,
        "totalDepositUsei": str(sum(amount for amount, _ in deposit)),
        "votingStartTime": voting_start,
        "votingEndTime": voting_end,
        "finalTally": _tally(final),
    }
    for extra in ("changes", "recipient", "amount"):
        if extra in body:
            out[extra] = body[extra]
    return out


PARAMS = "(uint64,uint64,(uint256,string)[],uint64,(uint256,string)[],string,string,string,string,string)"


def params_data() -> bytes:
    return calldata("params()", [], [])


def decode_params(output: bytes) -> dict[str, Any]:
    """``params()``: periods in seconds, the minimum deposit in usei (a string), fractions as Cosmos prints them."""
    (p,) = decode([PARAMS], output)
    voting, _, min_deposit, deposit_period, _, quorum, threshold, veto, _, _ = p
    return {
        "minDepositUsei": str(sum(amount for amount, _ in min_deposit)),
        "maxDepositPeriod": deposit_period,
        "votingPeriod": voting,
        "quorum": quorum,
        "threshold": threshold,
        "vetoThreshold": veto,
    }


def submit_data(proposal: dict[str, Any]) -> bytes:
    return calldata("submitProposal(string)", ["string"], [json.dumps(proposal)])


def deposit_data(proposal_id: int) -> bytes:
    return calldata("deposit(uint64)", ["uint64"], [proposal_id])


def vote_data(proposal_id: int, option: str) -> bytes:
    """``vote(id, option)`` for one option, or ``voteWeighted`` for "yes=0.7,abstain=0.3"."""
    if "=" not in option:
        if option not in OPTIONS:
            raise ValueError(f"vote option {option!r}: one of {', '.join(OPTIONS)} (or weighted: yes=0.7,no=0.3)")
        return calldata("vote(uint64,int32)", ["uint64", "int32"], [proposal_id, OPTIONS[option]])
    weighted = []
    for part in option.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in OPTIONS:
            raise ValueError(f"vote option {name.strip()!r}: one of {', '.join(OPTIONS)}")
        weighted.append((OPTIONS[name.strip()], weight.strip()))
    return calldata("voteWeighted(uint64,(int32,string)[])", ["uint64", "(int32,string)[]"], [proposal_id, weighted])
