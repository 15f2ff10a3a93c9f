//! The HTTP clients: TLS over aws-lc with the system's roots plus, when `AWS_CA_BUNDLE` names
//! one, a PEM bundle (the Go SDK, and so upstream, honours it; the Rust SDK does not). One
//! setup for the AWS calls and the registry probe; `proxy` decides which requests go through
//! a proxy.

use std::path::Path;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Connector, ConnectorBuilder};

use crate::ca_bundle::{self, BundleError};
use crate::files::{self, FileError, NamedFile, Shown};
use crate::sanitize;

pub const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{file} {error}")]
    Bundle { file: Shown, error: BundleError },
    #[error("{file} is not usable: {cause}")]
    Unusable { file: Shown, cause: String },
}

/// The trust for every TLS connection: system roots, plus the bundle at `ca_bundle`.
#[derive(Debug, Clone)]
pub struct Trust(Option<TlsContext>);

impl Trust {
    /// Reads and checks the bundle (on a blocking thread, under the run's deadline); only
    /// certificates that passed reach the TLS stack.
    pub async fn load(ca_bundle: Option<&Path>) -> Result<Self, TlsError> {
        let Some(path) = ca_bundle else {
            return Ok(Self(None));
        };
        let file = NamedFile {
            what: "the CA bundle",
            origin: CA_BUNDLE_ENV,
            path: path.to_owned(),
            max_bytes: files::MAX_CA_BUNDLE_BYTES,
            optional: false,
            contents: files::Contents::Unread,
        };
        let reader = file.clone();
        let pem = files::off_thread(&file, move || reader.read()).await?;
        let certificates = ca_bundle::parse(&pem).map_err(|error| TlsError::Bundle {
            file: file.shown(),
            error,
        })?;
        let context = TlsContext::builder()
            .with_trust_store(
                TrustStore::default().with_pem_certificate(ca_bundle::to_pem(&certificates)),
            )
            .build()
            .map_err(|error| TlsError::Unusable {
                file: file.shown(),
                cause: sanitize::message(&error.to_string()),
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

    /// A direct connector with this trust whose names all resolve to what `resolver` says:
    /// for the test-only host routes of debug builds (see `registry`).
    #[cfg(debug_assertions)]
    pub(crate) fn connector_with_resolver(
        &self,
        builder: ConnectorBuilder,
        resolver: impl aws_smithy_runtime_api::client::dns::ResolveDns + Clone + 'static,
    ) -> Connector {
        let mut builder = builder
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .proxy_config(ProxyConfig::disabled());
        if let Some(context) = &self.0 {
            builder = builder.tls_context(context.clone());
        }
        builder.build_with_resolver(resolver)
    }
}
