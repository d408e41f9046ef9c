"""py-evm as an independent reference EVM for pysei's differential tests.

``run_block(pre, env, raw_txs)`` executes signed raw EIP-2718 transactions one by one on py-evm's *state* object
for the requested fork (no block import, no header validation: pysei's headers — state root, receipts root… —
are not Ethereum's), applying pysei's block rules documented in :mod:`tests.oracle.model`:

* transaction validity is decided here, by :func:`check_tx`, following the execution specs rather than py-evm
  (py-evm is laxer in a few places, see below); invalid transactions are skipped and leave no trace;
* the base fee is not burned: py-evm would credit the coinbase with the tip only (and before deleting the
  accounts self-destructed by the transaction); the oracle makes py-evm pay nothing and credits the coinbase with
  ``gas_used * effective_gas_price`` after each included transaction, once its state changes are final;
* BLOCKHASH sees ``keccak256(str(n))`` for the previous 256 blocks (``model.block_hash``);
* no EIP-4788 (beacon roots) / EIP-2935 (history storage) system calls and no system-contract pre-deploys —
  pysei does neither, so the oracle's ``set_system_contracts`` is a no-op and ``block_preprocessing`` is never run.

py-evm deviations from the specs that :func:`check_tx` papers over (so that they don't read as pysei bugs):

* py-evm's intrinsic gas leaves out the EIP-3860 initcode word cost (it charges it as the first thing the
  creation does), so a create tx whose gas covers py-evm's intrinsic but not the spec's would be *included and
  run out of gas* in py-evm, but is *invalid* in revm/the spec. Checked here with the spec formula.
* py-evm lets an initcode over 49152 bytes into execution (it fails with out-of-gas); the spec rejects the tx.
* py-evm does not reject ``max_priority_fee_per_gas > max_fee_per_gas``, does not compare the transaction's chain
  id with the chain's, does not enforce EIP-3607 (sender with code) and does not require ``gas >= EIP-7623 floor``
  in Prague; all checked here.
* py-evm's balance check is ``gas * effective_price + value`` and ``gas * max_fee`` separately; the spec (and
  revm) require ``gas * max_fee + value``. Checked here.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any

from eth.constants import BLANK_ROOT_HASH, CREATE_CONTRACT_ADDRESS, SECPK1_N
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun import CancunVM
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.state import PragueState
from eth.vm.forks.shanghai import ShanghaiVM
from eth.vm.forks.shanghai.state import ShanghaiState
from eth_typing import Address, BlockNumber, Hash32

from .model import Account, BlockEnv, BlockOutcome, PreState, TxOutcome, block_hash

# -- spec constants (execution-specs names) ---------------------------------------------------------------------
TX_BASE_COST = 21_000
TX_CREATE_COST = 32_000
TX_DATA_COST_PER_ZERO = 4
TX_DATA_COST_PER_NON_ZERO = 16
TX_ACCESS_LIST_ADDRESS_COST = 2_400
TX_ACCESS_LIST_STORAGE_KEY_COST = 1_900
INITCODE_WORD_COST = 2
MAX_INITCODE_SIZE = 2 * 24_576
PER_EMPTY_ACCOUNT_COST = 25_000  # EIP-7702, per authorization, intrinsic
STANDARD_TOKEN_COST = 4  # EIP-7623
TOTAL_COST_FLOOR_PER_TOKEN = 10  # EIP-7623
DELEGATION_PREFIX = b"\xef\x01\x00"
MAX_NONCE = 2**64 - 1

SET_CODE_TX_TYPE = 4
BLOB_TX_TYPE = 3


def _tracking(cls: type[AccountDB]) -> type[AccountDB]:
    """AccountDB that remembers every address whose account record or storage was ever written.

    py-evm's state trie is keyed by keccak(address) and cannot be enumerated back to addresses; the oracle only
    needs the set of candidates for the post-state, which is exactly the set of written addresses plus the pre-state.
    """

    class TrackingAccountDB(cls):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.written_accounts: set[bytes] = set()
            self.written_slots: dict[bytes, set[int]] = defaultdict(set)

        def _set_account(self, address, account):  # type: ignore[no-untyped-def]
            self.written_accounts.add(bytes(address))
            super()._set_account(address, account)

        def set_storage(self, address, slot, value):  # type: ignore[no-untyped-def]
            self.written_accounts.add(bytes(address))
            self.written_slots[bytes(address)].add(slot)
            super().set_storage(address, slot, value)

    return TrackingAccountDB


def _oracle_state(base: Any) -> Any:
    class OracleState(base):  # type: ignore[misc,valid-type]
        account_db_class = _tracking(base.account_db_class)

        def set_system_contracts(self) -> None:
            # pysei has no EIP-4788 beacon-roots / EIP-2935 history-storage contracts and runs no system calls.
            pass

        def get_tip(self, transaction):  # type: ignore[no-untyped-def]
            # py-evm pays the coinbase its tip inside finalize_computation, *before* it deletes the accounts that
            # self-destructed in the transaction (so a self-destructing coinbase loses it, as on mainnet). pysei
            # credits the whole fee after the transaction's state is applied; the oracle does the same in
            # run_block, so py-evm itself pays nothing (it still touches the coinbase for EIP-161).
            return 0

    OracleState.__name__ = f"Oracle{base.__name__}"
    return OracleState


FORKS: dict[str, tuple[Any, Any]] = {
    "shanghai": (ShanghaiVM, _oracle_state(ShanghaiState)),
    "cancun": (CancunVM, _oracle_state(CancunState)),
    "prague": (PragueVM, _oracle_state(PragueState)),
}
"""spec name -> (py-evm VM class used for tx decoding / gas finalisation, state class used for execution)."""


class OracleInconsistency(AssertionError):
    """py-evm refused a transaction that :func:`check_tx` accepted: the oracle itself needs fixing."""


# -- transaction validity ----------------------------------------------------------------------------------------


def intrinsic_gas(tx: Any, spec: str) -> int:
    """Spec intrinsic gas (EIP-2028 calldata, EIP-2930 access list, EIP-3860 initcode words, EIP-7702 auths)."""
    data = bytes(tx.data)
    zeros = data.count(0)
    gas = TX_BASE_COST + zeros * TX_DATA_COST_PER_ZERO + (len(data) - zeros) * TX_DATA_COST_PER_NON_ZERO
    if tx.to == CREATE_CONTRACT_ADDRESS:
        gas += TX_CREATE_COST + INITCODE_WORD_COST * ((len(data) + 31) // 32)
    for _addr, slots in getattr(tx, "access_list", ()) or ():
        gas += TX_ACCESS_LIST_ADDRESS_COST + TX_ACCESS_LIST_STORAGE_KEY_COST * len(slots)
    if getattr(tx, "type_id", None) == SET_CODE_TX_TYPE:
        gas += PER_EMPTY_ACCOUNT_COST * len(tx.authorization_list)
    return gas


def floor_gas(tx: Any) -> int:
    """EIP-7623 (Prague) calldata floor."""
    data = bytes(tx.data)
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * STANDARD_TOKEN_COST
    return TX_BASE_COST + TOTAL_COST_FLOOR_PER_TOKEN * tokens


def _is_delegation(code: bytes) -> bool:
    return len(code) == 23 and code[:3] == DELEGATION_PREFIX


def check_tx(state: Any, env: BlockEnv, tx: Any, block_gas_used: int) -> str | None:
    """Return why ``tx`` is invalid at this point of the block, or None if it is to be executed."""
    type_id = getattr(tx, "type_id", None) or 0
    if type_id == BLOB_TX_TYPE:
        return "blob transactions are not supported"
    if type_id == SET_CODE_TX_TYPE and (env.spec != "prague" or not tx.authorization_list):
        return "type-4 tx before prague or with no authorizations"
    if not 0 < tx.s <= SECPK1_N // 2:
        return "signature s out of range (EIP-2)"
    if tx.chain_id is not None and tx.chain_id != env.chain_id:
        return "wrong chain id"
    sender = tx.sender
    code = state.get_code(sender)
    if code and not (env.spec == "prague" and _is_delegation(code)):
        return "sender has code (EIP-3607)"
    if state.get_nonce(sender) >= MAX_NONCE:
        return "sender nonce at maximum (EIP-2681)"
    if tx.nonce != state.get_nonce(sender):
        return "bad nonce"
    max_fee, prio = tx.max_fee_per_gas, tx.max_priority_fee_per_gas
    if prio > max_fee:
        return "priority fee above fee cap"
    if max_fee < env.base_fee:
        return "fee cap below base fee"
    intrinsic = intrinsic_gas(tx, env.spec)
    if env.spec == "prague":
        intrinsic = max(intrinsic, floor_gas(tx))
    if tx.gas < intrinsic:
        return "intrinsic gas too low"
    if tx.to == CREATE_CONTRACT_ADDRESS and len(tx.data) > MAX_INITCODE_SIZE:
        return "initcode too large"
    if tx.gas > env.gas_limit - block_gas_used:
        return "gas above remaining block gas"
    if state.get_balance(sender) < tx.gas * max_fee + tx.value:
        return "insufficient balance"
    return None


# -- block execution ---------------------------------------------------------------------------------------------


def make_state(pre: PreState, env: BlockEnv) -> Any:
    """A py-evm state for ``env``'s fork over a fresh in-memory DB seeded with ``pre``."""
    if env.spec not in FORKS:
        raise ValueError(f"unknown spec {env.spec!r}; expected one of {sorted(FORKS)}")
    _vm_class, state_class = FORKS[env.spec]
    prev_hashes = [Hash32(block_hash(n)) for n in range(env.number - 1, max(-1, env.number - 257), -1)]
    ctx = ExecutionContext(
        coinbase=Address(env.coinbase),
        timestamp=env.timestamp,
        block_number=BlockNumber(env.number),
        difficulty=0,
        mix_hash=Hash32(env.prevrandao),
        gas_limit=env.gas_limit,
        prev_hashes=prev_hashes,
        chain_id=env.chain_id,
        base_fee_per_gas=env.base_fee,
        excess_blob_gas=0 if env.spec != "shanghai" else None,
    )
    state = state_class(AtomicDB(), ctx, BLANK_ROOT_HASH)
    for addr, acct in pre.items():
        state.set_balance(addr, acct.balance)
        state.set_nonce(addr, acct.nonce)
        if acct.code:
            state.set_code(addr, acct.code)
        for slot, value in acct.storage.items():
            if value:
                state.set_storage(addr, slot, value)
    state.persist()
    return state


