// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A minimal ERC-721 for benchmarks: anyone mints the next token id to themselves; owners can transfer.
/// (No approvals, no safe transfers, no metadata: the benchmark measures the mint's storage writes and log.)
contract BenchNFT {
    string public constant name = "Bench NFT";
    string public constant symbol = "BNFT";
    uint256 public totalSupply;
    mapping(uint256 => address) public ownerOf;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x80ac58cd || id == 0x01ffc9a7; // ERC-721, ERC-165
    }

    function mint() external returns (uint256 id) {
        id = ++totalSupply;
        ownerOf[id] = msg.sender;
        unchecked {
            balanceOf[msg.sender] += 1;
        }
        emit Transfer(address(0), msg.sender, id);
    }

    function transferFrom(address from, address to, uint256 id) external {
        require(ownerOf[id] == from && from == msg.sender, "BenchNFT: not owner");
        require(to != address(0), "BenchNFT: zero address");
        ownerOf[id] = to;
        unchecked {
            balanceOf[from] -= 1;
            balanceOf[to] += 1;
        }
        emit Transfer(from, to, id);
    }
}
