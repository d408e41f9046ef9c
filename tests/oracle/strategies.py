"""Hypothesis strategies for random blocks: ``random_block(spec)`` -> :class:`RandomBlock` (pre, env, raw_txs).

The world of a random block:

* six EOAs with keys from fixed seeds (``EOA_KEYS``), each present in the pre-state or not, rich, poor or broke,
  with small random nonces (in Prague one may start out EIP-7702-delegated to STORE);
* the hand-assembled contracts of :mod:`tests.oracle.contracts` at fixed addresses (``ADDR``) with random balances
  and storage;
* a coinbase drawn from a fresh address, an EOA, a contract or the zero address.

Transactions (1..``max_txs``) mix legacy/EIP-2930/EIP-1559 (and EIP-7702 in Prague) types; kinds are value
transfers (to EOAs, self, fresh addresses, the coinbase, precompiles, contracts), deployments of named initcodes
(including constructors that self-destruct, revert, run out of gas, return 0xEF code or oversized code, and random
bytes) and calls with structured calldata to the contracts (nested through CALLER with CALL / DELEGATECALL /
STATICCALL / CALLCODE, to precompiles too). A fraction is deliberately invalid: future/past nonces, gas below
intrinsic, fee cap below base fee, priority fee above fee cap, wrong chain id, value above balance, oversized
initcode; small block gas limits make "gas above remaining block gas" happen as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from hypothesis import strategies as st

from .contracts import ADDR, FRESH, SPEC_ORDER, create_address, initcodes, runtimes
from .evm_asm import asm, word
from .model import Account, BlockEnv, PreState
from .txsign import Authorization, Key, TxSpec, key_from_seed, sign_tx

EOA_KEYS: list[Key] = [key_from_seed(f"pysei-oracle-eoa-{i}") for i in range(6)]
EOAS: list[bytes] = [k.address for k in EOA_KEYS]
COINBASE_FRESH = bytes.fromhex("cb" * 20)
ZERO = b"\x00" * 20
DELEGATION_PREFIX = b"\xef\x01\x00"

KINDS = ("STORE", "TRANSIENT", "LOGGER", "FACTORY", "REVERTER", "LOOPER", "DESTRUCTOR", "CALLER", "ENVREADER", "ARITH")
INIT_KIND = {
    "store": "STORE",
    "store+ctor": "STORE",
    "logger": "LOGGER",
    "reverter": "REVERTER",
    "destructor": "DESTRUCTOR",
    "caller": "CALLER",
    "envreader": "ENVREADER",
    "looper": "LOOPER",
    "factory": "FACTORY",
}
# initcodes FACTORY may be asked to deploy (kept small: they travel in calldata)
FACTORY_INITS = (
    "store", "store+ctor", "destructor", "reverter", "empty-runtime", "ctor-selfdestruct-caller",
    "ctor-selfdestruct-fresh", "ctor-selfdestruct-self", "ctor-revert", "ctor-oog", "ctor-returns-ef",
    "ctor-returns-oversize", "logger",
)  # fmt: skip


def precompiles(spec: str) -> list[bytes]:
    last = {"shanghai": 9, "cancun": 10, "prague": 17}[spec]
    return [i.to_bytes(20, "big") for i in range(1, last + 1)]


@dataclass
class RandomBlock:
    pre: PreState
    env: BlockEnv
    raw_txs: list[bytes]
    descr: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        pre = ", ".join(
            f"{_name(a)}(bal={acct.balance}, nonce={acct.nonce}, code={len(acct.code)}B, slots={len(acct.storage)})"
            for a, acct in self.pre.items()
        )
        txs = "\n    ".join(f"{d}\n      raw=0x{r.hex()}" for d, r in zip(self.descr, self.raw_txs, strict=True))
        return f"RandomBlock(\n  env={self.env!r}\n  pre=[{pre}]\n  txs=\n    {txs}\n)"

    def _repr_pretty_(self, p, cycle) -> None:  # type: ignore[no-untyped-def]  # hypothesis' falsifying-example printer
        p.text(repr(self))


_NAMES: dict[bytes, str] = {
    **{a: n for n, a in ADDR.items()},
    **{a: f"EOA{i}" for i, a in enumerate(EOAS)},
    **{a: f"FRESH{i}" for i, a in enumerate(FRESH)},
    COINBASE_FRESH: "CBFRESH",
    ZERO: "ZERO",
}


def _name(addr: bytes | None) -> str:
    if addr is None:
        return "CREATE"
    if addr in _NAMES:
        return _NAMES[addr]
    if addr[:19] == b"\x00" * 19:
        return f"PRECOMPILE{addr[19]}"
    return "0x" + addr.hex()


T = TypeVar("T")


def weighted(draw: st.DrawFn, options: list[tuple[int, T]]) -> T:
    """Draw one of ``options`` ((weight, value) pairs); shrinks towards the first one."""
    total = sum(w for w, _ in options)
    r = draw(st.integers(0, total - 1))
    for w, v in options:
        if r < w:
            return v
        r -= w
    raise AssertionError


# -- scalar strategies -------------------------------------------------------------------------------------------

slots = st.one_of(st.sampled_from([0, 1, 2, 3, 0xFF, 2**64, 2**256 - 1]), st.integers(0, 2**256 - 1))
values32 = st.one_of(st.sampled_from([0, 1, 2, 2**255, 2**256 - 1]), st.integers(0, 2**256 - 1))
wei = st.one_of(st.sampled_from([0, 0, 1, 10**9, 10**18]), st.integers(0, 10**18))


@st.composite
def envs(draw: st.DrawFn, spec: str) -> BlockEnv:
    return BlockEnv(
        number=draw(st.one_of(st.sampled_from([1, 2, 255, 256, 257, 1000]), st.integers(1, 2**40))),
        timestamp=draw(st.integers(1, 2**40)),
        gas_limit=weighted(draw, [(8, 30_000_000), (1, 5_000_000), (1, 1_000_000), (1, 200_000)]),
        base_fee=draw(st.one_of(st.sampled_from([0, 0, 1, 7, 10**9]), st.integers(0, 10**11))),
        coinbase=draw(
            st.sampled_from([COINBASE_FRESH, COINBASE_FRESH, EOAS[0], ADDR["STORE"], ADDR["DESTRUCTOR"], ZERO])
        ),
        prevrandao=draw(st.binary(min_size=32, max_size=32)),
        chain_id=draw(st.sampled_from([1, 1329, 713715])),
        spec=spec,
    )


@st.composite
def pre_states(draw: st.DrawFn, spec: str) -> PreState:
    pre: PreState = {}
    for i, addr in enumerate(EOAS):
        if i < 4:  # EOA0..3 always exist and can pay for anything generated
            balance = draw(st.sampled_from([10**21, 10**21, 10**20]))
        else:  # EOA4/5 may be poor or absent
            maybe = weighted(draw, [(2, 10**21), (1, 10**16), (1, 50_000), (1, None)])
            if maybe is None:
                continue
            balance = maybe
        code = b""
        if spec == "prague" and i == 5 and draw(st.booleans()):
            code = DELEGATION_PREFIX + ADDR["STORE"]
        pre[addr] = Account(balance=balance, nonce=draw(st.integers(0, 3)), code=code)
    for name, code in runtimes(spec).items():
        storage = draw(st.dictionaries(st.sampled_from([0, 1, 2, 3]), st.integers(1, 2**256 - 1), max_size=3))
        pre[ADDR[name]] = Account(balance=draw(st.sampled_from([0, 1, 10**18])), nonce=1, code=code, storage=storage)
    pre[ADDR["ARITH"]] = Account(balance=0, nonce=1, code=draw(arith_code(spec)))
    return pre


# -- random straight-line code -----------------------------------------------------------------------------------

edge_words = st.one_of(
    st.sampled_from(
        [0, 1, 2, 3, 7, 8, 31, 32, 33, 255, 256, 2**64, 2**128, 2**255 - 1, 2**255, 2**255 + 1, 2**256 - 2, 2**256 - 1]
    ),
    st.integers(0, 2**256 - 1),
)
BINOPS = ["ADD", "MUL", "SUB", "DIV", "SDIV", "MOD", "SMOD", "EXP", "SIGNEXTEND", "LT", "GT", "SLT", "SGT", "EQ",
          "AND", "OR", "XOR", "BYTE", "SHL", "SHR", "SAR"]  # fmt: skip


@st.composite
def _operand(draw: st.DrawFn) -> list[object]:
    if draw(st.integers(0, 3)) == 0:
        return [32 * draw(st.integers(0, 3)), "CALLDATALOAD"]
    return [draw(edge_words)]


@st.composite
def _small(draw: st.DrawFn) -> list[object]:
    """A memory offset / length: mostly small, sometimes large enough to cost real memory-expansion gas."""
    return [draw(st.one_of(st.sampled_from([0, 1, 31, 32, 33, 64]), st.integers(0, 300), st.integers(0, 70_000)))]


@st.composite
def arith_code(draw: st.DrawFn, spec: str) -> bytes:
    cancun = SPEC_ORDER[spec] >= SPEC_ORDER["cancun"]
    items: list[object] = []
    for _ in range(draw(st.integers(1, 8))):
        slot = draw(st.integers(0, 7))
        stmt = draw(st.sampled_from(["bin", "bin", "bin", "tern", "un", "mstore", "keccak", "msize", "cdcopy",
                                      "rdcopy", "log", "mcopy", "transient"]))  # fmt: skip
        if stmt == "bin":
            b, a = draw(_operand()), draw(_operand())
            items += b + a + [draw(st.sampled_from(BINOPS)), slot, "SSTORE"]
        elif stmt == "tern":
            items += draw(_operand()) + draw(_operand()) + draw(_operand())
            items += [draw(st.sampled_from(["ADDMOD", "MULMOD"])), slot, "SSTORE"]
        elif stmt == "un":
            items += draw(_operand()) + [draw(st.sampled_from(["ISZERO", "NOT"])), slot, "SSTORE"]
        elif stmt == "mstore":
            items += draw(_operand()) + draw(_small()) + [draw(st.sampled_from(["MSTORE", "MSTORE8"]))]
        elif stmt == "keccak":
            items += draw(_small()) + draw(_small()) + ["KECCAK256", slot, "SSTORE"]
        elif stmt == "msize":
            items += ["MSIZE", slot, "SSTORE"]
        elif stmt == "cdcopy":
            items += draw(_small()) + draw(_small()) + draw(_small()) + ["CALLDATACOPY"]
        elif stmt == "rdcopy":  # no call happened: any nonzero length is out of bounds (exceptional halt)
            items += [draw(st.sampled_from([0, 0, 1])), 0, 0, "RETURNDATACOPY"]
        elif stmt == "log":
            items += draw(_small()) + draw(_small()) + ["LOG0"]
        elif stmt == "mcopy" and cancun:
            items += draw(_small()) + draw(_small()) + draw(_small()) + ["MCOPY"]
        elif stmt == "transient" and cancun:
            items += draw(_operand()) + [slot, "TSTORE", slot, "TLOAD", slot + 8, "SSTORE"]
    items.append("STOP")
    return asm(*items)


# -- block construction ------------------------------------------------------------------------------------------


class _Ctx:
    """Book-keeping while drawing a block: expected nonces, contracts created so far, 7702 delegations."""

    def __init__(self, spec: str, env: BlockEnv, pre: PreState) -> None:
        self.spec = spec
        self.env = env
        self.pre = pre
        self.inits = initcodes(spec)
        self.nonces = {a: (pre[a].nonce if a in pre else 0) for a in EOAS}
        self.kind_of: dict[bytes, str] = {ADDR[n]: n.rstrip("2") for n in ADDR}
        for a in EOAS:
            code = pre[a].code if a in pre else b""
            if code.startswith(DELEGATION_PREFIX):
                self.kind_of[a] = self.kind_of[code[3:]]
        # addresses a deployment / FACTORY may produce (CREATE at the next few nonces)
        self.maybe_created = [create_address(ADDR["FACTORY"], n) for n in (1, 2)]
        for a in EOAS[:3]:
            self.maybe_created.append(create_address(a, self.nonces[a]))
        self.raw: list[bytes] = []
        self.descr: list[str] = []

    def pool(self) -> list[bytes]:
        return (
            EOAS + list(ADDR.values()) + FRESH + [COINBASE_FRESH, ZERO] + precompiles(self.spec)[:5]
            + self.maybe_created[:3]
        )  # fmt: skip


def _blockhash_arg(env: BlockEnv) -> st.SearchStrategy[int]:
    n = env.number
    return st.one_of(st.sampled_from([n - 1, n - 2, n - 256, n - 257, n, n + 1, 0]), st.integers(0, 2**256 - 1))


@st.composite
def calldata_for(draw: st.DrawFn, ctx: _Ctx, kind: str | None, depth: int = 0) -> bytes:
    if kind is None:
        kind = draw(st.sampled_from(KINDS + ("RAW",)))
    if kind in ("STORE", "TRANSIENT"):
        return word(draw(slots)) + word(draw(values32)) + word(draw(slots))
    if kind == "LOGGER":
        n = draw(st.one_of(st.integers(0, 4), st.integers(0, 2**256 - 1)))
        topics = b"".join(word(draw(values32)) for _ in range(4))
        return word(n) + topics + draw(st.binary(max_size=40))
    if kind == "FACTORY":
        name = draw(st.sampled_from(FACTORY_INITS))
        salt = draw(st.sampled_from([0, 1, 2**256 - 1]))
        mode = draw(st.integers(0, 3)) | (4 if draw(st.integers(0, 4)) == 0 else 0)
        return word(mode) + word(salt) + word(draw(st.sampled_from([0, 0, 1, 12345]))) + ctx.inits[name]
    if kind == "REVERTER":
        return draw(st.binary(max_size=64))
    if kind == "LOOPER":
        return b""
    if kind == "ARITH":
        return b"".join(word(draw(edge_words)) for _ in range(draw(st.integers(0, 3))))
    if kind == "DESTRUCTOR":
        return word(draw(st.sampled_from(ctx.pool())))
    if kind == "ENVREADER":
        return word(draw(_blockhash_arg(ctx.env)) % 2**256) + word(draw(st.sampled_from(ctx.pool())))
    if kind == "CALLER":
        target = draw(st.sampled_from(ctx.pool() + precompiles(ctx.spec)))
        value = draw(st.sampled_from([0, 0, 1, 10**6]))
        mode = draw(st.integers(0, 3)) | (draw(st.sampled_from([0, 0, 2_300, 30_000, 100_000])) << 8)
        inner_kind = ctx.kind_of.get(target)
        if inner_kind == "CALLER" and depth >= 1:
            inner = b""
        elif inner_kind is not None:
            inner = draw(calldata_for(ctx, inner_kind, depth + 1))
        else:
            inner = draw(st.binary(max_size=64))
        return word(target) + word(value) + word(mode) + inner
    return draw(st.binary(max_size=40))


def _intrinsic(spec: str, to: bytes | None, data: bytes, access_list, n_auth: int) -> int:  # type: ignore[no-untyped-def]
    zeros = data.count(0)
    gas = 21_000 + 4 * zeros + 16 * (len(data) - zeros)
    if to is None:
        gas += 32_000 + 2 * ((len(data) + 31) // 32)
    gas += sum(2_400 + 1_900 * len(s) for _, s in access_list) + 25_000 * n_auth
    if spec == "prague":
        gas = max(gas, 21_000 + 10 * (zeros + 4 * (len(data) - zeros)))
    return gas


@st.composite
def _tx(draw: st.DrawFn, ctx: _Ctx, index: int) -> None:
    spec, env = ctx.spec, ctx.env
    sender_i = weighted(draw, [(3, 0), (3, 1), (3, 2), (2, 3), (1, 4), (1, 5)])
    key, sender = EOA_KEYS[sender_i], EOAS[sender_i]
    types = [0, 1, 2] + ([4] if spec == "prague" else [])
    tx_type = draw(st.sampled_from(types))
    kind = draw(st.sampled_from(["transfer", "transfer", "deploy", "call", "call", "call", "call"]))
    if tx_type == 4 and kind == "deploy":
        kind = "call"
    meant_valid = True
    notes: list[str] = []

    # EIP-7702 authorizations
    auths: list[Authorization] = []
    auth_effects: list[tuple[bytes, str | None, bool]] = []  # (authority, new kind, meant to apply)
    if tx_type == 4:
        for _ in range(draw(st.integers(1, 2))):
            ai = draw(st.integers(0, len(EOAS) - 1))
            delegate = draw(st.sampled_from([ADDR["STORE"], ADDR["CALLER"], ADDR["LOGGER"], ADDR["DESTRUCTOR"], ZERO]))
            expected = ctx.nonces[EOAS[ai]] + (1 if ai == sender_i else 0)
            nonce_ok = draw(st.integers(0, 5)) > 0
            auth_nonce = expected if nonce_ok else expected + 1
            chain_choice = draw(st.sampled_from([env.chain_id, env.chain_id, 0, env.chain_id + 1]))
            auths.append(Authorization(chain_choice, delegate, auth_nonce, EOA_KEYS[ai]))
            ok = nonce_ok and chain_choice in (0, env.chain_id)
            auth_effects.append((EOAS[ai], None if delegate == ZERO else ctx.kind_of.get(delegate), ok))

    # recipient and payload
    to: bytes | None
    data = b""
    value = draw(st.sampled_from([0, 0, 1, 10**6]))
    created_kind: str | None = None
    if kind == "transfer":
        to = draw(
            st.sampled_from(
                [sender, COINBASE_FRESH, ZERO, *FRESH, *EOAS, *precompiles(spec)[:4], ADDR["LOOPER"], ADDR["STORE"]]
                + ctx.maybe_created[:2]
            )
        )
        value = draw(wei)
        if draw(st.integers(0, 5)) == 0:
            data = draw(st.binary(max_size=24))
    elif kind == "deploy":
        to = None
        choice = draw(st.sampled_from(sorted(ctx.inits) + ["RANDOM", "OVERSIZE"]))
        if choice == "RANDOM":
            data = draw(st.binary(max_size=48))
        elif choice == "OVERSIZE":
            data = b"\x00" * (2 * 24_576 + 1)  # EIP-3860: invalid tx
            meant_valid = False
        else:
            data = ctx.inits[choice]
            created_kind = INIT_KIND.get(choice)
        notes.append(f"init={choice}")
    else:
        target_kind: str | None
        call_authority: bool = bool(auth_effects) and draw(st.booleans())
        if call_authority:  # call an account delegated by this very transaction
            to, target_kind, _ok = draw(st.sampled_from(auth_effects))
        else:
            if draw(st.integers(0, 9)) == 0:
                to = draw(st.sampled_from(ctx.maybe_created[:3]))
            else:
                to = draw(st.sampled_from(list(ctx.kind_of)))
            target_kind = ctx.kind_of.get(to)
        data = draw(calldata_for(ctx, target_kind))
        notes.append(f"{target_kind or '?'}:{len(data)}B")

    # access list
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = ()
    if tx_type != 0 and draw(st.integers(0, 2)) == 0:
        access_list = tuple(
            (draw(st.sampled_from(ctx.pool())), tuple(draw(st.lists(st.sampled_from([0, 1, 2, 2**64]), max_size=2))))
            for _ in range(draw(st.integers(1, 2)))
        )

    # at most one deliberate fault per transaction (shrinks towards none)
    fault = draw(
        st.sampled_from(
            [None] * 24
            + ["nonce_future", "nonce_past", "gas_low", "fee_below_base", "prio_above_max", "chain_id", "value"]
        )
    )
    base = env.base_fee
    if fault == "fee_below_base" and base == 0:
        fault = None
    if fault == "prio_above_max" and tx_type in (0, 1):
        fault = None
    if fault is not None:
        meant_valid = False
    elif not meant_valid:
        fault = "initcode_size"

    # nonce
    nonce = ctx.nonces[sender]
    if fault == "nonce_future" or (fault == "nonce_past" and nonce == 0):
        nonce += draw(st.integers(1, 2))
    elif fault == "nonce_past":
        nonce -= 1

    # fees
    tip = draw(st.one_of(st.sampled_from([0, 1, 2, 10**9]), st.integers(0, 10**10)))
    if tx_type in (0, 1):
        max_fee = base + tip if fault != "fee_below_base" else base - draw(st.integers(1, base))
        prio = max_fee
    elif fault == "fee_below_base":
        max_fee = base - draw(st.integers(1, base))
        prio = draw(st.integers(0, max_fee))
    else:
        max_fee = base + tip + draw(st.sampled_from([0, 0, 1, 10**9]))
        prio = draw(st.integers(0, max_fee))
        if fault == "prio_above_max":
            prio = max_fee + draw(st.integers(1, 100))

    # chain id
    chain_id = env.chain_id + 1 if fault == "chain_id" else env.chain_id

    # gas
    intrinsic = _intrinsic(spec, to, data, access_list, len(auths))
    if fault == "gas_low":
        gas = max(0, intrinsic - draw(st.integers(1, 3_000)))
    else:
        extra = weighted(draw, [
            (6, 300_000), (6, 1_000_000), (3, 100_000), (2, 30_000), (2, 0), (1, 5_000), (1, 3_000_000),
            (3, draw(st.integers(0, 2_000_000))),
        ])  # fmt: skip
        gas = intrinsic + extra

    # value above balance
    if fault == "value":
        value = (ctx.pre[sender].balance if sender in ctx.pre else 0) + 1

    tx = TxSpec(
        type=tx_type, chain_id=chain_id, nonce=nonce, gas=gas, to=to, value=value, data=data, max_fee=max_fee,
        max_priority_fee=prio, access_list=access_list, authorizations=tuple(auths),
    )  # fmt: skip
    ctx.raw.append(sign_tx(tx, key))
    auth_note = (
        " auths=["
        + ", ".join(f"{_name(a.signer.address)}->{_name(a.address)}#{a.nonce}@{a.chain_id}" for a in auths)
        + "]"
        if auths
        else ""
    )
    ctx.descr.append(
        f"#{index} {_name(sender)}->{_name(to)} type={tx_type} {kind} {' '.join(notes)} nonce={nonce} "
        f"gas={gas} (intrinsic {intrinsic}) fee={max_fee}/{prio} value={value} "
        f"chain={chain_id}{auth_note}{'' if fault is None else ' [fault: ' + fault + ']'}"
    )

    # book-keeping for later draws (best effort: a 'valid' tx may still be skipped, e.g. for lack of funds)
    if meant_valid:
        ctx.nonces[sender] += 1
        if to is None:
            addr = create_address(sender, nonce)
            ctx.kind_of[addr] = created_kind or "RAW"
        for authority, new_kind, ok in auth_effects:
            if ok:
                ctx.nonces[authority] += 1
                if new_kind is None:
                    ctx.kind_of.pop(authority, None)
                else:
                    ctx.kind_of[authority] = new_kind


@st.composite
def _random_block(draw: st.DrawFn, spec: str, max_txs: int) -> RandomBlock:
    env = draw(envs(spec))
    pre = draw(pre_states(spec))
    ctx = _Ctx(spec, env, pre)
    n = draw(st.integers(1, max_txs))
    for i in range(n):
        draw(_tx(ctx, i))
    return RandomBlock(pre=pre, env=env, raw_txs=ctx.raw, descr=ctx.descr)


def random_block(spec: str, *, max_txs: int = 10) -> st.SearchStrategy[RandomBlock]:
    """Strategy for a random block of fork ``spec`` ("shanghai", "cancun" or "prague")."""
    if spec not in SPEC_ORDER:
        raise ValueError(f"unknown spec {spec!r}")
    return _random_block(spec, max_txs)
