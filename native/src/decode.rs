//! Transaction decoding (EIP-2718 envelopes via alloy) and sender recovery (libsecp256k1).
//!
//! Recovery is the expensive part (~20 µs a signature), so batches are recovered on rayon's pool with the GIL
//! released by the caller. Execution later re-decodes the envelope without recovery (about 1 µs) and trusts the
//! sender recovered here, which keeps the Python↔Rust boundary to plain bytes.

use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_rlp::{Decodable, Header};
use rayon::prelude::*;
use revm::context::TxEnv;
use secp256k1::{
    ecdsa::{RecoverableSignature, RecoveryId},
    Message, SECP256K1,
};

/// Half the secp256k1 group order: EIP-2 rejects signatures with `s` above it (malleability).
const SECP256K1N_HALF: U256 = U256::from_be_slice(&[
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x5D, 0x57, 0x6E,
    0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
]);

/// Why a raw transaction was refused before it could reach the pool.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are not a valid RLP / EIP-2718 envelope.
    #[error("rlp: {0}")]
    Rlp(String),
    /// A transaction type pysei does not accept (EIP-4844 blobs: Sei runs Pectra without blobs).
    #[error("transaction type not supported")]
    UnsupportedType,
    /// `s` in the upper half of the curve order (EIP-2).
    #[error("invalid transaction v, r, s values")]
    HighS,
    /// The signature does not recover to a public key.
    #[error("invalid sender: signature recovery failed")]
    BadSignature,
}

/// A decoded envelope with its hash and recovered sender.
#[derive(Debug, Clone)]
pub struct DecodedTx {
    pub envelope: TxEnvelope,
    pub hash: B256,
    pub sender: Address,
}

/// Decodes an EIP-2718 envelope (legacy RLP list or typed) without recovering the sender.
pub fn decode_envelope(raw: &[u8]) -> Result<TxEnvelope, DecodeError> {
    let mut buf = raw;
    let envelope = TxEnvelope::decode_2718(&mut buf).map_err(|e| match raw.first() {
        // alloy reports any malformed legacy list as "unexpected type flag 0"; say which field is wrong instead.
        Some(first) if *first >= 0xc0 => DecodeError::Rlp(legacy_field_error(raw).unwrap_or_else(|| e.to_string())),
        _ => DecodeError::Rlp(e.to_string()),
    })?;
    if !buf.is_empty() {
        return Err(DecodeError::Rlp("trailing bytes after transaction".into()));
    }
    if matches!(envelope, TxEnvelope::Eip4844(_)) {
        return Err(DecodeError::UnsupportedType);
    }
    Ok(envelope)
}

/// The first field of a legacy transaction list (`[nonce, gasPrice, gas, to, value, data, v, r, s]`) that does
/// not decode, as a message; None when every field decodes (the list is wrong some other way).
fn legacy_field_error(raw: &[u8]) -> Option<String> {
    fn field<T: Decodable>(buf: &mut &[u8]) -> Result<(), alloy_rlp::Error> {
        T::decode(buf).map(|_| ())
    }
    type FieldDecoder = fn(&mut &[u8]) -> Result<(), alloy_rlp::Error>;
    const FIELDS: [(&str, FieldDecoder); 9] = [
        ("nonce", field::<u64>),
        ("gasPrice", field::<u128>),
        ("gas", field::<u64>),
        ("to", field::<TxKind>),
        ("value", field::<U256>),
        ("data", field::<Bytes>),
        ("v", field::<u64>),
        ("r", field::<U256>),
        ("s", field::<U256>),
    ];
    let mut buf = raw;
    let header = match Header::decode(&mut buf) {
        Ok(h) if h.list => h,
        Ok(_) => return Some("legacy transaction: expected an RLP list".into()),
        Err(e) => return Some(format!("legacy transaction: {e}")),
    };
    if buf.len() < header.payload_length {
        return Some("legacy transaction: list longer than the input".into());
    }
    let mut payload = &buf[..header.payload_length];
    for (name, decode) in FIELDS {
        if payload.is_empty() {
            return Some(format!("legacy transaction: missing field {name}"));
        }
        if let Err(e) = decode(&mut payload) {
            return Some(format!("legacy transaction: invalid field {name}: {e}"));
        }
    }
    if !payload.is_empty() {
        return Some("legacy transaction: more than 9 fields".into());
    }
    None
}

