//! Integration tests: the built binary, exec'd as the kubelet does, against a loopback
//! stand-in for ECR, ECR Public and STS. One module per concern.

// Test code: a panic is how a test says it failed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::needless_pass_by_value
)]

#[path = "../support/mod.rs"]
mod support;

mod cache;
mod check;
mod cli;
mod config;
mod demo;
mod docker_helper;
mod ends;
mod errors;
mod hostile;
mod imds;
mod kubelet;
mod lines;
mod messages;
mod proxy;
mod service_account;
mod tls;
mod trace;
