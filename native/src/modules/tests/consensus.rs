//! The modules' side of consensus through the block executor: the committee records staking writes at epoch
//! boundaries, and slashing for double signs (evidence) and downtime (commit signers), with unjail.

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;

use super::{
    apply, consensus_key, delegate, delegation, genesis, genesis_with, params_at, query, revert_reason, supply_held,
    total_supply_units, txs, undelegate, validator_tokens, valoper, MemReader, DOWNTIME_JAIL, EPOCH_BLOCKS, OPERATOR,
    OTHER_OPERATOR, SEI, SIGNED_BLOCKS_WINDOW, START,
};
use crate::{
    exec::{execute_block, BlockOutput, OrderedTx},
    modules::{
        governance::IGov, slashing::ISlashing, staking, staking::IStaking, ConsensusInputs, Infraction, InfractionKind,
        ScratchLedger, GOVERNANCE, SLASHING, STAKING,
    },
    parallel::{execute_block_parallel, PredictMode},
    testutil::{Key, CHAIN},
};

/// Epoch `epoch`'s committee record as (consensus key, operator, power).
fn committee(reader: &MemReader, epoch: u64) -> Option<Vec<([u8; 32], Address, u64)>> {
    let mut ledger = ScratchLedger::new(reader);
    let members = staking::committee(&mut ledger, epoch).expect("committee")?;
    Some(
        members
            .into_iter()
            .map(|m| (m.pubkey, staking::operator(&mut ledger, m.index).expect("operator"), m.power.to::<u64>()))
            .collect(),
    )
}

/// Executes `raws` as block `number` (at time START + number) and commits it; every transaction must succeed.
fn block_at(reader: &mut MemReader, number: u64, raws: &[Vec<u8>]) -> BlockOutput {
    let out = consensus_block(reader, number, raws, ConsensusInputs::default());
    assert!(out.outcomes.iter().all(|o| o.success), "{:?}", out.outcomes);
    out
}

/// Executes block `number` with what consensus decided about it, sequentially and in parallel (which must
/// agree), and commits it.
fn consensus_block(reader: &mut MemReader, number: u64, raws: &[Vec<u8>], consensus: ConsensusInputs) -> BlockOutput {
    let mut params = params_at(START + number);
    params.number = number;
    params.consensus = consensus;
    let (senders, raws) = txs(raws);
    let ordered: Vec<OrderedTx<'_>> = raws.iter().zip(&senders).map(|(raw, s)| OrderedTx { raw, sender: *s }).collect();
    let sequential = execute_block(&*reader, &params, &ordered, false).expect("execution");
    let parallel = {
        let r: &MemReader = reader;
        execute_block_parallel(&|| Ok(r), &params, &ordered, false, 4, PredictMode::Off).expect("execution").0
    };
    assert_eq!(sequential.changes, parallel.changes);
    apply(reader, &sequential.changes);
    sequential
}

fn evidence(operator: Address, height: u64) -> ConsensusInputs {
    let infraction = Infraction { pubkey: consensus_key(operator), height, kind: InfractionKind::DoubleVote };
    ConsensusInputs { evidence: vec![infraction], signers: None }
}

fn redelegate(key: &Key, nonce: u64, src: Address, dst: Address, usei: u64) -> Vec<u8> {
    let data =
        IStaking::redelegateCall { srcAddress: valoper(src), dstAddress: valoper(dst), amount: U256::from(usei) }
            .abi_encode();
    key.sign(CHAIN, nonce, Some(STAKING), 0, &data, 600_000)
}

fn unjail(key: &Key, nonce: u64) -> Vec<u8> {
    key.sign(CHAIN, nonce, Some(SLASHING), 0, &ISlashing::unjailCall {}.abi_encode(), 200_000)
}

fn slashing_info(reader: &MemReader, operator: Address) -> ISlashing::slashingInfoReturn {
    let out = query(reader, SLASHING, &ISlashing::slashingInfoCall { validator: valoper(operator) }.abi_encode());
    ISlashing::slashingInfoCall::abi_decode_returns(&out).expect("slashingInfo")
}

