"""The network genesis: 10,000,000,000 SEI allocated 48% ecosystem reserve, 20% team, 20% private sale, 9%
foundation and 3% community programs, the validators with their self-delegations, and the module parameters.

A genesis file is JSON (``pysei genesis write`` makes one, ``pysei genesis validate`` checks one). Amounts are in
usei (1 SEI = 10^6 usei = 10^18 wei). A validator's self-delegation is bonded out of its operator's allocation,
so the operator must hold an allocation at least that large. The module state (bank supply, staking
parameters, validators and their self-delegations) is laid out by the kernel (``native.module_genesis``), the
one place that knows the modules' storage layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import msgspec

from pysei import native
from pysei.chain.constants import DEVNET_CHAIN_ID, WEI_PER_USEI
from pysei.native import keccak

USEI_PER_SEI = 10**6
TOTAL_SUPPLY_USEI = 10_000_000_000 * USEI_PER_SEI
DAY = 86_400

CATEGORIES: dict[str, int] = {
    "ecosystem_reserve": 48,
    "team": 20,
    "private_sale": 20,
    "foundation": 9,
    "community": 3,
}
"""Allocation categories and their percentage of the total supply."""

GenesisAlloc = list[tuple[bytes, int, int, bytes, list[tuple[int, int]]]]
"""(address, balance in wei, nonce, code, storage slots): what the store commits as block 0."""

DEC_ONE = 10**18
"""Rates are 18-decimal fixed point in the kernel, as Cosmos ``Dec``."""


class GenesisError(ValueError):
    """An invalid genesis file, with the reason."""


class Allocation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    address: str
    category: str
    amount_usei: int


class Validator(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    operator: str
    self_delegation_usei: int
    commission_rate: str = "0.10"
    moniker: str = ""
    consensus_pubkey: str | None = msgspec.field(default=None, name="consensusPubkey")
    """The validator's Ed25519 consensus public key, 64 hex characters; only validators with one sit in the
    committees consensus runs with (a single-sequencer devnet needs none)."""


class StakingParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    unbonding_time: int = 21 * DAY
    """Seconds of block time an undelegation takes (Sei: 21 days)."""
    max_entries: int = 7
    """Unbonding (and redelegation) entries at most per delegator and validator."""
    max_validators: int = 35
    min_commission_rate: str = "0.05"
    epoch_blocks: int = 100
    """Blocks per epoch: the committee changes only at epoch boundaries. Not governable: consensus maps every
    slot to its epoch's committee by this number, so changing it mid-chain would re-map slots to other
    committees."""


class DistributionParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    community_tax: str = "0.02"
    """Share of each block's fees and reward paid to the community pool (Cosmos's default, which Sei keeps)."""
    block_reward_usei: int = 0
    """Usei minted at the end of each block and distributed with the fees (0: no inflation)."""


class GovParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Governance parameters (Sei's: mainnet deposit and voting period, Cosmos's tally defaults); a devnet genesis
    may shorten the periods to seconds."""

    min_deposit_usei: int = 3_500 * 10**6
    """Deposits a proposal needs before its voting period starts (Sei mainnet: 3,500 SEI)."""
    max_deposit_period: int = 2 * DAY
    """Seconds a proposal may wait for its minimum deposit; then it is rejected and its deposits burn."""
    voting_period: int = 3 * DAY
    quorum: str = "0.334"
    threshold: str = "0.5"
    veto_threshold: str = "0.334"


