"""``pysei tx propose|deposit|vote`` and ``pysei query proposals|proposal``: the governance precompile (0x…1006)
from the command line. ``pysei.token_cli`` owns the ``tx``/``query`` commands, signing and sending; this module
adds the governance subcommands, builds their call data and reads their answers."""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_utils import keccak

from pysei.chain import governance as gov
from pysei.chain.constants import WEI_PER_SEI

ACTIONS = ("propose", "deposit", "vote")
QUERIES = ("proposals", "proposal", "gov-params")
GOVERNANCE = "0x" + gov.GOVERNANCE.hex()
PROPOSAL_SUBMITTED = "ProposalSubmitted(uint64,address,string,uint256)"

Rpc = Callable[[str, str, list[Any]], Any]


def add_query_parsers(qs: argparse._SubParsersAction) -> None:
    p = qs.add_parser("proposals", help="governance proposals: status, deposit, voting end, final tally")
    p.add_argument("--status", choices=list(gov.STATUS.values()), help="only proposals with this status")
    one = qs.add_parser("proposal", help="one proposal with its tally (current while voting)")
    one.add_argument("id", type=int)
    qs.add_parser("gov-params", help="governance parameters: minimum deposit, periods, quorum and thresholds")


def add_tx_parsers(ts: argparse._SubParsersAction) -> None:
    p = ts.add_parser(
        "propose",
        help="submit a proposal: text, or parameter changes (--change), or a community-pool spend (--spend)",
    )
    p.add_argument("title")
    p.add_argument("description")
    p.add_argument(
        "--change",
        action="append",
        default=[],
        metavar="SUBSPACE/KEY=VALUE",
        help="a parameter change, e.g. staking/MaxEntries=5 or gov/Quorum=0.4 (repeatable)",
    )
    p.add_argument("--spend", metavar="RECIPIENT:USEI", help="pay USEI usei from the community pool to RECIPIENT")
    p.add_argument("--deposit", default="0", help="initial deposit in SEI (up to 6 decimals)")
    d = ts.add_parser("deposit", help="add AMOUNT SEI to proposal ID's deposit")
    d.add_argument("id", type=int)
    d.add_argument("amount", help="SEI, up to 6 decimals")
    v = ts.add_parser("vote", help="vote on proposal ID: yes, no, abstain, no_with_veto, or weighted yes=0.7,no=0.3")
    v.add_argument("id", type=int)
    v.add_argument("option")


def _wei(amount: str) -> int:
    try:
        sei = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount of SEI") from None
    wei = sei * WEI_PER_SEI
    if sei < 0 or wei % 10**12:
        raise ValueError(f"{amount}: amounts are non-negative with at most 6 decimals (1 usei = 0.000001 SEI)")
    return int(wei)


def proposal_body(args: argparse.Namespace) -> dict[str, Any]:
    """The proposal JSON ``submitProposal`` takes (Sei's fields plus pysei's ``changes``/``recipient``/``amount``)."""
    body: dict[str, Any] = {"title": args.title, "description": args.description, "type": "Text"}
    if args.change and args.spend:
        raise ValueError("a proposal either changes parameters or spends from the community pool, not both")
    if args.change:
        changes = []
        for spec in args.change:
            name, eq, value = spec.partition("=")
            subspace, slash, key = name.partition("/")
            if not (eq and slash and subspace and key):
                raise ValueError(f"--change {spec!r}: write SUBSPACE/KEY=VALUE, e.g. staking/MaxEntries=5")
            changes.append({"subspace": subspace, "key": key, "value": value})
        body.update(type="ParameterChange", changes=changes)
    if args.spend:
        recipient, colon, amount = args.spend.rpartition(":")
        if not colon or not amount.isdigit():
            raise ValueError(f"--spend {args.spend!r}: write RECIPIENT:USEI")
        body.update(type="CommunityPoolSpend", recipient=recipient, amount=amount)
    return body


def transaction(args: argparse.Namespace) -> tuple[str, bytes, int]:
    """(to, call data, value in wei) of a governance transaction."""
    if args.action == "propose":
        return GOVERNANCE, gov.submit_data(proposal_body(args)), _wei(args.deposit)
    if args.action == "deposit":
        value = _wei(args.amount)
        if value == 0:
            raise ValueError("deposit a positive amount")
        return GOVERNANCE, gov.deposit_data(args.id), value
    return GOVERNANCE, gov.vote_data(args.id, args.option), 0


def describe(args: argparse.Namespace, receipt: dict[str, Any]) -> dict[str, Any]:
    """What a mined governance transaction created: the new proposal's id."""
    if args.action != "propose":
        return {}
    topic = "0x" + keccak(text=PROPOSAL_SUBMITTED).hex()
    for log in receipt["logs"]:
        if log["address"].lower() == GOVERNANCE and log["topics"][0] == topic:
            return {"proposal": int(log["topics"][1], 16)}
    return {}


def _when(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat() if seconds else "-"


def _eth_call(rpc: Rpc, url: str, data: bytes) -> bytes:
    return bytes.fromhex(rpc(url, "eth_call", [{"to": GOVERNANCE, "data": "0x" + data.hex()}, "latest"])[2:])


def query(args: argparse.Namespace, rpc: Rpc) -> tuple[list[dict[str, Any]], str]:
    """Rows to print (or dump as JSON) and their title."""
    if args.what == "gov-params":
        return [gov.decode_params(_eth_call(rpc, args.rpc, gov.params_data()))], "governance parameters"
    if args.what == "proposal":
        out = gov.decode_proposal(_eth_call(rpc, args.rpc, gov.proposal_data(args.id)))
        out["tally"] = gov.decode_tally(_eth_call(rpc, args.rpc, gov.tally_data(args.id)))
        return [out] if args.json else [_row(out) | {f"tally {k}": v for k, v in out["tally"].items()}], "proposal"
    status = 0 if args.status is None else {n: c for c, n in gov.STATUS.items()}[args.status]
    proposals: list[dict[str, Any]] = []
    key = b""
    while True:
        page, key = gov.decode_proposals(_eth_call(rpc, args.rpc, gov.proposals_data(status, key)))
        proposals.extend(page)
        if not key:
            break
    return (proposals if args.json else [_row(p) for p in proposals]), "governance proposals"


def _row(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "status": p["status"],
        "type": p["type"],
        "title": p["title"],
        "deposit (usei)": p["totalDepositUsei"],
        "voting ends": _when(p["votingEndTime"]),
        "final yes/abstain/no/veto": "/".join(p["finalTally"].values()),
    }
