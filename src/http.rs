//! The HTTP clients: TLS over aws-lc with the system's roots plus, when `AWS_CA_BUNDLE` names
//! one, a PEM bundle (the Go SDK, and so upstream, honours it; the Rust SDK does not). One
//! setup for the AWS calls and the registry probe; `proxy` decides which requests go through
//! a proxy. TLS routes get `tls::HttpsConnector` over one root store built once per run;
//! plain-http routes (metadata, container credentials) the SDK's connector, without roots.
//!
//! On Linux the system roots come from the distribution's CA bundle, read once (the SDK's own
//! loader reads that bundle and then every file of the certificate directory, which holds the
//! same certificates again), on a thread of their own from the start of a run that will need
//! them (`read_system_roots_ahead`): decoding them is most of an HTTPS run's CPU (issue 11).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self as sdk_tls, TlsContext, TrustStore};
use aws_smithy_http_client::{Connector, ConnectorBuilder};
#[cfg(debug_assertions)]
use aws_smithy_runtime_api::client::http::SharedHttpConnector;
use rustls_pki_types::CertificateDer;

use crate::ahead::Ahead;
use crate::ca_bundle::{self, BundleError};
use crate::files::{self, FileError, NamedFile, Shown};
use crate::tls::{self, ProxyHop, Timeouts};

pub const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{file} {error}")]
    Bundle { file: Shown, error: BundleError },
}

/// The trust for every TLS connection: system roots, plus the bundle at `ca_bundle`.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The checked certificates of `AWS_CA_BUNDLE`, in DER.
    bundle: Arc<Vec<Vec<u8>>>,
    /// Made by the first TLS connector.
    config: Arc<OnceLock<Result<Arc<rustls::ClientConfig>, String>>>,
}

impl Trust {
    /// Reads and checks the bundle (on a thread of its own, under the run's deadline, or
    /// taken from `read_ca_bundle_ahead`); only certificates that passed reach the TLS stack.
    pub async fn load(ca_bundle: Option<&Path>) -> Result<Self, TlsError> {
        let mut trust = Self {
            bundle: Arc::default(),
            config: Arc::default(),
        };
        let Some(path) = ca_bundle else {
            return Ok(trust);
        };
        let owned = path.to_owned();
        let certificates = CA_BUNDLE
            .result(&path.to_owned(), "ca-bundle", move || read_ca_bundle(owned))
            .await
            .unwrap_or_else(|| {
                Err(TlsError::File(FileError::Lost {
                    file: ca_bundle_file(path.to_owned()).shown(),
                }))
            })?;
        trust.bundle = Arc::new(certificates);
        Ok(trust)
    }

    /// The TLS settings of every connection, made once: the system's roots and the bundle's.
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.config
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                // A root rustls cannot take is skipped, as the SDK's own loader skips it.
                roots.add_parsable_certificates(SYSTEM_ROOTS.get_or_init(system_roots).clone());
                roots.add_parsable_certificates(
                    self.bundle
                        .iter()
                        .map(|der| CertificateDer::from(der.clone())),
                );
                tls::client_config(roots)
                    .map(Arc::new)
                    .map_err(|error| format!("cannot set up TLS: {error}"))
            })
            .clone()
    }

    /// As `client_config`, without blocking the runtime while the roots are still being read.
    pub(crate) async fn client_config_async(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        if let Some(config) = self.config.get() {
            return config.clone();
        }
        let trust = self.clone();
        tokio::task::spawn_blocking(move || trust.client_config())
            .await
            .unwrap_or_else(|_| Err("the TLS set-up was lost".into()))
    }

    /// A connector for https:// requests, through `proxy` if one is given. Cheap: the roots
    /// are read when its first connection is made.
    pub(crate) fn https_connector(
        &self,
        proxy: Option<ProxyHop>,
        timeouts: Timeouts,
    ) -> tls::HttpsConnector {
        tls::connector(self.clone(), proxy, timeouts)
    }

    /// The SDK's connector, for http:// requests through `proxy` (or nothing: `disabled`).
    /// It trusts no root, and the system's are not read for it, unless `tls_to_proxy` (an
    /// https:// proxy): the SDK then takes the roots as PEM, parsed again, as it wants them.
    pub(crate) fn sdk_connector(
        &self,
        builder: ConnectorBuilder,
        proxy: ProxyConfig,
        tls_to_proxy: bool,
    ) -> Connector {
        let mut store = TrustStore::empty();
        if tls_to_proxy {
            // The SDK aborts on a root it cannot parse: only those rustls takes.
            let mut roots: Vec<Vec<u8>> = SYSTEM_ROOTS
                .get_or_init(system_roots)
                .iter()
                .filter(|der| webpki::anchor_from_trusted_cert(der).is_ok())
                .map(|der| der.to_vec())
                .collect();
            roots.extend(self.bundle.iter().cloned());
            store = store.with_pem_certificate(ca_bundle::to_pem(&roots));
        }
        let mut builder = builder
            .tls_provider(sdk_tls::Provider::Rustls(
                sdk_tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .proxy_config(proxy);
        if let Ok(context) = TlsContext::builder().with_trust_store(store).build() {
            builder = builder.tls_context(context);
        }
        builder.build()
    }

    /// A direct https connector whose names all resolve to `ip`: for the test-only host
    /// routes of debug builds (see `registry`).
    #[cfg(debug_assertions)]
    pub(crate) fn pinned_https_connector(
        &self,
        ip: std::net::IpAddr,
        timeouts: Timeouts,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(tls::with_resolver(
            self.clone(),
            None,
            timeouts,
            tls::Pinned(ip),
        ))
    }
}

/// `AWS_CA_BUNDLE`'s certificates, read ahead from the start of a run (see `ahead`).
static CA_BUNDLE: Ahead<PathBuf, Result<Vec<Vec<u8>>, TlsError>> = Ahead::new();

/// Starts reading the bundle at `path` for `Trust::load`.
pub fn read_ca_bundle_ahead(path: &Path) {
    let owned = path.to_owned();
    CA_BUNDLE.start(path.to_owned(), "ca-bundle", move || read_ca_bundle(owned));
}

fn ca_bundle_file(path: PathBuf) -> NamedFile {
    NamedFile {
        what: "the CA bundle",
        origin: CA_BUNDLE_ENV,
        path,
        max_bytes: files::MAX_CA_BUNDLE_BYTES,
        optional: false,
        contents: files::Contents::Unread,
    }
}

fn read_ca_bundle(path: PathBuf) -> Result<Vec<Vec<u8>>, TlsError> {
    let file = ca_bundle_file(path);
    let pem = file.read()?;
    ca_bundle::parse(&pem).map_err(|error| TlsError::Bundle {
        file: file.shown(),
        error,
    })
}

/// The system's roots, read once per process: by the first TLS connector, or earlier on a
/// thread of their own (`read_system_roots_ahead`).
static SYSTEM_ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// Starts reading the system's roots on another thread, for a run that will speak TLS: they
/// take about as long to decode as the run takes to get to its first request (issue 11).
/// Every read is bounded and takes only regular files, so this may come before `files` has
/// checked `SSL_CERT_FILE` and the rest; a bad one still fails the run there.
pub fn read_system_roots_ahead() {
    // If no thread can be had, the first TLS connector reads them itself.
    let _ = std::thread::Builder::new()
        .name("system-roots".into())
        .spawn(|| {
            SYSTEM_ROOTS.get_or_init(system_roots);
        });
}

/// Elsewhere the platform's store (Windows' certificate store, the macOS keychain).
#[cfg(not(target_os = "linux"))]
fn system_roots() -> Vec<CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}

