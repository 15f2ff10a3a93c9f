//! The kubelet's side: its wire protocol (`request`: CredentialProviderRequest in,
//! CredentialProviderResponse out) and its CredentialProviderConfig rules (`config`, over
//! `yaml`). Pure but for reading a config's files; knows nothing of AWS.

pub(crate) mod config;
pub(crate) mod request;
pub(crate) mod yaml;
