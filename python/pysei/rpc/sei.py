"""sei_ methods: Sei's own additions (the state commitment, certified by an AppQC on a validator)."""

from __future__ import annotations

from typing import Any

from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param
from pysei.rpc.errors import server_error
from pysei.rpc.interfaces import ChainSettings, ConsensusView


class Sei:
    def __init__(self, view: ChainView, params: ChainSettings, consensus: ConsensusView | None = None) -> None:
        self.view = view
        self.params = params
        self.consensus = consensus

    async def rpc_sei_getStateCommitment(self, params: list[Any]) -> dict[str, Any]:
        """The LtHash commitment of the state after a block, and the block whose header carries it.

        ``commitment`` is null while the worker has not reached the block yet (it trails execution by design);
        once the certifying block ``number + k`` exists, its ``stateRoot`` equals this commitment. On a validator,
        ``certified`` says whether an AppQC (2f+1 validators' signatures) certifies it and ``certifiedBy`` names
        the signers' public keys."""
        number = self.view.block_number(param(params, 0, "block", required=False, default="latest"))
        head = self.view.head.header.number
        if number > head:
            raise server_error(f"block {number} not found (head is {head})")
        digest = self.view.chain.commitment(number)
        delay = self.params.commitment_delay
        out: dict[str, Any] = {
            "blockNumber": hx(number),
            "commitment": None if digest is None else hb(digest),
            "certifiedInBlock": hx(number + delay),
            "delay": hx(delay),
            "scheme": "lthash16-1024-blake3",
        }
        if self.consensus is not None:
            cert = self.consensus.certificate(number)
            out["certified"] = cert is not None and cert[0] == digest
            out["certifiedBy"] = [] if cert is None else [hb(k) for k in cert[1]]
        return out
