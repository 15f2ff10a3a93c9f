//! The HTTPS connector: rustls (aws-lc) with one root store per run, over hyper's HTTP/1.1
//! client, directly or through the CONNECT tunnel of an http:// or https:// proxy.
//!
//! The SDK's own TLS connector takes roots only as PEM and decodes them for every connector
//! it builds, through a constant-time decoder made for private keys: with our check of the
//! same bundle before it, two thirds of an HTTPS run's CPU (issue 11). Here the roots are
//! decoded once, into one webpki verifier, and not waited for until the server's certificate
//! is there to check (`trust::RootsWhenNeeded`, `AfterRoots`). Plain-http routes keep the SDK's
//! connector.
//!
//! Errors keep the shapes the SDK's connector gives them, which `proxy::ProxyFailure` and
//! `aws::failure` read: a timeout carries `TimedOutError` in its chain ("HTTP connect timeout
//! occurred after …"), a tunnel failure reads "CONNECT tunnel failed: tunnel error: …", and
//! hyper's errors are sorted into timeout, user, io and other as the SDK sorts them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_async::future::timeout::TimedOutError;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector as Tcp};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::trust::{Roots, Trust};
use crate::sanitize::{error_chain, find_source};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A name resolver for hyper's TCP connector.
pub(crate) trait Resolve:
    tower_service::Service<
        Name,
        Response: Iterator<Item = SocketAddr>,
        Future: Send,
        Error: Into<BoxError>,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<R> Resolve for R where
    R: tower_service::Service<
            Name,
            Response: Iterator<Item = SocketAddr>,
            Future: Send,
            Error: Into<BoxError>,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Where a TLS route's connections go first: the proxy that tunnels them, if any.
#[derive(Debug, Clone)]
pub(crate) struct ProxyHop {
    /// `http://host:port` or `https://host:port`, without credentials.
    pub(crate) uri: http::Uri,
    /// `Basic …` for `Proxy-Authorization`, when the proxy URL carried user:password.
    pub(crate) basic_auth: Option<String>,
}

/// The settings of one connector, as the SDK's `HttpConnectorSettings` give them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timeouts {
    /// TCP connection, proxy tunnel and TLS handshake together.
    pub(crate) connect: Option<Duration>,
    /// The whole exchange up to the response's head.
    pub(crate) read: Option<Duration>,
}

/// An SDK connector for https:// requests with `trust`.
pub(crate) fn connector(
    trust: Trust,
    proxy: Option<ProxyHop>,
    timeouts: Timeouts,
) -> HttpsConnector {
    with_resolver(trust, proxy, timeouts, GaiResolver::new())
}

/// As `connector`, with names resolved by `resolver` (the test-only host routes).
pub(crate) fn with_resolver<R: Resolve>(
    trust: Trust,
    proxy: Option<ProxyHop>,
    timeouts: Timeouts,
    resolver: R,
) -> HttpsConnector {
    let mut tcp = Tcp::new_with_resolver(resolver);
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let connect = Connect {
        tcp,
        trust,
        proxy,
        timeout: timeouts.connect,
        warm: Arc::default(),
    };
    let mut builder = Client::builder(TokioExecutor::new());
    builder.pool_timer(TokioTimer::new());
    HttpsConnector {
        send: Arc::new(Sender {
            client: builder.build(connect.clone()),
            connect,
        }),
        read_timeout: timeouts.read,
    }
}

/// A direct https connector whose names all resolve to `ip`: for the test-only host
/// routes of debug builds (see `registry`).
#[cfg(debug_assertions)]
pub(crate) fn pinned(
    trust: Trust,
    ip: std::net::IpAddr,
    timeouts: Timeouts,
) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
    aws_smithy_runtime_api::client::http::SharedHttpConnector::new(with_resolver(
        trust,
        None,
        timeouts,
        Pinned(ip),
    ))
}

/// Sends each request over a TLS connection of its own making.
#[derive(Clone)]
pub(crate) struct HttpsConnector {
    send: Arc<dyn Transport>,
    read_timeout: Option<Duration>,
}

impl HttpsConnector {
    /// Starts connecting to `uri` now (TCP, tunnel, TLS handshake), as a task on the current
    /// runtime, for the first request to its host to take: the round trips then overlap what
    /// the caller does before sending it, such as signing it (issue 11). Its outcome, success
    /// or error, is what that request gets; nothing is sent on it before that request.
    pub(crate) fn preconnect(&self, uri: http::Uri) {
        self.send.preconnect(uri);
    }
}

