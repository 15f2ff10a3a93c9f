//! The Docker helper's input: any bytes on stdin give a server URL, and only an ECR host may
//! get a token — never a host that merely contains or resembles one.
#![no_main]

use ecr_credential_provider::fuzzing::docker_helper;
use ecr_credential_provider::fuzzing::image::{self, RegistryKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let server_url = docker_helper::server_url(input);
    assert!(!server_url.contains('\n'));
    if let Some(registry) = docker_helper::ecr_registry(&server_url) {
        assert!(!matches!(registry.kind, RegistryKind::Unrecognized));
        assert!(
            !registry.host.contains(['@', '/', ' ', '?', '#']),
            "{:?}",
            registry.host
        );
        // The host we would answer for classifies the same way on its own.
        let again = image::parse(&registry.host).expect("an ECR host parses");
        assert_eq!(again.kind, registry.kind);
    }
});
