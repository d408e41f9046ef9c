//! The module precompiles executed as a node executes them: signed transactions through the block executor
//! (sequential and parallel) over committed state, block after block.

mod consensus;
mod governance;

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolError, SolEvent};
use proptest::prelude::*;

use super::{
    bank::IBank,
    bech32_address, distribution,
    distribution::{IDistr, FEE_COLLECTOR},
    governance::IGov,
    staking::{GenesisValidator, IStaking, Params, DEC_ONE},
    BANK, DISTRIBUTION, GOVERNANCE, MODULE_CODE, STAKING, WEI_PER_USEI,
};
use crate::{
    db::StateChanges,
    decode::decode_and_recover,
    exec::{execute_block, BlockOutput, BlockParams, OrderedTx},
    parallel::{execute_block_parallel, PredictMode},
    testutil::{block_params, Key, MemReader, CHAIN},
};

const SEI: u64 = 1_000_000_000_000_000_000;
const OPERATOR: Address = Address::with_last_byte(0x0a);
const OTHER_OPERATOR: Address = Address::with_last_byte(0x0b);
const START: u64 = 1_700_000_000;
const UNBONDING: u64 = 100;
const EPOCH_BLOCKS: u64 = 10;

/// The test validators' consensus keys: the operator's last byte, repeated.
fn consensus_key(operator: Address) -> [u8; 32] {
    [operator.0[19]; 32]
}

fn valoper(a: Address) -> String {
    bech32_address("seivaloper", a)
}

/// Governance's genesis in these tests: a 10 SEI minimum deposit, 50 s to reach it, 100 s of voting, Cosmos's
/// tally parameters.
const MIN_DEPOSIT_USEI: u64 = 10_000_000;
const DEPOSIT_PERIOD: u64 = 50;
const VOTING_PERIOD: u64 = 100;

/// State with the modules' genesis (two validators, 100 s unbonding, no block reward) and `keys` funded with
/// 100 SEI each; the total supply is exactly what that holds.
fn genesis(keys: &[Key]) -> MemReader {
    genesis_with(keys, [OPERATOR, OTHER_OPERATOR], U256::ZERO)
}

/// As `genesis`, with the given validator operators (1 SEI self-delegation, 10% commission each) and a
/// block reward (usei; community tax 2%).
fn genesis_with(keys: &[Key], operators: [Address; 2], block_reward_usei: U256) -> MemReader {
    let mut reader = MemReader::default();
    let params = Params {
        unbonding_time: UNBONDING,
        max_entries: 7,
        max_validators: 35,
        min_commission_rate: U256::from(DEC_ONE / 20),
        epoch_blocks: EPOCH_BLOCKS,
    };
    let validators = operators.map(|operator| GenesisValidator {
        operator,
        self_delegation: U256::from(1_000_000u64),
        commission_rate: U256::from(DEC_ONE / 10),
        consensus_key: Some(consensus_key(operator)),
    });
    let supply = U256::from(keys.len() as u64 * 100_000_000 + 2_000_000);
    let distribution = distribution::Params { community_tax: U256::from(DEC_ONE / 50), block_reward_usei };
    let dec = |thousandths: u64| U256::from(thousandths) * U256::from(DEC_ONE / 1_000);
    let gov = super::governance::Params {
        min_deposit: U256::from(MIN_DEPOSIT_USEI),
        max_deposit_period: DEPOSIT_PERIOD,
        voting_period: VOTING_PERIOD,
        quorum: dec(334),
        threshold: dec(500),
        veto_threshold: dec(334),
    };
    for (module, slots) in super::genesis(supply, &params, &validators, &distribution, &gov).expect("genesis") {
        reader.deploy(module, &MODULE_CODE);
        reader.storage.extend(slots.into_iter().map(|(k, v)| ((module, k), v)));
    }
    for key in keys {
        reader.fund(key.address, U256::from(100) * U256::from(SEI));
    }
    reader
}

fn apply(reader: &mut MemReader, changes: &StateChanges) {
    for (address, info) in &changes.accounts {
        match info {
            Some(info) => {
                let mut info = info.clone();
                info.code = None;
                reader.accounts.insert(*address, info);
            }
            None => {
                reader.accounts.remove(address);
            }
        }
    }
    for address in &changes.wiped {
        reader.storage.retain(|(a, _), _| a != address);
    }
    for (address, slot, value) in &changes.storage {
        if value.is_zero() {
            reader.storage.remove(&(*address, *slot));
        } else {
            reader.storage.insert((*address, *slot), *value);
        }
    }
}

fn params_at(timestamp: u64) -> BlockParams {
    let mut p = block_params(1_000_000_000);
    p.timestamp = timestamp;
    p
}

