//! Work a run is sure to need that waits on the system (stdin, the files the environment
//! names) or only on the CPU (compiling a pattern), started on threads of their own as soon
//! as the command line is read, so that it overlaps the rest of the start-up instead of
//! handing off to a fresh thread in the middle of it: on the HTTPS path each such handoff
//! cost about as much as the work (issue 11).
//!
//! A result is taken once, by the code that would otherwise have done the work itself, at the
//! point where it did it: the order of a run's steps, and so which error it reports and what a
//! deadline says it was waiting for, do not change. Work nobody takes is dropped with the
//! process; work that never ran (no thread could be had) is done by its taker, on a thread
//! all the same, and if none can be had then either, the error names the thread, not the work.

use std::sync::Mutex;

use tokio::sync::oneshot;

/// A piece of work for a thread `in_turn` starts.
pub(crate) type Work = Box<dyn FnOnce() + Send>;

/// Work that no thread did: the system would not start one (its limit on processes and
/// threads: a pids cgroup's `pids.max`, `ulimit -u`), or the thread ended without a result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ThreadError {
    #[error("could not start a thread to {purpose}: {source}")]
    Start {
        purpose: &'static str,
        source: std::io::Error,
    },
    #[error("the thread started to {purpose} ended without a result")]
    Stopped { purpose: &'static str },
}

/// The result of one piece of work done ahead, for one `key` (the path it reads, say), taken
/// once. The work is `compute(key)`, on a thread named `name` when it is not done ahead;
/// `purpose` says what it does, for an error.
pub(crate) struct Ahead<K, T> {
    name: &'static str,
    purpose: &'static str,
    compute: fn(K) -> T,
    slot: Mutex<Option<(K, oneshot::Receiver<T>)>>,
}

impl<K: Clone + PartialEq + Send + 'static, T: Send + 'static> Ahead<K, T> {
    pub(crate) const fn new(
        name: &'static str,
        purpose: &'static str,
        compute: fn(K) -> T,
    ) -> Self {
        Self {
            name,
            purpose,
            compute,
            slot: Mutex::new(None),
        }
    }

    /// The work that makes the result for `key`, for `in_turn`.
    pub(crate) fn work(&self, key: K) -> Work {
        let (work, receiver) = self.job(key.clone());
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((key, receiver));
        }
        work
    }

    /// The result of the work done ahead for `key`, or else of that work started now, on a
    /// thread all the same so that a deadline can abandon it; an error if no thread ran it to
    /// its end, naming why.
    pub(crate) async fn result(&self, key: &K) -> Result<T, ThreadError> {
        if let Some(receiver) = self.take(key)
            && let Ok(result) = receiver.await
        {
            return Ok(result);
        }
        let (work, receiver) = self.job(key.clone());
        in_turn(self.name, vec![work]).map_err(|source| ThreadError::Start {
            purpose: self.purpose,
            source,
        })?;
        receiver.await.map_err(|_| ThreadError::Stopped {
            purpose: self.purpose,
        })
    }

    /// `compute(key)` as work, and where its result will come.
    fn job(&self, key: K) -> (Work, oneshot::Receiver<T>) {
        let (sender, receiver) = oneshot::channel();
        let compute = self.compute;
        let work = Box::new(move || {
            let _ = sender.send(compute(key));
        });
        (work, receiver)
    }

    fn take(&self, key: &K) -> Option<oneshot::Receiver<T>> {
        let mut slot = self.slot.lock().ok()?;
        match slot.take() {
            Some((started, receiver)) if started == *key => Some(receiver),
            other => {
                *slot = other;
                None
            }
        }
    }
}

/// Runs `works` one after the other, in the order they are listed, on a new thread named
/// `name`. If no thread can be had, they are dropped unrun (their takers try again, and say
/// why if that fails too) and the system's error returned.
pub(crate) fn in_turn(name: &str, works: Vec<Work>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || works.into_iter().for_each(|work| work()))
        .map(drop)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::thread::ThreadId;

    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// How many times `counted` ran: ahead or not, each run is counted.
    static RUNS: AtomicU32 = AtomicU32::new(0);

    fn counted(key: &'static str) -> (&'static str, u32) {
        (key, RUNS.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[test]
    fn the_work_done_ahead_answers_the_first_taker_with_its_key_and_only_it() {
        static AHEAD: Ahead<&str, (&str, u32)> = Ahead::new("test", "test", counted);
        let (sender, done) = std::sync::mpsc::channel();
        in_turn(
            "test",
            vec![AHEAD.work("a"), Box::new(move || sender.send(()).unwrap())],
        )
        .unwrap();
        done.recv().unwrap();
        let before = RUNS.load(Ordering::SeqCst);
        assert_eq!(
            block_on(AHEAD.result(&"b")).map(|(key, _)| key).ok(),
            Some("b")
        );
        assert_eq!(
            RUNS.load(Ordering::SeqCst),
            before + 1,
            "another key runs now"
        );
        assert_eq!(
            block_on(AHEAD.result(&"a")).map(|(key, _)| key).ok(),
            Some("a")
        );
        assert_eq!(
            RUNS.load(Ordering::SeqCst),
            before + 1,
            "taken, not run again"
        );
        block_on(AHEAD.result(&"a")).unwrap();
        assert_eq!(RUNS.load(Ordering::SeqCst), before + 2, "taken once");
    }

    #[test]
    fn works_run_in_turn_on_one_thread() {
        fn id((): ()) -> ThreadId {
            std::thread::current().id()
        }
        static FIRST: Ahead<(), ThreadId> = Ahead::new("test", "test", id);
        static SECOND: Ahead<(), ThreadId> = Ahead::new("test", "test", id);
        in_turn("test", vec![FIRST.work(()), SECOND.work(())]).unwrap();
        let first = block_on(FIRST.result(&())).unwrap();
        assert_eq!(first, block_on(SECOND.result(&())).unwrap());
        assert_ne!(first, id(()));
    }

    #[test]
    fn without_work_ahead_the_work_runs_now_on_a_thread() {
        fn id((): ()) -> ThreadId {
            std::thread::current().id()
        }
        static AHEAD: Ahead<(), ThreadId> = Ahead::new("test", "test", id);
        let ran_on = block_on(AHEAD.result(&())).unwrap();
        assert_ne!(ran_on, id(()));
    }

    #[test]
    fn work_that_never_ran_is_done_by_its_taker() {
        fn seven((): ()) -> u32 {
            7
        }
        static AHEAD: Ahead<(), u32> = Ahead::new("test", "test", seven);
        drop(AHEAD.work(()));
        assert_eq!(block_on(AHEAD.result(&())).unwrap(), 7);
    }
}
