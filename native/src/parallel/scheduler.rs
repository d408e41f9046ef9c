//! The Block-STM collaborative scheduler (Gelashvili et al., PPoPP'23): worker threads pull the next task —
//! validating the lowest executed transaction not yet validated, else executing the lowest not yet executed —
//! from two shared indices. An abort lowers the indices so that everything above is validated again; a read of
//! an ESTIMATE suspends the transaction on its dependency instead of re-executing it blindly.
//!
//! Chosen over Sei's bulk-synchronous OCC rounds because suspension on dependencies keeps contended blocks
//! (one AMM pool, one hot token holder) from burning a whole round per conflict; see native-evm-brief §3.

use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Mutex,
};

use super::mv::{Incarnation, TxIdx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    Aborting,
    /// Final: folded into the block, never validated or re-executed again.
    Committed,
}

/// A unit of work for a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Task {
    Execute(TxIdx, Incarnation),
    Validate(TxIdx, Incarnation),
}

pub(crate) struct Scheduler {
    n: usize,
    execution_idx: AtomicUsize,
    validation_idx: AtomicUsize,
    decrease_cnt: AtomicUsize,
    num_active_tasks: AtomicUsize,
    done: AtomicBool,
    status: Vec<Mutex<(Incarnation, Status)>>,
    dependents: Vec<Mutex<Vec<TxIdx>>>,
}