fn txs(raws: &[Vec<u8>]) -> (Vec<Address>, Vec<&[u8]>) {
    (
        raws.iter().map(|r| decode_and_recover(r).expect("valid tx").sender).collect(),
        raws.iter().map(Vec::as_slice).collect(),
    )
}

/// Executes `raws` as one block at `timestamp` on `reader` and commits the result into it. Its fees go to
/// `testutil::COLLECTOR`, which the distribution module does not distribute.
fn block(reader: &mut MemReader, timestamp: u64, raws: &[Vec<u8>]) -> BlockOutput {
    block_with(reader, &params_at(timestamp), raws)
}

/// As `block`, with the fees paid to Sei's fee collector (as on a node), so that they are distributed.
fn block_with_fees(reader: &mut MemReader, timestamp: u64, raws: &[Vec<u8>]) -> BlockOutput {
    let mut params = params_at(timestamp);
    params.beneficiary = FEE_COLLECTOR;
    block_with(reader, &params, raws)
}

fn block_with(reader: &mut MemReader, params: &BlockParams, raws: &[Vec<u8>]) -> BlockOutput {
    let (senders, raws) = txs(raws);
    let ordered: Vec<OrderedTx<'_>> = raws.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
    let out = execute_block(&*reader, params, &ordered, false).expect("execution");
    apply(reader, &out.changes);
    out
}

fn slot(reader: &MemReader, module: Address, key: U256) -> U256 {
    reader.storage.get(&(module, key)).copied().unwrap_or_default()
}

fn balance(reader: &MemReader, who: Address) -> U256 {
    reader.accounts.get(&who).map(|a| a.balance).unwrap_or_default()
}

fn delegate(key: &Key, nonce: u64, validator: Address, wei: u64) -> Vec<u8> {
    let data = IStaking::delegateCall { valAddress: valoper(validator) }.abi_encode();
    key.sign(CHAIN, nonce, Some(STAKING), wei, &data, 200_000)
}

fn undelegate(key: &Key, nonce: u64, validator: Address, usei: u64) -> Vec<u8> {
    let data = IStaking::undelegateCall { valAddress: valoper(validator), amount: U256::from(usei) }.abi_encode();
    key.sign(CHAIN, nonce, Some(STAKING), 0, &data, 300_000)
}

fn delegation(reader: &MemReader, who: Address, validator: Address) -> U256 {
    let raw = IStaking::delegationCall { delegator: who, valAddress: valoper(validator) }.abi_encode();
    let out = query(reader, STAKING, &raw);
    IStaking::delegationCall::abi_decode_returns(&out).expect("delegation").balance.amount
}

fn validator_tokens(reader: &MemReader, operator: Address) -> U256 {
    let out = query(reader, STAKING, &IStaking::validatorsCall {}.abi_encode());
    let validators = IStaking::validatorsCall::abi_decode_returns(&out).expect("validators");
    validators.into_iter().find(|v| v.operator == operator).expect("validator").tokens
}

/// An `eth_call` against `reader`.
fn query(reader: &MemReader, to: Address, data: &[u8]) -> Bytes {
    let request = crate::call::CallRequest {
        from: Address::ZERO,
        to: Some(to),
        gas: None,
        max_fee_per_gas: None,
        max_priority_fee_per_gas: None,
        value: U256::ZERO,
        data: Bytes::copy_from_slice(data),
        nonce: None,
        access_list: Vec::new(),
        overrides: Default::default(),
    };
    let out = crate::call::call(reader, &params_at(START), &request).expect("call");
    assert!(out.success, "query reverted: {:?}", out.output);
    out.output
}

fn revert_reason(out: &BlockOutput, i: usize) -> String {
    let o = &out.outcomes[i];
    assert!(o.included.is_ok(), "tx {i} skipped: {:?}", o.included);
    assert!(!o.success, "tx {i} succeeded");
    alloy_sol_types::Revert::abi_decode(&o.output).expect("Error(string)").reason
}

/// Book units of the distribution module per wei.
const UNITS_PER_WEI: u64 = 1_000_000_000_000_000_000;

