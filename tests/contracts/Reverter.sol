// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Revert-path fixture for the pysei real-client conformance suite.
/// @notice Covers Error(string), custom errors, Panic(uint256) and a
///         state-changing function that reverts (for mined status-0 txs).
contract Reverter {
    error Unauthorized(address caller, uint256 code);

    uint256 public value;

    event ValueSet(address indexed setter, uint256 value);

    /// Always reverts with `Error(string)`.
    function revertWithReason() external pure {
        revert("Reverter: custom reason");
    }

    /// Always reverts with the custom error `Unauthorized(msg.sender, 42)`.
    function revertWithCustomError() external view {
        revert Unauthorized(msg.sender, 42);
    }

    /// Reverts with Panic(0x01) (failed assert).
    function panicAssert() external pure {
        assert(false);
    }

    /// Reverts with Panic(0x12) (division by zero) for a zero divisor.
    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }

    /// State-changing: succeeds for v <= 100, otherwise reverts with a reason.
    /// Sending it with an explicit gas limit and v > 100 produces a mined
    /// transaction with receipt status 0.
    function setValue(uint256 v) external {
        require(v <= 100, "Reverter: value too large");
        value = v;
        emit ValueSet(msg.sender, v);
    }

    /// State-changing: always reverts with the custom error.
    function setValueCustomError(uint256 v) external {
        value = v;
        revert Unauthorized(msg.sender, v);
    }
}