#[cfg(target_os = "linux")]
fn system_roots() -> Vec<CertificateDer<'static>> {
    linux::system_certificates()
        .into_iter()
        .map(CertificateDer::from)
        .collect()
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

    /// Every certificate of the system's store, in DER.
    pub fn system_certificates() -> Vec<Vec<u8>> {
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

        let mut certificates = Vec::new();
        if let Some(bytes) = file.and_then(|file| read_bounded(file).ok()) {
            decode_certificates(&bytes, &mut certificates);
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
                    decode_certificates(&bytes, &mut certificates);
                }
            }
        }
        certificates
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

    /// Appends each PEM certificate of `text` that decodes, in DER; no constant-time decoder
    /// (nothing here is secret). Whether rustls can take it as a root is the root store's to say.
    pub fn decode_certificates(text: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut rest = text;
        let mut body = Vec::new();
        while let Some(start) = memchr::memmem::find(rest, BEGIN.as_bytes()) {
            let after = &rest[start + BEGIN.len()..];
            let Some(length) = memchr::memmem::find(after, END.as_bytes()) else {
                break;
            };
            body.clear();
            let mut line_start = 0;
            for line_end in memchr::memchr_iter(b'\n', &after[..length]).chain([length]) {
                body.extend_from_slice(after[line_start..line_end].trim_ascii());
                line_start = line_end + 1;
            }
            let der = STANDARD.decode(&body).ok().or_else(|| {
                // Whitespace inside a line, which no tool writes: read past it.
                body.retain(|byte| !byte.is_ascii_whitespace());
                STANDARD.decode(&body).ok()
            });
            out.extend(der);
            rest = &after[length + END.len()..];
        }
    }

    #[cfg(test)]
    mod tests {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;

        use super::*;

        /// Roots rustls takes: a current one and an old version 1 one.
        const GOOD: &[u8] = include_bytes!("../tests/data/isrg-root-x2.pem");
        const V1: &[u8] = include_bytes!("../tests/data/v1-root.pem");

        fn decoded(text: &[u8]) -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            decode_certificates(text, &mut out);
            out
        }

        fn ders(pem: &[u8]) -> Vec<Vec<u8>> {
            CertificateDer::pem_slice_iter(pem)
                .map(|der| der.map_or_else(|_| b"unparsable".to_vec(), |der| der.to_vec()))
                .collect()
        }

        /// `GOOD` wrapped at 76 columns with CRLF and a space inside one line.
        #[test]
        fn decodes_whatever_the_wrapping() {
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
            assert_eq!(decoded(text.as_bytes()), ders(GOOD));
        }

        /// What decodes reaches the root store, which keeps the roots rustls takes (v1 ones
        /// too, as the SDK's loader does) and skips the rest without failing.
        #[test]
        fn the_root_store_takes_the_roots_rustls_takes_and_skips_the_rest() {
            let mut unparsable = ders(GOOD).concat();
            unparsable.push(0);
            let mut mixed = b"# a comment\n".to_vec();
            for part in [
                GOOD,
                format!("{BEGIN}\n{}\n{END}\n", STANDARD.encode(&unparsable)).as_bytes(),
                b"-----BEGIN CERTIFICATE-----\nTUlJQg==\n-----END CERTIFICATE-----\n",
                b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
                V1,
            ] {
                mixed.extend_from_slice(part);
            }
            mixed.extend_from_slice(b"-----BEGIN CERTIFICATE-----\nno end");
            let certificates = decoded(&mixed);
            assert_eq!(
                certificates,
                [ders(GOOD), vec![unparsable, b"MIIB".to_vec()], ders(V1)].concat()
            );
            let mut roots = rustls::RootCertStore::empty();
            let (taken, skipped) =
                roots.add_parsable_certificates(certificates.into_iter().map(CertificateDer::from));
            assert_eq!((taken, skipped), (2, 2));
        }
    }
}