fn unbonding(reader: &MemReader, who: Address, operator: Address) -> Vec<u64> {
    let call = IStaking::unbondingDelegationCall { delegator: who, valAddress: valoper(operator) };
    let out = query(reader, STAKING, &call.abi_encode());
    let entries = IStaking::unbondingDelegationCall::abi_decode_returns(&out).expect("entries");
    entries.into_iter().map(|e| e.amount.to::<u64>()).collect()
}

const USEI: u64 = 1_000_000;

#[test]
fn double_sign_slashes_delegations_and_later_entries_then_jails_and_tombstones() {
    let (alice, bob) = (Key::new(1), Key::new(2));
    let mut reader = genesis(&[Key::new(1), Key::new(2)]);
    block_at(&mut reader, 2, &[delegate(&alice, 0, OPERATOR, 10 * SEI), delegate(&bob, 0, OPERATOR, 4 * SEI)]);
    // Before the infraction (height 4): untouched by the slash.
    block_at(&mut reader, 3, &[undelegate(&alice, 1, OPERATOR, USEI)]);
    // At or after it: slashed.
    block_at(
        &mut reader,
        4,
        &[undelegate(&alice, 2, OPERATOR, 2 * USEI), redelegate(&bob, 1, OPERATOR, OTHER_OPERATOR, 2 * USEI)],
    );
    let supply = total_supply_units(&reader);
    consensus_block(&mut reader, 5, &[], evidence(OPERATOR, 4));
    // 5% of: alice's 7 SEI and the 2 SEI entry, bob's 2 SEI left and the 2 SEI he moved (from OTHER), the
    // operator's own 1 SEI.
    assert_eq!(delegation(&reader, alice.address, OPERATOR), U256::from(6_650_000u64));
    assert_eq!(unbonding(&reader, alice.address, OPERATOR), vec![USEI, 1_900_000]);
    assert_eq!(delegation(&reader, bob.address, OPERATOR), U256::from(1_900_000u64));
    assert_eq!(delegation(&reader, bob.address, OTHER_OPERATOR), U256::from(1_900_000u64));
    assert_eq!(delegation(&reader, OPERATOR, OPERATOR), U256::from(950_000u64));
    assert_eq!(validator_tokens(&reader, OPERATOR), U256::from(9_500_000u64));
    assert_eq!(validator_tokens(&reader, OTHER_OPERATOR), U256::from(2_900_000u64));
    let burned = U256::from(350_000u64 + 100_000 + 100_000 + 100_000 + 50_000);
    let units = U256::from(super::WEI_PER_USEI) * U256::from(super::UNITS_PER_WEI);
    assert_eq!(total_supply_units(&reader), supply - burned * units);
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
    let info = slashing_info(&reader, OPERATOR);
    assert!(info.jailed && info.signingInfo.tombstoned);
    assert_eq!((info.slashCount, info.slashedUsei), (1, burned));
    // Evidence against a tombstoned validator is ignored; it drops out of the next committee.
    consensus_block(&mut reader, 6, &[], evidence(OPERATOR, 5));
    assert_eq!(slashing_info(&reader, OPERATOR).slashCount, 1);
    block_at(&mut reader, EPOCH_BLOCKS, &[]);
    assert_eq!(committee(&reader, 2), Some(vec![(consensus_key(OTHER_OPERATOR), OTHER_OPERATOR, 2)]));
    // Delegating to it is refused; evidence for an unknown key or a future height changes nothing.
    let out = consensus_block(&mut reader, 11, &[delegate(&alice, 3, OPERATOR, SEI)], evidence(OTHER_OPERATOR, 12));
    assert!(revert_reason(&out, 0).contains("is jailed"));
    assert!(!slashing_info(&reader, OTHER_OPERATOR).jailed);
}

