//! A small HTTP/1.1 server on 127.0.0.1 standing in for ECR, ECR Public and STS, for the
//! faults and checks a real peer cannot give: hangs, garbage, exact headers seen. It answers
//! each request with what the test's handler says and records every request it got.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Seen {
    /// `X-Amz-Target` for JSON APIs, the `Action` for query APIs (STS).
    pub fn operation(&self) -> String {
        if let Some(target) = self.headers.get("x-amz-target") {
            return target.clone();
        }
        self.form("Action").unwrap_or_default()
    }

    pub fn form(&self, key: &str) -> Option<String> {
        self.body.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == key).then(|| percent_decode(v))
        })
    }

    /// (access key, region, service) from the SigV4 credential scope, if signed.
    pub fn signed_scope(&self) -> Option<(String, String, String)> {
        let auth = self.headers.get("authorization")?;
        let credential = auth.split("Credential=").nth(1)?.split(',').next()?;
        let parts: Vec<&str> = credential.split('/').collect();
        Some((
            parts.first()?.to_string(),
            parts.get(2)?.to_string(),
            parts.get(3)?.to_string(),
        ))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub enum Reply {
    /// Status, content type and body, on a kept-alive connection.
    Body(u16, &'static str, String),
    /// Status, extra headers and body, on a kept-alive connection.
    WithHeaders(u16, Vec<(&'static str, String)>, String),
    /// These bytes as they are, then close.
    Raw(Vec<u8>),
    /// Read the request, then never answer.
    Hang,
    /// A hostile body: `prefix`, then filler, either `length` bytes in all (Content-Length)
    /// or chunked without end; stops when the client goes away, or after a minute.
    Endless {
        status: u16,
        prefix: String,
        length: Option<u64>,
    },
    /// Close without a word.
    Close,
}

impl Reply {
    #[allow(
        clippy::needless_pass_by_value,
        reason = "called with json! temporaries"
    )]
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self::Body(status, "application/x-amz-json-1.1", body.to_string())
    }

    /// An AWS JSON-protocol error, as ECR sends it.
    pub fn aws_error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            serde_json::json!({"__type": code, "message": message}),
        )
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A connection the stand-in speaks HTTP over: TCP, or TLS over it (`support::tls`).
pub type Stream = Box<dyn ReadWrite>;

pub trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

pub struct FakeAws {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeAws {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        Self::listen("http", |tcp| Some(Box::new(tcp)), handler)
    }

    /// A stand-in at `scheme://127.0.0.1:PORT` that speaks HTTP over what `open` makes of
    /// each accepted connection (on that connection's own thread); `None` drops it.
    pub fn listen(
        scheme: &str,
        open: impl Fn(TcpStream) -> Option<Stream> + Send + Sync + 'static,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("{scheme}://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let open = Arc::new(open);
        let recorder = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                let recorder = Arc::clone(&recorder);
                let open = Arc::clone(&open);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(90)));
                    if let Some(stream) = open(stream) {
                        serve(stream, &*handler, &recorder);
                    }
                });
            }
        });
        Self { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// The requests for one operation.
    pub fn calls(&self, operation: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.operation().ends_with(operation))
            .collect()
    }
}

fn serve(stream: Stream, handler: &Handler, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        // Reads are buffered, writes go straight to the connection.
        let writer = reader.get_mut();
        seen.lock().expect("lock").push(request.clone());
        // A HEAD answer has the headers of a GET and no body.
        let head_only = request.method == "HEAD";
        let body_of = |body: String| if head_only { String::new() } else { body };
        match handler(&request) {
            Reply::Body(status, content_type, body) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: req-{}\r\n\r\n",
                    body.len(),
                    seen.lock().expect("lock").len()
                );
                if writer
                    .write_all(head.as_bytes())
                    .and_then(|()| writer.write_all(body_of(body).as_bytes()))
                    .is_err()
                {
                    return;
                }
            }
            Reply::WithHeaders(status, headers, body) => {
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (name, value) in headers {
                    let _ = write!(head, "{name}: {value}\r\n");
                }
                head.push_str("\r\n");
                if writer
                    .write_all(head.as_bytes())
                    .and_then(|()| writer.write_all(body_of(body).as_bytes()))
                    .is_err()
                {
                    return;
                }
            }
            Reply::Raw(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(90));
                return;
            }
            Reply::Endless {
                status,
                prefix,
                length,
            } => {
                endless(writer, status, &prefix, length);
                return;
            }
            Reply::Close => return,
        }
    }
}

