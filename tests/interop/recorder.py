"""A recording HTTP forwarder on loopback, between the provider and moto.

moto does not say which region a request was signed for, nor what form it was sent: this keeps,
for each request, its Authorization header (the SigV4 scope), its body and moto's answer, then
passes the answer back unchanged, unless a test scripts it: `answer` answers a request in moto's
place, `rewrite` changes moto's answer (see test_differential.py).
"""

import http.client
import http.server
import re
import ssl
import threading
import urllib.parse
from dataclasses import dataclass

from servers import LOOPBACK

_SCOPE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Scope:
    access_key_id: str
    date: str
    region: str
    service: str


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict  # lower-cased names
    body: str
    status: int = 0
    answer: str = ""

    @property
    def operation(self):
        """ECR's X-Amz-Target operation, or the Action of a query-protocol (STS) form."""
        target = self.headers.get("x-amz-target")
        return target.rsplit(".", 1)[-1] if target else self.form().get("Action", "")

    def form(self):
        return {key: values[0] for key, values in urllib.parse.parse_qs(self.body).items()}

    @property
    def scope(self):
        """The SigV4 credential scope, or None for an unsigned request."""
        match = _SCOPE.search(self.headers.get("authorization", ""))
        return Scope(*match.groups()) if match else None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # A burst of connections (scripts/fleet: hundreds of execs at once) waits in the kernel's
    # queue; the default of 5 would drop them, and each client would retry its SYN a second later.
    request_queue_size = 1024


class Recorder:
    def __init__(self, upstream_port, tls=None, answer=None, rewrite=None):
        """`tls`: (certificate file, key file) to serve HTTPS instead of HTTP. `answer(exchange)`:
        None to pass the request to moto, or (status, headers, body) to answer it here.
        `rewrite(exchange, status, body)`: the (status, body) to pass back for moto's answer."""
        self.upstream_port = upstream_port
        self.answer, self.rewrite = answer, rewrite
        self.exchanges = []
        self._lock = threading.Lock()
        self._handler_class = self._handler()
        self._server = _Server((LOOPBACK, 0), self._handler_class)
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="recorder", daemon=True)
        self._thread.start()

    def calls(self, operation):
        with self._lock:
            return [exchange for exchange in self.exchanges if exchange.operation == operation]

    def only(self, operation):
        calls = self.calls(operation)
        assert len(calls) == 1, f"expected one {operation}, saw {[e.operation for e in self.exchanges]}"
        return calls[0]

    def serve_connection(self, sock):
        """Serve one connection accepted elsewhere (tunnel.py's, its TLS already ended), until it closes."""
        self._handler_class(sock, sock.getpeername(), self._server)

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, exchange):
        with self._lock:
            self.exchanges.append(exchange)

    def _handler(self):
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self._forward()

            do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                exchange = Exchange(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                    body.decode(errors="replace"))
                recorder._record(exchange)
                scripted = recorder.answer(exchange) if recorder.answer else None
                if scripted is not None:
                    exchange.status, headers, payload = scripted
                    headers = list(headers.items())
                else:
                    exchange.status, headers, payload = self._ask_moto(body)
                    if recorder.rewrite:
                        exchange.status, payload = recorder.rewrite(exchange, exchange.status, payload)
                exchange.answer = payload.decode(errors="replace")
                self.send_response(exchange.status)
                for name, value in headers:
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _ask_moto(self, body):
                upstream = http.client.HTTPConnection(LOOPBACK, recorder.upstream_port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                    answer = upstream.getresponse()
                    return answer.status, answer.getheaders(), answer.read()
                finally:
                    upstream.close()

            def log_message(self, *args):
                pass

        return Handler
