//! The kubelet's request on stdin: any bytes give a request or an error, and an error's text
//! never carries the service-account token.
#![no_main]

use ecr_credential_provider::fuzzing::request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = request::parse(data) {
        let text = error.to_string();
        assert!(text.chars().count() < 400, "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
});
