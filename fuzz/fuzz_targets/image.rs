//! Image references: any text gives a registry host or an error, and the reference split.
#![no_main]

use ecr_credential_provider::fuzzing::image;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match image::parse(text) {
        Ok(registry) => assert!(!registry.host.is_empty()),
        Err(error) => {
            let _ = error.to_string();
        }
    }
    let _ = image::reference(text);
});
