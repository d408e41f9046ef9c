"""Hand-written checks of the py-evm oracle (and of the harness's encoder/strategies) on their own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import rlp
from eth_account import Account as EthAccount
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oracle import contracts as C
from tests.oracle.evm_asm import asm, initcode, word
from tests.oracle.model import (
    SPECS,
    Account,
    BlockEnv,
    BlockOutcome,
    block_hash,
    blockhash_opcode_value,
    copy_state,
    diff_outcomes,
)
from tests.oracle.pyevm_oracle import run_block, run_block_explained
from tests.oracle.strategies import EOA_KEYS, EOAS, random_block
from tests.oracle.txsign import Authorization, Key, TxSpec, sign_tx

A, B = EOAS[0], EOAS[1]
KA, KB = EOA_KEYS[0], EOA_KEYS[1]
CB = bytes.fromhex("cb" * 20)
SINK = bytes.fromhex("5e" * 20)
CHAIN = 1329
RICH = 10**21


def env(spec: str = "cancun", base_fee: int = 7, gas_limit: int = 30_000_000, number: int = 1000) -> BlockEnv:
    return BlockEnv(
        number=number, timestamp=1_700_000_000, gas_limit=gas_limit, base_fee=base_fee, coinbase=CB,
        prevrandao=b"\x42" * 32, chain_id=CHAIN, spec=spec,
    )  # fmt: skip


def world(spec: str = "cancun", **contract_balances: int) -> dict[bytes, Account]:
    pre = {A: Account(balance=RICH), B: Account(balance=RICH, nonce=5)}
    for name, code in C.runtimes(spec).items():
        pre[C.ADDR[name]] = Account(balance=contract_balances.get(name, 0), nonce=1, code=code)
    return pre


def tx(
    nonce: int, to: bytes | None, *, data: bytes = b"", value: int = 0, gas: int = 1_000_000, type: int = 2,
    max_fee: int = 10, prio: int = 3, **kw: object,
) -> TxSpec:  # fmt: skip
    return TxSpec(type=type, chain_id=CHAIN, nonce=nonce, gas=gas, to=to, value=value, data=data, max_fee=max_fee,
                  max_priority_fee=prio, **kw)  # type: ignore[arg-type]  # fmt: skip


def run(spec: str, pre: dict, txs: list[tuple[TxSpec, Key]], **env_kw: Any) -> BlockOutcome:
    return run_block(copy_state(pre), env(spec, **env_kw), [sign_tx(t, k) for t, k in txs])


# -- basic accounting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_transfer_costs_21000_and_moves_value(spec: str) -> None:
    pre = world(spec)
    out = run(spec, pre, [(tx(0, SINK, value=12345, type=0, max_fee=10), KA)], base_fee=7)
    (t,) = out.txs
    assert (t.included, t.status, t.gas_used, t.logs, t.contract_address) == (True, 1, 21_000, [], None)
    assert out.post[SINK] == Account(balance=12345)
    assert out.post[A] == Account(balance=RICH - 12345 - 21_000 * 10, nonce=1)
    # base fee is not burned: the coinbase receives gas_used * gas_price (7 base + 3 tip)
    assert out.post[CB] == Account(balance=21_000 * 10)


@pytest.mark.parametrize("type_", [0, 1, 2])
def test_coinbase_gets_gas_used_times_effective_price(type_: int) -> None:
    pre = world()
    # 1559: effective price = min(max_fee, base + prio) = min(100, 7 + 5) = 12
    t = tx(0, C.ADDR["STORE"], data=word(1) + word(99) + word(1), type=type_, max_fee=100 if type_ == 2 else 12, prio=5)
    out = run("cancun", pre, [(t, KA)], base_fee=7)
    gas_used = out.txs[0].gas_used
    assert out.txs[0].status == 1 and gas_used > 21_000 + 20_000
    assert out.post[CB].balance == gas_used * 12
    assert out.post[A].balance == RICH - gas_used * 12
    assert out.post[C.ADDR["STORE"]].storage == {1: 99, 2**64: 99}


def test_zero_price_coinbase_stays_empty() -> None:
    out = run("cancun", world(), [(tx(0, SINK, value=1, max_fee=0, prio=0), KA)], base_fee=0)
    assert out.txs[0].included and CB not in out.post


def test_coinbase_receives_base_fee_even_with_zero_tip() -> None:
    out = run("cancun", world(), [(tx(0, SINK, value=1, max_fee=7, prio=0), KA)], base_fee=7)
    assert out.post[CB] == Account(balance=21_000 * 7)


def test_selfdestructing_coinbase_still_gets_the_fee() -> None:
    pre = world("shanghai", DESTRUCTOR=500)
    t = tx(0, C.ADDR["DESTRUCTOR"], data=word(SINK))
    out = run_block(copy_state(pre), replace(env("shanghai"), coinbase=C.ADDR["DESTRUCTOR"]), [sign_tx(t, KA)])
    gas_used = out.txs[0].gas_used
    assert out.post[SINK] == Account(balance=500)
    assert out.post[C.ADDR["DESTRUCTOR"]] == Account(balance=gas_used * 10)  # code and nonce gone, fee kept


@pytest.mark.parametrize("spec", SPECS)
def test_each_tx_starts_cold_with_fresh_original_values(spec: str) -> None:
    """EIP-2929 warm sets and EIP-2200 'original' storage values reset between transactions."""
    t1 = tx(0, C.ADDR["STORE"], data=word(5) + word(1) + word(5))
    t2 = tx(5, C.ADDR["STORE"], data=word(5) + word(2) + word(5))
    together = run(spec, world(spec), [(t1, KA), (t2, KB)])
    first = run(spec, world(spec), [(t1, KA)])
    assert first.post[C.ADDR["STORE"]].storage == {5: 1, 2**64: 1}
    pre = world(spec)
    pre[C.ADDR["STORE"]].storage = {5: 1, 2**64: 1}
    alone = run(spec, pre, [(t2, KB)])
    assert together.post[C.ADDR["STORE"]].storage == alone.post[C.ADDR["STORE"]].storage == {5: 2, 2**64: 2}
    # intrinsic 21420 + 2 x (cold 2100 + reset 2900) + warm SLOAD 100 + 20 for the pushes/loads
    assert together.txs[1].gas_used == alone.txs[0].gas_used == 31_540


def test_fees_accumulate_and_are_visible_to_later_txs() -> None:
    pre = world()
    txs = [
        (tx(0, SINK, value=1), KA),
        (tx(5, C.ADDR["ENVREADER"], data=word(0) + word(CB)), KB),  # stores BALANCE(coinbase) at 0x17
    ]
    out = run("cancun", pre, txs, base_fee=7)
    assert [t.status for t in out.txs] == [1, 1]
    assert out.post[C.ADDR["ENVREADER"]].storage[0x17] == 21_000 * 10


# -- failures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_revert_has_status_0_consumes_gas_and_keeps_nonce_bump(spec: str) -> None:
    pre = world(spec)
    pre[C.ADDR["REVERTER"]].storage = {1: 5}
    out = run(spec, pre, [(tx(0, C.ADDR["REVERTER"], data=b"\x01\x02", value=10, gas=100_000), KA)])
    (t,) = out.txs
    assert t.included and t.status == 0 and t.logs == []
    assert 21_000 < t.gas_used < 100_000  # REVERT returns the unused gas
    assert out.post[C.ADDR["REVERTER"]].storage == {1: 5}
    assert out.post[A] == Account(balance=RICH - t.gas_used * 10, nonce=1)  # value came back


def test_out_of_gas_consumes_everything() -> None:
    out = run("cancun", world(), [(tx(0, C.ADDR["LOOPER"], gas=80_000), KA)])
    assert out.txs[0].status == 0 and out.txs[0].gas_used == 80_000


def test_invalid_txs_are_skipped_without_trace() -> None:
    pre = world()
    txs = [
        (tx(1, SINK, value=1), KA),  # future nonce
        (tx(0, SINK, value=1, gas=20_999), KA),  # intrinsic gas too low
        (tx(0, SINK, value=1, max_fee=6, prio=0), KA),  # fee cap below base fee
        (tx(0, SINK, value=1, max_fee=10, prio=11), KA),  # priority fee above fee cap
        (tx(0, SINK, value=RICH), KA),  # value + gas above balance
        (TxSpec(2, CHAIN + 1, 0, 21_000, SINK, 1, b"", 10, 3), KA),  # wrong chain id
        (tx(0, SINK, value=1, gas=31_000_000), KA),  # above the block gas limit
        (tx(4, SINK, value=1), KB),  # past nonce
        (tx(0, SINK, value=1), KA),  # finally valid
        (tx(1, SINK, value=1, gas=30_000_000 - 21_000 + 1), KA),  # above the *remaining* block gas
    ]
    out, reasons = run_block_explained(copy_state(pre), env("cancun"), [sign_tx(t, k) for t, k in txs])
    assert [t.included for t in out.txs] == [False] * 8 + [True, False]
    assert all(t == type(t)() for t in out.txs[:8])
    assert reasons[:8] == [
        "bad nonce", "intrinsic gas too low", "fee cap below base fee", "priority fee above fee cap",
        "insufficient balance", "wrong chain id", "gas above remaining block gas", "bad nonce",
    ]  # fmt: skip
    assert reasons[9] == "gas above remaining block gas"
    assert out.post[A].nonce == 1 and out.post[SINK].balance == 1
    assert run_block(copy_state(pre), env("cancun"), [b"\x02garbage", b""]).txs == [type(out.txs[0])()] * 2


def test_high_s_signature_is_skipped() -> None:
    raw = sign_tx(tx(0, SINK, value=1), KA)
    fields = rlp.decode(raw[1:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    y, s_ = int.from_bytes(fields[-3], "big"), int.from_bytes(fields[-1], "big")
    malleated = raw[:1] + rlp.encode([*fields[:-3], 1 - y, fields[-2], n - s_])
    out, reasons = run_block_explained(world(), env("cancun"), [malleated, raw])
    assert [t.included for t in out.txs] == [False, True]
    assert reasons[0] == "signature s out of range (EIP-2)"


def test_create_intrinsic_includes_initcode_words() -> None:
    """py-evm alone would include this tx and run out of gas; the spec (and revm) reject it."""
    code = C.initcodes("cancun")["store"]
    zeros = code.count(0)
    py_evm_intrinsic = 21_000 + 32_000 + 4 * zeros + 16 * (len(code) - zeros)
    t = tx(0, None, data=code, gas=py_evm_intrinsic + 1)
    out = run("cancun", world(), [(t, KA)])
    assert not out.txs[0].included


# -- creation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_deploy_sets_contract_address_and_code(spec: str) -> None:
    init = C.initcodes(spec)["store+ctor"]
    out = run(spec, world(spec), [(tx(0, None, data=init, value=77), KA)])
    (t,) = out.txs
    addr = C.create_address(A, 0)
    assert t.status == 1 and t.contract_address == addr
    assert out.post[addr] == Account(balance=77, nonce=1, code=C.STORE, storage={0: 77, 3: 7})


def test_failed_deploy_still_reports_address() -> None:
    out = run("cancun", world(), [(tx(0, None, data=C.initcodes("cancun")["ctor-revert"], gas=200_000), KA)])
    t = out.txs[0]
    assert t.status == 0 and t.contract_address == C.create_address(A, 0)
    assert C.create_address(A, 0) not in out.post


@pytest.mark.parametrize("name", ["ctor-returns-ef", "ctor-returns-oversize", "ctor-oog", "ctor-invalid"])
def test_deploy_exceptional_failures_burn_all_gas(name: str) -> None:
    out = run("cancun", world(), [(tx(0, None, data=C.initcodes("cancun")[name], gas=300_000), KA)])
    assert out.txs[0].status == 0 and out.txs[0].gas_used == 300_000


@pytest.mark.parametrize("salt", [0, 1, 2**256 - 1])
def test_create2_address_matches_formula(salt: int) -> None:
    init = C.initcodes("cancun")["store"]
    data = word(1) + word(salt) + word(5) + init
    out = run("cancun", world(FACTORY=100), [(tx(0, C.ADDR["FACTORY"], data=data), KA)])
    child = C.create2_address(C.ADDR["FACTORY"], salt, init)
    assert out.txs[0].status == 1
    assert out.post[C.ADDR["FACTORY"]].storage == {0: int.from_bytes(child, "big"), 1: 1}
    assert out.post[C.ADDR["FACTORY"]].nonce == 2
    assert out.post[child] == Account(balance=5, nonce=1, code=C.STORE)


def test_create_address_uses_factory_nonce_and_revert_mode_undoes_it() -> None:
    init = C.initcodes("cancun")["store"]
    txs = [
        (tx(0, C.ADDR["FACTORY"], data=word(0) + word(0) + word(0) + init), KA),
        (tx(1, C.ADDR["FACTORY"], data=word(4) + word(0) + word(0) + init), KA),  # create then REVERT
    ]
    out = run("cancun", world(), txs)
    assert [t.status for t in out.txs] == [1, 0]
    assert out.post[C.ADDR["FACTORY"]].nonce == 2
    assert out.post[C.create_address(C.ADDR["FACTORY"], 1)].code == C.STORE
    assert C.create_address(C.ADDR["FACTORY"], 2) not in out.post


# -- logs --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(5))
def test_logn(n: int) -> None:
    topics = [word(0x100 + i) for i in range(4)]
    data = word(n) + b"".join(topics) + b"tail"
    out = run("cancun", world(), [(tx(0, C.ADDR["LOGGER"], data=data), KA)])
    assert out.txs[0].logs == [(C.ADDR["LOGGER"], topics[:n], data)]


def test_caller_forwards_value_and_logs_returndata() -> None:
    inner = b"\xaa\xbb"
    data = word(C.ADDR["REVERTER"]) + word(3) + word(0) + inner
    out = run("cancun", world(CALLER=10), [(tx(0, C.ADDR["CALLER"], data=data), KA)])
    assert out.txs[0].status == 1
    assert out.txs[0].logs == [(C.ADDR["CALLER"], [word(0)], inner)]  # call failed (0), revert data logged
    assert out.post[C.ADDR["CALLER"]].storage == {1: 2}
    assert out.post[C.ADDR["CALLER"]].balance == 10


def test_call_with_value_between_contracts() -> None:
    data = word(SINK) + word(4) + word(0)
    out = run("cancun", world(CALLER=10), [(tx(0, C.ADDR["CALLER"], data=data, value=1), KA)])
    assert out.post[SINK] == Account(balance=4)
    assert out.post[C.ADDR["CALLER"]].balance == 7
    assert out.post[C.ADDR["CALLER"]].storage == {0: 1}


# -- selfdestruct ------------------------------------------------------------------------------------------------


def test_selfdestruct_preexisting_shanghai_deletes_account() -> None:
    pre = world("shanghai", DESTRUCTOR=500)
    pre[C.ADDR["DESTRUCTOR"]].storage = {1: 1}
    out = run("shanghai", pre, [(tx(0, C.ADDR["DESTRUCTOR"], data=word(SINK)), KA)])
    assert out.txs[0].status == 1
    assert C.ADDR["DESTRUCTOR"] not in out.post
    assert out.post[SINK] == Account(balance=500)


@pytest.mark.parametrize("spec", ["cancun", "prague"])
def test_selfdestruct_preexisting_cancun_only_moves_balance(spec: str) -> None:
    pre = world(spec, DESTRUCTOR=500)
    pre[C.ADDR["DESTRUCTOR"]].storage = {1: 1}
    out = run(spec, pre, [(tx(0, C.ADDR["DESTRUCTOR"], data=word(SINK)), KA)])
    assert out.post[C.ADDR["DESTRUCTOR"]] == Account(balance=0, nonce=1, code=C.DESTRUCTOR, storage={1: 1})
    assert out.post[SINK] == Account(balance=500)


@pytest.mark.parametrize("spec", SPECS)
def test_selfdestruct_in_same_tx_as_creation(spec: str) -> None:
    init = C.initcodes(spec)["ctor-selfdestruct-fresh"]
    out = run(spec, world(spec), [(tx(0, None, data=init, value=33), KA)])
    assert out.txs[0].status == 1
    assert C.create_address(A, 0) not in out.post
    assert out.post[C.FRESH[0]] == Account(balance=33)


@pytest.mark.parametrize("spec", SPECS)
def test_factory_creates_and_calls_selfdestructing_child(spec: str) -> None:
    init = C.initcodes(spec)["destructor"]
    data = word(3) + word(9) + word(8) + init  # CREATE2 + call child (-> SELFDESTRUCT(0))
    out = run(spec, world(spec, FACTORY=8), [(tx(0, C.ADDR["FACTORY"], data=data), KA)])
    child = C.create2_address(C.ADDR["FACTORY"], 9, init)
    assert out.txs[0].status == 1
    assert child not in out.post  # created in the same tx: gone in every fork
    assert out.post[b"\x00" * 20] == Account(balance=8)
    assert out.post[C.ADDR["FACTORY"]].storage == {0: int.from_bytes(child, "big"), 1: 1, 2: 1}


# -- environment -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize(("number", "arg"), [(1000, 999), (1000, 744), (1000, 743), (1000, 1000), (5, 0), (1, 0)])
def test_blockhash_rule(spec: str, number: int, arg: int) -> None:
    out = run(spec, world(spec), [(tx(0, C.ADDR["ENVREADER"], data=word(arg) + word(A)), KA)], number=number)
    st_ = out.post[C.ADDR["ENVREADER"]].storage
    expected = blockhash_opcode_value(number, arg)
    assert st_.get(0x11, 0) == int.from_bytes(expected, "big")
    if number - arg in range(1, 257):
        assert expected == block_hash(arg) != b"\x00" * 32


def test_env_opcodes() -> None:
    e = env("cancun", base_fee=7)
    out = run("cancun", world(), [(tx(0, C.ADDR["ENVREADER"], data=word(0) + word(A)), KA)], base_fee=7)
    s = out.post[C.ADDR["ENVREADER"]].storage
    assert s[0x10] == e.number
    assert s[0x12] == int.from_bytes(CB, "big")
    assert s[0x13] == 7
    assert s[0x14] == CHAIN
    assert s[0x15] == e.timestamp
    assert s[0x16] == int.from_bytes(e.prevrandao, "big")
    assert s[0x17] == RICH - 1_000_000 * 10  # BALANCE(sender) after buying gas
    (log,) = out.txs[0].logs
    assert log[2][32 * 21 : 32 * 22] == word(1)  # BLOBBASEFEE at excess_blob_gas 0


def test_transient_storage_invalid_in_shanghai() -> None:
    data = word(1) + word(2) + word(1)
    sh = run("shanghai", world("shanghai"), [(tx(0, C.ADDR["TRANSIENT"], data=data, gas=100_000), KA)])
    assert sh.txs[0].status == 0 and sh.txs[0].gas_used == 100_000
    ca = run("cancun", world("cancun"), [(tx(0, C.ADDR["TRANSIENT"], data=data, gas=100_000), KA)])
    assert ca.txs[0].status == 1 and ca.post[C.ADDR["TRANSIENT"]].storage == {1: 2, 2: 2}


# -- prague ------------------------------------------------------------------------------------------------------


def test_prague_calldata_floor() -> None:
    data = b"\x01" * 1000  # floor 21000 + 10*4*1000 = 61000 > standard 21000 + 16*1000
    out = run("prague", world("prague"), [(tx(0, SINK, data=data, gas=100_000), KA)])
    assert out.txs[0].gas_used == 61_000
    out = run("prague", world("prague"), [(tx(0, SINK, data=data, gas=60_999), KA)])
    assert not out.txs[0].included
    out = run("cancun", world("cancun"), [(tx(0, SINK, data=data, gas=100_000), KA)])
    assert out.txs[0].gas_used == 37_000


def test_prague_eip7702_delegation() -> None:
    auth = Authorization(CHAIN, C.ADDR["STORE"], 5, KB)  # B's nonce is 5
    t1 = tx(0, B, type=4, authorizations=(auth,), data=word(3) + word(4) + word(0))
    t2 = tx(1, B, data=word(8) + word(9) + word(3))
    out = run("prague", world("prague"), [(t1, KA), (t2, KA)])
    assert [t.status for t in out.txs] == [1, 1]
    assert out.post[B].code == b"\xef\x01\x00" + C.ADDR["STORE"]
    assert out.post[B].nonce == 6
    assert out.post[B].storage == {3: 4, 8: 9, 2**64: 4}
    # a delegated EOA may still send transactions (EIP-3607 exemption)
    out2 = run("prague", world("prague"), [(t1, KA), (tx(6, SINK, value=1), KB)])
    assert out2.txs[1].included


@pytest.mark.parametrize("target", ["REVERTER", "STORE"])
def test_prague_eip7702_existing_authority_refund_survives_failure(target: str) -> None:
    """The 12500 refund for an already-existing authority is kept even when the call reverts (capped at 1/5)."""
    k_new = EOA_KEYS[3]  # not in world(): authority does not exist yet -> no refund
    data = word(1) + word(2) + word(3)
    exists = run(
        "prague",
        world("prague"),
        [(tx(0, C.ADDR[target], type=4, data=data, authorizations=(Authorization(CHAIN, SINK, 5, KB),)), KA)],
    )
    fresh = run(
        "prague",
        world("prague"),
        [(tx(0, C.ADDR[target], type=4, data=data, authorizations=(Authorization(CHAIN, SINK, 0, k_new),)), KA)],
    )
    assert exists.txs[0].status == fresh.txs[0].status == (1 if target == "STORE" else 0)
    assert exists.post[B].code == fresh.post[k_new.address].code == b"\xef\x01\x00" + SINK
    unrefunded = fresh.txs[0].gas_used  # no SSTORE refunds in either call
    assert exists.txs[0].gas_used == unrefunded - min(12_500, unrefunded // 5)


def test_type4_rejected_before_prague() -> None:
    auth = Authorization(CHAIN, C.ADDR["STORE"], 5, KB)
    out = run("cancun", world(), [(tx(0, B, type=4, authorizations=(auth,)), KA)])
    assert not out.txs[0].included


# -- harness self-checks -----------------------------------------------------------------------------------------


def test_encoder_matches_eth_account() -> None:
    auth = Authorization(CHAIN, C.ADDR["STORE"], 3, KB)
    cases: list[tuple[TxSpec, dict[str, Any]]] = [
        (tx(3, SINK, type=0, value=5, data=b"\x01\x00", max_fee=11), {"gasPrice": 11}),
        (tx(3, SINK, type=1, value=5, max_fee=11, access_list=((SINK, (1, 2)),)),
         {"gasPrice": 11, "type": 1, "accessList": [{"address": to_checksum_address(SINK), "storageKeys": [
             "0x" + (1).to_bytes(32, "big").hex(), "0x" + (2).to_bytes(32, "big").hex()]}]}),
        (tx(3, None, type=2, data=b"\x60\x00", max_fee=11, prio=2),
         {"maxFeePerGas": 11, "maxPriorityFeePerGas": 2, "type": 2, "accessList": []}),
        (tx(3, SINK, type=4, max_fee=11, prio=2, authorizations=(auth,)),
         {"maxFeePerGas": 11, "maxPriorityFeePerGas": 2, "type": 4, "accessList": [],
          "authorizationList": [EthAccount.sign_authorization(
              {"chainId": CHAIN, "address": C.ADDR["STORE"], "nonce": 3}, KB.secret)]}),
    ]  # fmt: skip
    for t, extra in cases:
        d: dict[str, Any] = {
            "nonce": t.nonce,
            "gas": t.gas,
            "value": t.value,
            "data": t.data,
            "chainId": CHAIN,
            **extra,
        }
        if t.to is not None:
            d["to"] = to_checksum_address(t.to)
        ref = EthAccount.sign_transaction(d, KA.secret).raw_transaction
        assert sign_tx(t, KA) == bytes(ref), t.type


def test_assembler() -> None:
    assert asm(0, 1, 256, b"\x00" * 20, "ADD") == bytes.fromhex("5f600161010073" + "00" * 20 + "01")
    assert asm("top:", "@top", "JUMP") == bytes.fromhex("5b61000056")
    code = initcode(b"\xaa\xbb")
    assert code.endswith(b"\xaa\xbb") and len(code) == 13


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.sampled_from(SPECS), data=st.data())
def test_oracle_against_itself(spec: str, data: st.DataObject) -> None:
    """Deterministic, doesn't mutate its input, conserves ether up to burns, and nonces move as claimed."""
    block = data.draw(random_block(spec), label="block")
    pre = copy_state(block.pre)
    first = run_block(block.pre, block.env, list(block.raw_txs))
    second = run_block(copy_state(block.pre), block.env, list(block.raw_txs))
    assert block.pre == pre
    assert not diff_outcomes(first, second, ("run1", "run2"))
    assert first == second
    assert sum(a.balance for a in first.post.values()) <= sum(a.balance for a in pre.values())
    total_gas = sum(t.gas_used for t in first.txs)
    assert total_gas <= block.env.gas_limit
    for t in first.txs:
        if not t.included:
            assert t == type(t)()