impl Scheduler {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            n,
            execution_idx: AtomicUsize::new(0),
            validation_idx: AtomicUsize::new(0),
            decrease_cnt: AtomicUsize::new(0),
            num_active_tasks: AtomicUsize::new(0),
            done: AtomicBool::new(n == 0),
            status: (0..n).map(|_| Mutex::new((0, Status::ReadyToExecute))).collect(),
            dependents: (0..n).map(|_| Mutex::default()).collect(),
        }
    }

    pub(crate) fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Stops every worker (an unrecoverable error or a switch to sequential execution).
    pub(crate) fn halt(&self) {
        self.done.store(true, Ordering::Release);
    }

    fn status(&self, tx: TxIdx) -> std::sync::MutexGuard<'_, (Incarnation, Status)> {
        self.status[tx].lock().expect("scheduler status")
    }

    fn decrease_execution_idx(&self, target: TxIdx) {
        self.execution_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    fn decrease_validation_idx(&self, target: TxIdx) {
        self.validation_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    fn check_done(&self) {
        let observed = self.decrease_cnt.load(Ordering::SeqCst);
        let execution = self.execution_idx.load(Ordering::SeqCst);
        let validation = self.validation_idx.load(Ordering::SeqCst);
        if execution.min(validation) >= self.n
            && self.num_active_tasks.load(Ordering::SeqCst) == 0
            && observed == self.decrease_cnt.load(Ordering::SeqCst)
        {
            self.done.store(true, Ordering::Release);
        }
    }

    fn try_incarnate(&self, tx: TxIdx) -> Option<Task> {
        if tx < self.n {
            let mut status = self.status(tx);
            if status.1 == Status::ReadyToExecute {
                status.1 = Status::Executing;
                return Some(Task::Execute(tx, status.0));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    fn next_version_to_execute(&self) -> Option<Task> {
        if self.execution_idx.load(Ordering::SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let tx = self.execution_idx.fetch_add(1, Ordering::SeqCst);
        self.try_incarnate(tx)
    }

    fn next_version_to_validate(&self) -> Option<Task> {
        if self.validation_idx.load(Ordering::SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let tx = self.validation_idx.fetch_add(1, Ordering::SeqCst);
        if tx < self.n {
            let status = self.status(tx);
            if status.1 == Status::Executed {
                return Some(Task::Validate(tx, status.0));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// The next task, or None when there is nothing to do right now (the caller retries until `done`).
    pub(crate) fn next_task(&self) -> Option<Task> {
        if self.validation_idx.load(Ordering::SeqCst) < self.execution_idx.load(Ordering::SeqCst) {
            self.next_version_to_validate()
        } else {
            self.next_version_to_execute()
        }
    }

    /// `tx` read an estimate of `blocking`: suspend it until `blocking` finishes executing. Returns false when
    /// `blocking` already finished (then `tx` should simply execute again).
    pub(crate) fn add_dependency(&self, tx: TxIdx, blocking: TxIdx) -> bool {
        let mut dependents = self.dependents[blocking].lock().expect("scheduler dependents");
        if matches!(self.status(blocking).1, Status::Executed | Status::Committed) {
            return false;
        }
        self.status(tx).1 = Status::Aborting;
        dependents.push(tx);
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        true
    }

    fn set_ready_status(&self, tx: TxIdx) {
        let mut status = self.status(tx);
        *status = (status.0 + 1, Status::ReadyToExecute);
    }

    /// Marks an incarnation executed, wakes its dependents, and returns the validation task to run at once
    /// when nothing above needs revalidating.
    pub(crate) fn finish_execution(&self, tx: TxIdx, inc: Incarnation, wrote_new_location: bool) -> Option<Task> {
        self.status(tx).1 = Status::Executed;
        let dependents = std::mem::take(&mut *self.dependents[tx].lock().expect("scheduler dependents"));
        if let Some(min) = dependents.iter().min().copied() {
            for dependent in &dependents {
                self.set_ready_status(*dependent);
            }
            self.decrease_execution_idx(min);
        }
        if self.validation_idx.load(Ordering::SeqCst) > tx {
            if wrote_new_location {
                self.decrease_validation_idx(tx);
            } else {
                return Some(Task::Validate(tx, inc));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// Commits `tx` when its executed incarnation passes `valid` (checked under its status lock, so no validator
    /// aborts it meanwhile). The caller commits in block order: with every lower transaction committed, nothing
    /// `tx` read can change any more, so a committed transaction is final.
    pub(crate) fn try_commit(&self, tx: TxIdx, valid: impl FnOnce() -> bool) -> bool {
        let mut status = self.status(tx);
        if status.1 != Status::Executed || !valid() {
            return false;
        }
        status.1 = Status::Committed;
        true
    }

    /// First validator to fail an incarnation wins the right to abort it.
    pub(crate) fn try_validation_abort(&self, tx: TxIdx, inc: Incarnation) -> bool {
        let mut status = self.status(tx);
        if *status == (inc, Status::Executed) {
            status.1 = Status::Aborting;
            return true;
        }
        false
    }

    /// After a validation: an aborted transaction is made ready again and everything above it revalidated.
    pub(crate) fn finish_validation(&self, tx: TxIdx, aborted: bool) -> Option<Task> {
        if aborted {
            self.set_ready_status(tx);
            self.decrease_validation_idx(tx + 1);
            if self.execution_idx.load(Ordering::SeqCst) > tx {
                return self.try_incarnate(tx);
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Single-threaded walk: execute 0, 1; validating 0 aborts it; 0 re-executes, then both validate; done.
    #[test]
    fn abort_reexecutes_and_revalidates_above() {
        let s = Scheduler::new(2);
        assert_eq!(s.next_task(), Some(Task::Execute(0, 0)));
        assert_eq!(s.finish_execution(0, 0, true), None);
        assert_eq!(s.next_task(), Some(Task::Validate(0, 0)));
        assert!(s.try_validation_abort(0, 0));
        // Execution index is past 0, so the re-execution comes back at once.
        assert_eq!(s.finish_validation(0, true), Some(Task::Execute(0, 1)));
        assert_eq!(s.finish_execution(0, 1, false), Some(Task::Validate(0, 1)));
        assert_eq!(s.finish_validation(0, false), None);
        assert_eq!(s.next_task(), Some(Task::Execute(1, 0)));
        assert_eq!(s.finish_execution(1, 0, true), None);
        assert_eq!(s.next_task(), Some(Task::Validate(1, 0)));
        assert_eq!(s.finish_validation(1, false), None);
        assert_eq!(s.next_task(), None);
        assert!(s.done());
    }

    /// A transaction blocked on a lower one is resumed when that one finishes, with a new incarnation.
    #[test]
    fn dependency_suspends_and_resumes() {
        let s = Scheduler::new(2);
        assert_eq!(s.next_task(), Some(Task::Execute(0, 0)));
        // Another worker takes 1 while 0 runs; 1 reads an estimate of 0.
        let Some(Task::Execute(1, 0)) = s.next_version_to_execute() else { panic!("expected tx 1") };
        assert!(s.add_dependency(1, 0));
        s.finish_execution(0, 0, true);
        // 1 is ready again at incarnation 1, and the execution index came back down to it.
        assert_eq!(s.next_task(), Some(Task::Validate(0, 0)));
        assert_eq!(s.finish_validation(0, false), None);
        assert_eq!(s.next_task(), Some(Task::Execute(1, 1)));
    }

    #[test]
    fn dependency_on_a_finished_transaction_is_refused() {
        let s = Scheduler::new(2);
        s.next_task();
        s.finish_execution(0, 0, false);
        assert!(!s.add_dependency(1, 0));
    }
}
