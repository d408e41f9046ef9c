//! Dependency prediction: before a block runs, guess which locations each transaction will write, so that a
//! transaction predicted to conflict with an earlier one waits for it instead of running early, reading a value
//! about to change and being re-executed. Predictions only order work: a wrong one costs time, never results.
//!
//! What a transaction is predicted to write:
//! - its sender's account (nonce and fee), and the recipient's account when it carries value or the recipient
//!   has no code — except for a plain value transfer to an account without code, whose credit is applied lazily
//!   at commit and conflicts with nothing;
//! - for a call to a contract, the storage slots that past executions of the same code and 4-byte selector
//!   wrote, learned as rules over the call's inputs: a constant slot (a counter, a pool's reserves), or a
//!   Solidity mapping entry `keccak(key ‖ base)` whose key is the caller or a calldata word (balances).
//!
//! Rules are learned from what incarnations actually wrote and kept for the life of the process, keyed by code
//! hash, so every contract deployed from the same code shares them. Before a function has ever run, the static
//! analysis of its bytecode (`analysis`) supplies the same kind of rules — and nested mapping entries such as
//! ERC-20 allowances, which learning cannot explain; a transaction is predicted to write the union of both.

use std::sync::{Arc, LazyLock, Mutex};

use alloy_primitives::{
    keccak256,
    map::{HashMap, HashSet},
};
use revm::primitives::{Address, B256, U256};

use super::{
    analysis::{ContractAccess, Sym},
    mv::TxIdx,
};

type Selector = [u8; 4];

/// Where a mapping entry's key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum KeySource {
    Caller,
    /// The n-th 32-byte argument word after the selector.
    Word(u8),
}

/// How to find one slot a call writes from its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SlotRule {
    Constant(U256),
    Mapping { key: KeySource, base: u8 },
}

/// Calldata words and mapping bases tried when explaining a written slot: Solidity lays out the state
/// variables of ordinary contracts in the first slots, and the interesting keys are in the first arguments.
const MAX_WORDS: u8 = 4;
const MAX_BASE: u8 = 16;
/// Slots below this are state variables, not hashed locations.
const CONSTANT_SLOT_LIMIT: u64 = 1 << 32;
/// Executions of one (code hash, selector) that are learned from before its rules are considered complete.
const SAMPLES: usize = 4;
/// Forget everything past this many (code hash, selector) pairs: a bound on memory, not a tuning knob.
const MAX_LEARNED: usize = 16_384;

/// The rules learned so far, by (code hash, selector), with how many executions taught each.
#[derive(Debug, Default, Clone)]
pub(crate) struct Learned {
    rules: HashMap<(B256, Selector), (usize, Vec<SlotRule>)>,
}

static LEARNED: LazyLock<Mutex<Arc<Learned>>> = LazyLock::new(Mutex::default);

impl Learned {
    /// What the process has learned (a snapshot: a block predicts from a stable view).
    pub(crate) fn current() -> Arc<Self> {
        LEARNED.lock().expect("learned rules").clone()
    }

    /// Whether executions of this call should still be observed.
    pub(crate) fn wants(&self, code_hash: B256, input: &[u8]) -> bool {
        selector(input).is_some_and(|s| self.rules.get(&(code_hash, s)).is_none_or(|(n, _)| *n < SAMPLES))
    }

    fn learn(&mut self, observation: &Observation) {
        let Some(sel) = selector(&observation.input) else { return };
        if self.rules.len() >= MAX_LEARNED {
            self.rules.clear();
        }
        let (samples, rules) = self.rules.entry((observation.code_hash, sel)).or_default();
        if *samples >= SAMPLES {
            return;
        }
        *samples += 1;
        for slot in &observation.slots {
            if let Some(rule) = explain(*slot, observation.caller, &observation.input) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }

    /// Adds a block's observations to the process-wide rules.
    pub(crate) fn record(observations: &[Observation]) {
        if observations.is_empty() {
            return;
        }
        let mut shared = LEARNED.lock().expect("learned rules");
        let learned = Arc::make_mut(&mut shared);
        for observation in observations {
            learned.learn(observation);
        }
    }
}

/// What one execution of a contract call wrote to the callee's storage.
#[derive(Debug, Clone)]
pub(crate) struct Observation {
    pub(crate) code_hash: B256,
    pub(crate) caller: Address,
    pub(crate) input: revm::primitives::Bytes,
    pub(crate) slots: Vec<U256>,
}

fn selector(input: &[u8]) -> Option<Selector> {
    input.get(..4).map(|s| s.try_into().expect("four bytes"))
}

fn key_word(source: KeySource, caller: Address, input: &[u8]) -> Option<B256> {
    match source {
        KeySource::Caller => Some(caller.into_word()),
        KeySource::Word(n) => {
            let start = 4 + 32 * usize::from(n);
            input.get(start..start + 32).map(B256::from_slice)
        }
    }
}

fn mapping_slot(key: B256, base: u8) -> U256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(key.as_slice());
    preimage[63] = base;
    keccak256(preimage).into()
}