/// Σ EVM balances + bonded + unbonding + deposits of open proposals, in distribution book units (10^-18 wei),
/// plus the distribution books (community pool, commission, outstanding rewards): what total supply must equal.
fn supply_held(reader: &MemReader) -> U256 {
    let out = query(
        reader,
        GOVERNANCE,
        &IGov::proposalsCall {
            proposalStatus: 0,
            voter: Address::ZERO,
            depositor: Address::ZERO,
            pageKey: Bytes::new(),
        }
        .abi_encode(),
    );
    let deposits = IGov::proposalsCall::abi_decode_returns(&out)
        .expect("proposals")
        .proposals
        .into_iter()
        .filter(|p| p.status <= 2)
        .flat_map(|p| p.totalDeposit)
        .fold(U256::ZERO, |s, c| s + c.amount);
    let balances = reader.accounts.values().fold(U256::ZERO, |s, a| s + a.balance);
    let module: U256 = reader
        .storage
        .iter()
        .filter(|((a, k), _)| *a == STAKING && matches!(k.to_be_bytes::<32>()[0], 3 | 6))
        .filter(|((_, k), _)| {
            let b = k.to_be_bytes::<32>();
            // validator tokens (tag 3, field 1) and unbonding amounts (tag 6, field 0)
            (b[0] == 3 && b[31] == 1) || (b[0] == 6 && b[26] == 0)
        })
        .fold(U256::ZERO, |s, (_, v)| s + *v);
    let books: U256 = reader
        .storage
        .iter()
        .filter(|((a, k), _)| {
            let b = k.to_be_bytes::<32>();
            // the community pool (tag 2), outstanding rewards and commission (tag 3, fields 1 and 2)
            *a == DISTRIBUTION && (b[0] == 2 || (b[0] == 3 && matches!(b[31], 1 | 2)))
        })
        .fold(U256::ZERO, |s, (_, v)| s + *v);
    (balances + (module + deposits) * U256::from(WEI_PER_USEI)) * U256::from(UNITS_PER_WEI) + books
}

/// The total supply in distribution book units.
fn total_supply_units(reader: &MemReader) -> U256 {
    slot(reader, BANK, super::bank::SUPPLY) * U256::from(WEI_PER_USEI) * U256::from(UNITS_PER_WEI)
}

#[test]
fn delegate_bonds_and_tokens_follow_at_end_of_block() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    let out = block(&mut reader, START, &[delegate(&alice, 0, OPERATOR, 5 * SEI)]);
    assert!(out.outcomes[0].success, "{:?}", out.outcomes[0]);
    assert_eq!(delegation(&reader, alice.address, OPERATOR), U256::from(5_000_000u64));
    assert_eq!(validator_tokens(&reader, OPERATOR), U256::from(6_000_000u64));
    // The module's account ends as it began: the value left the EVM ledger.
    assert_eq!(balance(&reader, STAKING), U256::ZERO);
    // One log, from the precompile.
    let logs = &out.receipts[0].logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, STAKING);
}

#[test]
fn bad_input_reverts_with_a_reason_and_changes_nothing() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    block(&mut reader, START, &[delegate(&alice, 0, OPERATOR, 2 * SEI)]);
    let nobody = Address::with_last_byte(0x99);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (delegate(&alice, 1, nobody, SEI), "does not exist"),
        (delegate(&alice, 2, OPERATOR, SEI + 1), "remainder of 1 wei"),
        (undelegate(&alice, 3, OPERATOR, 3_000_000), "exceeds the delegation of 2000000 usei"),
        (alice.sign(CHAIN, 4, Some(STAKING), 0, &[0xde, 0xad, 0xbe, 0xef, 1], 100_000), "malformed call data"),
        (alice.sign(CHAIN, 5, Some(BANK), 0, &[0x01], 100_000), "malformed call data"),
        (
            alice.sign(
                CHAIN,
                6,
                Some(STAKING),
                1,
                &IStaking::undelegateCall { valAddress: valoper(OPERATOR), amount: U256::from(1) }.abi_encode(),
                300_000,
            ),
            "not payable",
        ),
    ];
    let raws: Vec<Vec<u8>> = cases.iter().map(|(r, _)| r.clone()).collect();
    let before_delegation = delegation(&reader, alice.address, OPERATOR);
    let out = block(&mut reader, START + 1, &raws);
    for (i, (_, want)) in cases.iter().enumerate() {
        let reason = revert_reason(&out, i);
        assert!(reason.contains(want), "tx {i}: {reason:?} lacks {want:?}");
    }
    assert_eq!(delegation(&reader, alice.address, OPERATOR), before_delegation);
    // Only the nonce and fees changed: no module slot was written.
    assert!(out.changes.storage.iter().all(|(a, _, _)| *a != STAKING));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

