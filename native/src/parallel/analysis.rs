//! Static analysis of contract bytecode: for each function selector, which storage slots a call may write, as
//! expressions over the call's inputs — a constant slot, or a Solidity mapping entry `keccak(key ‖ base)` whose
//! key is the caller, a calldata word or another such entry (nested mappings such as ERC-20 allowances).
//!
//! It is an abstract interpretation of the EVM: the stack and the memory words at constant offsets hold symbolic
//! values; `CALLDATALOAD(0)` shifted down by 224 bits is the selector under analysis, so the dispatcher's
//! comparisons evaluate and only that function's code is explored; a conditional jump on anything else explores
//! both ways. Paths are bounded (steps and visits per branch point), so analysis always terminates, and an
//! `SSTORE` whose slot is not such an expression marks the function's prediction incomplete. The result is a
//! hint for scheduling, never trusted for correctness: a wrong or missing slot costs a re-execution at most.
//!
//! Why not only learn from past executions (`predict`)? The first block that calls a contract has no history;
//! the analysis predicts a function's writes before it ever ran, and learning then covers what analysis cannot
//! (slots computed from storage values, proxies that `DELEGATECALL` elsewhere).

use std::sync::{Arc, LazyLock, Mutex};

use alloy_primitives::{keccak256, map::HashMap, Address, B256, U256};
use revm::bytecode::opcode::{self as op, OpCode};

pub type Selector = [u8; 4];

/// A symbolic 256-bit value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sym {
    Const(U256),
    Caller,
    /// The calldata word at this byte offset (`4 + 32·i` for ABI argument `i`).
    CallData(u32),
    /// `CALLDATALOAD(0)`: becomes the selector under analysis once shifted down by 224 bits.
    SelectorWord,
    /// keccak256 of 64 bytes of memory holding these two words: a mapping entry `keccak(key ‖ base)`.
    Hash(Box<(Sym, Sym)>),
    Unknown,
}

impl Sym {
    fn konst(&self) -> Option<U256> {
        match self {
            Sym::Const(v) => Some(*v),
            _ => None,
        }
    }

    /// Whether the value is known for a given call (everything but `Unknown` and the raw selector word).
    fn is_predictable(&self) -> bool {
        match self {
            Sym::Const(_) | Sym::Caller | Sym::CallData(_) => true,
            Sym::Hash(pair) => pair.0.is_predictable() && pair.1.is_predictable(),
            Sym::SelectorWord | Sym::Unknown => false,
        }
    }

    /// The concrete value for a call from `caller` with `calldata`.
    pub fn eval(&self, caller: Address, calldata: &[u8]) -> Option<U256> {
        match self {
            Sym::Const(v) => Some(*v),
            Sym::Caller => Some(U256::from_be_slice(caller.as_slice())),
            Sym::CallData(offset) => {
                let mut word = [0u8; 32];
                let start = (*offset as usize).min(calldata.len());
                let end = (start + 32).min(calldata.len());
                word[..end - start].copy_from_slice(&calldata[start..end]);
                Some(U256::from_be_bytes(word))
            }
            Sym::Hash(pair) => {
                let mut buf = [0u8; 64];
                buf[..32].copy_from_slice(&pair.0.eval(caller, calldata)?.to_be_bytes::<32>());
                buf[32..].copy_from_slice(&pair.1.eval(caller, calldata)?.to_be_bytes::<32>());
                Some(U256::from_be_bytes(keccak256(buf).0))
            }
            Sym::SelectorWord | Sym::Unknown => None,
        }
    }
}

/// What one function may do to storage.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FunctionAccess {
    /// Slots written, as expressions over the call's inputs.
    pub writes: Vec<Sym>,
    /// False when some path wrote a slot that is no such expression, or the exploration was cut short.
    pub complete: bool,
}

/// The analysis of one contract: its dispatcher's selectors and each function's writes.
#[derive(Debug, Default, Clone)]
pub struct ContractAccess {
    pub functions: HashMap<Selector, FunctionAccess>,
}

/// Analyses kept by code hash for the life of the process (contracts deployed from the same code share one).
static ANALYSED: LazyLock<Mutex<HashMap<B256, Arc<ContractAccess>>>> = LazyLock::new(Mutex::default);
/// A bound on the cache's memory, not a tuning knob.
const MAX_ANALYSED: usize = 4096;

