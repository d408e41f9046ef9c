//! Who executes what: worker threads execute transactions speculatively, lowest index first, while one committer
//! validates them in block order and commits each once its reads are final (see `try_commit`). A transaction
//! that read an ESTIMATE, or is predicted to conflict with a lower one, is suspended on that transaction and
//! resumed when it finishes executing; one whose reads went stale by commit time is re-executed at once by the
//! committer itself, against final values only, so a conflict costs one more execution and no round trip.
//!
//! Validation happens once per incarnation, at commit, instead of Block-STM's validation tasks: on two cores the
//! repeated validations (every new write lowers the validation index) and the shared indices they contend on
//! cost more than the early aborts saved, and prediction already keeps most conflicting transactions apart.
//! Resumed transactions go through a queue of their own, so that waking one does not make the workers scan the
//! whole block again.

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
};

use super::mv::{Incarnation, TxIdx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    /// Waiting for a lower transaction to finish executing.
    Suspended,
    /// Final: folded into the block, never executed again.
    Committed,
}

/// What `try_commit` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    Committed,
    /// Not executed yet (or being re-executed): try again later.
    NotReady,
    /// Its reads went stale: the caller now owns this incarnation and must execute it.
    Reexecute(Incarnation),
}

pub(crate) struct Scheduler {
    n: usize,
    execution_idx: AtomicUsize,
    /// Transactions resumed after a suspension, lowest first.
    retries: Mutex<BTreeSet<TxIdx>>,
    pending_retries: AtomicUsize,
    done: AtomicBool,
    status: Vec<Mutex<(Incarnation, Status)>>,
    dependents: Vec<Mutex<Vec<TxIdx>>>,
}

