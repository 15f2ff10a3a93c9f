//! What the program does, one module per command: `get` (the kubelet's request → response, also
//! `get IMAGE`), `check`, `config` and the Docker credential helper. Each reads the parts
//! below it (the kubelet's wire and config rules, the image host, AWS, the token, the cache)
//! and none reads another's, but for the kubelet path `get`, which the others share.

pub(crate) mod check;
pub(crate) mod config;
pub(crate) mod docker_helper;
pub(crate) mod get;
