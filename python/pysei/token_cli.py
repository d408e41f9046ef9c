"""``pysei query …`` and ``pysei tx …``: the bank, staking, governance, distribution and slashing modules from the
command line, through any node's JSON-RPC (their precompiles at 0x…1001, 0x…1005, 0x…1006, 0x…1007 and 0x…1014),
as a wallet would use them.

Queries print tables (``--json`` for JSON); transactions sign with a key file (a hex private key) or a dev
account of the devnet mnemonic, are estimated first (so a bad one stops with the precompile's revert reason) and
wait for their receipt.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
import urllib.request
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from pysei import governance_cli
from pysei.chain.accounts import dev_accounts
from pysei.chain.constants import DEV_MNEMONIC, WEI_PER_SEI

BANK = "0x0000000000000000000000000000000000001001"
STAKING = "0x0000000000000000000000000000000000001005"
DISTRIBUTION = "0x0000000000000000000000000000000000001007"
SLASHING = "0x0000000000000000000000000000000000001014"
USEI_PER_SEI = 10**6
RECEIPT_WAIT_S = 60
VALIDATOR = "(string,address,uint256,uint256,bool,bytes32,bool)"
SIGNING_INFO = "(string,int64,int64,int64,bool,int64)"
"""Sei's slashing `SigningInfo`: consensus address, window start height, blocks observed, jailed until,
tombstoned, missed blocks."""
DELEGATION = "((uint256,string),(string,uint256,uint256,string))"
COINS = "(uint256,uint256,string)[]"
REWARDS = f"(({COINS},string)[],{COINS})"
"""Sei's `rewards(address)` answer: per validator (coins, seivaloper…), then the total."""


class CliError(Exception):
    """What the command prints before exiting with status 1."""


def _rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = json.loads(response.read())
    except OSError as e:
        raise CliError(f"cannot reach {url}: {e}") from None
    if "error" in reply:
        raise CliError(reply["error"].get("message", str(reply["error"])))
    return reply["result"]


def _call(url: str, to: str, signature: str, types: list[str], args: list[Any], out: list[str]) -> tuple[Any, ...]:
    data = function_signature_to_4byte_selector(signature) + encode(types, args)
    raw = _rpc(url, "eth_call", [{"to": to, "data": "0x" + data.hex()}, "latest"])
    return tuple(decode(out, bytes.fromhex(raw[2:])))


def _sei(amount: str) -> Decimal:
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise CliError(f"{amount!r} is not an amount of SEI") from None
    if value <= 0 or (value * USEI_PER_SEI) != (value * USEI_PER_SEI).to_integral_value():
        raise CliError(f"{amount}: amounts are positive with at most 6 decimals (1 usei = 0.000001 SEI)")
    return value


