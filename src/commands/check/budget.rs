//! Each `check` step's share of the deadline: a step that runs out is reported as timed out
//! (with what it was waiting for), one that cannot start as not tried, and the deadline keeps
//! a little back so that the report is written before the run's own deadline passes.

use std::future::Future;
use std::time::{Duration, Instant};

use super::report::Steps;
use crate::deadline::Progress;
use crate::diagnose::Advice;
use crate::duration;

/// Each step's share of the deadline, and the deadline itself, which keeps a little back so
/// that the report is written before the run's own deadline passes.
pub(super) struct Budget {
    total: Duration,
    deadline: Instant,
    per_step: Duration,
}

pub(super) enum Timed<T> {
    Done(T),
    /// The step's budget ran out while waiting for this.
    Expired {
        after: Duration,
        waiting_for: String,
    },
    /// No time was left to start the step.
    NoTime,
}

impl Budget {
    pub(super) fn new(total: Duration) -> Self {
        let reserve = (total / 20).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let usable = total.saturating_sub(reserve);
        Self {
            total,
            deadline: Instant::now() + usable,
            per_step: (usable / 4).max(usable.min(Duration::from_secs(1))),
        }
    }

    /// When a step started now must end: a call that retries fits its retries before it.
    pub(super) fn step_deadline(&self) -> tokio::time::Instant {
        let left = self.deadline.saturating_duration_since(Instant::now());
        tokio::time::Instant::now() + self.per_step.min(left)
    }

    pub(super) async fn run<T>(
        &self,
        progress: &Progress,
        step: impl Future<Output = T>,
    ) -> Timed<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(10) {
            return Timed::NoTime;
        }
        let budget = self.per_step.min(left);
        match tokio::time::timeout(budget, step).await {
            Ok(done) => Timed::Done(done),
            Err(_) => Timed::Expired {
                after: budget,
                waiting_for: progress.describe(),
            },
        }
    }

    /// Writes a step that did not finish: ✗ when it ran out of time, – when it never started.
    pub(super) fn record<T>(
        &self,
        timed: Timed<T>,
        name: &'static str,
        steps: &mut Steps,
        advice: Advice,
    ) {
        match timed {
            Timed::Done(_) => {}
            Timed::Expired { after, waiting_for } => steps.fail(
                name,
                format!(
                    "timed out after {} waiting for {waiting_for}",
                    duration::format(after)
                ),
                advice,
            ),
            Timed::NoTime => steps.skip(
                name,
                format!(
                    "not tried: no time left of the {} deadline",
                    duration::format(self.total)
                ),
            ),
        }
    }
}