fn endless(writer: &mut impl Write, status: u16, prefix: &str, length: Option<u64>) {
    let framing = match length {
        Some(length) => format!("Content-Length: {length}"),
        None => "Transfer-Encoding: chunked".to_owned(),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\n{framing}\r\n\r\n"
    );
    if writer.write_all(head.as_bytes()).is_err() {
        return;
    }
    let filler = vec![b'A'; 64 * 1024];
    let started = std::time::Instant::now();
    let mut sent = 0u64;
    let mut next: &[u8] = prefix.as_bytes();
    while started.elapsed() < Duration::from_secs(60) {
        let written = if length.is_some() {
            writer.write_all(next).is_ok()
        } else {
            write!(writer, "{:x}\r\n", next.len()).is_ok()
                && writer.write_all(next).is_ok()
                && writer.write_all(b"\r\n").is_ok()
        };
        if !written {
            return;
        }
        sent += next.len() as u64;
        next = match length {
            Some(length) if sent >= length => return,
            Some(length) => {
                let left = usize::try_from(length - sent).unwrap_or(usize::MAX);
                &filler[..left.min(filler.len())]
            }
            None => &filler[..],
        };
    }
}

pub fn read_request(reader: &mut impl BufRead) -> Option<Seen> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

pub fn epoch_secs(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// ECR and ECR Public that give every caller a 12-hour token: `private-pass` and
/// `public-pass`; any other operation is refused.
pub fn token_service() -> FakeAws {
    const TWELVE_HOURS: Duration = Duration::from_secs(12 * 3600);
    FakeAws::start(|seen| match seen.operation().as_str() {
        "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" => {
            ecr_token("private-pass", TWELVE_HOURS)
        }
        "SpencerFrontendService.GetAuthorizationToken" => public_token("public-pass", TWELVE_HOURS),
        other => Reply::aws_error(400, "UnknownOperationException", other),
    })
}

/// A GetAuthorizationToken answer for private ECR.
pub fn ecr_token(password: &str, expires_in: Duration) -> Reply {
    Reply::json(
        200,
        serde_json::json!({"authorizationData": [{
            "authorizationToken": b64(&format!("AWS:{password}")),
            "expiresAt": epoch_secs(SystemTime::now() + expires_in),
            "proxyEndpoint": "https://123456789012.dkr.ecr.us-west-2.amazonaws.com",
        }]}),
    )
}

/// A GetAuthorizationToken answer for ECR Public.
pub fn public_token(password: &str, expires_in: Duration) -> Reply {
    Reply::json(
        200,
        serde_json::json!({"authorizationData": {
            "authorizationToken": b64(&format!("AWS:{password}")),
            "expiresAt": epoch_secs(SystemTime::now() + expires_in),
        }}),
    )
}

/// An STS AssumeRoleWithWebIdentity answer (query protocol, XML).
pub fn sts_credentials(access_key: &str, secret_key: &str, session_token: &str) -> Reply {
    let body = format!(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>{access_key}</AccessKeyId>
      <SecretAccessKey>{secret_key}</SecretAccessKey>
      <SessionToken>{session_token}</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/ecr-credential-provider</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>sts-req-1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
    );
    Reply::Body(200, "text/xml", body)
}

/// An STS error (query protocol, XML).
pub fn sts_error(status: u16, code: &str, message: &str) -> Reply {
    let body = format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>sts-err-1</RequestId></ErrorResponse>"#
    );
    Reply::Body(status, "text/xml", body)
}

/// A loopback HTTP proxy that records each CONNECT target and refuses it: shows which AWS
/// endpoint the provider chose, without any traffic leaving the machine.
pub struct RefusingProxy {
    pub url: String,
    targets: Arc<Mutex<Vec<String>>>,
}