#[test]
fn unbonding_matures_once_and_the_eighth_entry_is_refused() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    block(&mut reader, START, &[delegate(&alice, 0, OPERATOR, 10 * SEI)]);
    let raws: Vec<Vec<u8>> = (0..8).map(|i| undelegate(&alice, 1 + i, OPERATOR, 1_000_000)).collect();
    let out = block(&mut reader, START + 10, &raws);
    assert!(out.outcomes[..7].iter().all(|o| o.success));
    assert!(revert_reason(&out, 7).contains("too many unbonding entries"));
    assert_eq!(delegation(&reader, alice.address, OPERATOR), U256::from(3_000_000u64));
    assert_eq!(validator_tokens(&reader, OPERATOR), U256::from(4_000_000u64));
    let before = balance(&reader, alice.address);
    // Not yet mature one second early.
    block(&mut reader, START + 10 + UNBONDING - 1, &[]);
    assert_eq!(balance(&reader, alice.address), before);
    // Mature: all seven paid, once.
    block(&mut reader, START + 10 + UNBONDING, &[]);
    assert_eq!(balance(&reader, alice.address), before + U256::from(7) * U256::from(SEI));
    block(&mut reader, START + 10 + 3 * UNBONDING, &[]);
    assert_eq!(balance(&reader, alice.address), before + U256::from(7) * U256::from(SEI));
    // The entries are free again.
    let out = block(&mut reader, START + 10 + 3 * UNBONDING, &[undelegate(&alice, 9, OPERATOR, 1)]);
    assert!(out.outcomes[0].success);
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

#[test]
fn bank_answers_in_usei() {
    let alice = Key::new(1);
    let reader = genesis(std::slice::from_ref(&alice));
    let out = query(&reader, BANK, &IBank::balanceCall { acc: alice.address, denom: "usei".into() }.abi_encode());
    assert_eq!(IBank::balanceCall::abi_decode_returns(&out).expect("balance"), U256::from(100_000_000u64));
    let out = query(&reader, BANK, &IBank::decimalsCall { denom: "usei".into() }.abi_encode());
    assert_eq!(IBank::decimalsCall::abi_decode_returns(&out).expect("decimals"), 6);
    let out = query(&reader, BANK, &IBank::supplyCall { denom: "usei".into() }.abi_encode());
    assert_eq!(IBank::supplyCall::abi_decode_returns(&out).expect("supply"), U256::from(102_000_000u64));
}

#[test]
fn send_native_moves_value_and_keeps_the_bank_account_unchanged() {
    let alice = Key::new(1);
    let bob = Address::with_last_byte(0xb0);
    let mut reader = genesis(std::slice::from_ref(&alice));
    let data = IBank::sendNativeCall { toNativeAddress: bech32_address("sei", bob) }.abi_encode();
    let out = block(&mut reader, START, &[alice.sign(CHAIN, 0, Some(BANK), 3 * SEI + 7, &data, 200_000)]);
    assert!(out.outcomes[0].success, "{:?}", out.outcomes[0]);
    assert_eq!(balance(&reader, bob), U256::from(3 * SEI + 7));
    assert_eq!(balance(&reader, BANK), U256::ZERO);
}

/// A contract that DELEGATECALLs the staking precompile cannot make it act for the contract, even when the
/// module's account holds value (say, forced there by a SELFDESTRUCT).
#[test]
fn delegatecall_is_refused() {
    let alice = Key::new(1);
    let proxy = Address::with_last_byte(0xdc);
    let mut reader = genesis(std::slice::from_ref(&alice));
    reader.accounts.get_mut(&STAKING).expect("module account").balance = U256::from(10) * U256::from(SEI);
    // CALLDATACOPY the input, DELEGATECALL 0x1005 with it, SSTORE the success flag in slot 0.
    reader.deploy(
        proxy,
        &[0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x5f, 0x36, 0x5f, 0x61, 0x10, 0x05, 0x5a, 0xf4, 0x5f, 0x55, 0x00],
    );
    let data = IStaking::delegateCall { valAddress: valoper(OPERATOR) }.abi_encode();
    let out = block(&mut reader, START, &[alice.sign(CHAIN, 0, Some(proxy), SEI, &data, 300_000)]);
    assert!(out.outcomes[0].success);
    assert_eq!(slot(&reader, proxy, U256::ZERO), U256::ZERO, "the DELEGATECALL must fail");
    assert_eq!(delegation(&reader, proxy, OPERATOR), U256::ZERO);
    assert_eq!(balance(&reader, STAKING), U256::from(10) * U256::from(SEI));
}

fn distr(key: &Key, nonce: u64, value: u64, data: &[u8]) -> Vec<u8> {
    key.sign(CHAIN, nonce, Some(DISTRIBUTION), value, data, 300_000)
}

fn withdraw(key: &Key, nonce: u64, validator: Address) -> Vec<u8> {
    distr(key, nonce, 0, &IDistr::withdrawDelegationRewardsCall { validator: valoper(validator) }.abi_encode())
}

/// `rewards(who)` as Sei answers it: per delegation and in total, usei with 18 decimals.
fn rewards(reader: &MemReader, who: Address) -> IDistr::Rewards {
    let out = query(reader, DISTRIBUTION, &IDistr::rewardsCall { delegatorAddress: who }.abi_encode());
    IDistr::rewardsCall::abi_decode_returns(&out).expect("rewards")
}

