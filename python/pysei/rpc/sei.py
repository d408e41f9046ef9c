"""sei_ methods: Sei's own additions (the state commitment, certified by an AppQC on a validator; governance
proposals, read from the governance module's state through its precompile's queries)."""

from __future__ import annotations

from typing import Any

from pysei.chain import governance as gov
from pysei.native import CallRequest
from pysei.rpc.chainview import ChainView
from pysei.rpc.codec import hb, hx, param, quantity
from pysei.rpc.errors import invalid_params, reverted, server_error
from pysei.rpc.interfaces import ChainSettings, ConsensusView, Simulator

MAX_PROPOSAL_PAGES = 20
"""``sei_proposals`` reads at most this many pages of 50 (the precompile's page size)."""


class Sei:
    def __init__(
        self,
        view: ChainView,
        params: ChainSettings,
        simulator: Simulator,
        consensus: ConsensusView | None = None,
    ) -> None:
        self.view = view
        self.params = params
        self.simulator = simulator
        self.consensus = consensus

    def _governance(self, tag: Any, data: bytes) -> bytes:
        """A query of the governance precompile against the state after block ``tag``."""
        request = CallRequest(sender=b"\x00" * 20, to=gov.GOVERNANCE, data=data)
        _, result = self.view.read_state(tag, lambda block: self.simulator.call(block, request))
        if not result.success:
            raise reverted(result.output)
        return result.output

    async def rpc_sei_proposals(self, params: list[Any]) -> list[dict[str, Any]]:
        """Every governance proposal (oldest first) at a block (default latest), optionally only those with one
        status (``deposit_period``, ``voting_period``, ``passed``, ``rejected``, ``failed``)."""
        status_name = param(params, 0, "status", required=False, default=None)
        tag = param(params, 1, "block", required=False, default="latest")
        status = 0
        if status_name is not None:
            codes = {name: code for code, name in gov.STATUS.items()}
            if status_name not in codes:
                raise invalid_params(f"unknown proposal status {status_name!r}: one of {', '.join(codes)}")
            status = codes[status_name]
        out: list[dict[str, Any]] = []
        key = b""
        for _ in range(MAX_PROPOSAL_PAGES):
            page, key = gov.decode_proposals(self._governance(tag, gov.proposals_data(status, key)))
            out.extend(page)
            if not key:
                break
        return out

    async def rpc_sei_proposal(self, params: list[Any]) -> dict[str, Any]:
        """One proposal with its tally: the final one once closed, the current one while voting."""
        proposal_id = quantity(param(params, 0, "proposal id"), "proposal id", 64)
        tag = param(params, 1, "block", required=False, default="latest")
        out = gov.decode_proposal(self._governance(tag, gov.proposal_data(proposal_id)))
        out["tally"] = gov.decode_tally(self._governance(tag, gov.tally_data(proposal_id)))
        return out

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
