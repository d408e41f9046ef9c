"""sei_ consensus methods of a validator: its consensus status, the committee and stored evidence."""

from __future__ import annotations

from typing import Any

from pysei.rpc.interfaces import ConsensusView


class Consensus:
    def __init__(self, engine: ConsensusView) -> None:
        self.engine = engine

    async def rpc_sei_consensusStatus(self, params: list[Any]) -> dict[str, Any]:
        """Slot, view, leader, lane tips and committed positions, last certified block, fast/slow commits,
        view changes, evidence count and peers (traffic, drops, misbehaviour)."""
        return self.engine.status()

    async def rpc_sei_validators(self, params: list[Any]) -> list[dict[str, Any]]:
        """The committee in lane order: public key, stake, p2p and JSON-RPC addresses."""
        return self.engine.validators()

    async def rpc_sei_getEvidence(self, params: list[Any]) -> list[dict[str, Any]]:
        """Evidence of Byzantine behaviour this validator stored: kind, offender and both signed messages."""
        return self.engine.evidence()
