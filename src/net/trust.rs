//! The trust of every TLS connection: the system's roots plus, when `AWS_CA_BUNDLE` names one,
//! a PEM bundle (the Go SDK, and so upstream, honours it; the Rust SDK does not), made into one
//! verifier per run (`Roots`) and the TLS settings over it (`client_config`), for the AWS calls
//! and the registry probe alike. TLS routes use them through `tls::HttpsConnector`; plain-http
//! routes (metadata, container credentials) get the SDK's connector, without roots
//! (`sdk_connector`); `proxy` decides which requests go through a proxy.
//!
//! On Linux the system roots come from the distribution's CA bundle, read once (the SDK's own
//! loader reads that bundle and then every file of the certificate directory, which holds the
//! same certificates again), on a thread of their own from the start of a run that will need
//! them (`read_system_roots_ahead`): decoding them was most of an HTTPS run's CPU (issue 11).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self as sdk_tls, TlsContext, TrustStore};
use aws_smithy_http_client::{Connector, ConnectorBuilder};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::ahead::{Ahead, Work};
use crate::files::{self, FileError, NamedFile, Shown};
use crate::net::ca_bundle::{self, BundleError};

pub(crate) const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";

#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{file} {error}")]
    Bundle { file: Shown, error: BundleError },
}

/// The trust for every TLS connection: system roots, plus the bundle at `ca_bundle`.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    roots: Arc<Roots>,
    /// Made by the first TLS connector.
    config: Arc<OnceLock<Result<Arc<rustls::ClientConfig>, String>>>,
}

/// The roots a server's certificate is checked against, made into a verifier once: by the
/// roots thread (`read_system_roots_ahead`) or else by the first certificate to check. The
/// TLS settings do not wait for them: a handshake sends its hello first, and reads the
/// server's certificate only once they are ready (`tls::AfterRoots`).
#[derive(Debug, Default)]
pub(crate) struct Roots {
    /// The checked certificates of `AWS_CA_BUNDLE`, in DER.
    bundle: Vec<Vec<u8>>,
    verifier: OnceLock<Result<Arc<WebPkiServerVerifier>, rustls::Error>>,
}

impl Roots {
    /// The verifier, made now if need be: this may wait for the system's roots to be read.
    pub(crate) fn verifier(&self) -> Result<Arc<WebPkiServerVerifier>, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                let mut store = rustls::RootCertStore::empty();
                // A root rustls cannot take is skipped, as the SDK's own loader skips it.
                let system = SYSTEM_ROOTS.get_or_init(system_roots);
                store.add_parsable_certificates(system.iter().map(|der| der.as_ref().into()));
                store
                    .add_parsable_certificates(self.bundle.iter().map(|der| der.as_slice().into()));
                verifier(store)
            })
            .clone()
    }

    #[cfg(test)]
    pub(crate) fn is_ready(&self) -> bool {
        self.verifier.get().is_some()
    }

    /// Waits, without blocking the runtime, until the verifier is made.
    pub(crate) async fn ready(self: Arc<Self>) {
        if self.verifier.get().is_none() {
            let _ = tokio::task::spawn_blocking(move || drop(self.verifier())).await;
        }
    }
}

impl Trust {
    /// Reads and checks the bundle (on a thread of its own, under the run's deadline, or
    /// taken from `read_ca_bundle_ahead`); only certificates that passed reach the TLS stack.
    pub(crate) async fn load(ca_bundle: Option<&Path>) -> Result<Self, TlsError> {
        let bundle = match ca_bundle {
            None => Vec::new(),
            Some(path) => CA_BUNDLE
                .result(&path.to_owned())
                .await
                .map_err(FileError::from)??,
        };
        let roots = Arc::new(Roots {
            bundle,
            verifier: OnceLock::new(),
        });
        hand_to_roots_thread(&roots);
        Ok(Self {
            roots,
            config: Arc::default(),
        })
    }

