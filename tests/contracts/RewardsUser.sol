// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

import {IStaking, STAKING_PRECOMPILE_ADDRESS} from "StakingUser.sol";

// Sei's distribution precompile interface (precompiles/distribution/Distribution.sol), as a Sei contract
// imports it.
interface IDistr {
    struct Coin {
        uint256 amount;
        uint256 decimals;
        string denom;
    }

    struct Reward {
        Coin[] coins;
        string validator_address;
    }

    struct Rewards {
        Reward[] rewards;
        Coin[] total;
    }

    event WithdrawAddressSet(address indexed delegator, address withdrawAddr);
    event DelegationRewardsWithdrawn(address indexed delegator, string validator, uint256 amount);
    event MultipleDelegationRewardsWithdrawn(address indexed delegator, string[] validators, uint256[] amounts);
    event ValidatorCommissionWithdrawn(string indexed validator, uint256 amount);

    function setWithdrawAddress(address withdrawAddr) external returns (bool success);

    function withdrawDelegationRewards(string memory validator) external returns (bool success);

    function withdrawMultipleDelegationRewards(string[] memory validators) external returns (bool success);

    function withdrawValidatorCommission(string memory validator) external returns (bool success);

    function rewards(address delegatorAddress) external view returns (Rewards memory rewards);
}

address constant DISTR_PRECOMPILE_ADDRESS = 0x0000000000000000000000000000000000001007;

/// A contract that stakes its own funds and collects the rewards: the delegator is the contract.
contract RewardsUser {
    IStaking constant STAKING = IStaking(STAKING_PRECOMPILE_ADDRESS);
    IDistr constant DISTR = IDistr(DISTR_PRECOMPILE_ADDRESS);

    event Collected(string validator, uint256 wei_);

    function stake(string calldata validator) external payable returns (bool) {
        return STAKING.delegate{value: msg.value}(validator);
    }

    /// Withdraws the rewards from `validator` and reports what arrived (wei).
    function collect(string calldata validator) external returns (uint256 received) {
        uint256 before = address(this).balance;
        require(DISTR.withdrawDelegationRewards(validator), "withdrawal failed");
        received = address(this).balance - before;
        emit Collected(validator, received);
    }

    /// Pending rewards in usei with 18 decimals, as Sei's `rewards()` reports them.
    function pending() external view returns (uint256 total) {
        IDistr.Rewards memory r = DISTR.rewards(address(this));
        for (uint256 i = 0; i < r.total.length; i++) {
            total += r.total[i].amount;
        }
    }

    receive() external payable {}
}
