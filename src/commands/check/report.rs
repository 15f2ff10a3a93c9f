//! The report `check` prints: one line per step a pull takes (✓ passed, ✗ failed, – not tried
//! or not applicable), the cause and the fix under a failed step, and the verdict. Text for
//! people, `--json` (the same content) for scripts.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::diagnose::Advice;

/// The steps every check takes, in order, after the optional `config` and `role`; a step that
/// fails stops the ones after it that need it.
const ORDER: [&str; 8] = [
    "image",
    "credentials",
    "identity",
    "token",
    "repository",
    "layers",
    "registry",
    "download",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Step {
    pub(crate) name: String,
    pub(crate) status: Status,
    pub(crate) detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

/// Also read back: `check --config` reads the report of the check it runs as the provider.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) image: String,
    pub(crate) pullable: bool,
    pub(crate) steps: Vec<Step>,
}

impl Report {
    pub(crate) fn to_text(&self) -> String {
        let mut text = format!("Can this identity pull {}?\n", self.image);
        for step in &self.steps {
            let mark = match step.status {
                Status::Pass => "✓",
                Status::Fail => "✗",
                Status::Skip => "–",
            };
            let _ = writeln!(text, "{mark} {:<11} {}", step.name, step.detail);
            if let Some(cause) = &step.cause {
                let _ = writeln!(text, "    cause: {cause}");
            }
            if let Some(fix) = &step.fix {
                let _ = writeln!(text, "    fix:   {fix}");
            }
        }
        let verdict = match self.steps.iter().find(|s| s.status == Status::Fail) {
            None if self.pullable => "yes: every step a pull takes succeeded".to_owned(),
            None => "not shown: the registry was not reached".to_owned(),
            Some(step) => format!("no: {} failed", step.name),
        };
        let _ = write!(text, "result: {verdict}");
        text
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|_| unreachable!("a report of strings always serializes"))
    }
}

/// The steps so far, in the order a pull takes them.
#[derive(Default)]
pub(crate) struct Steps(pub Vec<Step>);

impl Steps {
    pub(crate) fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Pass, detail, Advice::default());
    }

    /// Not applicable, or could not be told: says why, never counts as a failure.
    pub(crate) fn skip(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Skip, detail, Advice::default());
    }

    /// Not applicable as such, with something the user should still know.
    pub(crate) fn note(&mut self, name: &'static str, detail: impl Into<String>, advice: Advice) {
        self.push(name, Status::Skip, detail, advice);
    }

    pub(crate) fn fail(&mut self, name: &'static str, detail: impl Into<String>, advice: Advice) {
        self.push(name, Status::Fail, detail, advice);
    }

    /// `first` and every step after it in `ORDER`, which depend on one that failed: `–`, and
    /// which one stopped them.
    pub(crate) fn not_tried_from(&mut self, first: &str, because: &str) {
        let start = ORDER.iter().position(|step| *step == first);
        debug_assert!(start.is_some(), "{first} is not a step");
        for name in &ORDER[start.unwrap_or(ORDER.len())..] {
            self.not_tried(name, because);
        }
    }

    /// One step that depends on one that failed, when the steps after it can still run.
    pub(crate) fn not_tried(&mut self, name: &'static str, because: &str) {
        self.skip(name, format!("not tried: {because}"));
    }

    fn push(
        &mut self,
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        advice: Advice,
    ) {
        self.0.push(Step {
            name: name.to_owned(),
            status,
            detail: detail.into(),
            cause: advice.cause,
            fix: advice.fix,
        });
    }

    pub(crate) fn report(self, image: &str, pullable: bool) -> Report {
        let pullable = pullable && self.0.iter().all(|s| s.status != Status::Fail);
        Report {
            image: image.to_owned(),
            pullable,
            steps: self.0,
        }
    }
}