impl RefusingProxy {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&targets);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_ok()
                    && let Some(target) = line.split_whitespace().nth(1)
                {
                    recorder.lock().expect("lock").push(target.to_owned());
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Self { url, targets }
    }

    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().expect("lock").clone()
    }
}

/// A loopback HTTP proxy that records every request: a plain request (absolute-form, as sent
/// to an `HTTP_PROXY`) is forwarded to `upstream` whatever host it names, so no name is ever
/// resolved; CONNECT (as sent to an `HTTPS_PROXY`) is answered with `connect_reply` and no
/// tunnel, so nothing leaves the machine. `{proxy-authorization}` in the reply stands for the
/// request's own `Proxy-Authorization`, as a careless proxy echoes it.
pub struct RecordingProxy {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RecordingProxy {
    pub fn start(upstream: &str, connect_reply: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorder = Arc::clone(&recorder);
                let upstream = upstream.clone();
                std::thread::spawn(move || forward(stream, &upstream, connect_reply, &recorder));
            }
        });
        Self { url, seen }
    }

    /// Each request as the proxy got it: method, the absolute URL or CONNECT target, headers.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn forward(stream: TcpStream, upstream: &str, connect_reply: &str, seen: &Mutex<Vec<Seen>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = stream.try_clone().expect("clone stream");
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        seen.lock().expect("lock").push(request.clone());
        if request.method == "CONNECT" {
            let echoed = request
                .headers
                .get("proxy-authorization")
                .map_or("", String::as_str);
            let reply = connect_reply.replace("{proxy-authorization}", echoed);
            let _ = writer.write_all(reply.as_bytes());
            return;
        }
        let path = request
            .target
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
            .unwrap_or_else(|| "/".into());
        let mut head = format!("{} {path} HTTP/1.1\r\n", request.method);
        for (name, value) in &request.headers {
            if !name.starts_with("proxy-") {
                let _ = write!(head, "{name}: {value}\r\n");
            }
        }
        head.push_str("\r\n");
        let Ok(mut origin) = TcpStream::connect(upstream) else {
            let _ = writer.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        if origin
            .write_all(head.as_bytes())
            .and_then(|()| origin.write_all(request.body.as_bytes()))
            .is_err()
        {
            return;
        }
        let Some(response) = read_response(&mut BufReader::new(origin)) else {
            return;
        };
        if writer.write_all(&response).is_err() {
            return;
        }
    }
}

/// One whole response with a Content-Length body, as bytes.
fn read_response(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

/// A container credentials endpoint (ECS, EKS Pod Identity) handing out these credentials.
pub fn container_credentials(access_key: &str, secret_key: &str, session_token: &str) -> Reply {
    Reply::json(
        200,
        serde_json::json!({"AccessKeyId": access_key, "SecretAccessKey": secret_key,
            "Token": session_token, "Expiration": "2099-01-01T00:00:00Z"}),
    )
}

/// The instance metadata service (IMDSv2) of a node whose instance profile role is `node-role`.
pub fn imds(seen: &Seen, access_key: &str, secret_key: &str, session_token: &str) -> Reply {
    match (seen.method.as_str(), seen.target.as_str()) {
        ("PUT", "/latest/api/token") => Reply::WithHeaders(
            200,
            vec![("x-aws-ec2-metadata-token-ttl-seconds", "21600".into())],
            "imds-token".into(),
        ),
        ("GET", "/latest/meta-data/iam/security-credentials/") => {
            Reply::Body(200, "text/plain", "node-role".into())
        }
        ("GET", "/latest/meta-data/iam/security-credentials/node-role") => Reply::json(
            200,
            serde_json::json!({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": access_key,
                "SecretAccessKey": secret_key, "Token": session_token,
                "LastUpdated": "2026-01-01T00:00:00Z", "Expiration": "2099-01-01T00:00:00Z"}),
        ),
        ("GET", "/latest/meta-data/placement/region") => {
            Reply::Body(200, "text/plain", "ap-northeast-1".into())
        }
        _ => Reply::Body(404, "text/plain", "not found".into()),
    }
}
