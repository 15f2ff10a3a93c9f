//! `ecr-credential-provider` as a library: the binary's `main` is `app::main`; the modules are
//! public so that fuzz targets and benchmarks can reach the pure parts (request, image host,
//! durations, tokens, error bodies) without a process in between.

pub mod ahead;
pub mod app;
pub mod aws;
pub mod binary;
pub mod ca_bundle;
pub mod cache;
pub mod check;
pub mod cli;
pub mod config_cmd;
pub mod deadline;
pub mod diagnose;
pub mod docker_helper;
pub mod duration;
pub mod error;
pub mod files;
pub mod http;
pub mod image;
pub mod kubelet_config;
pub mod limits;
pub mod output;
pub mod plugin;
pub mod proxy;
pub mod registry;
pub mod request;
pub mod safe_log;
pub mod sanitize;
pub mod secret;
pub mod tls;
pub mod token;
pub mod trace;
pub mod yaml;