def decode_tx(spec: str, raw: bytes) -> Any | None:
    vm_class, _ = FORKS[spec]
    try:
        tx = vm_class.get_transaction_builder().decode(bytes(raw))
        tx.sender  # noqa: B018  (recover now: a bad signature makes the tx undecodable)
        tx.check_signature_validity()
    except Exception:
        return None
    return tx


def _logs(computation: Any) -> list[tuple[bytes, list[bytes], bytes]]:
    return [
        (bytes(addr), [t.to_bytes(32, "big") for t in topics], bytes(data))
        for addr, topics, data in computation.get_log_entries()
    ]


def post_state(state: Any, pre: PreState) -> PreState:
    db = state._account_db
    candidates = set(pre) | db.written_accounts
    out: PreState = {}
    for addr in sorted(candidates):
        slots = set(pre[addr].storage) if addr in pre else set()
        slots |= db.written_slots.get(addr, set())
        storage = {s: v for s in sorted(slots) if (v := state.get_storage(addr, s))}
        if not state.account_exists(addr) and not storage:
            continue
        acct = Account(state.get_balance(addr), state.get_nonce(addr), bytes(state.get_code(addr)), storage)
        if acct.is_empty() and not storage:
            continue
        out[addr] = acct
    return out


def run_block(pre: PreState, env: BlockEnv, raw_txs: list[bytes]) -> BlockOutcome:
    """Execute ``raw_txs`` in order on ``pre`` under ``env``; see the module doc for the rules."""
    return run_block_explained(pre, env, raw_txs)[0]


