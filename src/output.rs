//! The only writer to stdout and the one place errors are printed. Stdout is a contract
//! with the kubelet: the response is written whole, once, and nothing else ever is.

use std::io::{self, Write};

use crate::diagnose;
use crate::error::Error;

pub const PROGRAM: &str = "ecr-credential-provider";

/// Writes `text` and a newline to stdout in one write, then flushes.
#[allow(clippy::print_stdout)]
pub fn stdout(text: &str) -> io::Result<()> {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    if !line.ends_with('\n') {
        line.push('\n');
    }
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}

/// One line on stderr: what failed and, when there is one, what to do about it.
pub fn error(error: &Error) {
    let line = match diagnose::hint(error) {
        Some(hint) => format!("{PROGRAM}: {error}; hint: {hint}\n"),
        None => format!("{PROGRAM}: {error}\n"),
    };
    // Nothing more can be done if stderr is gone too.
    let _ = io::stderr().lock().write_all(line.as_bytes());
}