impl std::fmt::Debug for HttpsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpsConnector")
    }
}

/// The hyper client behind `HttpsConnector`, with its resolver type erased.
trait Transport: Send + Sync {
    fn send(
        &self,
        request: http::Request<SdkBody>,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<SdkBody>, BoxError>> + Send>>;

    fn preconnect(&self, uri: http::Uri);
}

struct Sender<R> {
    client: Client<Connect<R>, SdkBody>,
    connect: Connect<R>,
}

impl<R: Resolve> Transport for Sender<R> {
    fn send(
        &self,
        request: http::Request<SdkBody>,
    ) -> Pin<Box<dyn Future<Output = Result<http::Response<SdkBody>, BoxError>> + Send>> {
        let response = self.client.request(request);
        Box::pin(async move {
            let response = response.await.map_err(BoxError::from)?;
            Ok(response.map(SdkBody::from_body_1_x))
        })
    }

    fn preconnect(&self, uri: http::Uri) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut connect = self.connect.clone();
        let connecting = connect.connect(uri.clone());
        let task = runtime.spawn(connecting);
        *connect.warm_slot() = Some(Warm {
            to: destination_key(&uri),
            task,
        });
    }
}

/// A connection being made ahead of the request that will take it.
struct Warm {
    to: (String, u16),
    task: tokio::task::JoinHandle<Result<TlsConn, BoxError>>,
}

/// The host and port a connection goes to, as hyper names them.
fn destination_key(uri: &http::Uri) -> (String, u16) {
    (
        uri.host().unwrap_or_default().to_ascii_lowercase(),
        uri.port_u16().unwrap_or(443),
    )
}

impl HttpConnector for HttpsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())));
            }
        };
        let response = within("HTTP read", self.read_timeout, self.send.send(request));
        HttpConnectorFuture::new(async move {
            let response = response.await.map_err(sort_error)?;
            HttpResponse::try_from(response)
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// As the SDK's connector sorts hyper's errors, so that retries and messages stay the same;
/// but a certificate the handshake refused is not retried: the next attempt gets the same one.
fn sort_error(error: BoxError) -> ConnectorError {
    if find_source::<TimedOutError>(error.as_ref()).is_some() {
        return ConnectorError::timeout(error);
    }
    if CertificateProblem::of(error.as_ref()).is_some() {
        return ConnectorError::other(error, None);
    }
    if let Some(hyper_error) = find_source::<hyper::Error>(error.as_ref()) {
        if hyper_error.is_timeout() {
            return ConnectorError::timeout(error);
        }
        if hyper_error.is_user() {
            return ConnectorError::user(error);
        }
        if hyper_error.is_closed()
            || hyper_error.is_canceled()
            || find_source::<io::Error>(hyper_error).is_some()
        {
            return ConnectorError::io(error);
        }
        if hyper_error.is_incomplete_message() {
            return ConnectorError::other(error, Some(ErrorKind::TransientError));
        }
        return ConnectorError::other(error, None);
    }
    if let Some(client_error) = find_source::<hyper_util::client::legacy::Error>(error.as_ref())
        && (client_error.is_connect() || find_source::<io::Error>(client_error).is_some())
    {
        return ConnectorError::io(error);
    }
    ConnectorError::other(error, None)
}

/// What was wrong with a certificate a handshake refused, as rustls found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertificateProblem {
    /// No trusted CA issued it.
    Untrusted,
    /// It is not issued for the name dialled.
    WrongName,
    Expired,
    NotYetValid,
    /// Any other flaw: a bad signature, a wrong purpose, revoked.
    Other,
}

impl CertificateProblem {
    /// The refusal of a peer's certificate in `error`'s chain, if that is what failed.
    pub(crate) fn of(error: &(dyn std::error::Error + 'static)) -> Option<Self> {
        use rustls::CertificateError as Refused;
        let rustls::Error::InvalidCertificate(refused) = find_source::<rustls::Error>(error)?
        else {
            return None;
        };
        Some(match refused {
            Refused::UnknownIssuer => Self::Untrusted,
            Refused::NotValidForName | Refused::NotValidForNameContext { .. } => Self::WrongName,
            Refused::Expired | Refused::ExpiredContext { .. } => Self::Expired,
            Refused::NotValidYet | Refused::NotValidYetContext { .. } => Self::NotYetValid,
            _ => Self::Other,
        })
    }
}

/// A proxy's CONNECT tunnel that could not be made, for `proxy::ProxyFailure` to tell from a
/// failure past it: "CONNECT tunnel failed: " and the chain, with the chain kept as sources
/// (the TLS to an https:// proxy, with rustls' refusal of its certificate, say).
#[derive(Debug)]
pub(crate) struct TunnelFailed(BoxError);

impl std::fmt::Display for TunnelFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CONNECT tunnel failed: {}", error_chain(self.0.as_ref()))
    }
}

