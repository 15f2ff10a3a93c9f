//! Work a run is sure to need that waits on the system (stdin, the files the environment
//! names) or only on the CPU (compiling a pattern), started on threads of their own as soon
//! as the command line is read, so that it overlaps the rest of the start-up instead of
//! handing off to a fresh thread in the middle of it: on the HTTPS path each such handoff
//! cost about as much as the work (issue 11).
//!
//! A result is taken once, by the code that would otherwise have done the work itself, at the
//! point where it did it: the order of a run's steps, and so which error it reports and what a
//! deadline says it was waiting for, do not change. Work nobody takes is dropped with the
//! process; work that never ran (no thread could be had) is done by its taker.

use std::sync::Mutex;

use tokio::sync::oneshot;

/// A piece of work for a thread `in_turn` starts.
pub type Work = Box<dyn FnOnce() + Send>;

/// The result of one piece of work done ahead, for one `key` (the path it reads, say), taken
/// once.
pub struct Ahead<K, T> {
    slot: Mutex<Option<(K, oneshot::Receiver<T>)>>,
}

impl<K: PartialEq, T: Send + 'static> Ahead<K, T> {
    pub const fn new() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }

    /// The work that makes the result for `key`, for `in_turn`.
    pub fn work(&self, key: K, work: impl FnOnce() -> T + Send + 'static) -> Work {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((key, receiver));
        }
        Box::new(move || {
            let _ = sender.send(work());
        })
    }

    /// The result of the work done ahead for `key`, or else of `work` started now, on a
    /// thread all the same so that a deadline can abandon it; `None` if no thread ran it to
    /// its end.
    pub async fn result(
        &self,
        key: &K,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        if let Some(receiver) = self.take(key)
            && let Ok(result) = receiver.await
        {
            return Some(result);
        }
        let (sender, receiver) = oneshot::channel();
        in_turn(
            name,
            vec![Box::new(move || {
                let _ = sender.send(work());
            })],
        );
        receiver.await.ok()
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

impl<K: PartialEq, T: Send + 'static> Default for Ahead<K, T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `works` one after the other, in the order they are listed, on a new thread named
/// `name`. If no thread can be had, they are dropped unrun.
pub fn in_turn(name: &str, works: Vec<Work>) {
    let _ = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || works.into_iter().for_each(|work| work()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn the_work_done_ahead_answers_the_first_taker_with_its_key() {
        let ahead: Ahead<&str, &str> = Ahead::new();
        in_turn("test", vec![ahead.work("a", || "ahead")]);
        assert_eq!(block_on(ahead.result(&"b", "test", || "now")), Some("now"));
        assert_eq!(
            block_on(ahead.result(&"a", "test", || "now")),
            Some("ahead")
        );
        assert_eq!(
            block_on(ahead.result(&"a", "test", || "now")),
            Some("now"),
            "taken once"
        );
    }

    #[test]
    fn works_run_in_turn_on_one_thread() {
        let first: Ahead<(), std::thread::ThreadId> = Ahead::new();
        let second: Ahead<(), std::thread::ThreadId> = Ahead::new();
        let id = || std::thread::current().id();
        in_turn("test", vec![first.work((), id), second.work((), id)]);
        let first = block_on(first.result(&(), "test", id));
        assert_eq!(first, block_on(second.result(&(), "test", id)));
        assert_ne!(first, Some(id()));
    }

    #[test]
    fn without_work_ahead_the_work_runs_now() {
        let ahead: Ahead<(), u32> = Ahead::default();
        assert_eq!(block_on(ahead.result(&(), "test", || 7)), Some(7));
    }

    #[test]
    fn work_that_never_ran_is_done_by_its_taker() {
        let ahead: Ahead<(), u32> = Ahead::new();
        drop(ahead.work((), || 1));
        assert_eq!(block_on(ahead.result(&(), "test", || 7)), Some(7));
    }
}
