"""Plain data model shared by the differential-test oracle (py-evm) and the pysei runner.

Both sides of the differential test take the same inputs — a pre-state, a block environment and a list of signed
raw EIP-2718 transactions — and return a :class:`BlockOutcome`. Everything here is deliberately dumb data so that
``==`` compares outcomes field by field and a failing hypothesis example prints readably.

Block-level rules that both sides must implement identically (pysei's execution rules, Sei-like):

* **Invalid transactions are skipped, not fatal.** Consensus orders transactions; execution drops the ones that are
  invalid *at their position in the block* (see :data:`SKIP_REASONS`) deterministically and the block continues.
  A skipped transaction leaves no trace: no nonce bump, no fee, no receipt (``TxOutcome(included=False)`` with
  zero/empty fields).
* **Base fee is not burned.** The coinbase receives ``gas_used * effective_gas_price`` for every included
  transaction (tip *and* base fee), credited after the transaction's state changes are final (so even a coinbase
  that self-destructed in that transaction gets it, unlike mainnet where that tip is lost); a later transaction in
  the same block observes it (BALANCE/SELFBALANCE of the coinbase). A zero credit does not create the account.
* **Block gas.** A transaction is skipped when ``tx.gas_limit > env.gas_limit - cumulative_gas_used`` where the
  cumulative figure sums the (post-refund, post-EIP-7623-floor) ``gas_used`` of the included transactions before
  it.
* **BLOCKHASH.** ``BLOCKHASH(n)`` for ``env.number - 256 <= n < env.number`` (and ``n >= 0``) is
  :func:`block_hash` ``(n) = keccak256(str(n).encode("ascii"))`` — e.g. block 41's hash is
  ``keccak256(b"41")``. Every other ``n`` (the current block, future blocks, older than 256, negative) gives 0.
* **No system calls.** pysei does not run the EIP-4788 beacon-roots or EIP-2935 history-storage system calls
  (nor the EIP-7002/7251 request contracts); the oracle does not either, and neither side pre-deploys those
  contracts.
* **Blob gas.** No blob transactions are generated; the blob base fee seen by BLOBBASEFEE is the minimum (1),
  i.e. ``excess_blob_gas = 0``.
* **Post state** lists every account that exists after the block — non-empty under EIP-161 (nonzero balance or
  nonce, or code) or holding storage — with only the nonzero storage slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_hash.auto import keccak

Address = bytes  # 20 bytes
Hash32 = bytes  # 32 bytes

SPECS = ("shanghai", "cancun", "prague")
"""Fork names accepted in :attr:`BlockEnv.spec` (lowercase, ordered)."""

SKIP_REASONS = (
    "undecodable, bad signature, or signature s above secp256k1n/2 (EIP-2)",
    "blob (type-3) transaction; type-4 transaction before Prague",
    "wrong chain id",
    "nonce != sender nonce (future or past)",
    "sender has code that is not an EIP-7702 delegation (EIP-3607)",
    "fee cap below base fee, or priority fee above fee cap",
    "balance < gas_limit * fee_cap + value",
    "gas_limit < intrinsic gas (incl. EIP-3860 initcode words; Prague: max(intrinsic, EIP-7623 floor))",
    "initcode larger than 49152 bytes (EIP-3860)",
    "gas_limit > remaining block gas",
    "type-4 tx with no authorizations or no recipient",
)
"""Why a transaction may be skipped; documentation only (outcomes don't carry the reason)."""


def block_hash(number: int) -> Hash32:
    """The hash the BLOCKHASH opcode returns for an ancestor ``number`` (see module doc for the window)."""
    return keccak(str(number).encode("ascii"))


def blockhash_opcode_value(current: int, requested: int) -> Hash32:
    """What BLOCKHASH(requested) evaluates to in block ``current`` (32 bytes, zero outside the window)."""
    if 0 <= requested < current and current - requested <= 256:
        return block_hash(requested)
    return b"\x00" * 32


@dataclass
class Account:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: dict[int, int] = field(default_factory=dict)
    """Only nonzero slots in outcomes; a pre-state should not list zero slots either."""

    def is_empty(self) -> bool:
        """EIP-161 emptiness (storage is not part of it)."""
        return self.balance == 0 and self.nonce == 0 and not self.code


PreState = dict[Address, Account]


@dataclass
class BlockEnv:
    number: int
    timestamp: int
    gas_limit: int
    base_fee: int
    coinbase: Address
    prevrandao: Hash32
    chain_id: int
    spec: str
    """One of :data:`SPECS`."""


Log = tuple[Address, list[Hash32], bytes]
"""(emitting address, topics as 32-byte values, data)."""


@dataclass
class TxOutcome:
    status: int = 0
    """1 success, 0 failure (revert / exceptional halt); 0 as well when not included."""
    gas_used: int = 0
    """Gas charged to the sender for this transaction, after refunds and the Prague calldata floor."""
    logs: list[Log] = field(default_factory=list)
    contract_address: Address | None = None
    """Set for an included contract-creation transaction (whether or not the creation succeeded), else None."""
    included: bool = False

    @classmethod
    def skipped(cls) -> TxOutcome:
        return cls()


@dataclass
class BlockOutcome:
    txs: list[TxOutcome]
    post: PreState


def copy_state(state: PreState) -> PreState:
    return {
        addr: Account(acct.balance, acct.nonce, bytes(acct.code), dict(acct.storage)) for addr, acct in state.items()
    }


def normalize_post(state: PreState) -> PreState:
    """Drop zero storage slots and accounts that are empty with no storage; use for hand-built expectations."""
    out: PreState = {}
    for addr, acct in state.items():
        storage = {k: v for k, v in acct.storage.items() if v}
        if acct.is_empty() and not storage:
            continue
        out[bytes(addr)] = Account(acct.balance, acct.nonce, bytes(acct.code), storage)
    return out


def _fmt_addr(a: bytes | None) -> str:
    return "None" if a is None else "0x" + a.hex()


def diff_outcomes(expected: BlockOutcome, actual: BlockOutcome, names: tuple[str, str] = ("oracle", "pysei")) -> str:
    """Human-readable description of every difference (empty string when equal)."""
    a, b = names
    lines: list[str] = []
    if len(expected.txs) != len(actual.txs):
        lines.append(f"tx count: {a}={len(expected.txs)} {b}={len(actual.txs)}")
    for i, (x, y) in enumerate(zip(expected.txs, actual.txs, strict=False)):
        if x == y:
            continue
        for fname in ("included", "status", "gas_used", "contract_address", "logs"):
            xv, yv = getattr(x, fname), getattr(y, fname)
            if xv != yv:
                if fname == "contract_address":
                    xv, yv = _fmt_addr(xv), _fmt_addr(yv)
                lines.append(f"tx[{i}].{fname}: {a}={xv!r} {b}={yv!r}")
    for addr in sorted(set(expected.post) | set(actual.post)):
        xa, ya = expected.post.get(addr), actual.post.get(addr)
        if xa == ya:
            continue
        if xa is None or ya is None:
            lines.append(f"account {_fmt_addr(addr)}: {a}={xa!r} {b}={ya!r}")
            continue
        for fname in ("balance", "nonce", "code"):
            xv, yv = getattr(xa, fname), getattr(ya, fname)
            if xv != yv:
                lines.append(f"account {_fmt_addr(addr)}.{fname}: {a}={xv!r} {b}={yv!r}")
        for slot in sorted(set(xa.storage) | set(ya.storage)):
            xv, yv = xa.storage.get(slot, 0), ya.storage.get(slot, 0)
            if xv != yv:
                lines.append(f"account {_fmt_addr(addr)}.storage[{hex(slot)}]: {a}={hex(xv)} {b}={hex(yv)}")
    return "\n".join(lines)
