//! The HTTP clients: TLS over aws-lc with the system's roots plus, when `AWS_CA_BUNDLE` names
//! one, a PEM bundle (the Go SDK, and so upstream, honours it; the Rust SDK does not). One
//! setup for the AWS calls and the registry probe; `proxy` decides which requests go through
//! a proxy.

use std::path::Path;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Connector, ConnectorBuilder};

pub const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("could not read the CA bundle {path} named by {CA_BUNDLE_ENV}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the CA bundle {path} named by {CA_BUNDLE_ENV} holds no PEM certificate")]
    NoCertificate { path: String },
    #[error("the CA bundle {path} named by {CA_BUNDLE_ENV} is not usable: {cause}")]
    Unusable { path: String, cause: String },
}

/// The trust for every TLS connection: system roots, plus the bundle at `ca_bundle`.
#[derive(Debug, Clone)]
pub struct Trust(Option<TlsContext>);

impl Trust {
    pub fn load(ca_bundle: Option<&Path>) -> Result<Self, TlsError> {
        let Some(path) = ca_bundle else {
            return Ok(Self(None));
        };
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| TlsError::Read {
            path: shown.clone(),
            source,
        })?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(TlsError::NoCertificate { path: shown });
        }
        let context = TlsContext::builder()
            .with_trust_store(TrustStore::default().with_pem_certificate(pem))
            .build()
            .map_err(|error| TlsError::Unusable {
                path: shown,
                cause: error.to_string(),
            })?;
        Ok(Self(Some(context)))
    }

    /// A connector with this trust that sends everything through `proxy` (or nothing: `disabled`).
    /// Which request goes where is `proxy`'s decision.
    pub(crate) fn connector(&self, builder: ConnectorBuilder, proxy: ProxyConfig) -> Connector {
        let mut builder = builder
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .proxy_config(proxy);
        if let Some(context) = &self.0 {
            builder = builder.tls_context(context.clone());
        }
        builder.build()
    }
}