/// The rule that yields `slot` for this call, if a simple one does.
fn explain(slot: U256, caller: Address, input: &[u8]) -> Option<SlotRule> {
    if slot < U256::from(CONSTANT_SLOT_LIMIT) {
        return Some(SlotRule::Constant(slot));
    }
    let sources = std::iter::once(KeySource::Caller).chain((0..MAX_WORDS).map(KeySource::Word));
    for source in sources {
        let Some(key) = key_word(source, caller, input) else { continue };
        if let Some(base) = (0..MAX_BASE).find(|base| mapping_slot(key, *base) == slot) {
            return Some(SlotRule::Mapping { key: source, base });
        }
    }
    None
}

/// The part of a transaction prediction looks at.
pub(crate) struct TxShape<'a> {
    pub(crate) caller: Address,
    pub(crate) to: Option<Address>,
    pub(crate) carries_value: bool,
    pub(crate) input: &'a [u8],
}

/// Each transaction's predicted conflict with an earlier one, and how long the longest predicted chain is.
#[derive(Debug, Default)]
pub(crate) struct Prediction {
    /// The closest earlier transaction predicted to write what this one touches.
    pub(crate) depends_on: Vec<Option<TxIdx>>,
    /// Transactions in the longest chain of predicted dependencies: no schedule beats running these in order.
    pub(crate) longest_chain: usize,
    /// Value transfers without calldata (to accounts presumed to have no code): cheap to execute.
    pub(crate) plain_transfers: usize,
}

/// A predicted location. A mapping entry is named by its base and key rather than by its slot
/// `keccak(key ‖ base)`: two entries are the same slot exactly when base and key are equal (short of a hash
/// collision), so conflicts are found without hashing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Location {
    Account(Address),
    /// A plain value transfer's credit to an account without code. It is applied lazily at commit
    /// (`credit_lazily`), so it waits for nothing; a later transaction that uses the account otherwise (sends
    /// from it, calls it) still depends on it.
    Credit(Address),
    Slot(Address, U256),
    Entry(Address, u8, B256),
}

/// The recipient of a call, as prediction sees it: its code hash and, when available, its code's analysis.
#[derive(Clone, Copy)]
pub(crate) struct Callee<'a> {
    pub(crate) code_hash: B256,
    pub(crate) access: Option<&'a ContractAccess>,
}

/// The location an analysed slot expression names for this call: mapping entries `keccak(key ‖ base)` with a
/// small constant base in the same form learning gives them, anything else by its slot.
fn analysed_location(to: Address, slot: &Sym, tx: &TxShape<'_>) -> Option<Location> {
    if let Sym::Hash(pair) = slot {
        if let (key, Sym::Const(base)) = &**pair {
            if let Ok(base) = u8::try_from(*base) {
                let key = key.eval(tx.caller, tx.input)?;
                return Some(Location::Entry(to, base, B256::from(key)));
            }
        }
    }
    Some(Location::Slot(to, slot.eval(tx.caller, tx.input)?))
}

impl Learned {
    /// Locations `tx` is predicted to write; `callee` describes the recipient when it has code.
    fn locations(&self, tx: &TxShape<'_>, callee: Option<Callee<'_>>, out: &mut Vec<Location>) {
        out.clear();
        out.push(Location::Account(tx.caller));
        let Some(to) = tx.to else { return };
        if callee.is_none() && tx.input.is_empty() {
            out.push(Location::Credit(to));
        } else if (tx.carries_value || callee.is_none()) && !crate::modules::MODULES.contains(&to) {
            // A module precompile's own account ends every call as it began (it passes on the value it
            // receives), so calls to it never write it.
            out.push(Location::Account(to));
        }
        let (Some(callee), Some(sel)) = (callee, selector(tx.input)) else { return };
        if let Some(function) = callee.access.and_then(|a| a.functions.get(&sel)) {
            out.extend(function.writes.iter().filter_map(|slot| analysed_location(to, slot, tx)));
        }
        let Some((_, rules)) = self.rules.get(&(callee.code_hash, sel)) else { return };
        for rule in rules {
            match *rule {
                SlotRule::Constant(slot) => out.push(Location::Slot(to, slot)),
                SlotRule::Mapping { key, base } => {
                    if let Some(key) = key_word(key, tx.caller, tx.input) {
                        out.push(Location::Entry(to, base, key));
                    }
                }
            }
        }
    }