fn total_reward(reader: &MemReader, who: Address) -> U256 {
    let total = rewards(reader, who).total;
    assert!(total.iter().all(|c| c.denom == "usei" && c.decimals == U256::from(18)));
    total.iter().fold(U256::ZERO, |s, c| s + c.amount)
}

/// A validator's accumulated commission, in book units (usei with 30 decimals).
fn commission(reader: &MemReader, validator: Address) -> U256 {
    let data = IDistr::validatorDistributionCall { validator: valoper(validator) }.abi_encode();
    let out = IDistr::validatorDistributionCall::abi_decode_returns(&query(reader, DISTRIBUTION, &data)).expect("q");
    out.commission.iter().fold(U256::ZERO, |s, c| s + c.amount)
}

fn fee(out: &BlockOutput, i: usize) -> U256 {
    // Every test transaction pays 2 gwei per gas (1 gwei base fee + 1 gwei tip).
    U256::from(out.outcomes[i].gas_used) * U256::from(2_000_000_000u64)
}

/// usei with 18 decimals, as `rewards()` reports it.
fn dec18(usei: u64) -> U256 {
    U256::from(usei) * U256::from(DEC_ONE)
}

fn wei(usei: u64) -> U256 {
    U256::from(usei) * U256::from(WEI_PER_USEI)
}

/// With a block reward of 6 SEI, 2% community tax, validators of 5 and 1 SEI of stake and 10% commission,
/// every block gives: 5,880,000 usei to validators, 4,900,000 to the first (490,000 commission, 4,410,000 to
/// its delegators: 0.882 usei per usei delegated) and 980,000 to the second (0.882 per usei as well).
#[test]
fn delegators_earn_by_stake_share_minus_commission_and_withdraw() {
    let keys = [Key::new(1), Key::new(2)];
    let (alice, bob) = (&keys[0], &keys[1]);
    let mut reader = genesis_with(&keys, [OPERATOR, OTHER_OPERATOR], U256::from(6_000_000u64));
    let supply = slot(&reader, BANK, super::bank::SUPPLY);
    let out = block(&mut reader, START, &[delegate(alice, 0, OPERATOR, 3 * SEI), delegate(bob, 0, OPERATOR, SEI)]);
    assert!(out.outcomes.iter().all(|o| o.success));
    // The block's reward went to the stake as it is at the block's end.
    assert_eq!(total_reward(&reader, alice.address), dec18(2_646_000));
    assert_eq!(total_reward(&reader, bob.address), dec18(882_000));
    block(&mut reader, START + 1, &[]);
    block(&mut reader, START + 2, &[]);
    let per_block_alice = 2_646_000u64;
    assert_eq!(total_reward(&reader, alice.address), dec18(3 * per_block_alice));
    let r = rewards(&reader, alice.address);
    assert_eq!(r.rewards.len(), 1);
    assert_eq!(r.rewards[0].validator_address, valoper(OPERATOR));
    assert_eq!(commission(&reader, OTHER_OPERATOR), U256::from(3 * 98_000u64) * U256::from(10u64).pow(U256::from(30)));
    // Alice withdraws; Bob moves half his stake to the other validator, which settles his rewards first (the
    // power stays 6 SEI, so the split stays 0.882 usei per usei).
    let (a0, b0) = (balance(&reader, alice.address), balance(&reader, bob.address));
    let data = IStaking::redelegateCall {
        srcAddress: valoper(OPERATOR),
        dstAddress: valoper(OTHER_OPERATOR),
        amount: U256::from(500_000u64),
    }
    .abi_encode();
    let out = block(
        &mut reader,
        START + 3,
        &[withdraw(alice, 1, OPERATOR), bob.sign(CHAIN, 1, Some(STAKING), 0, &data, 400_000)],
    );
    assert!(out.outcomes.iter().all(|o| o.success));
    assert_eq!(balance(&reader, alice.address), a0 + wei(3 * per_block_alice) - fee(&out, 0));
    assert_eq!(balance(&reader, bob.address), b0 + wei(3 * 882_000) - fee(&out, 1));
    // The redelegation logged the rewards it paid (from the distribution module), then itself.
    let sources: Vec<Address> = out.receipts[1].logs().iter().map(|l| l.address).collect();
    assert_eq!(sources, [DISTRIBUTION, STAKING]);
    let logs = out.receipts[0].logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, DISTRIBUTION);
    let event = IDistr::DelegationRewardsWithdrawn::decode_log_data(&logs[0].data).expect("event");
    assert_eq!(
        (event.delegator, event.validator, event.amount),
        (alice.address, valoper(OPERATOR), U256::from(3 * per_block_alice))
    );
    // After the withdrawal block: that block's reward only, Bob's from both validators.
    assert_eq!(total_reward(&reader, alice.address), dec18(per_block_alice));
    let r = rewards(&reader, bob.address);
    let per_validator: Vec<_> = r.rewards.iter().map(|r| (r.validator_address.clone(), r.coins[0].amount)).collect();
    assert_eq!(per_validator, [(valoper(OPERATOR), dec18(441_000)), (valoper(OTHER_OPERATOR), dec18(441_000))]);
    // Four blocks minted 6 SEI each; supply is conserved exactly, the books included.
    assert_eq!(slot(&reader, BANK, super::bank::SUPPLY), supply + U256::from(24_000_000u64));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
    assert_eq!(balance(&reader, DISTRIBUTION), U256::ZERO);
}

