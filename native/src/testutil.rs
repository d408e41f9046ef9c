//! Test support: an in-memory `StateReader` and a transaction signer, so kernel tests need neither LMDB nor
//! Python.

use std::collections::HashMap;

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, Signature, TxKind, B256, U256};
use revm::{bytecode::Bytecode, state::AccountInfo};
use secp256k1::{Message, SecretKey, SECP256K1};

use crate::{
    db::{StateReader, StoreError},
    exec::BlockParams,
    precompiles::HostRegistry,
};

pub const CHAIN: u64 = 713714;
pub const COLLECTOR: Address = Address::with_last_byte(0xfe);

/// A Prague block at 1 gwei base fee paying `COLLECTOR`, with the given gas limit.
pub fn block_params(gas_limit: u64) -> BlockParams {
    BlockParams {
        number: 7,
        timestamp: 1_700_000_000,
        gas_limit,
        base_fee: 1_000_000_000,
        beneficiary: COLLECTOR,
        prevrandao: B256::ZERO,
        chain_id: CHAIN,
        spec: revm::primitives::hardfork::SpecId::PRAGUE,
        host: HostRegistry::default(),
        consensus: crate::modules::ConsensusInputs::default(),
    }
}

/// Committed state held in maps.
#[derive(Default)]
pub struct MemReader {
    pub accounts: HashMap<Address, AccountInfo>,
    pub storage: HashMap<(Address, U256), U256>,
    pub codes: HashMap<B256, Bytecode>,
}

impl MemReader {
    pub fn fund(&mut self, address: Address, balance: U256) {
        self.accounts.insert(address, AccountInfo { balance, code: None, ..AccountInfo::default() });
    }

    pub fn deploy(&mut self, address: Address, code: &[u8]) {
        let code = Bytecode::new_raw(Bytes::copy_from_slice(code));
        // `code: None` makes revm ask `code_by_hash`, as with the LMDB store (the default carries empty code).
        let info = AccountInfo { code_hash: code.hash_slow(), nonce: 1, code: None, ..AccountInfo::default() };
        self.codes.insert(info.code_hash, code);
        self.accounts.insert(address, info);
    }
}

impl StateReader for MemReader {
    fn account(&self, address: Address) -> Result<Option<AccountInfo>, StoreError> {
        Ok(self.accounts.get(&address).cloned())
    }

    fn storage(&self, address: Address, slot: U256) -> Result<U256, StoreError> {
        Ok(self.storage.get(&(address, slot)).copied().unwrap_or_default())
    }

    fn code(&self, code_hash: B256) -> Result<Bytecode, StoreError> {
        Ok(self.codes.get(&code_hash).cloned().unwrap_or_default())
    }

    fn block_hash(&self, _number: u64) -> Result<B256, StoreError> {
        Ok(B256::ZERO)
    }
}

/// A deterministic key and its address.
pub struct Key {
    secret: SecretKey,
    pub address: Address,
}

impl Key {
    pub fn new(seed: u8) -> Self {
        let secret = SecretKey::from_byte_array([seed.max(1); 32]).expect("valid key");
        let public = secret.public_key(SECP256K1).serialize_uncompressed();
        let address = Address::from_slice(&alloy_primitives::keccak256(&public[1..])[12..]);
        Self { secret, address }
    }

    /// An EIP-1559 transaction at 1 gwei fee cap and tip, signed and EIP-2718 encoded.
    pub fn sign(&self, chain_id: u64, nonce: u64, to: Option<Address>, value: u64, data: &[u8], gas: u64) -> Vec<u8> {
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: to.map_or(TxKind::Create, TxKind::Call),
            value: U256::from(value),
            access_list: Default::default(),
            input: Bytes::copy_from_slice(data),
        };
        let digest = Message::from_digest(tx.signature_hash().0);
        let (recid, compact) = SECP256K1.sign_ecdsa_recoverable(digest, &self.secret).serialize_compact();
        let sig = Signature::new(
            U256::from_be_slice(&compact[..32]),
            U256::from_be_slice(&compact[32..]),
            i32::from(recid) == 1,
        );
        tx.into_signed(sig).encoded_2718()
    }
}

/// The runtime bytecode of one of the benchmark contracts (solc 0.8.30 output committed with the benchmarks).
pub fn bench_contract(name: &str) -> Vec<u8> {
    let json = include_str!("../../python/pysei/bench/contracts/contracts.json");
    let start = json.find(&format!("\"{name}\"")).expect("contract in contracts.json");
    let key = "\"deployedBytecode\": \"0x";
    let at = start + json[start..].find(key).expect("deployedBytecode") + key.len();
    let hex = &json[at..at + json[at..].find('"').expect("end of string")];
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")).collect()
}
