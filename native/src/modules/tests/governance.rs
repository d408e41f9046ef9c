//! The governance precompile through the block executor: proposals, deposits, votes and end-of-block tallies.

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use proptest::prelude::*;

use super::{
    apply, block, delegate, genesis, genesis_with, params_at, query, revert_reason, slot, supply_held,
    total_supply_units, txs, BlockOutput, MemReader, DEPOSIT_PERIOD, MIN_DEPOSIT_USEI, OPERATOR, OTHER_OPERATOR, SEI,
    START, UNITS_PER_WEI, VOTING_PERIOD, WEI_PER_USEI,
};
use crate::{
    exec::{execute_block, OrderedTx},
    modules::{
        distribution::IDistr,
        governance::{IGov, STATUS_DEPOSIT, STATUS_FAILED, STATUS_PASSED, STATUS_REJECTED, STATUS_VOTING},
        staking::{IStaking, DEC_ONE},
        DISTRIBUTION, GOVERNANCE, STAKING,
    },
    parallel::{execute_block_parallel, PredictMode},
    testutil::{Key, CHAIN},
};

fn submit(key: &Key, nonce: u64, json: &str, wei: u64) -> Vec<u8> {
    let data = IGov::submitProposalCall { proposalJSON: json.into() }.abi_encode();
    key.sign(CHAIN, nonce, Some(GOVERNANCE), wei, &data, 3_000_000)
}

fn vote(key: &Key, nonce: u64, id: u64, option: i32) -> Vec<u8> {
    let data = IGov::voteCall { proposalID: id, option }.abi_encode();
    key.sign(CHAIN, nonce, Some(GOVERNANCE), 0, &data, 200_000)
}

fn deposit(key: &Key, nonce: u64, id: u64, wei: u64) -> Vec<u8> {
    let data = IGov::depositCall { proposalID: id }.abi_encode();
    key.sign(CHAIN, nonce, Some(GOVERNANCE), wei, &data, 300_000)
}

const MAX_ENTRIES_TO_3: &str = r#"{"title":"Fewer entries","description":"Lower the unbonding entry limit, raise the tax.","type":"ParameterChange",
    "changes":[{"subspace":"staking","key":"MaxEntries","value":"3"},{"subspace":"distribution","key":"CommunityTax","value":"0.1"}]}"#;
const TEXT: &str = r#"{"title":"Hello","description":"A text proposal."}"#;

fn proposal(reader: &MemReader, id: u64) -> IGov::ProposalData {
    let out = query(reader, GOVERNANCE, &IGov::proposalCall { proposalID: id }.abi_encode());
    IGov::proposalCall::abi_decode_returns(&out).expect("proposal")
}

fn tally(reader: &MemReader, id: u64) -> IGov::TallyResultData {
    let out = query(reader, GOVERNANCE, &IGov::tallyResultCall { proposalID: id }.abi_encode());
    IGov::tallyResultCall::abi_decode_returns(&out).expect("tally")
}

fn max_entries(reader: &MemReader) -> u64 {
    let out = query(reader, STAKING, &IStaking::paramsCall {}.abi_encode());
    IStaking::paramsCall::abi_decode_returns(&out).expect("params").maxEntries
}

/// `wei` in the distribution module's book units, in which the tests count the supply.
fn units(wei: u64) -> U256 {
    U256::from(wei) * U256::from(UNITS_PER_WEI)
}

fn community_tax(reader: &MemReader) -> U256 {
    let out = query(reader, DISTRIBUTION, &IDistr::paramsCall {}.abi_encode());
    IDistr::paramsCall::abi_decode_returns(&out).expect("params").communityTax
}

fn balance(reader: &MemReader, who: Address) -> U256 {
    reader.accounts.get(&who).map(|a| a.balance).unwrap_or_default()
}

fn ok(out: &BlockOutput) {
    for (i, o) in out.outcomes.iter().enumerate() {
        assert!(o.success, "tx {i}: {:?}", o);
    }
}