#[test]
fn downtime_jails_after_a_window_of_misses_and_unjail_waits_for_the_jail_time() {
    let operator = Key::new(3);
    let mut reader = genesis_with(std::slice::from_ref(&operator), [operator.address, OTHER_OPERATOR], U256::ZERO);
    let only_other = || ConsensusInputs { evidence: vec![], signers: Some(vec![consensus_key(OTHER_OPERATOR)]) };
    // Not jailed before a whole window (4 blocks) has been observed, nor while misses stay within 2.
    for number in 1..SIGNED_BLOCKS_WINDOW {
        consensus_block(&mut reader, number, &[], only_other());
        assert!(!slashing_info(&reader, operator.address).jailed);
    }
    let supply = total_supply_units(&reader);
    consensus_block(&mut reader, SIGNED_BLOCKS_WINDOW, &[], only_other());
    let info = slashing_info(&reader, operator.address);
    let jailed_at = START + SIGNED_BLOCKS_WINDOW;
    assert!(info.jailed && !info.signingInfo.tombstoned);
    assert_eq!(info.signingInfo.jailedUntil as u64, jailed_at + DOWNTIME_JAIL);
    assert_eq!((info.slashCount, info.slashedUsei), (1, U256::from(10_000u64)));
    assert_eq!((info.signingInfo.missedBlocksCounter, info.signingInfo.indexOffset), (0, 0));
    assert_eq!(total_supply_units(&reader), supply_held(&reader));
    assert!(total_supply_units(&reader) < supply);
    // A jailed validator's misses are not counted.
    consensus_block(&mut reader, SIGNED_BLOCKS_WINDOW + 1, &[], only_other());
    assert_eq!(slashing_info(&reader, operator.address).signingInfo.indexOffset, 0);
    // Too early, then on time; then not jailed any more. Others are told why not.
    let early = consensus_block(&mut reader, DOWNTIME_JAIL - 1, &[unjail(&operator, 0)], ConsensusInputs::default());
    let reason = revert_reason(&early, 0);
    assert!(reason.contains(&format!("is jailed until {}", jailed_at + DOWNTIME_JAIL)), "{reason}");
    let on_time = consensus_block(&mut reader, 2 * DOWNTIME_JAIL, &[unjail(&operator, 1)], ConsensusInputs::default());
    assert!(on_time.outcomes[0].success);
    assert_eq!(on_time.receipts[0].logs()[0].address, SLASHING);
    assert!(!slashing_info(&reader, operator.address).jailed);
    let again =
        consensus_block(&mut reader, 2 * DOWNTIME_JAIL + 1, &[unjail(&operator, 2)], ConsensusInputs::default());
    assert!(revert_reason(&again, 0).contains("is not jailed"));
    let stranger = Key::new(9);
    reader.fund(stranger.address, U256::from(SEI));
    let out = consensus_block(&mut reader, 2 * DOWNTIME_JAIL + 2, &[unjail(&stranger, 0)], ConsensusInputs::default());
    assert!(revert_reason(&out, 0).contains("is not a validator operator"));
}

#[test]
fn a_tombstoned_validator_can_never_unjail() {
    let operator = Key::new(3);
    let mut reader = genesis_with(std::slice::from_ref(&operator), [operator.address, OTHER_OPERATOR], U256::ZERO);
    consensus_block(&mut reader, 2, &[], evidence(operator.address, 1));
    let out = consensus_block(&mut reader, 1_000_000, &[unjail(&operator, 0)], ConsensusInputs::default());
    assert!(revert_reason(&out, 0).contains("tombstoned"));
    assert!(slashing_info(&reader, operator.address).jailed);
}

