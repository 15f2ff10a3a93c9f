//! The HTTP clients: TLS over aws-lc with the system's roots plus, when `AWS_CA_BUNDLE` names
//! one, a PEM bundle (the Go SDK, and so upstream, honours it; the Rust SDK does not). One
//! setup for the AWS calls and the registry probe; `proxy` decides which requests go through
//! a proxy.
//!
//! On Linux the system roots come from the distribution's CA bundle, read once. The SDK's own
//! loader reads that bundle and then every file of the certificate directory, which holds the
//! same certificates again: a quarter of a whole HTTPS request's CPU (issue 11).

use std::path::Path;
use std::sync::{Arc, OnceLock};

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
pub struct Trust {
    /// The checked certificates of `AWS_CA_BUNDLE`, as PEM.
    bundle: Option<Vec<u8>>,
    /// Built when the first TLS connector is: the system's roots are read only then, after
    /// `files` has checked the files the environment names for them (`SSL_CERT_FILE`...).
    context: Arc<OnceLock<Option<TlsContext>>>,
}

impl Trust {
    /// Reads and checks the bundle (on a blocking thread, under the run's deadline); only
    /// certificates that passed reach the TLS stack.
    pub async fn load(ca_bundle: Option<&Path>) -> Result<Self, TlsError> {
        let mut trust = Self {
            bundle: None,
            context: Arc::default(),
        };
        let Some(path) = ca_bundle else {
            return Ok(trust);
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
        let pem = ca_bundle::to_pem(&certificates);
        TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(pem.clone()))
            .build()
            .map_err(|error| TlsError::Unusable {
                file: file.shown(),
                cause: sanitize::message(&error.to_string()),
            })?;
        trust.bundle = Some(pem);
        Ok(trust)
    }

    /// The TLS context; `None` leaves the SDK's defaults, which trust the system's roots too.
    fn context(&self) -> Option<TlsContext> {
        self.context
            .get_or_init(|| {
                let mut store = system_roots();
                if let Some(pem) = &self.bundle {
                    store = store.with_pem_certificate(pem.clone());
                }
                TlsContext::builder().with_trust_store(store).build().ok()
            })
            .clone()
    }

    /// A connector with this trust that sends everything through `proxy` (or nothing: `disabled`).
    /// Which request goes where is `proxy`'s decision. `tls` false: nothing it sends negotiates
    /// TLS, so it trusts no root and the system's are not read for it.
    pub(crate) fn connector(
        &self,
        builder: ConnectorBuilder,
        proxy: ProxyConfig,
        tls: bool,
    ) -> Connector {
        let context = if tls {
            self.context()
        } else {
            TlsContext::builder()
                .with_trust_store(TrustStore::empty())
                .build()
                .ok()
        };
        let mut builder = builder
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .proxy_config(proxy);
        if let Some(context) = context {
            builder = builder.tls_context(context);
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
        if let Some(context) = self.context() {
            builder = builder.tls_context(context);
        }
        builder.build_with_resolver(resolver)
    }
}

/// Elsewhere the platform's store (Windows' certificate store, the macOS keychain).
#[cfg(not(target_os = "linux"))]
fn system_roots() -> TrustStore {
    TrustStore::default()
}

#[cfg(target_os = "linux")]
fn system_roots() -> TrustStore {
    TrustStore::empty().with_pem_certificate(linux::system_pem())
}

#[cfg(target_os = "linux")]
mod linux {
    //! The system's roots as OpenSSL-based tools find them: `SSL_CERT_FILE` and `SSL_CERT_DIR`
    //! when set (they replace the system's), else the first CA bundle a distribution keeps, else
    //! every file of its certificate directory. update-ca-certificates and update-ca-trust write
    //! the bundle from the same sources as that directory, so a bundle holds it all.

    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use rustls_pki_types::CertificateDer;

    /// The list OpenSSL-based tools and Go probe, in their order.
    const BUNDLES: &[&str] = &[
        "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Gentoo
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // Amazon Linux, RHEL, Fedora
        "/etc/pki/tls/certs/ca-bundle.crt",   // Bottlerocket, older RHEL
        "/etc/ssl/ca-bundle.pem",             // openSUSE
        "/etc/pki/tls/cacert.pem",
        "/etc/ssl/cert.pem", // Alpine without ca-certificates
    ];
    const DIRS: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];

    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";

