// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Address-index fixtures: a contract created by a contract, and addresses a transaction's trace names
///        although its state diff does not show them (a contract it created and then undid by reverting, a call
///        that failed before its frame started).
contract Spawned {}

contract Spawner {
    /// Creates a contract that stays: its creator is this contract.
    function spawn() external returns (address) {
        return address(new Spawned());
    }

    /// Creates a contract, then reverts: the contract never exists, but the creation is in the trace.
    function spawnThenFail() external {
        new Spawned();
        revert("Spawner: undone");
    }

    /// Sends `to` more value than this contract has: the call fails at once and the transaction goes on.
    function overspend(address to) external returns (bool ok) {
        (ok, ) = to.call{value: address(this).balance + 1}("");
    }
}