class Genesis(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    chain_id: int
    total_supply_usei: int
    allocations: list[Allocation]
    validators: list[Validator]
    staking: StakingParams = StakingParams()
    distribution: DistributionParams = DistributionParams()
    gov: GovParams = GovParams()


def _address(text: str, what: str) -> bytes:
    raw = text.removeprefix("0x")
    if len(raw) != 40:
        raise GenesisError(f"{what}: {text!r} is not a 0x-prefixed 20-byte address")
    try:
        return bytes.fromhex(raw)
    except ValueError:
        raise GenesisError(f"{what}: {text!r} is not hex") from None


def _rate(text: str, what: str) -> int:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise GenesisError(f"{what}: {text!r} is not a decimal number") from None
    if not Decimal(0) <= value <= Decimal(1):
        raise GenesisError(f"{what}: {text} must be within [0, 1]")
    scaled = value * DEC_ONE
    if scaled != scaled.to_integral_value():
        raise GenesisError(f"{what}: {text} has more than 18 decimals")
    return int(scaled)


def _consensus_pubkey(v: Validator) -> bytes | None:
    if v.consensus_pubkey is None:
        return None
    raw = v.consensus_pubkey.removeprefix("0x")
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = b""
    if len(raw) != 64 or len(key) != 32:
        raise GenesisError(
            f"validator {v.operator}: consensusPubkey {v.consensus_pubkey!r} is not an Ed25519 public key "
            "(64 hex characters)"
        )
    return key


def placeholder_address(label: str) -> str:
    """A deterministic address nobody holds a key for (the default genesis's allocations)."""
    return "0x" + keccak(f"pysei/genesis/{label}".encode())[12:].hex()


def default_genesis(
    chain_id: int = DEVNET_CHAIN_ID,
    validators: list[tuple[str, int]] | None = None,
    staking: StakingParams | None = None,
    distribution: DistributionParams | None = None,
    gov: GovParams | None = None,
) -> Genesis:
    """The network's 10B SEI split by category, one placeholder address per category; `validators` as
    (operator, self-delegation in usei), each given the self-delegation as a foundation allocation of its own
    (default: one validator bonding 1,000,000 SEI)."""
    if validators is None:
        validators = [(placeholder_address("validator/0"), 1_000_000 * USEI_PER_SEI)]
    allocations: list[Allocation] = []
    for category, percent in CATEGORIES.items():
        amount = TOTAL_SUPPLY_USEI * percent // 100
        if category == "foundation":
            for operator, bonded in validators:
                allocations.append(Allocation(operator, category, bonded))
                amount -= bonded
        allocations.append(Allocation(placeholder_address(category), category, amount))
    return Genesis(
        chain_id=chain_id,
        total_supply_usei=TOTAL_SUPPLY_USEI,
        allocations=allocations,
        validators=[Validator(op, bonded, moniker=f"validator-{i}") for i, (op, bonded) in enumerate(validators)],
        staking=staking or StakingParams(),
        distribution=distribution or DistributionParams(),
        gov=gov or GovParams(),
    )


def validate(genesis: Genesis) -> None:
    """Raises `GenesisError` with the first problem found."""
    if genesis.total_supply_usei != TOTAL_SUPPLY_USEI:
        raise GenesisError(f"total supply must be {TOTAL_SUPPLY_USEI} usei (10B SEI), not {genesis.total_supply_usei}")
    by_category = dict.fromkeys(CATEGORIES, 0)
    held: dict[bytes, int] = {}
    for a in genesis.allocations:
        if a.category not in CATEGORIES:
            raise GenesisError(f"allocation {a.address}: unknown category {a.category!r} (have {sorted(CATEGORIES)})")
        if a.amount_usei <= 0:
            raise GenesisError(f"allocation {a.address}: amount must be positive")
        address = _address(a.address, "allocation")
        by_category[a.category] += a.amount_usei
        held[address] = held.get(address, 0) + a.amount_usei
    for category, percent in CATEGORIES.items():
        want = genesis.total_supply_usei * percent // 100
        if by_category[category] != want:
            raise GenesisError(f"category {category}: allocations sum to {by_category[category]} usei, not {percent}%")
    if not genesis.validators:
        raise GenesisError("genesis needs at least one validator")
    for v in genesis.validators:
        operator = _address(v.operator, "validator")
        if v.self_delegation_usei > held.get(operator, 0):
            raise GenesisError(f"validator {v.operator}: self-delegation exceeds its operator's allocation")
        held[operator] = held.get(operator, 0) - v.self_delegation_usei
    if genesis.staking.epoch_blocks < 1:
        raise GenesisError("staking.epoch_blocks must be at least 1")
    if genesis.staking.unbonding_time < 0:
        raise GenesisError("staking.unbonding_time must not be negative")
    if genesis.distribution.block_reward_usei < 0:
        raise GenesisError("distribution.block_reward_usei must not be negative")
    # The kernel checks the rest (duplicates, commission bounds, entry limits) while laying out the state.
    _module_slots(genesis, 0)


def _module_slots(genesis: Genesis, extra_usei: int) -> list[tuple[bytes, list[tuple[int, int]]]]:
    s = genesis.staking
    min_rate = _rate(s.min_commission_rate, "staking.min_commission_rate")
    validators = [
        (
            _address(v.operator, "validator"),
            v.self_delegation_usei,
            _rate(v.commission_rate, f"validator {v.operator}"),
            _consensus_pubkey(v),
        )
        for v in genesis.validators
    ]
    d = genesis.distribution
    community_tax = _rate(d.community_tax, "distribution.community_tax")
    g = genesis.gov
    if min(g.max_deposit_period, g.voting_period) < 0:
        raise GenesisError("gov periods must not be negative")
    quorum, threshold = _rate(g.quorum, "gov.quorum"), _rate(g.threshold, "gov.threshold")
    veto = _rate(g.veto_threshold, "gov.veto_threshold")
    try:
        return native.module_genesis(
            genesis.total_supply_usei + extra_usei,
            (s.unbonding_time, s.max_entries, s.max_validators, min_rate, s.epoch_blocks),
            validators,
            (community_tax, d.block_reward_usei),
            (g.min_deposit_usei, g.max_deposit_period, g.voting_period, quorum, threshold, veto),
        )
    except ValueError as e:
        raise GenesisError(str(e)) from None


def alloc(genesis: Genesis, extra: Sequence[tuple[bytes, int]] = ()) -> GenesisAlloc:
    """The store allocation of `genesis` plus `extra` (address, wei) accounts on top (the devnet's dev
    accounts; each must hold whole usei, which the total supply counts too)."""
    validate(genesis)
    balances: dict[bytes, int] = {}
    for a in genesis.allocations:
        address = _address(a.address, "allocation")
        balances[address] = balances.get(address, 0) + a.amount_usei * WEI_PER_USEI
    for v in genesis.validators:
        balances[_address(v.operator, "validator")] -= v.self_delegation_usei * WEI_PER_USEI
    extra_usei = 0
    for address, wei in extra:
        if wei % WEI_PER_USEI:
            raise GenesisError(f"account 0x{address.hex()}: balance must be whole usei")
        balances[address] = balances.get(address, 0) + wei
        extra_usei += wei // WEI_PER_USEI
    out: GenesisAlloc = [(address, wei, 0, b"", []) for address, wei in balances.items() if wei]
    for address, slots in _module_slots(genesis, extra_usei):
        out.append((address, 0, 0, native.MODULE_CODE, slots))
    return out


def load(path: Path) -> Genesis:
    try:
        genesis = msgspec.json.decode(path.read_bytes(), type=Genesis)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as e:
        raise GenesisError(f"{path}: {e}") from None
    validate(genesis)
    return genesis


def print_summary(genesis: Genesis) -> None:
    """The allocation by category and the validators, as tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    alloc_table = Table(title=f"genesis of chain {genesis.chain_id}: {genesis.total_supply_usei // USEI_PER_SEI:,} SEI")
    for col in ("category", "share", "SEI", "accounts"):
        alloc_table.add_column(col, justify="left" if col == "category" else "right")
    for category, percent in CATEGORIES.items():
        rows = [a for a in genesis.allocations if a.category == category]
        total = sum(a.amount_usei for a in rows)
        alloc_table.add_row(category, f"{percent}%", f"{total // USEI_PER_SEI:,}", str(len(rows)))
    console.print(alloc_table)
    val_table = Table(title="validators")
    for col in ("operator", "self-delegation (SEI)", "commission"):
        val_table.add_column(col)
    for v in genesis.validators:
        val_table.add_row(v.operator, f"{v.self_delegation_usei // USEI_PER_SEI:,}", v.commission_rate)
    console.print(val_table)
    s = genesis.staking
    console.print(
        f"staking: unbonding {s.unbonding_time} s, at most {s.max_entries} entries, "
        f"{s.max_validators} validators, min commission {s.min_commission_rate}"
    )
    d = genesis.distribution
    console.print(f"distribution: community tax {d.community_tax}, block reward {d.block_reward_usei} usei")
    g = genesis.gov
    console.print(
        f"gov: min deposit {Decimal(g.min_deposit_usei) / USEI_PER_SEI:,f} SEI, "
        f"deposit period {g.max_deposit_period} s, voting period {g.voting_period} s, "
        f"quorum {g.quorum}, threshold {g.threshold}, veto {g.veto_threshold}"
    )


def dump(genesis: Genesis) -> bytes:
    return msgspec.json.format(msgspec.json.encode(genesis), indent=2) + b"\n"
