//! CA bundles: any bytes give checked certificates or an error (never a panic, which the SDK's
//! own parser would turn into an abort), and what passed survives our re-encoding.
#![no_main]

use ecr_credential_provider::fuzzing::ca_bundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ca_bundle::parse(data) {
        Ok(certificates) => {
            let again = ca_bundle::parse(&ca_bundle::to_pem(&certificates));
            assert_eq!(again.as_ref(), Ok(&certificates));
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
