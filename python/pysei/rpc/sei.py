"""sei_ methods: Sei's own additions (the state commitment)."""

from __future__ import annotations

from typing import Any

from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import server_error
from pysei.rpc.interfaces import ChainSettings


class Sei:
    def __init__(self, view: ChainView, params: ChainSettings) -> None:
        self.view = view
        self.params = params

    async def rpc_sei_getStateCommitment(self, params: list[Any]) -> dict[str, Any]:
        """The LtHash commitment of the state after a block, and the block whose header carries it.

        ``commitment`` is null while the worker has not reached the block yet (it trails execution by design);
        once the certifying block ``number + k`` exists, its ``stateRoot`` equals this commitment."""
        number = self.view.block_number(param(params, 0, "block", required=False, default="latest"))
        head = self.view.head.header.number
        if number > head:
            raise server_error(f"block {number} not found (head is {head})")
        digest = self.view.chain.commitment(number)
        delay = self.params.commitment_delay
        return {
            "blockNumber": hx(number),
            "commitment": None if digest is None else hb(digest),
            "certifiedInBlock": hx(number + delay),
            "delay": hx(delay),
            "scheme": "lthash16-1024-blake3",
        }