    /// Predicts the block's dependencies. `callee` describes an address with code.
    pub(crate) fn predict<'a>(
        &self,
        txs: &[TxShape<'_>],
        callee: impl Fn(Address) -> Option<Callee<'a>>,
    ) -> Prediction {
        let mut last_writer: HashMap<Location, TxIdx> =
            HashMap::with_capacity_and_hasher(txs.len() * 2, Default::default());
        let mut chain = Vec::with_capacity(txs.len());
        let mut depends_on = Vec::with_capacity(txs.len());
        let mut keys = Vec::new();
        for (i, tx) in txs.iter().enumerate() {
            self.locations(tx, tx.to.and_then(&callee), &mut keys);
            // A location listed twice (a transfer to oneself) must not make the transaction its own dependency.
            let dep = keys
                .iter()
                .filter_map(|k| match *k {
                    Location::Credit(a) => {
                        last_writer.insert(Location::Account(a), i);
                        None
                    }
                    k => last_writer.insert(k, i),
                })
                .filter(|j| *j != i)
                .max();
            chain.push(dep.map_or(1, |j| chain[j] + 1));
            depends_on.push(dep);
        }
        let plain_transfers = txs.iter().filter(|tx| tx.to.is_some() && tx.input.is_empty()).count();
        Prediction { depends_on, longest_chain: chain.iter().copied().max().unwrap_or(0), plain_transfers }
    }
}

