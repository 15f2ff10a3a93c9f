//! The only writer to stdout and the one place errors and warnings are printed. Stdout is a
//! contract with the kubelet: the response is written whole, once, and nothing else ever is.
//! Stderr speaks one style: `ecr-credential-provider: error: WHAT; hint: FIX` and
//! `ecr-credential-provider: warning: WHAT`, one line each. A failed run prints one line in
//! all: warnings held back during the run ride on the error line.

use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::PROGRAM;
use crate::diagnose;
use crate::error::Error;

/// A warning is one line of a readable length, whatever it quotes.
const MAX_WARNING: usize = 400;

static HELD: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOLDING: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline to stdout in one write, then flushes.
#[allow(clippy::print_stdout)]
pub(crate) fn stdout(text: &str) -> io::Result<()> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}

fn stderr(line: &str) {
    // The last step before the log: scrubbed of every secret the process knows, and nothing
    // a terminal would act on, whatever a message quotes (issue 10).
    let line = format!(
        "{}\n",
        crate::sanitize::last_line(line.trim_end_matches('\n'))
    );
    // Nothing more can be done if stderr is gone too.
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// From now on warnings wait for the run's end: printed after a success, folded into the
/// error line after a failure.
pub(crate) fn hold_warnings() {
    HOLDING.store(true, Ordering::SeqCst);
}

fn take_held() -> Vec<String> {
    let mut held = HELD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    std::mem::take(&mut *held)
}

/// A warning: printed now, or held until the run ends (see [`hold_warnings`]).
pub(crate) fn warning(text: &str) {
    let text = bound(text.trim());
    if HOLDING.load(Ordering::SeqCst) {
        HELD.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(text);
    } else {
        stderr(&format!("{PROGRAM}: warning: {text}\n"));
    }
}

/// A warning printed at once, even while others are held: someone is waiting on it.
pub(crate) fn notice(text: &str) {
    stderr(&format!("{PROGRAM}: warning: {}\n", bound(text.trim())));
}

/// Prints the warnings held back during a run that succeeded.
pub(crate) fn release_warnings() {
    HOLDING.store(false, Ordering::SeqCst);
    for text in take_held() {
        stderr(&format!("{PROGRAM}: warning: {text}\n"));
    }
}

/// The one line a failure prints: what failed, the fix when there is one, and any warning
/// the run held back.
pub(crate) fn error_line(what: &str, hint: Option<&str>) -> String {
    HOLDING.store(false, Ordering::SeqCst);
    // AWS's messages end with a period; the hint follows a semicolon.
    let what = what.trim_end().trim_end_matches('.');
    let mut line = format!("{PROGRAM}: error: {what}");
    if let Some(hint) = hint {
        line.push_str("; hint: ");
        line.push_str(hint);
    }
    for warning in take_held() {
        line.push_str("; warning: ");
        line.push_str(&warning);
    }
    // Messages quote servers and users: keep the line one line.
    let mut line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    line.push('\n');
    line
}

/// One line on stderr: what failed and, when there is one, what to do about it.
pub(crate) fn error(error: &Error) {
    stderr(&error_line(
        &error.to_string(),
        diagnose::hint(error).as_deref(),
    ));
}

/// The error line without its newline. The Docker credential-helper protocol also wants it on
/// stdout: docker shows a helper's stdout, never its stderr.
pub(crate) fn error_text(error: &Error) -> String {
    error_line(&error.to_string(), diagnose::hint(error).as_deref())
        .trim_end()
        .to_owned()
}

/// The line for a failure that is not an [`Error`] (a panic, a signal).
pub(crate) fn fatal(what: &str, hint: Option<&str>) {
    stderr(&error_line(what, hint));
}

fn bound(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(MAX_WARNING) {
        Some((end, _)) => format!("{}…", &flat[..end]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_is_one_line_with_its_hint_and_held_warnings() {
        assert_eq!(
            error_line("stdin is empty", Some("run get IMAGE")),
            "ecr-credential-provider: error: stdin is empty; hint: run get IMAGE\n"
        );
        assert_eq!(
            error_line("a\nb\tc\r", None),
            "ecr-credential-provider: error: a b c\n"
        );
        // AWS's messages end with a period: no `.;` before the hint.
        assert_eq!(
            error_line("AccessDenied (HTTP 400): is invalid.", Some("fix")),
            "ecr-credential-provider: error: AccessDenied (HTTP 400): is invalid; hint: fix\n"
        );
        assert_eq!(bound(&"x".repeat(1000)).chars().count(), MAX_WARNING + 1);
    }
}