#[test]
fn fees_are_distributed_and_the_collector_is_emptied() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    let before = supply_held(&reader);
    let out = block_with_fees(&mut reader, START, &[delegate(&alice, 0, OPERATOR, SEI)]);
    assert!(out.outcomes[0].success);
    assert_eq!(balance(&reader, FEE_COLLECTOR), U256::ZERO);
    // Nothing minted: the fee moved from Alice to the books (10% of the tax-free part to commission).
    assert_eq!(supply_held(&reader), before);
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
    let units = fee(&out, 0) * U256::from(UNITS_PER_WEI);
    let for_validators = units - units / U256::from(50);
    let to_operator = for_validators * U256::from(2) / U256::from(3);
    assert_eq!(commission(&reader, OPERATOR), to_operator / U256::from(10));
    assert!(total_reward(&reader, alice.address) > U256::ZERO);
}

#[test]
fn commission_goes_to_the_operator_and_rewards_to_the_withdraw_address() {
    let keys = [Key::new(1), Key::new(9)];
    let (alice, operator) = (&keys[0], &keys[1]);
    let carol = Address::with_last_byte(0xc0);
    let mut reader = genesis_with(&keys, [operator.address, OTHER_OPERATOR], U256::from(6_000_000u64));
    let set = IDistr::setWithdrawAddressCall { withdrawAddr: carol }.abi_encode();
    let out = block(&mut reader, START, &[delegate(alice, 0, operator.address, SEI), distr(alice, 1, 0, &set)]);
    assert!(out.outcomes.iter().all(|o| o.success));
    // Two validators of 2 and 1 SEI: 3,920,000 to the first, 392,000 of it commission, 1.764 usei per usei.
    assert_eq!(total_reward(&reader, alice.address), dec18(1_764_000));
    let a0 = balance(&reader, alice.address);
    let o0 = balance(&reader, operator.address);
    let take = IDistr::withdrawValidatorCommissionCall { validator: valoper(operator.address) }.abi_encode();
    let out = block(&mut reader, START + 1, &[withdraw(alice, 2, operator.address), distr(operator, 0, 0, &take)]);
    assert!(out.outcomes.iter().all(|o| o.success), "{:?}", out.outcomes);
    assert_eq!(balance(&reader, carol), wei(1_764_000));
    assert_eq!(balance(&reader, alice.address), a0 - fee(&out, 0));
    assert_eq!(balance(&reader, operator.address), o0 + wei(392_000) - fee(&out, 1));
    let log = &out.receipts[1].logs()[0];
    let event = IDistr::ValidatorCommissionWithdrawn::decode_log_data(&log.data).expect("event");
    assert_eq!(event.amount, U256::from(392_000u64));
    assert_eq!(event.validator, alloy_primitives::keccak256(valoper(operator.address).as_bytes()));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

#[test]
fn bad_distribution_calls_revert_with_a_reason_and_change_nothing() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    block(&mut reader, START, &[delegate(&alice, 0, OPERATOR, 2 * SEI)]);
    let nobody = Address::with_last_byte(0x99);
    let multiple = |validators: Vec<String>| IDistr::withdrawMultipleDelegationRewardsCall { validators }.abi_encode();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (withdraw(&alice, 1, nobody), "does not exist"),
        (withdraw(&alice, 2, OTHER_OPERATOR), "has no delegation"),
        (distr(&alice, 3, 0, &[0xde, 0xad, 0xbe, 0xef]), "malformed call data"),
        (
            distr(&alice, 4, 1, &IDistr::withdrawDelegationRewardsCall { validator: valoper(OPERATOR) }.abi_encode()),
            "not payable",
        ),
        (
            distr(&alice, 5, 0, &IDistr::setWithdrawAddressCall { withdrawAddr: Address::ZERO }.abi_encode()),
            "zero address",
        ),
        (
            distr(&alice, 6, 0, &IDistr::withdrawValidatorCommissionCall { validator: valoper(OPERATOR) }.abi_encode()),
            "only the operator",
        ),
        (distr(&alice, 7, 0, &multiple(vec![])), "no validators given"),
        (distr(&alice, 8, 0, &multiple(vec![valoper(OPERATOR), "seivaloper1nope".into()])), "not a validator address"),
    ];
    let raws: Vec<Vec<u8>> = cases.iter().map(|(r, _)| r.clone()).collect();
    let out = block(&mut reader, START + 1, &raws);
    for (i, (_, want)) in cases.iter().enumerate() {
        let reason = revert_reason(&out, i);
        assert!(reason.contains(want), "tx {i}: {reason:?} lacks {want:?}");
    }
    assert!(out.changes.storage.iter().all(|(a, _, _)| *a != STAKING && *a != DISTRIBUTION));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Delegations, undelegations and reward withdrawals from many accounts run in parallel exactly as
    /// sequentially, fees and a block reward distributed; delegators that differ never conflict (one
    /// incarnation per transaction when each account sends one transaction).
    #[test]
    fn parallel_equals_sequential_and_delegators_do_not_conflict(
        ops in proptest::collection::vec((0u8..3, 1u64..5, any::<bool>()), 16..48),
        threads in 2usize..4,
    ) {
        let keys: Vec<Key> = (1..=ops.len() as u8).map(Key::new).collect();
        let mut reader = genesis_with(&keys, [OPERATOR, OTHER_OPERATOR], U256::from(1_234_567u64));
        // A first block gives every account a delegation to undelegate from, and rewards to withdraw.
        let first: Vec<Vec<u8>> = keys.iter().map(|k| delegate(k, 0, OPERATOR, 5 * SEI)).collect();
        block_with_fees(&mut reader, START, &first);
        let raws: Vec<Vec<u8>> = ops
            .iter()
            .zip(&keys)
            .map(|((kind, amount, other), k)| {
                let v = if *other { OTHER_OPERATOR } else { OPERATOR };
                match kind {
                    0 => delegate(k, 1, v, amount * SEI),
                    1 => undelegate(k, 1, OPERATOR, amount * 1_000_000),
                    _ => withdraw(k, 1, OPERATOR),
                }
            })
            .collect();
        let (senders, slices) = txs(&raws);
        let ordered: Vec<OrderedTx<'_>> = slices.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
        let mut params = params_at(START + UNBONDING);
        params.beneficiary = FEE_COLLECTOR;
        let sequential = execute_block(&reader, &params, &ordered, false).expect("sequential");
        let (parallel, stats) =
            execute_block_parallel(&|| Ok(&reader), &params, &ordered, false, threads, PredictMode::Off).expect("parallel");
        prop_assert_eq!(stats.fallback, None);
        prop_assert_eq!(&sequential.outcomes, &parallel.outcomes);
        prop_assert_eq!(&sequential.changes, &parallel.changes);
        prop_assert_eq!(sequential.receipts_root, parallel.receipts_root);
        prop_assert_eq!(stats.incarnations, ordered.len());
        prop_assert!(sequential.outcomes.iter().all(|o| o.success));
        apply(&mut reader, &sequential.changes);
        prop_assert_eq!(total_supply_units(&reader), supply_held(&reader));
    }
}

