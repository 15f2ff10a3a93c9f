//! The transport: TLS trust (`trust`: the system's roots plus `AWS_CA_BUNDLE`, checked by
//! `ca_bundle`), the HTTPS connector (`tls`), proxy routing (`proxy`) and the cap on every body
//! (`limits`). Knows nothing of AWS: it carries requests, and says how one failed.

pub(crate) mod ca_bundle;
pub(crate) mod limits;
pub(crate) mod proxy;
pub(crate) mod tls;
pub(crate) mod trust;
