"""Transaction pool: admission (geth rules and error strings), pending/queued/in-flight tracking, block selection.

See :mod:`pysei.mempool.pool` for the lifecycle of a transaction between RPC ingest and execution.
"""

from pysei.mempool.config import MempoolConfig
from pysei.mempool.errors import (
    AccountLimitError,
    AlreadyKnownError,
    FeeCapTooLowError,
    InsufficientFundsError,
    MempoolError,
    NonceTooLowError,
    ReplacementUnderpricedError,
    TipAboveFeeCapError,
    TxPoolFullError,
    UnderpricedError,
)
from pysei.mempool.interfaces import AccountReader, NewPendingCallback
from pysei.mempool.pool import (
    MIN_TX_GAS,
    AddOutcome,
    AddStatus,
    Dropped,
    DropReason,
    Mempool,
    PoolContent,
    TxStatus,
)

__all__ = [
    "MIN_TX_GAS",
    "AccountLimitError",
    "AccountReader",
    "AddOutcome",
    "AddStatus",
    "AlreadyKnownError",
    "DropReason",
    "Dropped",
    "FeeCapTooLowError",
    "InsufficientFundsError",
    "Mempool",
    "MempoolConfig",
    "MempoolError",
    "NewPendingCallback",
    "NonceTooLowError",
    "PoolContent",
    "ReplacementUnderpricedError",
    "TipAboveFeeCapError",
    "TxPoolFullError",
    "TxStatus",
    "UnderpricedError",
]
