//! The modules' side of consensus through the block executor: the committee records staking writes at epoch
//! boundaries.

use alloy_primitives::{Address, U256};

use super::{
    block_with, consensus_key, delegate, genesis, params_at, MemReader, EPOCH_BLOCKS, OPERATOR, OTHER_OPERATOR, SEI,
    START,
};
use crate::{
    exec::BlockOutput,
    modules::{staking, ScratchLedger},
    testutil::Key,
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

/// Executes `raws` as block `number` and commits it.
fn block_at(reader: &mut MemReader, number: u64, raws: &[Vec<u8>]) -> BlockOutput {
    let mut params = params_at(START + number);
    params.number = number;
    let out = block_with(reader, &params, raws);
    assert!(out.outcomes.iter().all(|o| o.success), "{:?}", out.outcomes);
    out
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