def run_block_explained(pre: PreState, env: BlockEnv, raw_txs: list[bytes]) -> tuple[BlockOutcome, list[str | None]]:
    """Like :func:`run_block`, also returning for each tx why it was skipped (None when included)."""
    with warnings.catch_warnings():
        # py-evm warns on every SELFDESTRUCT it executes
        warnings.filterwarnings("ignore", message="SELFDESTRUCT opcode", category=DeprecationWarning)
        return _run(pre, env, raw_txs)


def _run(pre: PreState, env: BlockEnv, raw_txs: list[bytes]) -> tuple[BlockOutcome, list[str | None]]:
    vm_class, _ = FORKS[env.spec]
    reasons: list[str | None] = []
    state = make_state(pre, env)
    outcomes: list[TxOutcome] = []
    block_gas_used = 0
    for raw in raw_txs:
        tx = decode_tx(env.spec, raw)
        reason = "undecodable or bad signature" if tx is None else check_tx(state, env, tx, block_gas_used)
        reasons.append(reason)
        if reason is not None:
            outcomes.append(TxOutcome.skipped())
            continue
        assert tx is not None
        # Start of a new transaction: current values become EIP-2200 "original" values, EIP-2929 warm sets reset.
        state.lock_changes()
        try:
            computation = state.apply_transaction(tx)
        except Exception as exc:  # ValidationError & co: py-evm disagrees with check_tx (or crashed)
            raise OracleInconsistency(f"py-evm raised on a tx check_tx accepted: {exc!r}") from exc
        gas_used = vm_class.finalize_gas_used(tx, computation)
        block_gas_used += gas_used
        # pysei does not burn the base fee: the coinbase gets gas_used * effective price, after the tx.
        fee = gas_used * state.get_gas_price(tx)
        if fee:
            state.delta_balance(env.coinbase, fee)
        contract_address = None
        if tx.to == CREATE_CONTRACT_ADDRESS:
            contract_address = bytes(computation.msg.storage_address)
        outcomes.append(
            TxOutcome(
                status=0 if computation.is_error else 1,
                gas_used=gas_used,
                logs=_logs(computation),
                contract_address=contract_address,
                included=True,
            )
        )
    state.lock_changes()
    return BlockOutcome(txs=outcomes, post=post_state(state, pre)), reasons
