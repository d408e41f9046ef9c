"""The method table's batch forms (``rpc/table.py``) and how the server uses them, without sockets: a batch's
entries for a method with a batch form are answered by one call of it, what it leaves goes through the method,
and the answers are those of the method alone. (``tests/test_rpc_errors.py`` checks the same over HTTP against a
node, for ``eth_getTransactionReceipt``.)"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysei.rpc.api import RpcApi
from pysei.rpc.server import RpcServer
from pysei.rpc.subscriptions import Subscriptions
from pysei.rpc.table import UNANSWERED, MethodTable


class Squares:
    """``test_square(n)``: n², an error for a negative n; its batch form answers the even n only."""

    def __init__(self) -> None:
        self.batch_calls: list[list[list[Any]]] = []

    async def rpc_test_square(self, params: list[Any]) -> int:
        (n,) = params
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"not a natural number: {n!r}")
        return n * n

    async def batch_test_square(self, params: list[list[Any]]) -> list[Any]:
        self.batch_calls.append(params)
        return [p[0] * p[0] if len(p) == 1 and isinstance(p[0], int) and p[0] >= 0 and p[0] % 2 == 0 else UNANSWERED
                for p in params]  # fmt: skip


def serve(namespace: object) -> RpcServer:
    table = MethodTable()
    table.add(namespace)
    return RpcServer(RpcApi(methods=table, ingest=None, subscriptions=Subscriptions()))  # type: ignore[arg-type]


def answer(server: RpcServer, body: Any) -> Any:
    return asyncio.run(server.dispatch(orjson.dumps(body), None))


entry = st.one_of(
    st.integers(-3, 9).map(lambda n: {"jsonrpc": "2.0", "method": "test_square", "params": [n]}),
    st.just({"jsonrpc": "2.0", "method": "test_square", "params": [2, 3]}),
    st.just({"jsonrpc": "2.0", "method": "test_square", "params": "4"}),
    st.just({"jsonrpc": "2.0", "method": "test_nope", "params": []}),
    st.just({"method": "test_square", "params": [4]}),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(entry, st.booleans()), min_size=1, max_size=12))
def test_a_batch_answers_as_its_entries_one_by_one(drawn: list[tuple[dict[str, Any], bool]]) -> None:
    """Whatever the mix (notifications, invalid entries, other methods, entries the batch form leaves), each
    entry's answer in the batch is its answer alone, in order."""
    squares = Squares()
    server = serve(squares)
    entries = [dict(e, id=i) if with_id else dict(e) for i, (e, with_id) in enumerate(drawn)]
    alone = [a for e in entries if (a := answer(server, e)) is not None]
    assert answer(server, entries) == (alone or None)


def test_one_call_of_the_batch_form_answers_its_entries() -> None:
    squares = Squares()
    server = serve(squares)
    entries = [{"jsonrpc": "2.0", "id": n, "method": "test_square", "params": [n]} for n in range(6)]
    assert answer(server, entries) == [{"jsonrpc": "2.0", "id": n, "result": n * n} for n in range(6)]
    assert squares.batch_calls == [[[n] for n in range(6)]]


def test_a_batch_form_needs_its_method_and_goes_with_it_when_replaced() -> None:
    class Orphan:
        async def batch_test_square(self, params: list[list[Any]]) -> list[Any]:
            return [UNANSWERED for _ in params]

    with pytest.raises(ValueError, match="batch form of test_square without the method itself"):
        MethodTable().add(Orphan())
    table = MethodTable()
    table.add(Squares())
    assert table.get_batch("test_square") is not None

    async def cubes(params: list[Any]) -> int:
        return int(params[0]) ** 3

    table.replace("test_square", cubes)
    assert table.get_batch("test_square") is None  # else the batch would answer with the old method


def test_a_failing_batch_form_leaves_every_entry_to_the_method() -> None:
    class Broken(Squares):
        async def batch_test_square(self, params: list[list[Any]]) -> list[Any]:
            raise RuntimeError("a bug in the batch form")

    entries = [{"jsonrpc": "2.0", "id": n, "method": "test_square", "params": [n]} for n in range(3)]
    assert answer(serve(Broken()), entries) == [{"jsonrpc": "2.0", "id": n, "result": n * n} for n in range(3)]