fn create_validator(key: &Key, nonce: u64, pubkey: [u8; 32], rates: [&str; 3], min_self: u64, wei: u64) -> Vec<u8> {
    let data = IStaking::createValidatorCall {
        pubKeyHex: alloy_primitives::hex::encode(pubkey),
        moniker: "carol's node".into(),
        commissionRate: rates[0].into(),
        commissionMaxRate: rates[1].into(),
        commissionMaxChangeRate: rates[2].into(),
        minSelfDelegation: U256::from(min_self),
    }
    .abi_encode();
    key.sign(CHAIN, nonce, Some(STAKING), wei, &data, 500_000)
}

fn edit_validator(key: &Key, nonce: u64, moniker: &str, rate: &str, min_self: u64) -> Vec<u8> {
    let data = IStaking::editValidatorCall {
        moniker: moniker.into(),
        commissionRate: rate.into(),
        minSelfDelegation: U256::from(min_self),
    }
    .abi_encode();
    key.sign(CHAIN, nonce, Some(STAKING), 0, &data, 300_000)
}

fn commission_rate(reader: &MemReader, operator: Address) -> U256 {
    let out = query(reader, STAKING, &IStaking::validatorsCall {}.abi_encode());
    let validators = IStaking::validatorsCall::abi_decode_returns(&out).expect("validators");
    validators.into_iter().find(|v| v.operator == operator).expect("validator").commissionRate
}

