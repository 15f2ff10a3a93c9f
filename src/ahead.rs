//! Work a run is sure to need that waits on the system (stdin, the files the environment
//! names), started on threads of its own as soon as the command line is read, so that it
//! overlaps the rest of the start-up instead of handing off to a fresh thread in the middle of
//! it: on the HTTPS path each such handoff cost about as much as the work (issue 11).
//!
//! A result is taken once, by the code that would otherwise have done the work itself, at the
//! point where it did it: the order of a run's steps, and so which error it reports and what a
//! deadline says it was waiting for, do not change. Work nobody takes is dropped with the
//! process.

use std::sync::Mutex;

use tokio::sync::oneshot;

/// One piece of work started ahead, for one `key` (the path it reads, say), taken once.
pub struct Ahead<K, T> {
    slot: Mutex<Option<(K, oneshot::Receiver<T>)>>,
}

impl<K: PartialEq, T: Send + 'static> Ahead<K, T> {
    pub const fn new() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }

    /// Starts `work` for `key`. If no thread can be had, nothing is started: the taker then
    /// does the work itself, as it would have.
    pub fn start(&self, key: K, name: &str, work: impl FnOnce() -> T + Send + 'static) {
        if let Ok(receiver) = thread(name, work)
            && let Ok(mut slot) = self.slot.lock()
        {
            *slot = Some((key, receiver));
        }
    }

    /// The result of the work started for `key`, or else of `work` started now, on a thread
    /// all the same so that a deadline can abandon it; `None` if no thread ran it to its end.
    pub async fn result(
        &self,
        key: &K,
        name: &str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let receiver = match self.take(key) {
            Some(receiver) => receiver,
            None => thread(name, work).ok()?,
        };
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

/// Runs `work` on a new thread named `name`; its result comes through the receiver, which
/// reports the thread's end without one (a panic) as closed.
fn thread<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<oneshot::Receiver<T>> {
    let (sender, receiver) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _ = sender.send(work());
        })?;
    Ok(receiver)
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
    fn the_work_started_ahead_answers_the_first_taker_with_its_key() {
        let ahead: Ahead<&str, &str> = Ahead::new();
        ahead.start("a", "test", || "ahead");
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
    fn without_work_ahead_the_work_runs_now() {
        let ahead: Ahead<(), u32> = Ahead::default();
        assert_eq!(block_on(ahead.result(&(), "test", || 7)), Some(7));
    }

    #[test]
    fn work_that_dies_gives_no_result() {
        let ahead: Ahead<(), u32> = Ahead::new();
        ahead.start((), "test", || panic!("on purpose"));
        assert_eq!(block_on(ahead.result(&(), "test", || 7)), None);
    }
}