#[test]
fn parameter_change_passes_and_applies_at_the_end_of_the_voting_block() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    ok(&block(
        &mut reader,
        START,
        &[delegate(&alice, 0, OPERATOR, 5 * SEI), submit(&alice, 1, MAX_ENTRIES_TO_3, 10 * SEI)],
    ));
    let p = proposal(&reader, 1);
    assert_eq!(p.status, i32::from(STATUS_VOTING), "the minimum deposit starts the voting period at once");
    assert_eq!(p.votingEndTime as u64, START + VOTING_PERIOD);
    assert_eq!(String::from_utf8(p.content.to_vec()).expect("utf-8"), MAX_ENTRIES_TO_3);
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
    let out = block(&mut reader, START + 1, &[vote(&alice, 2, 1, 1)]);
    ok(&out);
    assert_eq!(out.receipts[0].logs()[0].address, GOVERNANCE);
    assert_eq!(tally(&reader, 1).yes, "5000000");
    let before = balance(&reader, alice.address);
    // One second before the end: nothing yet.
    block(&mut reader, START + VOTING_PERIOD - 1, &[]);
    assert_eq!(max_entries(&reader), 7);
    assert_eq!(community_tax(&reader), U256::from(DEC_ONE / 50));
    // The block that ends the vote applies the change and refunds the deposit.
    block(&mut reader, START + VOTING_PERIOD, &[]);
    let p = proposal(&reader, 1);
    assert_eq!(p.status, i32::from(STATUS_PASSED));
    assert_eq!(p.finalTallyResult.yes, "5000000");
    assert_eq!(max_entries(&reader), 3);
    assert_eq!(community_tax(&reader), U256::from(DEC_ONE / 10));
    assert_eq!(balance(&reader, alice.address), before + U256::from(10 * SEI));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