#[test]
fn committee_records_follow_the_bonded_set_one_epoch_ahead_and_are_never_rewritten() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    // Genesis records epochs 0 and 1: both validators, 1 SEI each, by consensus key.
    let at_genesis = vec![(consensus_key(OPERATOR), OPERATOR, 1), (consensus_key(OTHER_OPERATOR), OTHER_OPERATOR, 1)];
    assert_eq!(committee(&reader, 0), Some(at_genesis.clone()));
    assert_eq!(committee(&reader, 1), Some(at_genesis.clone()));
    assert_eq!(committee(&reader, 2), None);
    // A delegation inside epoch 1 changes nothing recorded until its last block records epoch 2.
    block_at(&mut reader, 3, &[delegate(&alice, 0, OTHER_OPERATOR, 5 * SEI + SEI / 2)]);
    assert_eq!(committee(&reader, 2), None);
    block_at(&mut reader, EPOCH_BLOCKS - 1, &[]);
    assert_eq!(committee(&reader, 2), None);
    block_at(&mut reader, EPOCH_BLOCKS, &[]);
    // Power is whole SEI: 6.5 SEI bonded is 6.
    let epoch_2 = vec![(consensus_key(OPERATOR), OPERATOR, 1), (consensus_key(OTHER_OPERATOR), OTHER_OPERATOR, 6)];
    assert_eq!(committee(&reader, 2), Some(epoch_2.clone()));
    assert_eq!(committee(&reader, 1), Some(at_genesis));
    // The same boundary again (as a replayed height would be) does not rewrite the record.
    block_at(&mut reader, EPOCH_BLOCKS, &[delegate(&alice, 1, OPERATOR, 10 * SEI)]);
    assert_eq!(committee(&reader, 2), Some(epoch_2));
    block_at(&mut reader, 2 * EPOCH_BLOCKS, &[]);
    let epoch_3 = vec![(consensus_key(OPERATOR), OPERATOR, 11), (consensus_key(OTHER_OPERATOR), OTHER_OPERATOR, 6)];
    assert_eq!(committee(&reader, 3), Some(epoch_3));
}

#[test]
fn genesis_refuses_a_shared_consensus_key_and_a_zero_epoch_length() {
    let validator = |operator: Address| staking::GenesisValidator {
        operator,
        self_delegation: U256::from(1_000_000u64),
        commission_rate: U256::ZERO,
        consensus_key: Some([7; 32]),
        jailed: false,
    };
    let mut params = staking::Params {
        unbonding_time: 1,
        max_entries: 7,
        max_validators: 35,
        min_commission_rate: U256::ZERO,
        epoch_blocks: 1,
    };
    let err = staking::genesis(&params, &[validator(OPERATOR), validator(OTHER_OPERATOR)]).expect_err("shared key");
    assert!(err.contains("reuses another validator's consensus key"), "{err}");
    params.epoch_blocks = 0;
    let err = staking::genesis(&params, &[validator(OPERATOR)]).expect_err("zero epoch");
    assert!(err.contains("epoch_blocks must be at least 1"), "{err}");
}

#[test]
fn governance_changes_the_slashing_parameters_within_their_bounds() {
    let alice = Key::new(1);
    let mut reader = genesis(std::slice::from_ref(&alice));
    let submit = |nonce: u64, changes: &str| {
        let json = format!(
            r#"{{"title":"Slashing","description":"Tune it.","type":"ParameterChange","changes":[{changes}]}}"#
        );
        let data = IGov::submitProposalCall { proposalJSON: json }.abi_encode();
        alice.sign(CHAIN, nonce, Some(GOVERNANCE), 10 * SEI, &data, 3_000_000)
    };
    let too_much = r#"{"subspace":"slashing","key":"SlashFractionDoubleSign","value":"1"}"#;
    let tuned = r#"{"subspace":"slashing","key":"SlashFractionDowntime","value":"0.1"},{"subspace":"slashing","key":"SignedBlocksWindow","value":"2"}"#;
    let out = consensus_block(&mut reader, 1, &[submit(0, too_much), submit(1, tuned)], ConsensusInputs::default());
    assert!(
        revert_reason(&out, 0).contains("slashing/SlashFractionDoubleSign must be within"),
        "{}",
        revert_reason(&out, 0)
    );
    assert!(out.outcomes[1].success);
    let vote = IGov::voteCall { proposalID: 1, option: 1 }.abi_encode();
    block_at(
        &mut reader,
        2,
        &[delegate(&alice, 2, OPERATOR, 5 * SEI), alice.sign(CHAIN, 3, Some(GOVERNANCE), 0, &vote, 300_000)],
    );
    block_at(&mut reader, 2 + super::VOTING_PERIOD, &[]);
    let out = query(&reader, SLASHING, &ISlashing::paramsCall {}.abi_encode());
    let params = ISlashing::paramsCall::abi_decode_returns(&out).expect("params");
    assert_eq!((params.signedBlocksWindow, params.slashFractionDowntime.as_str()), (2, "0.100000000000000000"));
    assert_eq!(params.slashFractionDoubleSign, "0.050000000000000000");
}