/// Recovers the signer of `envelope` with libsecp256k1, enforcing EIP-2's low-s rule.
pub fn recover_sender(envelope: &TxEnvelope) -> Result<Address, DecodeError> {
    let sig = envelope.signature();
    if sig.s() > SECP256K1N_HALF {
        return Err(DecodeError::HighS);
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
    let recid = RecoveryId::try_from(i32::from(sig.v())).map_err(|_| DecodeError::BadSignature)?;
    let rsig = RecoverableSignature::from_compact(&compact, recid).map_err(|_| DecodeError::BadSignature)?;
    let msg = Message::from_digest(envelope.signature_hash().0);
    let pubkey = SECP256K1.recover_ecdsa(msg, &rsig).map_err(|_| DecodeError::BadSignature)?;
    let uncompressed = pubkey.serialize_uncompressed();
    Ok(Address::from_slice(&keccak256(&uncompressed[1..])[12..]))
}

/// Decodes and recovers one raw transaction.
pub fn decode_and_recover(raw: &[u8]) -> Result<DecodedTx, DecodeError> {
    let envelope = decode_envelope(raw)?;
    let sender = recover_sender(&envelope)?;
    Ok(DecodedTx { hash: keccak256(raw), envelope, sender })
}

/// `f` over `items` on rayon's pool, order preserved; small batches stay on the calling thread.
fn map_batch<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    // Below a few dozen transactions the pool's wake-up costs more than it saves.
    if items.len() < 32 {
        return items.iter().map(f).collect();
    }
    items.par_iter().map(f).collect()
}

/// Decodes and recovers a batch in parallel; order is preserved.
pub fn decode_batch(raws: &[&[u8]]) -> Vec<Result<DecodedTx, DecodeError>> {
    map_batch(raws, |r| decode_and_recover(r))
}

/// The node's admission rules for `eth_sendRawTransaction`, beyond what the transaction itself must satisfy.
#[derive(Debug, Clone)]
pub struct IngestRules {
    pub chain_id: u64,
    /// Accept pre-EIP-155 transactions (no chain id in the signature).
    pub allow_unprotected: bool,
    /// The block gas limit: no transaction may ask for more.
    pub gas_limit: u64,
    /// The largest encoding accepted, in bytes.
    pub max_tx_size: usize,
}

/// One `eth_sendRawTransaction` parameter as it arrived.
#[derive(Debug, Clone, Copy)]
pub enum RawInput<'a> {
    /// A JSON string; `chars` is its length in characters (what the odd-length rule counts).
    Hex { text: &'a str, chars: usize },
    /// A string that is not valid UTF-8 (a lone surrogate), with its length in characters.
    BadText { chars: usize },
    /// Already bytes (a transaction the node signed itself).
    Bytes(&'a [u8]),
    /// Anything else JSON can hold.
    Other,
}

/// Why ingest refused an entry, worded as the JSON-RPC error the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The parameter is not hex data (JSON-RPC "invalid params").
    InvalidParams(String),
    /// The transaction breaks a rule (JSON-RPC server error).
    Server(String),
}

/// A transaction that passed every ingest rule: its bytes and decoded form with the recovered sender.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub raw: Vec<u8>,
    pub tx: DecodedTx,
}

/// The parameter as bytes, refused with exactly the words of `pysei.rpc.codec.data(value, "raw transaction")`
/// (a property test compares the two on arbitrary strings).
fn parse_raw(input: RawInput<'_>) -> Result<Vec<u8>, Refusal> {
    let refuse = |why: &str| Refusal::InvalidParams(format!("invalid raw transaction: {why}"));
    let (text, chars) = match input {
        RawInput::Bytes(raw) => return Ok(raw.to_vec()),
        RawInput::Other => return Err(refuse("expected 0x-prefixed hex string")),
        RawInput::BadText { chars } => (None, chars),
        RawInput::Hex { text, chars } => (Some(text), chars),
    };
    // A lone surrogate is never a prefix character, so only valid text can carry the prefix.
    let Some(text) = text.filter(|t| t.starts_with("0x") || t.starts_with("0X")) else {
        return Err(refuse("expected 0x-prefixed hex string"));
    };
    if (chars - 2) % 2 == 1 {
        return Err(refuse("odd number of hex digits"));
    }
    // const-hex strips exactly one `0x`, so a second one ("0x0x…") is refused as not hex, as in Python.
    alloy_primitives::hex::decode(text).map_err(|_| refuse("not hex"))
}

/// The rules a decoded transaction must meet, in the order the errors are reported.
fn check_rules(tx: &DecodedTx, intrinsic: u64, rules: &IngestRules) -> Result<(), String> {
    let gas = tx.envelope.gas_limit();
    match tx.envelope.chain_id() {
        None if !rules.allow_unprotected => {
            Err("only replay-protected (EIP-155) transactions allowed over RPC".to_string())
        }
        Some(id) if id != rules.chain_id => {
            Err(format!("invalid chain id for signer: have {id} want {}", rules.chain_id))
        }
        _ if gas < intrinsic => Err(format!("intrinsic gas too low: gas {gas}, minimum needed {intrinsic}")),
        _ if gas > rules.gas_limit => Err(format!("exceeds block gas limit: gas {gas}, limit {}", rules.gas_limit)),
        _ => Ok(()),
    }
}

