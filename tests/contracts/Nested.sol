// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Call-tree fixtures for the tracing tests: a caller that calls a callee that reverts, and a
///        transaction that makes several calls (one of them failing inside a try/catch).
contract Callee {
    uint256 public count;

    event Poked(address indexed by, uint256 count);

    function poke() external returns (uint256) {
        count += 1;
        emit Poked(msg.sender, count);
        return count;
    }

    function fail(uint256 x) external pure {
        require(x == 0, "Callee: nope");
    }
}

contract Caller {
    Callee public immutable callee;

    constructor(Callee callee_) {
        callee = callee_;
    }

    /// Calls the callee, then a callee function that reverts: the revert bubbles up and the whole call reverts.
    function pokeThenFail(uint256 x) external {
        callee.poke();
        callee.fail(x);
    }

    /// Several calls in one transaction; the failing one is caught, so the transaction succeeds.
    function multi() external payable returns (uint256) {
        callee.poke();
        callee.poke();
        try callee.fail(1) {} catch {}
        payable(address(callee)).call{value: msg.value}("");
        return callee.count();
    }
}
