//! `ecr-credential-provider` as a library: the binary's `main` is `app::main`. Every module is
//! private to the crate, so the compiler reports what nothing uses; the fuzz targets reach
//! the parsers of outside input through `fuzzing`, which is no API for anyone else.
//!
//! The folders are the architecture (ARCHITECTURE.md): `app` runs one of `commands`, which
//! read the kubelet's wire and config rules (`kubelet`), the image's host (`image`), AWS
//! (`aws`), the token (`token`) and its cache (`cache`), over the transport (`net`); small
//! shared pieces sit below them all. No module reads one above it (`scripts/modgraph`).

// Nothing here is an API: an item is `pub(crate)` unless `fuzzing` re-exports it, so that the
// compiler names what nothing uses. The library only: the test crate keeps its own style.
#![warn(unreachable_pub)]

mod ahead;
pub mod app;
mod aws;
mod cache;
mod cli;
mod commands;
mod deadline;
mod diagnose;
mod duration;
mod error;
mod files;
mod image;
mod kubelet;
mod net;
mod output;
mod registry;
mod runtime;
mod sanitize;
mod secret;
mod token;
mod trace;

/// What the fuzz targets (`fuzz/fuzz_targets`) exercise, under the names of the modules that
/// own it: the parsers of outside input, and what their assertions check against.
#[doc(hidden)]
pub mod fuzzing {
    pub mod aws {
        pub use crate::aws::code_and_message;
    }
    pub mod ca_bundle {
        pub use crate::net::ca_bundle::{parse, to_pem};
    }
    pub mod cli {
        use std::ffi::OsString;

        pub use crate::cli::TRACE_ENV;

        /// `cli::parse`, its answer dropped: the target checks that it returns, and the
        /// answer's types stay the crate's own.
        pub fn parse(
            args: impl IntoIterator<Item = OsString>,
            env: impl Fn(&str) -> Option<String>,
        ) {
            let _ = crate::cli::parse(args, env);
        }
    }
    pub mod docker_helper {
        pub use crate::commands::docker_helper::{ecr_registry, server_url};
    }
    pub mod duration {
        pub use crate::duration::{format, parse};
    }
    pub mod image {
        pub use crate::image::{RegistryKind, parse, reference};
    }
    pub mod request {
        pub use crate::kubelet::request::parse;
    }
    pub mod sanitize {
        pub use crate::sanitize::{
            MAX_MESSAGE_CHARS, forget_secrets, has_unsafe_characters, remembered_secrets,
        };
    }
    pub mod secret {
        pub use crate::secret::Secret;
    }
    pub mod token {
        pub use crate::token::{MAX_CACHE_DURATION, cache_duration, decode};
    }
}
