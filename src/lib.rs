//! `ecr-credential-provider` as a library: the binary's `main` is `app::main`; the modules are
//! public so that fuzz targets and benchmarks can reach the pure parts (request, image host,
//! durations, tokens, error bodies) without a process in between.

pub mod ahead;
pub mod app;
pub mod aws;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod deadline;
pub mod diagnose;
pub mod duration;
pub mod error;
pub mod files;
pub mod image;
pub mod kubelet;
pub mod net;
pub mod output;
pub mod registry;
pub mod runtime;
pub mod sanitize;
pub mod secret;
pub mod token;
pub mod trace;
