//! The bank module at `0x…1001`: SEI with `usei` (6 decimals) as its native unit.
//!
//! The EVM balance is in wei (1 usei = 10^12 wei). Sei keeps each account's usei balance and, beside it, a
//! remainder below 10^12 wei; pysei keeps the single wei balance, which holds exactly the same information
//! (usei = balance / 10^12, remainder = balance mod 10^12), so the bank answers in usei and the EVM in wei
//! without a second ledger that could disagree. Total supply (usei) is one slot, written at genesis and by
//! minting and burning only, never by transfers.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{sol, SolCall, SolInterface};

use super::{
    bech32_address, emit, parse_address, revert, usei_to_wei, Call, Ledger, Outcome, BANK, USEI, WEI_PER_USEI,
};

sol! {
    /// Sei's bank precompile interface (`precompiles/bank/Bank.sol`), the part pysei implements.
    #[sol(abi)]
    interface IBank {
        struct Coin {
            uint256 amount;
            string denom;
        }

        function send(address fromAddress, address toAddress, string denom, uint256 amount) external returns (bool success);
        function sendNative(string toNativeAddress) external payable returns (bool success);
        function balance(address acc, string denom) external view returns (uint256 amount);
        function all_balances(address acc) external view returns (Coin[] response);
        function name(string denom) external view returns (string response);
        function symbol(string denom) external view returns (string response);
        function decimals(string denom) external view returns (uint8 response);
        function supply(string denom) external view returns (uint256 response);

        event Send(address indexed from, address indexed to, string denom, uint256 amount);
    }
}

/// Slot holding the total supply in usei.
pub(crate) const SUPPLY: U256 = U256::ZERO;

fn check_denom<E>(denom: &str) -> Outcome<(), E> {
    if denom == USEI {
        Ok(())
    } else {
        revert(format!("unknown denom {denom:?}: the only native denom is \"usei\""))
    }
}

pub(crate) fn supply<L: Ledger>(ledger: &mut L) -> Outcome<U256, L::Error> {
    ledger.load(BANK, SUPPLY)
}

/// Takes `usei` out of the total supply (the tokens already left every balance: governance's burned deposits).
pub(crate) fn burn<L: Ledger>(ledger: &mut L, usei: U256) -> Outcome<(), L::Error> {
    let supply = supply(ledger)?;
    let Some(left) = supply.checked_sub(usei) else { return revert("burn exceeds the total supply") };
    ledger.store(BANK, SUPPLY, left)
}

/// Usei held by `who` (the wei remainder below 1 usei is not counted, as in Sei's bank).
fn usei_balance<L: Ledger>(ledger: &mut L, who: Address) -> Outcome<U256, L::Error> {
    Ok(ledger.balance(who)? / U256::from(WEI_PER_USEI))
}

pub(crate) fn call<L: Ledger>(ledger: &mut L, call: &Call<'_>) -> Outcome<Bytes, L::Error> {
    let Ok(decoded) = IBank::IBankCalls::abi_decode(call.input) else {
        return revert("bank: malformed call data (unknown selector or bad ABI encoding)");
    };
    use IBank::IBankCalls as C;
    if !matches!(decoded, C::sendNative(_)) {
        call.nonpayable()?;
    }
    let out = match decoded {
        C::send(c) => {
            call.mutating()?;
            check_denom(&c.denom)?;
            if c.fromAddress != call.caller {
                return revert("send: only the sender itself may send its funds");
            }
            let Some(wei) = usei_to_wei(c.amount) else { return revert("send: amount overflows") };
            ledger.sub_balance(c.fromAddress, wei)?;
            ledger.add_balance(c.toAddress, wei)?;
            emit(ledger, BANK, &IBank::Send { from: c.fromAddress, to: c.toAddress, denom: c.denom, amount: c.amount });
            IBank::sendCall::abi_encode_returns(&true)
        }
        C::sendNative(c) => {
            call.mutating()?;
            let Some(to) = parse_address(&c.toNativeAddress, "sei") else {
                return revert(format!("sendNative: {:?} is not a sei1… or 0x… address", c.toNativeAddress));
            };
            if call.value.is_zero() {
                return revert("sendNative: send a non-zero value");
            }
            // The call already moved the value to the bank's account; pass it on. The bank's own balance ends
            // as it began, so concurrent sends do not conflict on it.
            ledger.sub_balance(BANK, call.value)?;
            ledger.add_balance(to, call.value)?;
            let usei = call.value / U256::from(WEI_PER_USEI);
            emit(ledger, BANK, &IBank::Send { from: call.caller, to, denom: USEI.into(), amount: usei });
            IBank::sendNativeCall::abi_encode_returns(&true)
        }
        C::balance(c) => {
            check_denom(&c.denom)?;
            IBank::balanceCall::abi_encode_returns(&usei_balance(ledger, c.acc)?)
        }
        C::all_balances(c) => {
            let amount = usei_balance(ledger, c.acc)?;
            let coins = if amount.is_zero() { vec![] } else { vec![IBank::Coin { amount, denom: USEI.into() }] };
            IBank::all_balancesCall::abi_encode_returns(&coins)
        }
        C::name(c) => {
            check_denom(&c.denom)?;
            IBank::nameCall::abi_encode_returns(&"Sei".to_string())
        }
        C::symbol(c) => {
            check_denom(&c.denom)?;
            IBank::symbolCall::abi_encode_returns(&"SEI".to_string())
        }
        C::decimals(c) => {
            check_denom(&c.denom)?;
            IBank::decimalsCall::abi_encode_returns(&6u8)
        }
        C::supply(c) => {
            check_denom(&c.denom)?;
            IBank::supplyCall::abi_encode_returns(&supply(ledger)?)
        }
    };
    Ok(out.into())
}

/// The bank's genesis slots: the total supply.
pub(crate) fn genesis(total_supply_usei: U256) -> super::Slots {
    vec![(SUPPLY, total_supply_usei)]
}

/// `sei1…` for an address (what queries return for delegators).
pub(crate) fn sei_address(address: Address) -> String {
    bech32_address("sei", address)
}
