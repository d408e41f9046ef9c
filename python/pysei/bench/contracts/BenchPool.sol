// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IBenchERC20 {
    function balanceOf(address holder) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// A single constant-product pool (x·y = k, 0.3% fee) over two BenchTokens, for benchmarks: every swap reads and
/// writes the same reserves slot, so a block of swaps is one long dependency chain.
/// Liquidity is seeded by transferring both tokens to the pool and calling sync().
contract BenchPool {
    IBenchERC20 public immutable token0;
    IBenchERC20 public immutable token1;
    uint112 private reserve0;
    uint112 private reserve1;

    event Sync(uint112 reserve0, uint112 reserve1);
    event Swap(address indexed sender, bool zeroForOne, uint256 amountIn, uint256 amountOut);

    constructor(IBenchERC20 t0, IBenchERC20 t1) {
        token0 = t0;
        token1 = t1;
    }

    function getReserves() external view returns (uint256, uint256) {
        return (reserve0, reserve1);
    }

    function sync() external {
        _update(token0.balanceOf(address(this)), token1.balanceOf(address(this)));
    }

    /// Sells `amountIn` of token0 (zeroForOne) or token1 for the other; the caller must have approved the pool.
    function swap(bool zeroForOne, uint256 amountIn, uint256 minOut) external returns (uint256 amountOut) {
        (uint256 r0, uint256 r1) = (reserve0, reserve1);
        (IBenchERC20 tokenIn, IBenchERC20 tokenOut, uint256 rIn, uint256 rOut) =
            zeroForOne ? (token0, token1, r0, r1) : (token1, token0, r1, r0);
        uint256 inWithFee = amountIn * 997;
        amountOut = (inWithFee * rOut) / (rIn * 1000 + inWithFee);
        require(amountOut > 0 && amountOut >= minOut, "BenchPool: insufficient output");
        require(tokenIn.transferFrom(msg.sender, address(this), amountIn), "BenchPool: transfer in failed");
        require(tokenOut.transfer(msg.sender, amountOut), "BenchPool: transfer out failed");
        if (zeroForOne) {
            _update(r0 + amountIn, r1 - amountOut);
        } else {
            _update(r0 - amountOut, r1 + amountIn);
        }
        emit Swap(msg.sender, zeroForOne, amountIn, amountOut);
    }

    function _update(uint256 b0, uint256 b1) private {
        require(b0 <= type(uint112).max && b1 <= type(uint112).max, "BenchPool: overflow");
        reserve0 = uint112(b0);
        reserve1 = uint112(b1);
        emit Sync(uint112(b0), uint112(b1));
    }
}