#[test]
fn community_pool_spend_pays_the_recipient_or_fails_when_the_pool_is_short() {
    let alice = Key::new(1);
    let recipient = Address::with_last_byte(0xb0);
    // A block reward of 1 SEI, 2% of it to the community pool: 20,000 usei a block.
    let mut reader = genesis_with(std::slice::from_ref(&alice), [OPERATOR, OTHER_OPERATOR], U256::from(1_000_000u64));
    let spend = |usei: u64| {
        format!(
            r#"{{"title":"Grant","description":"Pay a builder.","type":"CommunityPoolSpend","recipient":"{}","amount":"{usei}"}}"#,
            super::bech32_address("sei", recipient)
        )
    };
    ok(&block(
        &mut reader,
        START,
        &[
            delegate(&alice, 0, OPERATOR, 5 * SEI),
            submit(&alice, 1, &spend(30_000), 10 * SEI),
            submit(&alice, 2, &spend(1_000_000_000), 10 * SEI),
        ],
    ));
    ok(&block(&mut reader, START + 1, &[vote(&alice, 3, 1, 1), vote(&alice, 4, 2, 1)]));
    let before = balance(&reader, alice.address);
    block(&mut reader, START + VOTING_PERIOD, &[]);
    assert_eq!(proposal(&reader, 1).status, i32::from(STATUS_PASSED));
    assert_eq!(balance(&reader, recipient), U256::from(30_000u64) * U256::from(WEI_PER_USEI));
    assert_eq!(proposal(&reader, 2).status, i32::from(STATUS_FAILED), "the pool holds less");
    // Both deposits come back: the second proposal passed the vote, only its execution failed.
    assert_eq!(balance(&reader, alice.address), before + U256::from(2) * U256::from(10 * SEI));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

#[test]
fn missed_quorum_burns_the_deposit_and_lowers_the_supply() {
    let keys = [Key::new(1), Key::new(2)];
    let (alice, bob) = (&keys[0], &keys[1]);
    let mut reader = genesis(&keys);
    // Bob bonds 0.5 of the 2.5 SEI bonded: 20%, below the 33.4% quorum when only he votes.
    ok(&block(&mut reader, START, &[delegate(bob, 0, OPERATOR, SEI / 2), submit(alice, 0, TEXT, 10 * SEI)]));
    ok(&block(&mut reader, START + 1, &[vote(bob, 1, 1, 1)]));
    let supply = total_supply_units(&reader);
    let before = balance(&reader, alice.address);
    block(&mut reader, START + VOTING_PERIOD, &[]);
    assert_eq!(proposal(&reader, 1).status, i32::from(STATUS_REJECTED));
    assert_eq!(balance(&reader, alice.address), before, "burned, not refunded");
    assert_eq!(total_supply_units(&reader), supply - units(10 * SEI));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

#[test]
fn an_unfunded_proposal_burns_its_deposits_when_the_deposit_period_ends() {
    let keys = [Key::new(1), Key::new(2)];
    let (alice, bob) = (&keys[0], &keys[1]);
    let mut reader = genesis(&keys);
    ok(&block(&mut reader, START, &[submit(alice, 0, TEXT, 4 * SEI), deposit(bob, 0, 1, 3 * SEI)]));
    let p = proposal(&reader, 1);
    assert_eq!(p.status, i32::from(STATUS_DEPOSIT));
    assert_eq!(p.totalDeposit[0].amount, U256::from(7_000_000u64));
    assert!(p.totalDeposit[0].amount < U256::from(MIN_DEPOSIT_USEI));
    let supply = total_supply_units(&reader);
    block(&mut reader, START + DEPOSIT_PERIOD, &[]);
    assert_eq!(proposal(&reader, 1).status, i32::from(STATUS_REJECTED));
    assert_eq!(total_supply_units(&reader), supply - units(7 * SEI));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
    // Burned exactly once: later blocks change nothing.
    block(&mut reader, START + 10 * DEPOSIT_PERIOD, &[]);
    assert_eq!(total_supply_units(&reader), supply - units(7 * SEI));
}

#[test]
fn delegators_inherit_their_validators_vote_unless_they_vote() {
    let keys = [Key::new(9), Key::new(1), Key::new(2)];
    let (validator, alice, bob) = (&keys[0], &keys[1], &keys[2]);
    let mut reader = genesis_with(&keys, [validator.address, OTHER_OPERATOR], U256::ZERO);
    ok(&block(
        &mut reader,
        START,
        &[
            delegate(alice, 0, validator.address, 3 * SEI),
            delegate(bob, 0, validator.address, 2 * SEI),
            submit(alice, 1, TEXT, 10 * SEI),
        ],
    ));
    // The validator (1 SEI own + 3 + 2 delegated) votes no; Alice votes yes herself; Bob says nothing.
    ok(&block(&mut reader, START + 1, &[vote(validator, 0, 1, 3), vote(alice, 2, 1, 1)]));
    let t = tally(&reader, 1);
    assert_eq!((t.yes.as_str(), t.no.as_str()), ("3000000", "3000000"));
    // A weighted vote by Bob moves his 2 SEI out of the validator's vote.
    let weighted = IGov::voteWeightedCall {
        proposalID: 1,
        options: vec![
            IGov::WeightedVoteOption { option: 1, weight: "0.5".into() },
            IGov::WeightedVoteOption { option: 2, weight: "0.5".into() },
        ],
    }
    .abi_encode();
    ok(&block(&mut reader, START + 2, &[bob.sign(CHAIN, 1, Some(GOVERNANCE), 0, &weighted, 300_000)]));
    let t = tally(&reader, 1);
    assert_eq!((t.yes.as_str(), t.abstain.as_str(), t.no.as_str()), ("4000000", "1000000", "1000000"));
    // Yes 4 of the 5 non-abstaining: passes.
    block(&mut reader, START + VOTING_PERIOD, &[]);
    assert_eq!(proposal(&reader, 1).status, i32::from(STATUS_PASSED));
}

#[test]
fn bad_input_reverts_with_a_reason_and_changes_nothing() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    // Proposal 1 is voting and ends; proposal 2 waits for deposits.
    ok(&block(&mut reader, START, &[submit(&alice, 0, TEXT, 10 * SEI)]));
    ok(&block(&mut reader, START + VOTING_PERIOD, &[submit(&alice, 1, TEXT, SEI)]));
    assert_eq!(proposal(&reader, 1).status, i32::from(STATUS_REJECTED));
    let unknown_param = r#"{"title":"t","description":"d","type":"ParameterChange","changes":[{"subspace":"staking","key":"BondDenom","value":"x"}]}"#;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vote(&alice, 2, 1, 1), "proposal 1 is closed"),
        (vote(&alice, 3, 2, 1), "still in its deposit period"),
        (vote(&alice, 4, 7, 1), "proposal 7 does not exist"),
        (vote(&alice, 5, 2, 5), "vote option 5 is invalid"),
        (deposit(&alice, 6, 2, SEI + 1), "remainder of 1 wei"),
        (deposit(&alice, 7, 1, SEI), "proposal 1 is closed"),
        (submit(&alice, 8, unknown_param, 0), "unknown parameter staking/BondDenom"),
        (submit(&alice, 9, "{", 0), "proposal JSON"),
        (alice.sign(CHAIN, 10, Some(GOVERNANCE), 0, &[0xde, 0xad, 0xbe, 0xef], 100_000), "malformed call data"),
        (
            alice.sign(
                CHAIN,
                11,
                Some(GOVERNANCE),
                5,
                &IGov::voteCall { proposalID: 2, option: 1 }.abi_encode(),
                100_000,
            ),
            "not payable",
        ),
    ];
    let raws: Vec<Vec<u8>> = cases.iter().map(|(r, _)| r.clone()).collect();
    let out = block(&mut reader, START + VOTING_PERIOD + 1, &raws);
    for (i, (_, want)) in cases.iter().enumerate() {
        let reason = revert_reason(&out, i);
        assert!(reason.contains(want), "tx {i}: {reason:?} lacks {want:?}");
    }
    assert!(out.changes.storage.iter().all(|(a, _, _)| *a != GOVERNANCE));
    assert_eq!(slot(&reader, GOVERNANCE, U256::ZERO), U256::ZERO);
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Votes from many accounts run in parallel exactly as sequentially and never conflict (one incarnation per
    /// transaction), and the tallies that end the vote commit the same state.
    #[test]
    fn votes_in_parallel_equal_sequential_and_do_not_conflict(
        options in proptest::collection::vec(1i32..=4, 16..32),
        threads in 2usize..4,
    ) {
        let keys: Vec<Key> = (1..=options.len() as u8).map(Key::new).collect();
        let mut reader = genesis(&keys);
        let mut first: Vec<Vec<u8>> = keys.iter().map(|k| delegate(k, 0, OPERATOR, SEI)).collect();
        first.push(submit(&keys[0], 1, TEXT, 10 * SEI));
        block(&mut reader, START, &first);
        let raws: Vec<Vec<u8>> = options
            .iter()
            .zip(&keys)
            .enumerate()
            .map(|(i, (option, k))| vote(k, if i == 0 { 2 } else { 1 }, 1, *option))
            .collect();
        let (senders, slices) = txs(&raws);
        let ordered: Vec<OrderedTx<'_>> =
            slices.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
        let params = params_at(START + 1);
        let sequential = execute_block(&reader, &params, &ordered, false).expect("sequential");
        let (parallel, stats) =
            execute_block_parallel(&|| Ok(&reader), &params, &ordered, false, threads, PredictMode::Off)
                .expect("parallel");
        prop_assert_eq!(stats.fallback, None);
        prop_assert_eq!(&sequential.outcomes, &parallel.outcomes);
        prop_assert_eq!(&sequential.changes, &parallel.changes);
        prop_assert_eq!(stats.incarnations, ordered.len());
        prop_assert!(sequential.outcomes.iter().all(|o| o.success));
        apply(&mut reader, &sequential.changes);
        // The block that ends the vote tallies every voter the vote block's end listed.
        block(&mut reader, START + VOTING_PERIOD, &[]);
        let yes = options.iter().filter(|o| **o == 1).count() as u64 * 1_000_000;
        prop_assert_eq!(proposal(&reader, 1).finalTallyResult.yes, yes.to_string());
        prop_assert!(proposal(&reader, 1).status >= i32::from(STATUS_PASSED));
        prop_assert_eq!(total_supply_units(&reader), supply_held(&reader));
    }
}