impl std::error::Error for TunnelFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// `work`, failed with a `TimeoutError` of `kind` if it takes longer than `limit`.
async fn within<T>(
    kind: &'static str,
    limit: Option<Duration>,
    work: impl Future<Output = Result<T, BoxError>>,
) -> Result<T, BoxError> {
    let Some(duration) = limit else {
        return work.await;
    };
    tokio::time::timeout(duration, work)
        .await
        .unwrap_or_else(|_| Err(Box::new(TimeoutError { kind, duration }) as BoxError))
}

/// "HTTP connect timeout occurred after 5s", with `TimedOutError` as its source: the SDK's
/// words and shape for it.
#[derive(Debug)]
struct TimeoutError {
    kind: &'static str,
    duration: Duration,
}

impl std::fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} timeout occurred after {:?}",
            self.kind, self.duration
        )
    }
}

impl std::error::Error for TimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&TimedOutError)
    }
}

/// Resolves every name to one address: for the test-only host routes of debug builds.
#[cfg(debug_assertions)]
#[derive(Debug, Clone)]
pub(crate) struct Pinned(pub std::net::IpAddr);

#[cfg(debug_assertions)]
impl tower_service::Service<Name> for Pinned {
    type Response = std::iter::Once<SocketAddr>;
    type Error = io::Error;
    type Future = std::future::Ready<Result<Self::Response, io::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Name) -> Self::Future {
        std::future::ready(Ok(std::iter::once(SocketAddr::new(self.0, 0))))
    }
}

/// A byte stream hyper can speak HTTP over: TCP, or TLS over TCP or over another TLS stream.
trait Io: hyper::rt::Read + hyper::rt::Write + Send + Unpin {}
impl<T: hyper::rt::Read + hyper::rt::Write + Send + Unpin> Io for T {}

type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// Makes the TLS connection to a request's host, through the proxy if there is one.
#[derive(Clone)]
struct Connect<R> {
    tcp: Tcp<R>,
    trust: Trust,
    proxy: Option<ProxyHop>,
    timeout: Option<Duration>,
    warm: Arc<Mutex<Option<Warm>>>,
}

impl<R: Resolve> Connect<R> {
    fn warm_slot(&self) -> std::sync::MutexGuard<'_, Option<Warm>> {
        self.warm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// TCP (to the host or its proxy), the proxy's tunnel, TLS: all under the connect timeout.
    fn connect(&mut self, destination: http::Uri) -> Connecting<TlsConn> {
        let tcp = self.tcp.clone();
        let trust = self.trust.clone();
        let proxy = self.proxy.clone();
        let connecting = async move {
            let stream: Box<dyn Io> = match proxy {
                None => {
                    let mut tcp = tcp;
                    Box::new(
                        tower_service::Service::call(&mut tcp, destination.clone())
                            .await
                            .map_err(BoxError::from)?,
                    )
                }
                Some(proxy) => {
                    let to_proxy = ToProxy {
                        tcp,
                        trust: trust.clone(),
                    };
                    let mut tunnel = Tunnel::new(proxy.uri, to_proxy);
                    if let Some(auth) = proxy
                        .basic_auth
                        .and_then(|auth| http::HeaderValue::try_from(auth).ok())
                    {
                        tunnel = tunnel.with_auth(auth);
                    }
                    Box::new(
                        tower_service::Service::call(&mut tunnel, destination.clone())
                            .await
                            .map_err(|error| BoxError::from(TunnelFailed(error.into())))?,
                    )
                }
            };
            let tls = handshake(&trust, &destination, stream).await?;
            Ok(TlsConn {
                io: TokioIo::new(tls),
            })
        };
        Box::pin(within("HTTP connect", self.timeout, connecting))
    }
}