/// The distinct recipients whose code hash prediction needs (calls with a selector).
pub(crate) fn called_addresses(txs: &[TxShape<'_>]) -> HashSet<Address> {
    txs.iter().filter(|tx| tx.input.len() >= 4).filter_map(|tx| tx.to).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TOKEN: Address = Address::with_last_byte(0xee);
    const CODE: B256 = B256::with_last_byte(0xcc);

    fn code(code_hash: B256) -> Callee<'static> {
        Callee { code_hash, access: None }
    }

    fn transfer_input(to: Address) -> Vec<u8> {
        let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
        input.extend_from_slice(to.into_word().as_slice());
        input.extend_from_slice(U256::from(5).to_be_bytes::<32>().as_slice());
        input
    }

    fn shape(caller: Address, input: &[u8]) -> TxShape<'_> {
        TxShape { caller, to: Some(TOKEN), carries_value: false, input }
    }

    /// An ERC-20 transfer writes balances[caller] and balances[to] (mapping at slot 0) and a counter in slot 2.
    fn observe(learned: &mut Learned, caller: Address, to: Address) {
        let input = transfer_input(to);
        let slots = vec![mapping_slot(caller.into_word(), 0), mapping_slot(to.into_word(), 0), U256::from(2)];
        learned.learn(&Observation { code_hash: CODE, caller, input: input.into(), slots });
    }

    #[test]
    fn explains_mappings_by_caller_and_argument_and_constants() {
        let caller = Address::with_last_byte(1);
        let input = transfer_input(Address::with_last_byte(2));
        let word0 = Address::with_last_byte(2).into_word();
        assert_eq!(
            explain(mapping_slot(caller.into_word(), 3), caller, &input),
            Some(SlotRule::Mapping { key: KeySource::Caller, base: 3 })
        );
        assert_eq!(
            explain(mapping_slot(word0, 0), caller, &input),
            Some(SlotRule::Mapping { key: KeySource::Word(0), base: 0 })
        );
        assert_eq!(explain(U256::from(7), caller, &input), Some(SlotRule::Constant(U256::from(7))));
        // A hash of something else (a nested mapping, say) is not explained.
        assert_eq!(explain(U256::from_be_bytes(keccak256(b"other").0), caller, &input), None);
    }

    #[test]
    fn learned_rules_predict_conflicts_on_shared_recipients() {
        let mut learned = Learned::default();
        let [a, b, c, hot] = [1, 2, 3, 9].map(Address::with_last_byte);
        observe(&mut learned, a, b);
        // Without the counter the only shared location is the hot recipient's balance.
        learned.rules.values_mut().for_each(|(_, rules)| rules.retain(|r| !matches!(r, SlotRule::Constant(_))));
        let inputs = [transfer_input(hot), transfer_input(b), transfer_input(hot), transfer_input(hot)];
        let txs = [shape(a, &inputs[0]), shape(b, &inputs[1]), shape(c, &inputs[2]), shape(hot, &inputs[3])];
        let p = learned.predict(&txs, |addr| (addr == TOKEN).then_some(code(CODE)));
        // 1 (caller b) does not touch hot; 2 credits hot after 0; 3 is sent by hot, so it depends on 2.
        assert_eq!(p.depends_on, vec![None, None, Some(0), Some(2)]);
        assert_eq!(p.longest_chain, 3);
    }

    #[test]
    fn constant_slots_chain_every_call() {
        let mut learned = Learned::default();
        observe(&mut learned, Address::with_last_byte(1), Address::with_last_byte(2));
        let inputs: Vec<Vec<u8>> = (10..20).map(|n| transfer_input(Address::with_last_byte(n))).collect();
        let txs: Vec<TxShape<'_>> =
            inputs.iter().enumerate().map(|(i, input)| shape(Address::with_last_byte(100 + i as u8), input)).collect();
        let p = learned.predict(&txs, |_| Some(code(CODE)));
        assert_eq!(p.longest_chain, txs.len());
        // Unknown code: only sender and recipient accounts, which are all distinct here.
        let p = learned.predict(&txs, |_| Some(code(B256::ZERO)));
        assert_eq!(p.longest_chain, 1);
    }

    #[test]
    fn bytecode_analysis_predicts_before_anything_is_learned() {
        let access = crate::parallel::analysis::analyse(&crate::testutil::bench_contract("BenchToken"));
        let learned = Learned::default();
        let [a, b, c, hot] = [1, 2, 3, 9].map(Address::with_last_byte);
        let inputs = [transfer_input(hot), transfer_input(b), transfer_input(hot), transfer_input(hot)];
        let txs = [shape(a, &inputs[0]), shape(b, &inputs[1]), shape(c, &inputs[2]), shape(hot, &inputs[3])];
        let p =
            learned.predict(&txs, |addr| (addr == TOKEN).then_some(Callee { code_hash: CODE, access: Some(&access) }));
        assert_eq!(p.depends_on, vec![None, None, Some(0), Some(2)]);
        // The analysis names mapping entries as learning does: after learning, the union adds nothing new.
        let mut learned = Learned::default();
        observe(&mut learned, a, b);
        learned.rules.values_mut().for_each(|(_, rules)| rules.retain(|r| !matches!(r, SlotRule::Constant(_))));
        let both =
            learned.predict(&txs, |addr| (addr == TOKEN).then_some(Callee { code_hash: CODE, access: Some(&access) }));
        assert_eq!(both.depends_on, p.depends_on);
    }

    #[test]
    fn value_transfers_conflict_on_accounts() {
        let learned = Learned::default();
        let [a, b, c] = [1, 2, 3].map(Address::with_last_byte);
        let pay = |caller, to| TxShape { caller, to: Some(to), carries_value: true, input: &[] };
        let p = learned.predict(&[pay(a, b), pay(c, a), pay(b, c)], |_| None);
        // 2 sends from b what 0 credited to b; a credit (1 to a, which 0 used) waits for nothing.
        assert_eq!(p.depends_on, vec![None, None, Some(0)]);
        // Deposits to one account do not wait for each other.
        let p = learned.predict(&[pay(a, c), pay(b, c), pay(c, b)], |_| None);
        assert_eq!(p.depends_on, vec![None, None, Some(1)]);
    }

    proptest! {
        /// A mapping entry keyed by the caller or any of the first argument words is explained by a rule that
        /// yields the same slot for that call, and predicts the entry of another call's key.
        #[test]
        fn explained_rules_reproduce_the_slot(
            caller in any::<[u8; 20]>(),
            words in proptest::collection::vec(any::<[u8; 32]>(), 0..6),
            key in 0usize..6,
            base in 0u8..MAX_BASE,
        ) {
            let caller = Address::from(caller);
            let mut input = vec![1, 2, 3, 4];
            words.iter().for_each(|w| input.extend_from_slice(w));
            let source = if key == 0 || key > words.len().min(usize::from(MAX_WORDS)) {
                KeySource::Caller
            } else {
                KeySource::Word(key as u8 - 1)
            };
            let slot = mapping_slot(key_word(source, caller, &input).expect("key present"), base);
            let rule = explain(slot, caller, &input).expect("explained");
            let SlotRule::Mapping { key: found, base: found_base } = rule else { panic!("not a mapping: {rule:?}") };
            prop_assert_eq!(mapping_slot(key_word(found, caller, &input).expect("key present"), found_base), slot);
        }
    }

    #[test]
    fn learning_stops_after_enough_samples() {
        let mut learned = Learned::default();
        let input = transfer_input(Address::with_last_byte(2));
        assert!(learned.wants(CODE, &input));
        for n in 0..SAMPLES {
            observe(&mut learned, Address::with_last_byte(n as u8), Address::with_last_byte(2));
        }
        assert!(!learned.wants(CODE, &input));
        assert!(!learned.wants(CODE, &[1, 2]));
        // Both balances (by caller and by argument) and the constant, each once.
        assert_eq!(learned.rules[&(CODE, [0xa9, 0x05, 0x9c, 0xbb])].1.len(), 3);
    }
}