/// The analysis of the code with this hash, computed from `code()` the first time it is asked for.
pub fn analysed(code_hash: B256, code: impl FnOnce() -> Option<Vec<u8>>) -> Option<Arc<ContractAccess>> {
    if let Some(found) = ANALYSED.lock().expect("analysis cache").get(&code_hash) {
        return Some(found.clone());
    }
    let analysis = Arc::new(analyse(&code()?));
    let mut cache = ANALYSED.lock().expect("analysis cache");
    if cache.len() >= MAX_ANALYSED {
        cache.clear();
    }
    cache.insert(code_hash, analysis.clone());
    Some(analysis)
}

/// Steps explored per function, all paths together.
const MAX_STEPS: usize = 200_000;
/// Times one conditional jump may fork before its unknown-condition branches are no longer followed (loops).
const MAX_FORKS_PER_JUMPI: u32 = 8;
/// Simultaneously pending paths (a depth bound on the exploration's work list).
const MAX_PENDING: usize = 256;

#[derive(Clone)]
struct State {
    pc: usize,
    stack: Vec<Sym>,
    /// 32-byte words written at constant offsets.
    memory: HashMap<u64, Sym>,
}

/// Analyses every function the dispatcher of `code` (runtime bytecode) selects.
pub fn analyse(code: &[u8]) -> ContractAccess {
    let jumpdests = jumpdests(code);
    let functions = selectors(code).into_iter().map(|s| (s, analyse_function(code, &jumpdests, s))).collect();
    ContractAccess { functions }
}

fn jumpdests(code: &[u8]) -> Vec<bool> {
    let mut valid = vec![false; code.len()];
    let mut pc = 0;
    while pc < code.len() {
        let opcode = code[pc];
        if opcode == op::JUMPDEST {
            valid[pc] = true;
        }
        pc += 1 + push_size(opcode);
    }
    valid
}

fn push_size(opcode: u8) -> usize {
    if (op::PUSH1..=op::PUSH32).contains(&opcode) {
        (opcode - op::PUSH1 + 1) as usize
    } else {
        0
    }
}

/// The 4-byte constants the dispatcher compares the selector with: `PUSH4 x` directly followed by `EQ`.
fn selectors(code: &[u8]) -> Vec<Selector> {
    let mut out = Vec::new();
    let mut pc = 0;
    while pc < code.len() {
        let opcode = code[pc];
        if opcode == op::PUSH4 && pc + 5 < code.len() && code[pc + 5] == op::EQ {
            let s: Selector = code[pc + 1..pc + 5].try_into().expect("4 bytes");
            if !out.contains(&s) {
                out.push(s);
            }
        }
        pc += 1 + push_size(opcode);
    }
    out
}

fn analyse_function(code: &[u8], jumpdests: &[bool], selector: Selector) -> FunctionAccess {
    let selector = U256::from(u32::from_be_bytes(selector));
    let mut writes: Vec<Sym> = Vec::new();
    let mut complete = true;
    let mut forks: HashMap<usize, u32> = HashMap::default();
    let mut pending = vec![State { pc: 0, stack: Vec::new(), memory: HashMap::default() }];
    let mut steps = 0usize;
    while let Some(mut state) = pending.pop() {
        loop {
            steps += 1;
            if steps > MAX_STEPS {
                return FunctionAccess { writes, complete: false };
            }
            match step(code, jumpdests, selector, &mut state) {
                Step::Next => {}
                Step::Stop => break,
                Step::Store(slot) => {
                    if slot.is_predictable() {
                        if !writes.contains(&slot) {
                            writes.push(slot);
                        }
                    } else {
                        complete = false;
                    }
                }
                Step::Fork(target) => {
                    let n = forks.entry(state.pc).or_default();
                    *n += 1;
                    if *n > MAX_FORKS_PER_JUMPI || pending.len() >= MAX_PENDING {
                        complete = false;
                        break;
                    }
                    let mut taken = state.clone();
                    taken.pc = target;
                    pending.push(taken);
                    state.pc += 1;
                }
            }
        }
    }
    FunctionAccess { writes, complete }
}

enum Step {
    Next,
    Stop,
    /// An SSTORE to this slot (the step is done).
    Store(Sym),
    /// A conditional jump to this target on an unknown condition: explore both.
    Fork(usize),
}