impl<R: Resolve> tower_service::Service<http::Uri> for Connect<R> {
    type Response = TlsConn;
    type Error = BoxError;
    type Future = Connecting<TlsConn>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, destination: http::Uri) -> Self::Future {
        let key = destination_key(&destination);
        let warm = {
            let mut slot = self.warm_slot();
            if slot.as_ref().is_some_and(|warm| warm.to == key) {
                slot.take()
            } else {
                None
            }
        };
        match warm {
            Some(warm) => Box::pin(async move {
                warm.task
                    .await
                    .unwrap_or_else(|_| Err(BoxError::from("the connection made ahead was lost")))
            }),
            None => self.connect(destination),
        }
    }
}

async fn handshake(
    trust: &Trust,
    uri: &http::Uri,
    stream: Box<dyn Io>,
) -> Result<TlsStream, BoxError> {
    let config = trust.client_config().map_err(BoxError::from)?;
    let host = uri.host().ok_or("missing host in URI for TLS handshake")?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let name = ServerName::try_from(host.to_owned()).map_err(|error| {
        BoxError::from(format!("invalid server name for TLS handshake: {error}"))
    })?;
    let io = AfterRoots::new(TokioIo::new(stream), trust.roots());
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, io)
        .await?;
    Ok(tls)
}

type TlsStream = tokio_rustls::client::TlsStream<AfterRoots<TokioIo<Box<dyn Io>>>>;

/// The connection to a proxy: TCP, then TLS for an https:// proxy.
#[derive(Clone)]
struct ToProxy<R> {
    tcp: Tcp<R>,
    trust: Trust,
}

impl<R: Resolve> tower_service::Service<http::Uri> for ToProxy<R> {
    type Response = Box<dyn Io>;
    type Error = BoxError;
    type Future = Connecting<Box<dyn Io>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, proxy: http::Uri) -> Self::Future {
        let tcp = tower_service::Service::call(&mut self.tcp, proxy.clone());
        let trust = self.trust.clone();
        Box::pin(async move {
            let stream: Box<dyn Io> = Box::new(tcp.await.map_err(BoxError::from)?);
            if proxy.scheme_str() == Some("https") {
                Ok(Box::new(TokioIo::new(handshake(&trust, &proxy, stream).await?)) as Box<dyn Io>)
            } else {
                Ok(stream)
            }
        })
    }
}

/// A TLS connection as hyper's client pools it.
struct TlsConn {
    io: TokioIo<TlsStream>,
}

impl Connection for TlsConn {
    fn connected(&self) -> Connected {
        // Inside a tunnel requests go in origin form, as to the host itself.
        Connected::new()
    }
}

impl hyper::rt::Read for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// A stream whose reads wait, without blocking the runtime, until the roots are ready: a
/// handshake sends its hello at once and reads the server's certificate, which comes in the
/// answer, only when `RootsWhenNeeded` can check it at once. The roots are read while the
/// hello travels instead of before it (issue 11).
struct AfterRoots<T> {
    io: T,
    roots_ready: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl<T> AfterRoots<T> {
    fn new(io: T, roots: &Arc<Roots>) -> Self {
        Self {
            io,
            roots_ready: Some(Box::pin(Arc::clone(roots).ready())),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for AfterRoots<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(ready) = &mut self.roots_ready {
            std::task::ready!(ready.as_mut().poll(cx));
            self.roots_ready = None;
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for AfterRoots<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// The hello goes out at once, before anything builds the roots; what comes back is read
    /// only once their verifier is made.
    #[test]
    fn writes_go_out_at_once_and_reads_wait_for_the_roots() {
        block_on(async {
            let trust = Trust::load(None).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let near = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (far, _) = listener.accept().await.unwrap();
            let mut io = AfterRoots::new(near, trust.roots());

            let written = std::future::poll_fn(|cx| Pin::new(&mut io).poll_write(cx, b"hello"))
                .await
                .unwrap();
            assert_eq!(written, 5);
            assert!(!trust.roots().is_ready(), "a write waited for the roots");
            let mut hello = [0; 5];
            far.readable().await.unwrap();
            assert_eq!(far.try_read(&mut hello).unwrap(), 5);
            far.writable().await.unwrap();
            far.try_write(b"answer").unwrap();

            let mut bytes = [0; 16];
            let mut answer = ReadBuf::new(&mut bytes);
            std::future::poll_fn(|cx| Pin::new(&mut io).poll_read(cx, &mut answer))
                .await
                .unwrap();
            assert_eq!(answer.filled(), b"answer");
            assert!(
                trust.roots().is_ready(),
                "a read did not wait for the roots"
            );
        });
    }
}