/// Parses, size-checks, decodes, recovers and checks one `eth_sendRawTransaction` parameter.
pub fn ingest_one(input: RawInput<'_>, rules: &IngestRules) -> Result<Admitted, Refusal> {
    let raw = parse_raw(input)?;
    if raw.len() > rules.max_tx_size {
        return Err(Refusal::Server(format!(
            "oversized data: transaction size {}, limit {}",
            raw.len(),
            rules.max_tx_size
        )));
    }
    let tx = decode_and_recover(&raw).map_err(|e| Refusal::Server(e.to_string()))?;
    check_rules(&tx, intrinsic_gas(&tx.envelope, tx.sender), rules).map_err(Refusal::Server)?;
    Ok(Admitted { raw, tx })
}

/// `ingest_one` over a JSON-RPC batch, in parallel (recovery dominates); order is preserved.
pub fn ingest_batch(inputs: &[RawInput<'_>], rules: &IngestRules) -> Vec<Result<Admitted, Refusal>> {
    map_batch(inputs, |i| ingest_one(*i, rules))
}

/// The least gas limit the transaction may carry at Prague: intrinsic gas (base, calldata, creation, access
/// list, authorizations) or the EIP-7623 calldata floor, whichever is larger. Taken from revm so that admission
/// and execution agree by construction.
pub fn intrinsic_gas(envelope: &TxEnvelope, sender: Address) -> u64 {
    let gas = revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx(
        tx_env(envelope, sender),
        revm::primitives::hardfork::SpecId::PRAGUE,
        None,
    );
    (gas.initial_regular_gas + gas.initial_state_gas).max(gas.floor_gas)
}

/// Builds revm's transaction environment for an envelope whose sender is already known.
pub fn tx_env(envelope: &TxEnvelope, sender: Address) -> TxEnv {
    let kind = envelope.kind();
    let mut env = TxEnv {
        tx_type: envelope.tx_type() as u8,
        caller: sender,
        gas_limit: envelope.gas_limit(),
        gas_price: envelope.max_fee_per_gas(),
        kind: match kind {
            TxKind::Call(to) => TxKind::Call(to),
            TxKind::Create => TxKind::Create,
        },
        value: envelope.value(),
        data: envelope.input().clone(),
        nonce: envelope.nonce(),
        chain_id: envelope.chain_id(),
        access_list: envelope.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: envelope.max_priority_fee_per_gas(),
        ..TxEnv::default()
    };
    if let Some(auths) = envelope.authorization_list() {
        env.authorization_list = auths.iter().cloned().map(revm::context_interface::either::Either::Left).collect();
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    // Transaction signed by the first dev key of mnemonic "test test ... junk" (legacy, EIP-155, chain 1):
    // hex built with eth-account; checked here only for shape, the Python suite checks end to end.
    #[test]
    fn rejects_garbage() {
        assert!(matches!(decode_envelope(&[0xc0]), Err(DecodeError::Rlp(_))));
        assert!(matches!(decode_envelope(&[]), Err(DecodeError::Rlp(_))));
        assert!(matches!(decode_envelope(&[0x02, 0xc0]), Err(DecodeError::Rlp(_))));
    }

    #[test]
    fn malformed_legacy_fields_are_named() {
        let msg = |raw: &[u8]| match decode_envelope(raw) {
            Err(DecodeError::Rlp(m)) => m,
            other => panic!("expected an RLP error, got {other:?}"),
        };
        // [nonce = 0x01ff… (a 9-byte integer), …]: nonce overflows u64.
        let mut raw = vec![0xca, 0x89];
        raw.extend([0xff; 9]);
        assert_eq!(msg(&raw), "legacy transaction: invalid field nonce: overflow");
        // [1, 2, 3]: the list ends before `to`.
        assert_eq!(msg(&[0xc3, 0x01, 0x02, 0x03]), "legacy transaction: missing field to");
        // [1, 2, 3, to = 3 bytes, …]: an address must be 20 bytes.
        assert!(
            msg(&[0xc7, 0x01, 0x02, 0x03, 0x83, 0xaa, 0xbb, 0xcc]).starts_with("legacy transaction: invalid field to")
        );
        // [1, [], …]: a list where gasPrice should be.
        assert!(msg(&[0xc2, 0x01, 0xc0]).starts_with("legacy transaction: invalid field gasPrice"));
    }

    fn rules() -> IngestRules {
        IngestRules { chain_id: 7, allow_unprotected: false, gas_limit: 100_000, max_tx_size: 400 }
    }

    fn refusal(input: RawInput<'_>) -> Refusal {
        ingest_one(input, &rules()).expect_err("refused")
    }

    fn hex(raw: &[u8]) -> String {
        alloy_primitives::hex::encode_prefixed(raw)
    }

    #[test]
    fn ingest_refuses_non_hex_as_invalid_params() {
        let invalid = |why: &str| Refusal::InvalidParams(format!("invalid raw transaction: {why}"));
        let text = |t: &'static str| RawInput::Hex { text: t, chars: t.chars().count() };
        assert_eq!(refusal(RawInput::Other), invalid("expected 0x-prefixed hex string"));
        assert_eq!(refusal(text("abcd")), invalid("expected 0x-prefixed hex string"));
        assert_eq!(refusal(RawInput::BadText { chars: 3 }), invalid("expected 0x-prefixed hex string"));
        assert_eq!(refusal(text("0xabc")), invalid("odd number of hex digits"));
        // Odd or even is counted in characters, as Python counts them: "é" is one character of two bytes.
        assert_eq!(refusal(text("0xé")), invalid("odd number of hex digits"));
        assert_eq!(refusal(text("0xéa")), invalid("not hex"));
        assert_eq!(refusal(text("0x0x12")), invalid("not hex"));
        assert_eq!(refusal(text("0x12 4")), invalid("not hex"));
        assert!(matches!(refusal(text("0X")), Refusal::Server(m) if m.starts_with("rlp")));
    }

    #[test]
    fn ingest_applies_the_rules_in_order() {
        let key = crate::testutil::Key::new(3);
        let to = Some(Address::repeat_byte(9));
        let check = |raw: &[u8]| {
            let text = hex(raw);
            let hex_outcome = ingest_one(RawInput::Hex { text: &text, chars: text.len() }, &rules());
            let bytes_outcome = ingest_one(RawInput::Bytes(raw), &rules());
            assert_eq!(hex_outcome.as_ref().err(), bytes_outcome.as_ref().err());
            hex_outcome
        };
        let server = |m: &str| Some(Refusal::Server(m.to_string()));
        let ok = check(&key.sign(7, 0, to, 1, b"", 21_000)).expect("admitted");
        assert_eq!((ok.tx.sender, ok.tx.envelope.nonce()), (key.address, 0));
        // A wrong chain id is reported before gas that is too low, which comes before gas that is too high.
        let wrong_chain = check(&key.sign(8, 0, to, 1, b"", 1)).err();
        assert_eq!(wrong_chain, server("invalid chain id for signer: have 8 want 7"));
        // Ten non-zero calldata bytes: the EIP-7623 floor (21,000 + 10 × 40) is above the intrinsic gas.
        let low = check(&key.sign(7, 0, to, 1, &[1; 10], 21_000)).err();
        assert_eq!(low, server("intrinsic gas too low: gas 21000, minimum needed 21400"));
        let high = check(&key.sign(7, 0, to, 1, b"", 100_001)).err();
        assert_eq!(high, server("exceeds block gas limit: gas 100001, limit 100000"));
        let big = key.sign(7, 0, to, 1, &[1; 400], 100_000);
        assert_eq!(check(&big).err(), server(&format!("oversized data: transaction size {}, limit 400", big.len())));
        assert!(matches!(check(&[0xc0]).err(), Some(Refusal::Server(m)) if m.starts_with("rlp")));
    }

    #[test]
    fn a_batch_answers_as_its_entries_alone() {
        let key = crate::testutil::Key::new(4);
        let raws: Vec<Vec<u8>> = (0..70u64)
            .map(|n| match n % 4 {
                0 => key.sign(7, n, None, 0, b"", 60_000),
                1 => key.sign(9, n, None, 0, b"", 60_000),
                2 => vec![0x02, 0xc0, n as u8],
                _ => key.sign(7, n, None, 0, &[0; 2000], 200_000),
            })
            .collect();
        let inputs: Vec<RawInput<'_>> = raws.iter().map(|r| RawInput::Bytes(r)).collect();
        let batch = ingest_batch(&inputs, &rules());
        for (input, outcome) in inputs.iter().zip(&batch) {
            let alone = ingest_one(*input, &rules());
            assert_eq!(outcome.as_ref().map(|a| a.tx.hash).ok(), alone.as_ref().map(|a| a.tx.hash).ok());
            assert_eq!(outcome.as_ref().err(), alone.as_ref().err());
        }
        assert_eq!(batch.iter().filter(|o| o.is_ok()).count(), 18);
    }

    #[test]
    fn half_order_constant_is_n_over_two() {
        let n = U256::from_str_radix("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", 16).unwrap();
        assert_eq!(SECP256K1N_HALF, n / U256::from(2));
    }
}