def _print(args: argparse.Namespace, rows: list[dict[str, Any]], title: str) -> None:
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in rows[0] if rows else ["(none)"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    Console().print(table)


def _fmt_sei(usei: int) -> str:
    return f"{Decimal(usei) / USEI_PER_SEI:,f}"


def _usei(coins: list[tuple[int, int, str]]) -> Decimal:
    """A coin list of the distribution precompile (usei with the decimals it names) in usei, exactly."""
    with localcontext() as exact:
        exact.prec = 100
        return sum((Decimal(amount).scaleb(-decimals) for amount, decimals, _ in coins), Decimal(0))


def _rewards(url: str, delegator: str) -> tuple[list[tuple[str, Decimal]], Decimal]:
    """(validator, pending usei) per delegation, and the total."""
    ((per_validator, total),) = _call(url, DISTRIBUTION, "rewards(address)", ["address"], [delegator], [REWARDS])
    return [(validator, _usei(coins)) for coins, validator in per_validator], _usei(total)


def query(args: argparse.Namespace) -> None:
    url = args.rpc
    if args.what == "validators":
        (validators,) = _call(url, STAKING, "validators()", [], [], [f"{VALIDATOR}[]"])
        rows = [
            {
                "validator": name,
                "operator": to_checksum_address(operator),
                "tokens (SEI)": _fmt_sei(tokens),
                "commission": f"{Decimal(rate) / 10**16:f}%",
                "jailed": jailed,
                "tombstoned": tombstoned,
                "consensus pubkey": pubkey.hex() if any(pubkey) else "",
            }
            for name, operator, tokens, rate, jailed, pubkey, tombstoned in validators
        ]
        _print(args, rows, "validators")
    elif args.what == "delegation":
        ((balance, _details),) = _call(
            url,
            STAKING,
            "delegation(address,string)",
            ["address", "string"],
            [args.delegator, args.validator],
            [DELEGATION],
        )
        _print(args, [{"delegator": args.delegator, "validator": args.validator, "usei": balance[0]}], "delegation")
    elif args.what == "unbonding":
        (entries,) = _call(
            url,
            STAKING,
            "unbondingDelegation(address,string)",
            ["address", "string"],
            [args.delegator, args.validator],
            ["(uint256,uint64)[]"],
        )
        rows = [
            {"usei": amount, "completes": datetime.datetime.fromtimestamp(done, datetime.UTC).isoformat()}
            for amount, done in entries
        ]
        _print(args, rows, "unbonding entries")
    elif args.what == "rewards":
        per_validator, total = _rewards(url, args.delegator)
        rows = [{"validator": v, "usei": f"{usei:f}", "SEI": _fmt_sei(int(usei))} for v, usei in per_validator]
        if not args.json:
            rows.append({"validator": "total", "usei": f"{total:f}", "SEI": _fmt_sei(int(total))})
        _print(args, rows, f"pending rewards of {args.delegator} (withdrawals pay whole usei)")
    elif args.what == "community-pool":
        (pool,) = _call(url, DISTRIBUTION, "communityPool()", [], [], [COINS])
        tax, reward = _call(url, DISTRIBUTION, "params()", [], [], ["uint256", "uint256"])
        row = {
            "community_pool_usei": f"{_usei(pool):f}",
            "community_tax": f"{Decimal(tax) / 10**16:f}%",
            "block_reward_usei": reward,
        }
        _print(args, [row], "distribution")
    elif args.what == "params":
        unbonding, entries, validators, min_rate = _call(
            url, STAKING, "params()", [], [], ["uint64", "uint64", "uint64", "uint256"]
        )
        row = {
            "unbonding_time_s": unbonding,
            "max_entries": entries,
            "max_validators": validators,
            "min_commission": f"{Decimal(min_rate) / 10**16:f}%",
        }
        _print(args, [row], "staking parameters")
    elif args.what == "signing-info":
        info, operator, jailed, slashes, slashed = _call(
            url,
            SLASHING,
            "slashingInfo(string)",
            ["string"],
            [args.validator],
            [SIGNING_INFO, "string", "bool", "uint64", "uint256"],
        )
        consensus, start, observed, until, tombstoned, missed = info
        row = {
            "validator": operator,
            "consensus_address": consensus,
            "jailed": jailed,
            "jailed_until": datetime.datetime.fromtimestamp(until, datetime.UTC).isoformat() if until else "",
            "tombstoned": tombstoned,
            "window_start_height": start,
            "blocks_in_window": observed,
            "missed_blocks": missed,
            "slashes": slashes,
            "slashed_usei": slashed,
        }
        _print(args, [row], "signing info")
    elif args.what in governance_cli.QUERIES:
        rows, title = governance_cli.query(args, _rpc)
        _print(args, rows, title)
    else:
        (amount,) = _call(
            url, BANK, "balance(address,string)", ["address", "string"], [args.address, "usei"], ["uint256"]
        )
        (supply,) = _call(url, BANK, "supply(string)", ["string"], ["usei"], ["uint256"])
        _print(args, [{"address": args.address, "usei": amount, "supply_usei": supply}], "bank")


def _signer(args: argparse.Namespace) -> Any:
    if args.key_file is not None:
        try:
            return Account.from_key(Path(args.key_file).read_text().strip())
        except (OSError, ValueError) as e:
            raise CliError(f"key file {args.key_file}: {e}") from None
    account = dev_accounts(DEV_MNEMONIC, args.dev_account + 1)[args.dev_account]
    return Account.from_key(account.private_key)


def tx(args: argparse.Namespace) -> None:
    if args.action in governance_cli.ACTIONS:
        try:
            to, data, value = governance_cli.transaction(args)
        except ValueError as e:
            raise CliError(str(e)) from None
        send(args, to, data, value)
        return
    value = 0
    to = STAKING
    if args.action == "withdraw-rewards":
        to = DISTRIBUTION
        me = _signer(args).address
        validators = args.validator or [v for v, _ in _rewards(args.rpc, me)[0]]
        if not validators:
            raise CliError(f"{me} has no delegations to withdraw rewards from")
        signature, types, values = "withdrawMultipleDelegationRewards(string[])", ["string[]"], [validators]
    elif args.action == "withdraw-commission":
        to = DISTRIBUTION
        signature, types, values = "withdrawValidatorCommission(string)", ["string"], [args.validator]
    elif args.action == "set-withdraw-address":
        to = DISTRIBUTION
        try:
            address = to_checksum_address(args.address)
        except ValueError:
            raise CliError(f"{args.address!r} is not a 0x… address") from None
        signature, types, values = "setWithdrawAddress(address)", ["address"], [address]
    elif args.action == "unjail":
        to = SLASHING
        signature, types, values = "unjail()", [], []
    elif args.action == "delegate":
        signature, types, values = "delegate(string)", ["string"], [args.validator]
        value = int(_sei(args.amount) * WEI_PER_SEI)
    elif args.action == "undelegate":
        usei = int(_sei(args.amount) * USEI_PER_SEI)
        signature, types, values = "undelegate(string,uint256)", ["string", "uint256"], [args.validator, usei]
    else:
        usei = int(_sei(args.amount) * USEI_PER_SEI)
        signature = "redelegate(string,string,uint256)"
        types, values = ["string", "string", "uint256"], [args.validator, args.destination, usei]
    send(args, to, function_signature_to_4byte_selector(signature) + encode(types, values), value)


def send(args: argparse.Namespace, to: str, calldata: bytes, value: int) -> dict[str, Any]:
    """Signs, estimates (a bad call stops here with its revert reason), sends and waits for the receipt of a call
    to a module precompile; prints and returns what happened."""
    url = args.rpc
    signer = _signer(args)
    data = "0x" + calldata.hex()
    call = {"from": signer.address, "to": to, "data": data, "value": hex(value)}
    gas = int(_rpc(url, "eth_estimateGas", [call]), 16)
    base_fee = int(_rpc(url, "eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    tip = int(_rpc(url, "eth_maxPriorityFeePerGas", []), 16)
    transaction = {
        "chainId": int(_rpc(url, "eth_chainId", []), 16),
        "nonce": int(_rpc(url, "eth_getTransactionCount", [signer.address, "pending"]), 16),
        "to": to_checksum_address(to),
        "value": value,
        "data": data,
        "gas": gas,
        "maxFeePerGas": 2 * base_fee + tip,
        "maxPriorityFeePerGas": tip,
        "type": 2,
    }
    raw = signer.sign_transaction(transaction).raw_transaction
    tx_hash = _rpc(url, "eth_sendRawTransaction", ["0x" + bytes(raw).hex()])
    deadline = time.monotonic() + RECEIPT_WAIT_S
    while (receipt := _rpc(url, "eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise CliError(f"{tx_hash} sent, but no receipt after {RECEIPT_WAIT_S} s")
        time.sleep(0.2)
    if receipt["status"] != "0x1":
        raise CliError(f"{tx_hash} reverted in block {int(receipt['blockNumber'], 16)}")
    result = {"tx": tx_hash, "block": int(receipt["blockNumber"], 16), "gas_used": int(receipt["gasUsed"], 16)}
    extra = governance_cli.describe(args, receipt)
    result.update(extra)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.action}: {tx_hash} in block {result['block']}" + "".join(f", {k} {v}" for k, v in extra.items()))
    return result


def add_parsers(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser(
        "query", help="query the bank, staking, governance, distribution and slashing modules through a node's JSON-RPC"
    )
    q.add_argument("--rpc", default="http://127.0.0.1:8545")
    q.add_argument("--json", action="store_true", help="print JSON instead of tables")
    qs = q.add_subparsers(dest="what", required=True)
    qs.add_parser("validators", help="validators: bonded tokens, commission, jailed, tombstoned, consensus key")
    si = qs.add_parser("signing-info", help="a validator's liveness window, jail, tombstone and slashes")
    si.add_argument("validator", help="seivaloper1…, the operator's 0x… address or seivalcons1…")
    qs.add_parser("params", help="staking parameters")
    for name, help_ in (("delegation", "one delegation"), ("unbonding", "unbonding entries and when they complete")):
        p = qs.add_parser(name, help=help_)
        p.add_argument("delegator", help="0x… address")
        p.add_argument("validator", help="seivaloper1… or the operator's 0x… address")
    rw = qs.add_parser("rewards", help="a delegator's pending rewards per validator")
    rw.add_argument("delegator", help="0x… address")
    qs.add_parser("community-pool", help="the community pool and the distribution parameters")
    b = qs.add_parser("balance", help="an account's usei balance and the total supply")
    b.add_argument("address")
    governance_cli.add_query_parsers(qs)
    q.set_defaults(func=_run(query))

    t = sub.add_parser(
        "tx", help="staking, distribution, governance and slashing transactions through their precompiles"
    )
    t.add_argument("--rpc", default="http://127.0.0.1:8545")
    t.add_argument("--json", action="store_true")
    who = t.add_mutually_exclusive_group()
    who.add_argument("--key-file", type=Path, help="file holding a hex private key")
    who.add_argument("--dev-account", type=int, default=0, help="index of a devnet dev account (default 0)")
    ts = t.add_subparsers(dest="action", required=True)
    for name, help_ in (
        ("delegate", "bond AMOUNT SEI to VALIDATOR"),
        ("undelegate", "start unbonding AMOUNT SEI from VALIDATOR (returns after the unbonding period)"),
    ):
        p = ts.add_parser(name, help=help_)
        p.add_argument("validator")
        p.add_argument("amount", help="SEI, up to 6 decimals")
    r = ts.add_parser("redelegate", help="move AMOUNT SEI of stake from VALIDATOR to DESTINATION")
    r.add_argument("validator")
    r.add_argument("destination")
    r.add_argument("amount")
    w = ts.add_parser("withdraw-rewards", help="withdraw staking rewards (to the withdraw address)")
    w.add_argument(
        "--validator", action="append", help="seivaloper1… or 0x… (repeatable; default: every validator delegated to)"
    )
    c = ts.add_parser("withdraw-commission", help="withdraw VALIDATOR's commission (signed by its operator)")
    c.add_argument("validator")
    ts.add_parser("unjail", help="unjail the signer's validator once its jail time has passed")
    a = ts.add_parser("set-withdraw-address", help="pay future rewards to ADDRESS")
    a.add_argument("address", help="0x… address")
    governance_cli.add_tx_parsers(ts)
    t.set_defaults(func=_run(tx))


def _run(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            command(args)
        except CliError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0

    return run
