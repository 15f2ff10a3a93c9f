"""A loopback HTTP forwarder that records what the provider sent before passing it to moto:
moto does not tell which region a request was signed for, nor what token it was given."""

import http.client
import http.server
import re
import threading
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: str
    response: str = ""

    @property
    def operation(self):
        target = self.headers.get("x-amz-target")
        if target:
            return target.rsplit(".", 1)[-1]
        return self.form().get("Action", "")

    def form(self):
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body).items()}

    def scope(self):
        """(access key, region, service) of the SigV4 signature, or None if unsigned."""
        match = re.search(r"Credential=([^/]+)/\d+/([^/]+)/([^/]+)/aws4_request", self.headers.get("authorization", ""))
        return match.groups() if match else None


@dataclass
class Recorder:
    upstream_port: int
    seen: list = field(default_factory=list)
    url: str = ""

    def calls(self, operation):
        return [s for s in self.seen if s.operation == operation]


def start(upstream_port, tls=None):
    """`tls`: (certificate file, key file) to serve HTTPS instead of HTTP."""
    recorder = Recorder(upstream_port)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.forward()

        def do_GET(self):
            self.forward()

        def forward(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen = Seen(self.command, self.path, headers, body.decode("utf-8", "replace"))
            recorder.seen.append(seen)
            upstream = http.client.HTTPConnection("127.0.0.1", recorder.upstream_port, timeout=30)
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
            answer = upstream.getresponse()
            payload = answer.read()
            seen.response = payload.decode("utf-8", "replace")
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            upstream.close()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if tls:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    recorder.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    recorder.server = server
    return recorder
