"""Type stub of pysei's native kernel (Rust, PyO3). Only ``pysei.native`` imports it."""

from collections.abc import Callable
from typing import Any, TypeVar, final

T = TypeVar("T")

__version__: str

Alloc = list[tuple[bytes, int, int, bytes, list[tuple[int, int]]]]
StateOverride = tuple[bytes, int | None, int | None, bytes | None, list[tuple[int, int]] | None, list[tuple[int, int]]]
CallRequest = tuple[
    bytes,
    bytes | None,
    int | None,
    int | None,
    int | None,
    int,
    bytes,
    int | None,
    list[tuple[bytes, list[bytes]]],
    list[StateOverride],
]
CallOutcome = tuple[bool, int, bytes, str | None]
Log = tuple[bytes, list[bytes], bytes]
Outcome = tuple[str | None, bool, int, int, bytes | None, list[Log], bytes, str | None]
TxFields = tuple[
    bytes,
    bytes,
    int,
    int,
    int,
    int,
    int,
    bytes | None,
    bytes,
    int,
    int | None,
    int,
    int,
    int,
    list[tuple[bytes, list[bytes]]],
    int | None,
    int,
]

@final
class BlockEnv:
    """Everything a block executes in apart from its transactions and the state."""

    def __init__(
        self,
        *,
        number: int,
        timestamp: int,
        gas_limit: int,
        base_fee: int,
        beneficiary: bytes,
        prevrandao: bytes,
        chain_id: int,
        spec_name: str = "prague",
        evidence: list[tuple[bytes, int, str]] = ...,
        signers: list[bytes] | None = None,
    ) -> None: ...

@final
class BlockResult:
    """An executed block; holds its state changes until ``Store.commit``."""

    gas_used: int
    fees: int
    logs_bloom: bytes
    transactions_root: bytes
    receipts_root: bytes
    changes_digest: bytes
    fallback: str | None
    def outcomes(self) -> list[Outcome]: ...
    def records(self, block_hash: bytes) -> BlockRecords: ...
    def skipped(self) -> list[tuple[int, str]]: ...
    def stats(self) -> list[tuple[str, int]]: ...
    def write_set(
        self,
    ) -> tuple[list[tuple[bytes, tuple[int, int, bytes] | None]], list[tuple[bytes, int, int]], list[bytes]]: ...
    def access_sets(self) -> list[tuple[list[bytes], list[bytes], bool]]: ...

@final
class BlockRecords:
    """A block's encoded records: msgpack ``TxRecord`` per included transaction and one ``list[BlockLog]``."""

    logs: bytes | None
    log_count: int
    raw_bytes: int
    def tx_hashes(self) -> list[bytes]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> bytes: ...