impl Scheduler {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            execution_idx: AtomicUsize::new(0),
            retries: Mutex::default(),
            pending_retries: AtomicUsize::new(0),
            done: AtomicBool::new(n == 0),
            status: (0..n).map(|_| Mutex::new((0, Status::ReadyToExecute))).collect(),
            dependents: (0..n).map(|_| Mutex::default()).collect(),
        }
    }

    pub(crate) fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Stops every worker: the block is committed, or it cannot be (an error or a switch to sequential).
    pub(crate) fn halt(&self) {
        self.done.store(true, Ordering::Release);
    }

    fn status(&self, tx: TxIdx) -> std::sync::MutexGuard<'_, (Incarnation, Status)> {
        self.status[tx].lock().expect("scheduler status")
    }

    fn try_incarnate(&self, tx: TxIdx) -> Option<(TxIdx, Incarnation)> {
        let mut status = self.status(tx);
        if status.1 == Status::ReadyToExecute {
            status.1 = Status::Executing;
            return Some((tx, status.0));
        }
        None
    }

    /// The next transaction to execute and its incarnation, or None when there is none right now (the caller
    /// retries until `done`): re-executions first, then the lowest never executed.
    pub(crate) fn next_task(&self) -> Option<(TxIdx, Incarnation)> {
        if self.pending_retries.load(Ordering::Acquire) > 0 {
            let retry = self.retries.lock().expect("scheduler retries").pop_first();
            if let Some(tx) = retry {
                self.pending_retries.fetch_sub(1, Ordering::AcqRel);
                if let Some(task) = self.try_incarnate(tx) {
                    return Some(task);
                }
            }
        }
        if self.execution_idx.load(Ordering::Acquire) >= self.n {
            return None;
        }
        let tx = self.execution_idx.fetch_add(1, Ordering::AcqRel);
        if tx >= self.n {
            return None;
        }
        self.try_incarnate(tx)
    }

    /// Makes `tx` ready for its next incarnation and queues it.
    fn retry(&self, tx: TxIdx, status: &mut (Incarnation, Status)) {
        *status = (status.0 + 1, Status::ReadyToExecute);
        if self.retries.lock().expect("scheduler retries").insert(tx) {
            self.pending_retries.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Suspends `tx` until `blocking` (lower) finishes executing. Returns false when `blocking` already has
    /// (then `tx` should simply execute now).
    pub(crate) fn add_dependency(&self, tx: TxIdx, blocking: TxIdx) -> bool {
        let mut dependents = self.dependents[blocking].lock().expect("scheduler dependents");
        if matches!(self.status(blocking).1, Status::Executed | Status::Committed) {
            return false;
        }
        self.status(tx).1 = Status::Suspended;
        dependents.push(tx);
        true
    }

    /// Marks an incarnation executed and resumes the transactions suspended on it.
    pub(crate) fn finish_execution(&self, tx: TxIdx) {
        self.status(tx).1 = Status::Executed;
        let dependents = std::mem::take(&mut *self.dependents[tx].lock().expect("scheduler dependents"));
        for dependent in dependents {
            self.retry(dependent, &mut self.status(dependent));
        }
    }

    /// Commits `tx` when its executed incarnation passes `valid`; when it does not, runs `abort` and hands the
    /// next incarnation to the caller. Both run under its status lock, so no worker starts it meanwhile. The
    /// caller commits in block order: with every lower transaction committed, nothing `tx` reads can change any
    /// more, so a committed transaction is final and a re-execution by the caller needs no further check.
    pub(crate) fn try_commit(&self, tx: TxIdx, valid: impl FnOnce() -> bool, abort: impl FnOnce()) -> Commit {
        let mut status = self.status(tx);
        if status.1 != Status::Executed {
            return Commit::NotReady;
        }
        if valid() {
            status.1 = Status::Committed;
            return Commit::Committed;
        }
        abort();
        *status = (status.0 + 1, Status::Executing);
        Commit::Reexecute(status.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn executes_in_order_then_commits() {
        let s = Scheduler::new(2);
        assert_eq!(s.next_task(), Some((0, 0)));
        assert_eq!(s.next_task(), Some((1, 0)));
        assert_eq!(s.next_task(), None);
        assert_eq!(s.try_commit(0, || true, || ()), Commit::NotReady);
        s.finish_execution(0);
        assert_eq!(s.try_commit(0, || true, || ()), Commit::Committed);
        // A committed transaction is never handed out again, nor suspended on.
        assert!(!s.add_dependency(1, 0));
    }

    /// A stale read at commit hands the next incarnation to the committer; no worker gets it.
    #[test]
    fn abort_at_commit_hands_the_reexecution_to_the_committer() {
        let s = Scheduler::new(2);
        assert_eq!(s.next_task(), Some((0, 0)));
        s.finish_execution(0);
        let mut aborted = false;
        assert_eq!(s.try_commit(0, || false, || aborted = true), Commit::Reexecute(1));
        assert!(aborted);
        assert_eq!(s.next_task(), Some((1, 0)));
        assert_eq!(s.next_task(), None);
        assert_eq!(s.try_commit(0, || true, || ()), Commit::NotReady);
        s.finish_execution(0);
        assert_eq!(s.try_commit(0, || true, || ()), Commit::Committed);
    }

    /// A transaction suspended on a lower one is resumed when that one finishes, with a new incarnation.
    #[test]
    fn dependency_suspends_and_resumes() {
        let s = Scheduler::new(2);
        assert_eq!(s.next_task(), Some((0, 0)));
        assert_eq!(s.next_task(), Some((1, 0)));
        assert!(s.add_dependency(1, 0));
        assert_eq!(s.next_task(), None);
        s.finish_execution(0);
        assert_eq!(s.next_task(), Some((1, 1)));
        s.finish_execution(1);
        assert_eq!(s.try_commit(1, || true, || ()), Commit::Committed);
    }

    proptest! {
        /// Whatever the interleaving of executions, suspensions and aborts, every transaction ends up committed
        /// in order, each incarnation is handed out once, and nothing is handed out after its commit.
        #[test]
        fn every_transaction_commits(n in 1usize..24, steps in proptest::collection::vec((0u8..4, any::<u8>()), 0..200)) {
            let s = Scheduler::new(n);
            let mut running: Vec<(TxIdx, Incarnation)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut committed = 0;
            for (op, pick) in steps {
                match op {
                    0 => {
                        if let Some(task) = s.next_task() {
                            prop_assert!(task.0 >= committed, "handed out a committed transaction");
                            prop_assert!(seen.insert(task), "incarnation handed out twice");
                            running.push(task);
                        }
                    }
                    1 if !running.is_empty() => {
                        let (tx, _) = running.remove(usize::from(pick) % running.len());
                        s.finish_execution(tx);
                    }
                    2 if !running.is_empty() => {
                        let i = usize::from(pick) % running.len();
                        let (tx, _) = running[i];
                        if tx > committed && s.add_dependency(tx, committed) {
                            running.remove(i);
                        }
                    }
                    _ => {
                        let valid = pick % 3 != 0;
                        if committed < n {
                            match s.try_commit(committed, || valid, || ()) {
                                Commit::Committed => committed += 1,
                                Commit::Reexecute(inc) => {
                                    prop_assert!(seen.insert((committed, inc)), "incarnation handed out twice");
                                    s.finish_execution(committed);
                                }
                                Commit::NotReady => {}
                            }
                        }
                    }
                }
            }
            // Drain: execute whatever is handed out and commit in order, always validly.
            let mut rounds = 0;
            while committed < n {
                rounds += 1;
                prop_assert!(rounds < 10_000, "no progress");
                while let Some(task) = s.next_task() {
                    prop_assert!(seen.insert(task));
                    running.push(task);
                }
                for (tx, _) in running.drain(..) {
                    s.finish_execution(tx);
                }
                while committed < n && s.try_commit(committed, || true, || ()) == Commit::Committed {
                    committed += 1;
                }
            }
        }
    }
}