fn binary(stack: &mut Vec<Sym>, f: impl Fn(U256, U256) -> U256) -> Option<()> {
    let a = stack.pop()?;
    let b = stack.pop()?;
    stack.push(match (a.konst(), b.konst()) {
        (Some(a), Some(b)) => Sym::Const(f(a, b)),
        _ => Sym::Unknown,
    });
    Some(())
}

fn flag(b: bool) -> U256 {
    U256::from(b as u8)
}

/// Executes one instruction on `state`; `None` from an inner helper (stack underflow) ends the path.
fn step(code: &[u8], jumpdests: &[bool], selector: U256, state: &mut State) -> Step {
    let Some(&opcode) = code.get(state.pc) else { return Step::Stop };
    match exec(code, jumpdests, selector, state, opcode) {
        Some(step) => step,
        None => Step::Stop,
    }
}

fn exec(code: &[u8], jumpdests: &[bool], selector: U256, s: &mut State, opcode: u8) -> Option<Step> {
    let stack = &mut s.stack;
    match opcode {
        op::PUSH0 => stack.push(Sym::Const(U256::ZERO)),
        op::PUSH1..=op::PUSH32 => {
            let n = push_size(opcode);
            let end = (s.pc + 1 + n).min(code.len());
            let mut word = [0u8; 32];
            let bytes = &code[s.pc + 1..end];
            word[32 - n..32 - n + bytes.len()].copy_from_slice(bytes);
            stack.push(Sym::Const(U256::from_be_bytes(word)));
            s.pc += 1 + n;
            return Some(Step::Next);
        }
        op::DUP1..=op::DUP16 => {
            let n = (opcode - op::DUP1 + 1) as usize;
            let v = stack.get(stack.len().checked_sub(n)?)?.clone();
            stack.push(v);
        }
        op::SWAP1..=op::SWAP16 => {
            let n = (opcode - op::SWAP1 + 1) as usize;
            let top = stack.len().checked_sub(1)?;
            let other = top.checked_sub(n)?;
            stack.swap(top, other);
        }
        op::POP => {
            stack.pop()?;
        }
        op::ADD => binary(stack, |a, b| a.wrapping_add(b))?,
        op::MUL => binary(stack, |a, b| a.wrapping_mul(b))?,
        op::SUB => binary(stack, |a, b| a.wrapping_sub(b))?,
        op::DIV => {
            // `DIV(calldataload(0), 2^224)` is how older compilers extract the selector.
            if stack.last() == Some(&Sym::SelectorWord)
                && stack.get(stack.len().wrapping_sub(2)) == Some(&Sym::Const(U256::from(1) << 224))
            {
                stack.truncate(stack.len() - 2);
                stack.push(Sym::Const(selector));
            } else {
                binary(stack, |a, b| a.checked_div(b).unwrap_or_default())?;
            }
        }
        op::MOD => binary(stack, |a, b| a.checked_rem(b).unwrap_or_default())?,
        op::LT => binary(stack, |a, b| flag(a < b))?,
        op::GT => binary(stack, |a, b| flag(a > b))?,
        op::EQ => binary(stack, |a, b| flag(a == b))?,
        op::ISZERO => {
            let a = stack.pop()?;
            stack.push(a.konst().map_or(Sym::Unknown, |a| Sym::Const(flag(a.is_zero()))));
        }
        op::AND => {
            let a = stack.pop()?;
            let b = stack.pop()?;
            stack.push(match (&a, &b) {
                (Sym::Const(x), Sym::Const(y)) => Sym::Const(*x & *y),
                // Cleaning an input (`and(x, 2^160 - 1)` for an address) leaves it unchanged on every path
                // that does not revert: Solidity checks that ABI inputs are already clean.
                (Sym::Const(mask), v) | (v, Sym::Const(mask))
                    if matches!(v, Sym::Caller | Sym::CallData(_))
                        && mask.wrapping_add(U256::from(1)).is_power_of_two() =>
                {
                    v.clone()
                }
                _ => Sym::Unknown,
            });
        }
        op::OR => binary(stack, |a, b| a | b)?,
        op::XOR => binary(stack, |a, b| a ^ b)?,
        op::NOT => {
            let a = stack.pop()?;
            stack.push(a.konst().map_or(Sym::Unknown, |a| Sym::Const(!a)));
        }
        op::SHL => {
            binary(stack, |shift, v| if shift >= U256::from(256) { U256::ZERO } else { v << shift.to::<usize>() })?
        }
        op::SHR => {
            let shift = stack.pop()?;
            let value = stack.pop()?;
            stack.push(match (shift.konst(), &value) {
                (Some(s), Sym::SelectorWord) if s == U256::from(224) => Sym::Const(selector),
                (Some(s), Sym::Const(v)) => {
                    Sym::Const(if s >= U256::from(256) { U256::ZERO } else { *v >> s.to::<usize>() })
                }
                _ => Sym::Unknown,
            });
        }
        op::CALLER => stack.push(Sym::Caller),
        op::CALLDATALOAD => {
            let offset = stack.pop()?;
            stack.push(match offset.konst() {
                Some(o) if o.is_zero() => Sym::SelectorWord,
                Some(o) if o < U256::from(u32::MAX) => Sym::CallData(o.to::<u32>()),
                _ => Sym::Unknown,
            });
        }
        op::MLOAD => {
            let offset = stack.pop()?;
            let v = offset.konst().and_then(|o| o.try_into().ok()).and_then(|o: u64| s.memory.get(&o).cloned());
            stack.push(v.unwrap_or(Sym::Unknown));
        }
        op::MSTORE => {
            let offset = stack.pop()?;
            let value = stack.pop()?;
            match offset.konst().and_then(|o| o.try_into().ok()) {
                Some(o) => {
                    let o: u64 = o;
                    s.memory.retain(|k, _| k.abs_diff(o) >= 32);
                    s.memory.insert(o, value);
                }
                // A write at an unknown offset may land anywhere: forget what memory held.
                None => s.memory.clear(),
            }
        }
        op::KECCAK256 => {
            let offset = stack.pop()?;
            let len = stack.pop()?;
            let hashed = match (offset.konst().and_then(|o| o.try_into().ok()), len.konst()) {
                (Some(o), Some(l)) if l == U256::from(64) => {
                    let o: u64 = o;
                    match (s.memory.get(&o), s.memory.get(&(o + 32))) {
                        (Some(a), Some(b)) => Sym::Hash(Box::new((a.clone(), b.clone()))),
                        _ => Sym::Unknown,
                    }
                }
                _ => Sym::Unknown,
            };
            stack.push(hashed);
        }
        op::SSTORE => {
            let slot = stack.pop()?;
            stack.pop()?;
            s.pc += 1;
            return Some(Step::Store(slot));
        }
        op::JUMP => {
            let target = jump_target(jumpdests, &stack.pop()?)?;
            s.pc = target;
            return Some(Step::Next);
        }
        op::JUMPI => {
            let target = stack.pop()?;
            let cond = stack.pop()?;
            return Some(match cond.konst() {
                Some(c) if c.is_zero() => {
                    s.pc += 1;
                    Step::Next
                }
                Some(_) => {
                    s.pc = jump_target(jumpdests, &target)?;
                    Step::Next
                }
                None => match jump_target(jumpdests, &target) {
                    Some(t) => Step::Fork(t),
                    None => {
                        s.pc += 1;
                        Step::Next
                    }
                },
            });
        }
        op::STOP | op::RETURN | op::REVERT | op::INVALID | op::SELFDESTRUCT => return Some(Step::Stop),
        // Anything that copies into memory invalidates the words tracked there.
        op::CALLDATACOPY | op::CODECOPY | op::EXTCODECOPY | op::RETURNDATACOPY | op::MCOPY | op::MSTORE8 => {
            s.memory.clear();
            generic(stack, opcode)?;
        }
        _ => generic(stack, opcode)?,
    }
    s.pc += 1;
    Some(Step::Next)
}