@final
class Store:
    """The LMDB flat store, opened once per process."""

    def __init__(self, path: str, tables: list[str], *, map_size: int = ..., sync: bool = True) -> None: ...
    def account(self, addr: bytes, at: int | None = None) -> tuple[int, int, bytes] | None: ...
    def nonces_and_balances(self, addrs: list[bytes]) -> list[tuple[int, int]]: ...
    def code(self, addr: bytes, at: int | None = None) -> bytes: ...
    def storage(self, addr: bytes, slot: int, at: int | None = None) -> int: ...
    def get(self, table: str, key: bytes) -> bytes | None: ...
    def get_many(self, table: str, keys: list[bytes]) -> list[bytes | None]: ...
    def commit(
        self,
        number: int,
        *,
        result: BlockResult | None = None,
        alloc: Alloc | None = None,
        codes: list[bytes] = ...,
        hashes: list[tuple[int, bytes]] = ...,
        writes: list[tuple[str, bytes, bytes | None]] = ...,
        commitments: list[tuple[int, bytes]] = ...,
        records: tuple[str, str, str, str, BlockRecords] | None = None,
    ) -> int: ...
    def state_records(self) -> list[tuple[bytes, bytes]]: ...
    def change_set(self, number: int) -> bytes | None: ...
    @staticmethod
    def decode_change_set(blob: bytes) -> list[tuple[bytes, bytes | None, bytes | None]]: ...
    def prune_history(self, number: int, blob: bytes) -> None: ...
    def write_tables(
        self, writes: list[tuple[str, bytes, bytes | None]], *, drop_change_sets: list[int] = ...
    ) -> None: ...
    def scan(
        self, table: str, start: bytes, end: bytes, *, reverse: bool = False, limit: int = 1000
    ) -> list[tuple[bytes, bytes]]: ...
    def amend_head(self, head: int, records: list[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]: ...
    def rollback(self, to: int, head: int, writes: list[tuple[str, bytes, bytes | None]]) -> None: ...
    def table_stats(self) -> list[tuple[str, int, int]]: ...
    def advance_commitment(self, target: int) -> list[tuple[int, bytes]]: ...
    def commitment(self, number: int) -> bytes | None: ...
    def commitment_state(self) -> tuple[int, bytes] | None: ...
    def dump_state(self) -> tuple[list[tuple[bytes, int, int, bytes]], list[tuple[bytes, int, int]]]: ...

def decode_transactions(raws: list[bytes]) -> list[TxFields | str]: ...
def recover_transactions(raws: list[bytes], make: Callable[..., T]) -> list[T | str]: ...
def decode_with_senders(raws: list[bytes], senders: bytes, make: Callable[..., T]) -> list[T]: ...
def ingest_batch(
    params: list[Any],
    *,
    chain_id: int,
    allow_unprotected: bool,
    gas_limit: int,
    max_tx_size: int,
    make: Callable[..., T],
    aliases: dict[bytes, bytes],
) -> tuple[list[int], list[T], list[str], list[tuple[int, bool, str]]]: ...
def execute_block(
    store: Store,
    env: BlockEnv,
    raws: list[bytes],
    senders: bytes,
    *,
    record_access: bool = False,
    threads: int = 1,
    predict: bool = True,
) -> BlockResult: ...
def execute_in_memory(
    env: BlockEnv, alloc: Alloc, raws: list[bytes], senders: bytes, threads: int = 1
) -> tuple[int, float]: ...
def recovery_limit(raws: list[bytes], threads: int) -> float: ...
def replay_block(
    store: Store, env: BlockEnv, raws: list[bytes], senders: bytes, *, inspect: bool
) -> tuple[int, float]: ...
def call(store: Store, env: BlockEnv, request: CallRequest, at: int | None = None) -> CallOutcome: ...
def estimate_gas(
    store: Store, env: BlockEnv, request: CallRequest, at: int | None = None
) -> tuple[int | None, CallOutcome | None]: ...
def create_access_list(
    store: Store, env: BlockEnv, request: CallRequest, at: int | None = None
) -> tuple[list[tuple[bytes, list[bytes]]], CallOutcome]: ...
def keccak(data: bytes) -> bytes: ...
def trace_block(
    store: Store,
    env: BlockEnv,
    at: int,
    block_hash: bytes,
    raws: list[bytes],
    senders: bytes,
    hashes: list[bytes],
    first: int,
    kind: str,
    options: str,
    max_bytes: int,
) -> list[str]: ...
def trace_call(
    store: Store,
    env: BlockEnv,
    request: CallRequest,
    at: int | None,
    kind: str,
    options: str,
    max_bytes: int,
) -> str: ...
def logs_bloom(logs: list[tuple[bytes, list[bytes]]]) -> bytes: ...
def receipt_json(record: bytes) -> tuple[int, bytes]: ...

MODULE_CODE: bytes
"""The code every module precompile address (0x…1001 bank, 0x…1005 staking, 0x…1006 governance, 0x…1007
distribution, 0x…1014 slashing) holds from genesis."""

def module_genesis(
    total_supply_usei: int,
    params: tuple[int, int, int, int, int],
    validators: list[tuple[bytes, int, int, bytes | None, int | None]],
    distribution: tuple[int, int],
    gov: tuple[int, int, int, int, int, int],
    slashing: tuple[int, int, int, int, int],
) -> list[tuple[bytes, list[tuple[int, int]]]]: ...
def committee(store: Store, epoch: int) -> list[tuple[bytes, bytes, int]] | None: ...
def epoch_blocks(store: Store) -> int: ...
def precompile_abis() -> list[tuple[str, bytes, str]]: ...
