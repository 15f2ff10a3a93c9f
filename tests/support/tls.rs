//! TLS on loopback: certificate authorities and server certificates made in the test (rcgen,
//! on the aws-lc the provider uses), the ECR stand-in behind rustls, and a proxy that plays
//! the endpoint at its tunnel's far end as a TLS-inspecting proxy does. Nothing here reads
//! or changes the system's trust store: a run trusts these CAs only through AWS_CA_BUNDLE.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::fake::{FakeAws, Reply, Seen, Stream, read_request};

/// A certificate authority of the test's own; clones share it.
#[derive(Clone)]
pub struct Ca {
    issuer: Arc<CertifiedIssuer<'static, KeyPair>>,
}

/// When a server certificate is valid.
#[derive(Clone, Copy)]
pub enum Validity {
    /// From 1975 to 4096, rcgen's defaults.
    Now,
    /// Through 2020 only.
    Expired,
    /// From 2100 on: what a node whose clock is far behind sees.
    NotYet,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("a CA certificate");
        Self {
            issuer: Arc::new(issuer),
        }
    }

    /// This CA's certificate in a PEM file in `dir`, for AWS_CA_BUNDLE.
    pub fn bundle(&self, dir: &Path) -> PathBuf {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("ca-{n}.pem"));
        std::fs::write(&path, self.issuer.pem()).expect("write the CA bundle");
        path
    }

    /// A server's TLS settings with a certificate this CA signed for `names` (host names or IP
    /// addresses), sent without the CA's own.
    pub fn server(&self, names: &[&str], validity: Validity) -> Arc<ServerConfig> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("names for a certificate");
        params
            .distinguished_name
            .push(DnType::CommonName, "test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        match validity {
            Validity::Now => {}
            Validity::Expired => {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            Validity::NotYet => {
                params.not_before = rcgen::date_time_ymd(2100, 1, 1);
                params.not_after = rcgen::date_time_ymd(2101, 1, 1);
            }
        }
        let key = KeyPair::generate().expect("a server key");
        let certificate = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![certificate.der().clone()], key.into())
            .expect("a server certificate and its key");
        Arc::new(config)
    }
}

/// A server speaking TLS, and how each of its handshakes ended.
pub struct TlsServer {
    pub fake: FakeAws,
    handshakes: Handshakes,
}

impl TlsServer {
    /// How each handshake ended, in order: `ok`, or the server's error (for a refusal, the
    /// client's alert).
    pub fn handshakes(&self) -> Vec<String> {
        self.handshakes.lock().expect("lock").clone()
    }
}

impl std::ops::Deref for TlsServer {
    type Target = FakeAws;

    fn deref(&self) -> &FakeAws {
        &self.fake
    }
}

type Handshakes = Arc<Mutex<Vec<String>>>;

/// `stream` after a TLS handshake as the server of `config`; `None` if it failed. Either way
/// its end is recorded in `handshakes`.
fn accept<S: Read + Write + Send + 'static>(
    config: &Arc<ServerConfig>,
    stream: S,
    handshakes: &Handshakes,
) -> Option<Stream> {
    let connection = ServerConnection::new(Arc::clone(config)).ok()?;
    let mut tls = StreamOwned::new(connection, stream);
    let mut end = Ok(());
    while tls.conn.is_handshaking() && end.is_ok() {
        end = tls.conn.complete_io(&mut tls.sock).map(|_| ());
    }
    let said = end
        .as_ref()
        .map_or_else(ToString::to_string, |()| "ok".to_owned());
    handshakes.lock().expect("lock").push(said);
    end.ok()?;
    Some(Box::new(tls))
}

/// The ECR stand-in at `https://127.0.0.1:PORT`, with `config`'s certificate.
pub fn https(
    config: Arc<ServerConfig>,
    handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> TlsServer {
    let handshakes = Handshakes::default();
    let recorder = Arc::clone(&handshakes);
    let fake = FakeAws::listen("https", move |tcp| accept(&config, tcp, &recorder), handler);
    TlsServer { fake, handshakes }
}

/// A proxy that accepts every CONNECT and, at the tunnel's far end, answers TLS itself with a
/// certificate `ca` makes for the name asked for, then HTTP with `handler`: what a
/// TLS-inspecting proxy does, without any traffic leaving the machine. An http:// proxy, or
/// with `own` an https:// one with that certificate. It records the requests that came
/// through the tunnel and both handshakes; its `url` is the proxy's.
pub fn inspecting_proxy(
    ca: Ca,
    own: Option<Arc<ServerConfig>>,
    handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> TlsServer {
    let scheme = if own.is_some() { "https" } else { "http" };
    let handshakes = Handshakes::default();
    let recorder = Arc::clone(&handshakes);
    let open = move |tcp: TcpStream| {
        let to_proxy: Stream = match &own {
            Some(config) => accept(config, tcp, &recorder)?,
            None => Box::new(tcp),
        };
        let mut reader = BufReader::new(to_proxy);
        let connect = read_request(&mut reader)?;
        if connect.method != "CONNECT" {
            return None;
        }
        let host = connect.target.rsplit_once(':').map_or("", |(host, _)| host);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // The client sends nothing more before this answer: nothing is left in the buffer.
        let mut tunnel = reader.into_inner();
        tunnel
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .ok()?;
        accept(&ca.server(&[host], Validity::Now), tunnel, &recorder)
    };
    let fake = FakeAws::listen(scheme, open, handler);
    TlsServer { fake, handshakes }
}
