//! The HTTP clients: TLS over aws-lc with the system's roots plus, when `AWS_CA_BUNDLE` names
//! one, a PEM bundle (the Go SDK, and so upstream, honours it; the Rust SDK does not), and
//! proxies from `HTTPS_PROXY`/`NO_PROXY`. One setup for the AWS calls and the registry probe.

use std::path::Path;
use std::time::Duration;

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, Connector, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpClient};

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

    fn connector(&self, builder: ConnectorBuilder) -> Connector {
        let mut builder = builder
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .proxy_config(ProxyConfig::from_env());
        if let Some(context) = &self.0 {
            builder = builder.tls_context(context.clone());
        }
        builder.build()
    }

    /// For the AWS SDK: `None` keeps the SDK's own default client, which is the same setup
    /// without the bundle.
    pub fn sdk_client(&self) -> Option<SharedHttpClient> {
        self.0.as_ref()?;
        let trust = self.clone();
        Some(
            Builder::new().build_with_connector_fn(move |settings, components| {
                let mut builder = ConnectorBuilder::default();
                builder.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    builder.set_sleep_impl(components.sleep_impl());
                }
                trust.connector(builder)
            }),
        )
    }

    /// A plain connector for requests outside the SDK, each wait bounded by `timeout`.
    pub fn connector_with_timeout(&self, timeout: Duration) -> Connector {
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .build();
        self.connector(
            ConnectorBuilder::default()
                .connector_settings(settings)
                .sleep_impl(TokioSleep::new()),
        )
    }
}
