// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

// Sei's staking precompile interface (precompiles/staking/Staking.sol), as a Sei contract imports it.
interface IStaking {
    struct Balance {
        uint256 amount;
        string denom;
    }

    struct DelegationDetails {
        string delegator_address;
        uint256 shares;
        uint256 decimals;
        string validator_address;
    }

    struct Delegation {
        Balance balance;
        DelegationDetails delegation;
    }

    function delegate(string memory valAddress) external payable returns (bool success);

    function redelegate(string memory srcAddress, string memory dstAddress, uint256 amount) external returns (bool success);

    function undelegate(string memory valAddress, uint256 amount) external returns (bool success);

    function delegation(address delegator, string memory valAddress) external view returns (Delegation memory delegation);

    function createValidator(
        string memory pubKeyHex,
        string memory moniker,
        string memory commissionRate,
        string memory commissionMaxRate,
        string memory commissionMaxChangeRate,
        uint256 minSelfDelegation
    ) external payable returns (bool success);

    function editValidator(string memory moniker, string memory commissionRate, uint256 minSelfDelegation)
        external
        returns (bool success);

    event ValidatorCreated(address indexed creator, string validatorAddress, string moniker);

    event ValidatorEdited(address indexed editor, string validatorAddress, string moniker);
}

address constant STAKING_PRECOMPILE_ADDRESS = 0x0000000000000000000000000000000000001005;

/// A contract that stakes its own funds through the staking precompile: the delegator is the contract.
contract StakingUser {
    IStaking constant STAKING = IStaking(STAKING_PRECOMPILE_ADDRESS);

    event Staked(string validator, uint256 wei_);

    function stake(string calldata validator) external payable returns (bool) {
        bool ok = STAKING.delegate{value: msg.value}(validator);
        emit Staked(validator, msg.value);
        return ok;
    }

    function unstake(string calldata validator, uint256 amountUsei) external returns (bool) {
        return STAKING.undelegate(validator, amountUsei);
    }

    function delegated(string calldata validator) external view returns (uint256) {
        return STAKING.delegation(address(this), validator).balance.amount;
    }

    receive() external payable {}
}

// Sei's bank precompile interface (precompiles/bank/Bank.sol), the part pysei implements.
interface IBank {
    struct Coin {
        uint256 amount;
        string denom;
    }

    function send(address fromAddress, address toAddress, string memory denom, uint256 amount) external returns (bool success);

    function sendNative(string memory toNativeAddress) external payable returns (bool success);

    function balance(address acc, string memory denom) external view returns (uint256 amount);

    function all_balances(address acc) external view returns (Coin[] memory response);

    function name(string memory denom) external view returns (string memory response);

    function symbol(string memory denom) external view returns (string memory response);

    function decimals(string memory denom) external view returns (uint8 response);

    function supply(string memory denom) external view returns (uint256 response);
}