fn jump_target(jumpdests: &[bool], target: &Sym) -> Option<usize> {
    let t: usize = target.konst()?.try_into().ok()?;
    jumpdests.get(t).copied().unwrap_or(false).then_some(t)
}

/// Any other instruction: pops its inputs, pushes unknown outputs; an undefined opcode ends the path.
fn generic(stack: &mut Vec<Sym>, opcode: u8) -> Option<()> {
    let info = OpCode::new(opcode)?;
    stack.truncate(stack.len().checked_sub(info.inputs() as usize)?);
    stack.extend(std::iter::repeat_n(Sym::Unknown, info.outputs() as usize));
    Some(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testutil::bench_contract as runtime;

    fn sel(signature: &str) -> Selector {
        keccak256(signature.as_bytes())[..4].try_into().unwrap()
    }

    fn word(v: impl Into<U256>) -> [u8; 32] {
        v.into().to_be_bytes::<32>()
    }

    fn addr_word(a: Address) -> [u8; 32] {
        word(U256::from_be_slice(a.as_slice()))
    }

    fn mapping(key: [u8; 32], base: [u8; 32]) -> U256 {
        U256::from_be_bytes(keccak256([key, base].concat()).0)
    }

    fn slots(f: &FunctionAccess, caller: Address, calldata: &[u8]) -> Vec<U256> {
        f.writes.iter().filter_map(|w| w.eval(caller, calldata)).collect()
    }

    #[test]
    fn erc20_functions_predict_their_balance_and_allowance_slots() {
        let token = analyse(&runtime("BenchToken"));
        let (caller, to, from) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb), Address::repeat_byte(0xcc));

        let transfer = &token.functions[&sel("transfer(address,uint256)")];
        let data = [&sel("transfer(address,uint256)")[..], &addr_word(to), &word(U256::from(5))].concat();
        let mut got = slots(transfer, caller, &data);
        got.sort();
        let mut want = vec![mapping(addr_word(caller), word(U256::ZERO)), mapping(addr_word(to), word(U256::ZERO))];
        want.sort();
        assert_eq!(got, want);
        assert!(transfer.complete);

        let approve = &token.functions[&sel("approve(address,uint256)")];
        let data = [&sel("approve(address,uint256)")[..], &addr_word(to), &word(U256::from(5))].concat();
        let inner = mapping(addr_word(caller), word(U256::from(1)));
        assert_eq!(slots(approve, caller, &data), vec![mapping(addr_word(to), word(inner))]);

        let transfer_from = &token.functions[&sel("transferFrom(address,address,uint256)")];
        let data =
            [&sel("transferFrom(address,address,uint256)")[..], &addr_word(from), &addr_word(to), &word(U256::from(5))]
                .concat();
        let got = slots(transfer_from, caller, &data);
        let allowance = mapping(addr_word(caller), word(mapping(addr_word(from), word(U256::from(1)))));
        for want in [allowance, mapping(addr_word(from), word(U256::ZERO)), mapping(addr_word(to), word(U256::ZERO))] {
            assert!(got.contains(&want), "{want:x} not predicted in {got:x?}");
        }
        // Views write nothing.
        assert!(token.functions[&sel("balanceOf(address)")].writes.is_empty());
    }

    #[test]
    fn pool_swap_writes_its_reserves_and_nft_mint_its_counter() {
        let pool = analyse(&runtime("BenchPool"));
        let swap = &pool.functions[&sel("swap(bool,uint256,uint256)")];
        assert!(swap.writes.contains(&Sym::Const(U256::ZERO)), "{swap:?}");

        let nft = analyse(&runtime("BenchNFT"));
        let mint = &nft.functions[&sel("mint()")];
        let caller = Address::repeat_byte(0xaa);
        let got = slots(mint, caller, &sel("mint()"));
        assert!(got.contains(&U256::ZERO), "totalSupply (slot 0) not predicted: {got:x?}");
        assert!(got.contains(&mapping(addr_word(caller), word(U256::from(2)))), "balanceOf[caller]: {got:x?}");
        // ownerOf[id] is keyed by a value read from storage: not predictable, so the prediction is incomplete.
        assert!(!mint.complete);
    }

    proptest! {
        /// Any bytes: the analysis terminates without panicking.
        #[test]
        fn arbitrary_code_is_analysed_without_panic(code in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = analyse(&code);
        }

        /// Junk with a dispatcher-like prefix, so that functions are actually explored.
        #[test]
        fn dispatcher_prefixed_junk_terminates(tail in proptest::collection::vec(any::<u8>(), 0..400), s in any::<u32>()) {
            let mut code = vec![op::PUSH0, op::CALLDATALOAD, op::PUSH1, 0xe0, op::SHR, op::DUP1, op::PUSH4];
            code.extend_from_slice(&s.to_be_bytes());
            code.extend_from_slice(&[op::EQ, op::PUSH1, 0x10, op::JUMPI, op::STOP, op::JUMPDEST]);
            code.extend_from_slice(&tail);
            let a = analyse(&code);
            prop_assert!(a.functions.contains_key(&s.to_be_bytes()));
        }
    }
}
