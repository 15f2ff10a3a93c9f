"""A CONNECT proxy on loopback that plays every AWS endpoint, to see which endpoint a client
resolves by itself (no AWS_ENDPOINT_URL).

For `CONNECT HOST:443` it records HOST, answers 200 and ends the client's TLS with a certificate
for HOST signed by its own CA (the client trusts it through AWS_CA_BUNDLE), then relays the
plain HTTP inside to a Recorder, which sees HOST in the Host header. Nothing is ever dialled but
that recorder on 127.0.0.1: the proxy resolves no name. With `relay=False` it refuses every
CONNECT with 403 and only records it: a net under tests whose endpoint is overridden, catching a
client that would go elsewhere.
"""

import datetime
import ipaddress
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from servers import LOOPBACK


class TunnelCA:
    """A private CA, and a certificate for each host name on demand (EC P-256: cheap to make)."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tunnel-ca-"))
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "interop tunnel CA")])
        self._name = name
        self._cert = self._sign(name, self._key.public_key(), [], ca=True)
        self.bundle = self.dir / "ca.pem"
        self.bundle.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._contexts = {}
        self._lock = threading.Lock()

    def _sign(self, subject, public_key, names, ca=False):
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self._name)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                                            critical=False)
        return builder.sign(self._key, hashes.SHA256())

    def context(self, host):
        """A server-side TLS context presenting a certificate for `host`."""
        host = host.lower()
        with self._lock:
            if host not in self._contexts:
                try:
                    names = [x509.IPAddress(ipaddress.ip_address(host))]
                except ValueError:
                    names = [x509.DNSName(host)]
                key = ec.generate_private_key(ec.SECP256R1())
                cert = self._sign(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]),
                                  key.public_key(), names)
                stem = self.dir / f"{len(self._contexts)}"
                (stem.with_suffix(".pem")).write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                                                       + self._cert.public_bytes(serialization.Encoding.PEM))
                (stem.with_suffix(".key")).write_bytes(key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(stem.with_suffix(".pem"), stem.with_suffix(".key"))
                self._contexts[host] = context
            return self._contexts[host]


class Tunnel:
    """The proxy; `connects` lists each CONNECT target (host:port, as the client wrote it)."""

    def __init__(self, ca, recorder, relay=True):
        self.ca, self.recorder, self.relay = ca, recorder, relay
        self.connects = []
        self._lock = threading.Lock()
        tunnel = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                tunnel._serve(self.request)

        self._server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="tunnel", daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _serve(self, client):
        client.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk or len(head) > 16384:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        method, _, rest = line.partition(" ")
        target = rest.rsplit(" ", 1)[0]
        with self._lock:
            self.connects.append(target if method == "CONNECT" else line)
        if method != "CONNECT" or not self.relay:
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        host = target.rsplit(":", 1)[0].strip("[]")
        try:
            tls = self.ca.context(host).wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused the certificate: what it says is the test's business
        with tls:
            self.recorder.serve_connection(tls)