    /// Every usable certificate of the system's store, as PEM.
    pub fn system_pem() -> Vec<u8> {
        let env_file = std::env::var_os("SSL_CERT_FILE")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        let env_dirs: Vec<PathBuf> = std::env::var_os("SSL_CERT_DIR")
            .map(|value| {
                std::env::split_paths(&value)
                    .filter(|path| !path.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let (file, dirs) = if env_file.is_some() || !env_dirs.is_empty() {
            (env_file, env_dirs)
        } else if let Some(bundle) = BUNDLES.iter().map(Path::new).find(|path| path.is_file()) {
            (Some(bundle.to_path_buf()), Vec::new())
        } else {
            (None, DIRS.iter().map(PathBuf::from).collect())
        };

        let mut pem = Vec::new();
        if let Some(bytes) = file.and_then(|file| read_bounded(file).ok()) {
            keep_certificates(&bytes, &mut pem);
        }
        let mut seen = HashSet::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                // Hash links and `.pem` links name the same file: read each file once.
                let Ok(metadata) = std::fs::metadata(&path) else {
                    continue;
                };
                if metadata.is_file()
                    && seen.insert((metadata.dev(), metadata.ino()))
                    && let Ok(bytes) = read_bounded(path)
                {
                    keep_certificates(&bytes, &mut pem);
                }
            }
        }
        pem
    }

    /// A regular file of at most `MAX_CA_BUNDLE_BYTES`, never a FIFO or a device, whatever
    /// changed since `files` checked the paths.
    fn read_bounded(path: PathBuf) -> Result<Vec<u8>, crate::files::FileError> {
        crate::files::NamedFile {
            what: "a system CA file",
            origin: "the system's roots",
            path,
            max_bytes: crate::files::MAX_CA_BUNDLE_BYTES,
            optional: false,
            contents: crate::files::Contents::Unread,
        }
        .read()
    }

    /// Appends each certificate of `text` that rustls can take as a root, as canonical PEM.
    /// The SDK panics on a certificate it cannot parse, where its own loader skips it (old v1
    /// roots, say). The SDK's PEM decoder is constant-time, built for private keys, and slow:
    /// a fast decode here and canonical PEM for the SDK halve that cost.
    pub fn keep_certificates(text: &[u8], out: &mut Vec<u8>) {
        // A bundle is ASCII: the lossy conversion, five times slower, only for one that is not.
        let text = std::str::from_utf8(text).map_or_else(
            |_| String::from_utf8_lossy(text),
            std::borrow::Cow::Borrowed,
        );
        let mut rest = text.as_ref();
        let mut body = Vec::new();
        let mut der = Vec::new();
        while let Some(start) = rest.find(BEGIN) {
            let after = &rest[start + BEGIN.len()..];
            let Some(length) = after.find(END) else {
                break;
            };
            let block = &after.as_bytes()[..length];
            body.clear();
            for line in block.split(|byte| *byte == b'\n') {
                body.extend_from_slice(line.trim_ascii());
            }
            if body.iter().any(u8::is_ascii_whitespace) {
                body.retain(|byte| !byte.is_ascii_whitespace());
            }
            der.clear();
            // The decoder is strict (canonical padding and trailing bits), so what it takes
            // is already the canonical encoding of `der`: no need to encode it again.
            if STANDARD.decode_vec(&body, &mut der).is_ok()
                && webpki::anchor_from_trusted_cert(&CertificateDer::from(der.as_slice())).is_ok()
            {
                out.extend_from_slice(BEGIN.as_bytes());
                for line in body.chunks(64) {
                    out.push(b'\n');
                    out.extend_from_slice(line);
                }
                out.push(b'\n');
                out.extend_from_slice(END.as_bytes());
                out.push(b'\n');
            }
            rest = &after[length + END.len()..];
        }
    }

    #[cfg(test)]
    mod tests {
        use rustls_pki_types::pem::PemObject;

        use super::*;

        /// Roots rustls takes: a current one and an old version 1 one.
        const GOOD: &[u8] = include_bytes!("../tests/data/isrg-root-x2.pem");
        const V1: &[u8] = include_bytes!("../tests/data/v1-root.pem");

        fn kept(text: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            keep_certificates(text, &mut out);
            out
        }

        fn ders(pem: &[u8]) -> Vec<Vec<u8>> {
            CertificateDer::pem_slice_iter(pem)
                .map(|der| der.map_or_else(|_| b"unparsable".to_vec(), |der| der.to_vec()))
                .collect()
        }

        /// Valid PEM around DER that webpki rejects (trailing data): the SDK would panic.
        fn unparsable() -> Vec<u8> {
            let mut der = ders(GOOD).concat();
            der.push(0);
            format!("{BEGIN}\n{}\n{END}\n", STANDARD.encode(der)).into_bytes()
        }

        /// `GOOD` wrapped at 76 columns with CRLF and a space inside one line: kept, as the
        /// canonical 64-column PEM the SDK's strict reader takes.
        #[test]
        fn rewraps_what_it_keeps_as_canonical_pem() {
            let encoded = STANDARD.encode(ders(GOOD).concat());
            let mut text = format!("{BEGIN}\r\n");
            for (i, line) in encoded.as_bytes().chunks(76).enumerate() {
                let line = std::str::from_utf8(line).unwrap_or_default();
                if i == 1 {
                    text.extend([&line[..10], " ", &line[10..], "\r\n"]);
                } else {
                    text.extend(["  ", line, "\r\n"]);
                }
            }
            text.push_str(END);
            let kept = kept(text.as_bytes());
            assert_eq!(ders(&kept), ders(GOOD));
            let lines: Vec<&[u8]> = kept.split(|b| *b == b'\n').collect();
            let body = &lines[1..lines.len() - 2];
            assert!(body[..body.len() - 1].iter().all(|line| line.len() == 64));
            assert!(
                body.iter()
                    .flat_map(|line| line.iter())
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
            );
        }

        #[test]
        fn keeps_the_roots_rustls_takes_and_only_those() {
            let good = kept(GOOD);
            assert_eq!(
                ders(&good),
                ders(GOOD),
                "the same certificate, as PEM the SDK parses"
            );
            assert_eq!(ders(&good).len(), 1);
            assert_eq!(
                ders(&kept(V1)),
                ders(V1),
                "v1 roots are taken, as the SDK's loader takes them"
            );
            assert!(kept(&unparsable()).is_empty());

            let mut mixed = b"# a comment\n".to_vec();
            for part in [
                GOOD,
                &unparsable(),
                b"-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n",
                V1,
            ] {
                mixed.extend_from_slice(part);
            }
            mixed.extend_from_slice(b"-----BEGIN CERTIFICATE-----\nno end");
            assert_eq!(ders(&kept(&mixed)), [ders(GOOD), ders(V1)].concat());
        }
    }
}
