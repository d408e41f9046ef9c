"""LtHash (pysei.state.lthash) and the state commitment encoding (pysei.state.commitment)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysei.chain.constants import EMPTY_CODE_HASH
from pysei.state import commitment as cm
from pysei.state import lthash
from pysei.state.commitment import Account
from pysei.state.lthash import LANES, NBYTES, LtHash

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- Firedancer's published vectors (src/ballet/lthash/test_lthash.c) --------------------------------------------
# lthash_hello / lthash_world are the full 1024-lane elements of the raw preimages "hello" and "world!".
# The SHA-256 values below are of those two published arrays (and of their lane-wise sum), serialised as 2048
# little-endian bytes; SHA-256 is independent of BLAKE3, so they check every lane without copying 2048 constants.
HELLO_HEAD = [0x8FEA, 0x3D16, 0x86B3, 0x9282]
HELLO_LAST = 0x9924
WORLD_HEAD = [0x56DC, 0x1D98, 0x5420, 0x810D]
WORLD_LAST = 0x171F
HELLO_SHA256 = "654962998b2a1a9bbb56360353a43e070881bc1790f4645ab0bf00fecc1c492b"
WORLD_SHA256 = "a95fa07c7d0fd803ef2ccfab0938b39a4fdbe6249d083211891bd2f325b7f4fe"
HELLO_PLUS_WORLD_SHA256 = "fd13576352d5d59dcf0b51be62958246bf237cbf48832966124c51fffd7d7cd7"
# BLAKE3-256 of the same published arrays: the LtHash digests (the Sei "checksum") of those values.
HELLO_DIGEST = "4f9c1ab89ccd5ed0b6eb21936f99e598cf854b6db6c6773d0b51294618576455"
WORLD_DIGEST = "ab35b90ab3313097572b8d0d2b987901900778bc73f8d6dce5d2af86d7e712f5"


def test_firedancer_vectors() -> None:
    hello, world = lthash.raw_element(b"hello"), lthash.raw_element(b"world!")
    assert hello.shape == world.shape == (LANES,)
    assert [int(x) for x in hello[:4]] == HELLO_HEAD and int(hello[-1]) == HELLO_LAST
    assert [int(x) for x in world[:4]] == WORLD_HEAD and int(world[-1]) == WORLD_LAST
    h, w = LtHash(hello), LtHash(world)
    assert hashlib.sha256(h.to_bytes()).hexdigest() == HELLO_SHA256
    assert hashlib.sha256(w.to_bytes()).hexdigest() == WORLD_SHA256
    assert h.hexdigest() == HELLO_DIGEST and w.hexdigest() == WORLD_DIGEST
    # Firedancer's add / sub sequence: hello + world, remove hello, remove world → all zero.
    both = h + w
    assert hashlib.sha256(both.to_bytes()).hexdigest() == HELLO_PLUS_WORLD_SHA256
    assert both - h == w
    assert (both - h - w).is_zero() and both - h - w == LtHash.zero()


def test_element_encoding() -> None:
    pre = lthash.preimage(b"key", b"value")
    assert pre == b"\x03\x00\x00\x00key\x05\x00\x00\x00value"
    assert np.array_equal(lthash.element(b"key", b"value"), lthash.raw_element(pre))
    # Length prefixes keep ("a", "bc") and ("ab", "c") apart.
    assert not np.array_equal(lthash.element(b"a", b"bc"), lthash.element(b"ab", b"c"))
    for key, value in [(b"", b"v"), (b"k", b""), (b"k", None), (b"", b"")]:
        assert not lthash.element(key, value).any()
    assert lthash.hash_pairs([(b"", b"v"), (b"k", b""), (b"k", None)]).is_zero()
    assert lthash.update(LtHash.zero(), [(b"k", None, b""), (b"", None, b"v")]).is_zero()


def test_value_type() -> None:
    zero = LtHash.zero()
    assert zero.is_zero() and zero.to_bytes() == bytes(NBYTES)
    assert zero.digest() == blake3(bytes(NBYTES)).digest() and len(zero.digest()) == 32
    x = lthash.hash_pairs([(b"k", b"v")])
    assert LtHash.from_bytes(x.to_bytes()) == x and hash(LtHash.from_bytes(x.to_bytes())) == hash(x)
    assert x != zero and x + zero == x and x - x == zero and -x + x == zero
    with pytest.raises(ValueError):
        LtHash.from_bytes(bytes(NBYTES - 2))
    with pytest.raises(ValueError):
        LtHash(np.zeros(LANES + 1, dtype=np.uint16))
    with pytest.raises(ValueError):
        x.lanes[0] = 1  # read-only
    src = np.zeros(LANES, dtype=np.uint16)
    y = LtHash(src)
    src[0] = 7  # the value owns its copy
    assert y.is_zero()
    assert repr(x) == f"LtHash({x.hexdigest()})"


def test_wraparound() -> None:
    ones = LtHash(np.ones(LANES, dtype=np.uint16))
    full = LtHash(np.full(LANES, 0xFFFF, dtype=np.uint16))
    assert (full + ones).is_zero()
    assert LtHash.zero() - ones == full
    assert LtHash(np.full(LANES, 0x1_0005)) == LtHash(np.full(LANES, 5, dtype=np.uint16))  # ints wrap mod 2^16
    # A batched sum of many elements equals the exact integer sum reduced mod 2^16.
    pairs = [(b"k%d" % i, b"v") for i in range(300)]
    exact = np.stack([lthash.element(k, v) for k, v in pairs]).sum(axis=0, dtype=np.uint64)
    assert np.array_equal(lthash.hash_pairs(pairs).lanes, (exact % 65536).astype(np.uint16))
    assert exact.max() > 65535  # the sum did wrap


def test_batches_equal_single_elements() -> None:
    pairs = [(b"key-%d" % i, b"val-%d" % i) for i in range(1000)]  # many hashing chunks, and a partial one
    one_by_one = LtHash.zero()
    for k, v in pairs:
        one_by_one = one_by_one + LtHash(lthash.element(k, v))
    assert lthash.hash_pairs(pairs) == one_by_one
    chunked = LtHash.zero()
    for i in range(0, len(pairs), 70):
        chunked = chunked + lthash.hash_pairs(pairs[i : i + 70])
    assert chunked == one_by_one


# --- properties of the accumulator ------------------------------------------------------------------------------

kv = st.tuples(st.binary(min_size=0, max_size=40), st.binary(min_size=0, max_size=80))
kv_sets = st.dictionaries(st.binary(min_size=1, max_size=24), st.binary(min_size=0, max_size=64), max_size=30)


@FAST
@given(st.lists(kv, max_size=30), st.randoms(use_true_random=False))
def test_order_independence(pairs: list[tuple[bytes, bytes]], rnd) -> None:
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    assert lthash.hash_pairs(pairs) == lthash.hash_pairs(shuffled)
    one_by_one = LtHash.zero()
    for k, v in shuffled:
        one_by_one = lthash.update(one_by_one, [(k, None, v)])
    assert one_by_one == lthash.hash_pairs(pairs)


@FAST
@given(kv_sets, kv_sets)
def test_add_then_remove_is_identity(base: dict[bytes, bytes], extra: dict[bytes, bytes]) -> None:
    acc = lthash.hash_pairs(base.items())
    added = lthash.update(acc, [(k, None, v) for k, v in extra.items()])
    assert lthash.update(added, [(k, v, None) for k, v in extra.items()]) == acc
    # The same through the value operators.
    assert acc + lthash.hash_pairs(extra.items()) - lthash.hash_pairs(extra.items()) == acc


@FAST
@given(kv_sets, kv_sets)
def test_union_homomorphism(a: dict[bytes, bytes], b: dict[bytes, bytes]) -> None:
    b = {k: v for k, v in b.items() if k not in a}  # disjoint
    union = {**a, **b}
    assert lthash.hash_pairs(union.items()) == lthash.hash_pairs(a.items()) + lthash.hash_pairs(b.items())


@FAST
@given(kv_sets, st.data())
def test_update_equals_recomputation(state: dict[bytes, bytes], data: st.DataObject) -> None:
    acc = lthash.hash_pairs(state.items())
    keys = st.sampled_from(sorted(state)) | st.binary(min_size=1, max_size=24) if state else st.binary(min_size=1)
    for _ in range(3):  # a few blocks: updates, deletions (None or empty), re-creations, no-op writes
        writes = data.draw(st.dictionaries(keys, st.none() | st.binary(max_size=64), max_size=12))
        changes = [(k, state.get(k), v) for k, v in writes.items()]
        for k, v in writes.items():
            if v:
                state[k] = v
            else:
                state.pop(k, None)
        acc = lthash.update(acc, changes)
        assert acc == lthash.hash_pairs(state.items())


# --- the commitment encoding ------------------------------------------------------------------------------------

A1, A2 = b"\x11" * 20, b"\x22" * 20
CODE = bytes.fromhex("6080604052")
CODE_HASH = hashlib.sha3_256(CODE).digest()  # any 32 bytes: the encoding does not recompute the hash


def test_encoding_layout() -> None:
    acct = Account(nonce=7, balance=10**18, code_hash=CODE_HASH)
    assert cm.account_key(A1) == b"a" + A1
    value = cm.account_value(acct)
    assert value is not None and len(value) == 72
    assert value == (7).to_bytes(8, "big") + (10**18).to_bytes(32, "big") + CODE_HASH
    assert cm.account_value((7, 10**18, CODE_HASH)) == value  # plain tuples too
    assert cm.code_key(CODE_HASH) == b"c" + CODE_HASH
    assert cm.storage_key(A1, 5) == b"s" + A1 + (5).to_bytes(32, "big") == cm.storage_key(A1, (5).to_bytes(32, "big"))
    assert cm.storage_value(9) == (9).to_bytes(32, "big")
    assert cm.storage_value(0) is None and cm.storage_value(bytes(32)) is None and cm.storage_value(None) is None
    assert Account(0, 0).code_hash == EMPTY_CODE_HASH
    for bad in (lambda: cm.account_key(b"\x00" * 19), lambda: cm.storage_key(A1, 1 << 256)):
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        cm.account_value(Account(1 << 64, 0))
    expected = lthash.hash_pairs(
        [(b"a" + A1, value), (b"c" + CODE_HASH, CODE), (b"s" + A1 + (5).to_bytes(32, "big"), (9).to_bytes(32, "big"))]
    )
    assert cm.state_commitment({A1: acct}, {CODE_HASH: CODE}, {(A1, 5): 9}) == expected


def test_absent_records_contribute_nothing() -> None:
    base = cm.state_commitment({A1: Account(1, 5)}, {}, {(A1, 1): 3})
    zero_slots: dict[tuple[bytes, int], int | bytes] = {(A1, 1): 3, (A1, 2): 0, (A2, 9): bytes(32)}
    padded = cm.state_commitment(
        {A1: Account(1, 5), A2: None},  # a non-existent account
        {EMPTY_CODE_HASH: b""},  # empty code
        zero_slots,
    )
    assert padded == base
    assert cm.state_commitment({}, {}, {}).is_zero()
    # An existing but empty account does contribute (it is a record of the store).
    assert cm.state_commitment({A2: Account(0, 0)}, {}, {}) != LtHash.zero()
    # Writing a zero to an absent slot, or deleting a non-existent account, changes nothing.
    assert cm.apply_write_set(base, [(A2, None, None)], [(A1, 2, None, 0)]) == base
    # Setting a slot to zero removes it; the same code added twice in one block counts once.
    after = cm.apply_write_set(base, [], [(A1, 1, 3, 0)], [(CODE_HASH, CODE), (CODE_HASH, CODE)])
    assert after == cm.state_commitment({A1: Account(1, 5)}, {CODE_HASH: CODE}, {})


addresses = st.sampled_from([bytes([i]) * 20 for i in range(1, 7)])
words = st.integers(0, 3) | st.integers(0, (1 << 256) - 1)
accounts_st = st.none() | st.builds(
    Account, st.integers(0, (1 << 64) - 1), words, st.sampled_from([EMPTY_CODE_HASH, CODE_HASH, b"\x42" * 32])
)
storage_st = st.dictionaries(st.tuples(addresses, st.integers(0, 5)), words, max_size=15)


@FAST
@given(st.dictionaries(addresses, accounts_st), storage_st, st.data())
def test_incremental_commitment_equals_full(accounts: dict, storage: dict, data: st.DataObject) -> None:
    codes: dict[bytes, bytes] = {b"\x42" * 32: b"\x60\x00"}
    acc = cm.state_commitment(accounts, codes, storage)
    for _ in range(3):  # blocks: creations, deletions, re-creations, zero writes, new code
        acct_writes = data.draw(st.dictionaries(addresses, accounts_st, max_size=4))
        slot_writes = data.draw(st.dictionaries(st.tuples(addresses, st.integers(0, 5)), st.none() | words, max_size=8))
        new_codes = data.draw(st.dictionaries(st.binary(min_size=32, max_size=32), st.binary(max_size=40), max_size=2))
        new_codes = {h: c for h, c in new_codes.items() if h not in codes}
        account_changes = [(a, accounts.get(a), new) for a, new in acct_writes.items()]
        storage_changes = [(a, s, storage.get((a, s)), v) for (a, s), v in slot_writes.items()]
        acc = cm.apply_write_set(acc, account_changes, storage_changes, new_codes.items())
        accounts.update(acct_writes)
        for key, v in slot_writes.items():
            storage[key] = v or 0
        codes.update(new_codes)
        assert acc == cm.state_commitment(accounts, codes, storage)
