//! The command line: any arguments (not UTF-8 included) and our environment variables give a
//! command or a usage error.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;

use ecr_credential_provider::fuzzing::cli;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<Vec<u8>>, Option<String>, Option<String>)| {
    let (args, trace, timeout) = input;
    let args = args.into_iter().map(OsString::from_vec);
    let env = |key: &str| match key {
        cli::TRACE_ENV => trace.clone(),
        _ if key.ends_with("TIMEOUT") => timeout.clone(),
        _ => None,
    };
    let _ = cli::parse(args, env);
});