    /// The TLS settings of every connection, made once; cheap, as the roots are not needed
    /// until a server's certificate is checked.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.config
            .get_or_init(|| {
                client_config(Arc::clone(&self.roots))
                    .map(Arc::new)
                    .map_err(|error| format!("cannot set up TLS: {error}"))
            })
            .clone()
    }

    pub(crate) fn roots(&self) -> &Arc<Roots> {
        &self.roots
    }

    /// The SDK's connector, for http:// requests through `proxy` (or nothing: `disabled`).
    /// It trusts no root, and the system's are not read for it, unless `tls_to_proxy` (an
    /// https:// proxy): the SDK then takes the roots as PEM, parsed again, as it wants them.
    /// An error if the SDK cannot take them: its default (the platform's roots alone, without
    /// `AWS_CA_BUNDLE`) is never used instead.
    pub(crate) fn sdk_connector(
        &self,
        builder: ConnectorBuilder,
        proxy: ProxyConfig,
        tls_to_proxy: bool,
    ) -> Result<Connector, String> {
        let mut store = TrustStore::empty();
        if tls_to_proxy {
            // The SDK aborts on a root it cannot parse: only those rustls takes.
            let mut roots: Vec<Vec<u8>> = SYSTEM_ROOTS
                .get_or_init(system_roots)
                .iter()
                .filter(|der| webpki::anchor_from_trusted_cert(der).is_ok())
                .map(|der| der.to_vec())
                .collect();
            roots.extend(self.roots.bundle.iter().cloned());
            store = store.with_pem_certificate(ca_bundle::to_pem(&roots));
        }
        let context = TlsContext::builder()
            .with_trust_store(store)
            .build()
            .map_err(|error| {
                format!("cannot set up TLS with the system's roots and AWS_CA_BUNDLE: {error}")
            })?;
        Ok(builder
            .tls_provider(sdk_tls::Provider::Rustls(
                sdk_tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .proxy_config(proxy)
            .tls_context(context)
            .build())
    }
}

/// The TLS settings every connection uses: the SDK's cipher suites (TLS 1.3 and ECDHE
/// AES-GCM / ChaCha20 for TLS 1.2) on aws-lc, `roots`, HTTP/1.1.
pub(crate) fn client_config(roots: Arc<Roots>) -> Result<ClientConfig, rustls::Error> {
    use rustls::CipherSuite as Suite;
    let wanted = [
        Suite::TLS13_AES_256_GCM_SHA384,
        Suite::TLS13_AES_128_GCM_SHA256,
        Suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        Suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        Suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        Suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        Suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|suite| wanted.contains(&suite.suite()));
    let verifier = RootsWhenNeeded {
        roots,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// What `with_root_certificates(roots)` would check, with the same words: webpki's checks
/// against `roots`, and an empty store trusts no certificate (`UnknownIssuer`).
pub(crate) fn verifier(
    roots: rustls::RootCertStore,
) -> Result<Arc<WebPkiServerVerifier>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|error| match error {
            VerifierBuilderError::NoRootAnchors => CertificateError::UnknownIssuer.into(),
            other => rustls::Error::General(other.to_string()),
        })
}

/// The server certificate verifier of `client_config`: the roots' webpki verifier, asked
/// for only when the server's certificate is there. The handshake signatures need no roots.
#[derive(Debug)]
struct RootsWhenNeeded {
    roots: Arc<Roots>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for RootsWhenNeeded {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.roots.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `AWS_CA_BUNDLE`'s certificates, read ahead from the start of a run (see `ahead`).
static CA_BUNDLE: Ahead<PathBuf, Result<Vec<Vec<u8>>, TlsError>> =
    Ahead::new("ca-bundle", "read the CA bundle", read_ca_bundle);

/// The work that reads the bundle at `path` ahead, for `Trust::load`.
pub(crate) fn read_ca_bundle_ahead(path: &Path) -> Work {
    CA_BUNDLE.work(path.to_owned())
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

/// The work that reads the system's roots ahead, for a run that will speak TLS, and then
/// makes their verifier once `Trust::load` hands it the bundle's: they take about as long as
/// the run takes to get to its first request (issue 11).
/// Every read is bounded and takes only regular files, so this may come before `files` has
/// checked `SSL_CERT_FILE` and the rest; a bad one still fails the run there.
pub(crate) fn read_system_roots_ahead() -> Work {
    let (sender, roots) = tokio::sync::oneshot::channel::<Arc<Roots>>();
    if let Ok(mut slot) = ROOTS_THREAD.lock() {
        *slot = Some(sender);
    }
    // Never run (no thread), it leaves the roots to the first certificate to check.
    Box::new(move || {
        SYSTEM_ROOTS.get_or_init(system_roots);
        // Then the verifier, as soon as `Trust::load` has the bundle's roots.
        if let Ok(roots) = roots.blocking_recv() {
            let _ = roots.verifier();
        }
    })
}

/// The work `read_system_roots_ahead` made, waiting for the run's roots.
static ROOTS_THREAD: Mutex<Option<tokio::sync::oneshot::Sender<Arc<Roots>>>> = Mutex::new(None);

/// Gives `roots` to the work `read_system_roots_ahead` made, if any, to make their verifier.
fn hand_to_roots_thread(roots: &Arc<Roots>) {
    if let Some(sender) = ROOTS_THREAD.lock().ok().and_then(|mut slot| slot.take()) {
        let _ = sender.send(Arc::clone(roots));
    }
}

/// Elsewhere the platform's store (Windows' certificate store, the macOS keychain).
#[cfg(not(target_os = "linux"))]
fn system_roots() -> Vec<CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}

/// A bundle that cannot be read trusts nothing: said at once, as the handshake that fails for
/// it can say only `UnknownIssuer`.
#[cfg(target_os = "linux")]
fn system_roots() -> Vec<CertificateDer<'static>> {
    let (certificates, problem) = linux::system_certificates();
    if let Some(problem) = problem {
        tracing::warn!(
            "{problem}: none of the system's roots is trusted, so a server's certificate that only they vouch for is refused (UnknownIssuer)"
        );
    }
    certificates.into_iter().map(CertificateDer::from).collect()
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

    /// Every certificate of the system's store, in DER, and why its bundle gave none, if it
    /// gave none: the file, and what was wrong with it.
    pub(crate) fn system_certificates() -> (Vec<Vec<u8>>, Option<String>) {
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
            (env_file.map(|path| (path, "SSL_CERT_FILE")), env_dirs)
        } else if let Some(bundle) = BUNDLES.iter().map(Path::new).find(|path| path.is_file()) {
            (
                Some((bundle.to_path_buf(), "the distribution's CA bundles")),
                Vec::new(),
            )
        } else {
            (None, DIRS.iter().map(PathBuf::from).collect())
        };

        let mut certificates = Vec::new();
        let problem =
            file.and_then(|(path, origin)| bundle_certificates(path, origin, &mut certificates));
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
                    && let Ok(bytes) =
                        bounded_file(path, "a system CA file", "the system's roots").read()
                {
                    decode_certificates(&bytes, &mut certificates);
                }
            }
        }
        // Roots from elsewhere (SSL_CERT_DIR) still make a store that trusts something.
        let problem = problem.filter(|_| certificates.is_empty());
        (certificates, problem)
    }

    /// Appends the certificates of the bundle at `path`; if it gives none, says why.
    pub(crate) fn bundle_certificates(
        path: PathBuf,
        origin: &'static str,
        out: &mut Vec<Vec<u8>>,
    ) -> Option<String> {
        let file = bounded_file(path, "the system's CA bundle", origin);
        match file.read() {
            Err(error) => Some(error.to_string()),
            Ok(bytes) => {
                let before = out.len();
                decode_certificates(&bytes, out);
                (out.len() == before).then(|| format!("{} holds no PEM certificate", file.shown()))
            }
        }
    }

    /// A regular file of at most `MAX_CA_BUNDLE_BYTES`, never a FIFO or a device, whatever
    /// changed since `files` checked the paths.
    fn bounded_file(
        path: PathBuf,
        what: &'static str,
        origin: &'static str,
    ) -> crate::files::NamedFile {
        crate::files::NamedFile {
            what,
            origin,
            path,
            max_bytes: crate::files::MAX_CA_BUNDLE_BYTES,
            optional: false,
            contents: crate::files::Contents::Unread,
        }
    }

    /// Appends each PEM certificate of `text` that decodes, in DER; no constant-time decoder
    /// (nothing here is secret). Whether rustls can take it as a root is the root store's to say.
    pub(crate) fn decode_certificates(text: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut rest = text;
        while let Some(start) = memchr::memmem::find(rest, BEGIN.as_bytes()) {
            let after = &rest[start + BEGIN.len()..];
            let Some(length) = memchr::memmem::find(after, END.as_bytes()) else {
                break;
            };
            out.extend(decode_base64(&after[..length]));
            rest = &after[length + END.len()..];
        }
    }

    /// Each byte's value in the standard base64 alphabet, `INVALID` for the rest.
    const VALUES: [u8; 256] = {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut values = [INVALID; 256];
        let mut value: u8 = 0;
        while value < 64 {
            values[ALPHABET[value as usize] as usize] = value;
            value += 1;
        }
        values
    };
    const INVALID: u8 = 0xFF;

    /// Standard base64 with its padding, ASCII whitespace anywhere skipped (PEM's line breaks,
    /// and stray spaces). The base64 crate's decoder, built for size like the rest of the
    /// binary, made decoding the system's ~200 kB of roots 5.1M instructions; four symbols at
    /// a time through one table, 3.7M (callgrind, issue 11).
    fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
        let mut symbols = Vec::with_capacity(text.len());
        let mut line_start = 0;
        for line_end in memchr::memchr_iter(b'\n', text).chain([text.len()]) {
            symbols.extend_from_slice(text[line_start..line_end].trim_ascii());
            line_start = line_end + 1;
        }
        decode_symbols(symbols).or_else(|| {
            // Whitespace inside a line, which no tool writes: read past it.
            let symbols = text.iter().filter(|byte| !byte.is_ascii_whitespace());
            decode_symbols(symbols.copied().collect())
        })
    }

    /// Base64 without whitespace.
    fn decode_symbols(mut symbols: Vec<u8>) -> Option<Vec<u8>> {
        if !symbols.len().is_multiple_of(4) {
            return None;
        }
        // The padding decodes as zero bits, which are then dropped; `=` anywhere else is invalid.
        let padding = match symbols.as_slice() {
            [.., b'=', b'='] => 2,
            [.., b'='] => 1,
            _ => 0,
        };
        let end = symbols.len() - padding;
        symbols[end..].fill(b'A');
        let mut out = vec![0; symbols.len() / 4 * 3];
        for (group, bytes) in symbols.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
            let values = u32::from_be_bytes([
                VALUES[usize::from(group[0])],
                VALUES[usize::from(group[1])],
                VALUES[usize::from(group[2])],
                VALUES[usize::from(group[3])],
            ]);
            if values & 0xC0C0_C0C0 != 0 {
                return None;
            }
            let bits = (values & 0x3F00_0000) >> 6
                | (values & 0x003F_0000) >> 4
                | (values & 0x0000_3F00) >> 2
                | (values & 0x0000_003F);
            let [_, a, b, c] = bits.to_be_bytes();
            if let [first, second, third] = bytes {
                (*first, *second, *third) = (a, b, c);
            }
        }
        out.truncate(out.len() - padding);
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD;
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;

        use super::*;

        /// Roots rustls takes: a current one and an old version 1 one.
        const GOOD: &[u8] = include_bytes!("../../tests/data/isrg-root-x2.pem");
        const V1: &[u8] = include_bytes!("../../tests/data/v1-root.pem");

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

        /// A bundle that gives no root says which file and why: too large, not a file, no PEM.
        #[test]
        fn a_bundle_that_gives_no_root_is_named_with_why() {
            let dir = std::env::temp_dir().join(format!("ca-bundles-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let large = dir.join("large.pem");
            let limit = crate::files::MAX_CA_BUNDLE_BYTES;
            std::fs::write(&large, vec![b'#'; usize::try_from(limit).unwrap() + 1]).unwrap();
            let empty = dir.join("empty.pem");
            std::fs::write(&empty, "# no certificates here\n").unwrap();
            let good = dir.join("good.pem");
            std::fs::write(&good, GOOD).unwrap();
            let missing = dir.join("missing.pem");
            let problem = |path: &Path| {
                let mut out = Vec::new();
                let problem = bundle_certificates(path.to_owned(), "SSL_CERT_FILE", &mut out);
                (problem.unwrap_or_default(), out.len())
            };
            let named = |path: &Path| {
                format!(
                    "the system's CA bundle {} (from SSL_CERT_FILE)",
                    path.display()
                )
            };
            let table = [
                (
                    &large,
                    format!(
                        "{} is {} bytes, more than the {limit} such a file can sensibly be",
                        named(&large),
                        limit + 1
                    ),
                ),
                (
                    &dir,
                    format!("{} is a directory, not a regular file", named(&dir)),
                ),
                (
                    &missing,
                    format!(
                        "could not read {}: No such file or directory",
                        named(&missing)
                    ),
                ),
                (
                    &empty,
                    format!("{} holds no PEM certificate", named(&empty)),
                ),
            ];
            for (path, expected) in table {
                let (problem, taken) = problem(path);
                assert!(problem.starts_with(&expected), "{problem}");
                assert_eq!(taken, 0);
            }
            assert_eq!(problem(&good), (String::new(), 1));
            std::fs::remove_dir_all(&dir).unwrap();
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

        /// Every length and so every padding, as the base64 crate encodes them; then what
        /// is not base64.
        #[test]
        fn decodes_base64_as_the_base64_crate_does() {
            let bytes: Vec<u8> = (0..=255).rev().collect();
            for length in 0..70 {
                let encoded = STANDARD.encode(&bytes[..length]);
                assert_eq!(
                    decode_base64(encoded.as_bytes()).as_deref(),
                    Some(&bytes[..length]),
                    "{encoded}"
                );
            }
            for bad in [
                "TUlJQg",
                "TUlJQ===",
                "TU=lJQg==",
                "TUlJQg==TQ==",
                "TUl!Qg==",
                "T",
            ] {
                assert_eq!(decode_base64(bad.as_bytes()), None, "{bad}");
            }
            assert_eq!(
                decode_base64(b" TU\r\nlJ Qg= =\n").as_deref(),
                Some(&b"MIIB"[..])
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_root_store_trusts_no_certificate_in_rustls_words() {
        let error = verifier(rustls::RootCertStore::empty()).unwrap_err();
        assert_eq!(
            error,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        );
    }
}