#[test]
fn create_validator_bonds_its_self_delegation_and_takes_delegations() {
    let keys = [Key::new(3), Key::new(4)];
    let mut reader = genesis(&keys);
    let [carol, dave] = &keys;
    let raws = [
        create_validator(carol, 0, [7; 32], ["0.10", "0.20", "0.01"], 1_000_000, 2 * SEI),
        delegate(dave, 0, carol.address, 3 * SEI),
    ];
    // The parallel executor gives the same block (the delegation waits for the validator it names).
    let (senders, refs) = txs(&raws);
    let ordered: Vec<OrderedTx<'_>> = refs.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
    let (parallel, _) =
        execute_block_parallel(&|| Ok(&reader), &params_at(START), &ordered, false, 2, PredictMode::Off)
            .expect("parallel");
    let out = block(&mut reader, START, &raws);
    assert_eq!(parallel.changes, out.changes);
    assert_eq!(parallel.outcomes, out.outcomes);
    assert!(out.outcomes.iter().all(|o| o.success), "{:?}", out.outcomes);
    assert_eq!(delegation(&reader, carol.address, carol.address), U256::from(2_000_000u64));
    assert_eq!(validator_tokens(&reader, carol.address), U256::from(5_000_000u64));
    assert_eq!(commission_rate(&reader, carol.address), U256::from(DEC_ONE / 10));
    let created = IStaking::ValidatorCreated::decode_log_data(&out.receipts[0].logs()[0].data).expect("event");
    assert_eq!((created.creator, created.moniker.as_str()), (carol.address, "carol's node"));
    assert_eq!(created.validatorAddress, valoper(carol.address));
    assert_eq!(balance(&reader, STAKING), U256::ZERO);
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

#[test]
fn create_and_edit_validator_refuse_what_cosmos_refuses() {
    let keys = [Key::new(3), Key::new(4)];
    let mut reader = genesis(&keys);
    let [carol, dave] = &keys;
    block(&mut reader, START, &[create_validator(carol, 0, [7; 32], ["0.10", "0.20", "0.01"], 1_000_000, 2 * SEI)]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (create_validator(carol, 1, [8; 32], ["0.10", "0.20", "0.01"], 1, SEI), "already operates"),
        (create_validator(dave, 0, [7; 32], ["0.10", "0.20", "0.01"], 1, SEI), "belongs to another validator"),
        (create_validator(dave, 1, [9; 32], ["0.01", "0.20", "0.01"], 1, SEI), "below the minimum commission"),
        (create_validator(dave, 2, [9; 32], ["0.30", "0.20", "0.01"], 1, SEI), "exceeds commissionMaxRate"),
        (create_validator(dave, 3, [9; 32], ["0.10", "0.20", "0.5"], 1, SEI), "commissionMaxChangeRate exceeds"),
        (create_validator(dave, 4, [9; 32], ["0.1x", "0.20", "0.01"], 1, SEI), "commissionRate: \"0.1x\""),
        (create_validator(dave, 5, [9; 32], ["0.10", "0.20", "0.01"], 5_000_000, SEI), "below minSelfDelegation"),
        (create_validator(dave, 6, [9; 32], ["0.10", "0.20", "0.01"], 1, SEI + 1), "remainder of 1 wei"),
        (edit_validator(dave, 7, "x", "", 0), "operates no validator"),
        (edit_validator(carol, 2, "", "0.11", 0), "once every 24 hours"),
        (edit_validator(carol, 3, "", "", 1_000_000), "can only increase"),
        (edit_validator(carol, 4, "", "", 3_000_000), "exceeds the validator's self-delegation"),
    ];
    let raws: Vec<Vec<u8>> = cases.iter().map(|(r, _)| r.clone()).collect();
    let out = block(&mut reader, START + 1, &raws);
    for (i, (_, want)) in cases.iter().enumerate() {
        let reason = revert_reason(&out, i);
        assert!(reason.contains(want), "tx {i}: {reason:?} lacks {want:?}");
    }
    assert!(out.changes.storage.iter().all(|(a, _, _)| *a != STAKING));
    // A day later the commission moves, by at most the max change rate, within the max rate.
    let day = START + 86_400;
    let out = block(
        &mut reader,
        day,
        &[edit_validator(carol, 5, "", "0.12", 0), edit_validator(carol, 6, "carol v2", "0.105", 1_500_000)],
    );
    assert!(revert_reason(&out, 0).contains("exceeds the validator's max change rate"));
    assert!(out.outcomes[1].success, "{:?}", out.outcomes[1]);
    assert_eq!(commission_rate(&reader, carol.address), U256::from(DEC_ONE / 1000 * 105));
    let edited = IStaking::ValidatorEdited::decode_log_data(&out.receipts[1].logs()[0].data).expect("event");
    assert_eq!(edited.moniker, "carol v2");
}
