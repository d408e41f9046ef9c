// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A storage-heavy contract for benchmarks: each write(base, n) sets n fresh slots (base … base+n-1), so with
/// distinct bases every call pays n zero-to-nonzero SSTOREs and the state grows by n slots.
contract BenchStorage {
    mapping(uint256 => uint256) public slots;
    uint256 public writes;

    function write(uint256 base, uint256 n) external {
        for (uint256 i = 0; i < n; ++i) {
            slots[base + i] = base + i + 1;
        }
        unchecked {
            writes += n;
        }
    }
}
