"""The provider through tinyproxy, a real HTTP proxy with basic auth: plain and CONNECT
requests carry the user:password from the proxy variable, the proxy's own refusals are named as
the proxy's, and the proxy's password never reaches stderr."""

import pytest

import aws
import provider
from recorder import Recorder
from servers import LOOPBACK, Server, free_port, require_tool, tool_env
from test_tls import private_ca  # noqa: F401  (a fixture)

USER, PASSWORD = "node", "tinyproxy-pa55word"
IMAGE = f"{aws.ecr_host()}/app"


def start_tinyproxy(workdir, connect_port=443):
    binary = require_tool("tinyproxy", "apt-get install -y tinyproxy")
    port = free_port()
    config = workdir / f"tinyproxy-{port}.conf"
    config.write_text("\n".join([
        f"Port {port}", f"Listen {LOOPBACK}", f"Allow {LOOPBACK}", "Timeout 30", "MaxClients 20",
        f"BasicAuth {USER} {PASSWORD}", f"ConnectPort {connect_port}", "LogLevel Connect", "",
    ]))
    return Server(f"tinyproxy-{port}", [binary, "-d", "-c", str(config)], port, tool_env(workdir), workdir)


@pytest.fixture
def recorder_behind_tinyproxy(recorder, workdir):
    proxy = start_tinyproxy(workdir)
    yield recorder, proxy
    proxy.stop()


def proxy_url(proxy, password=PASSWORD):
    return f"http://{USER}:{password}@{LOOPBACK}:{proxy.port}"


def run(endpoint, secrets=(), **env):
    return provider.run(provider.request(IMAGE), env=provider.aws_env(endpoint, aws.NODE_KEYS, **env),
                        secrets=(*aws.NODE_KEYS.secrets, PASSWORD, *secrets))


def test_the_token_call_goes_through_the_proxy_with_its_credentials(recorder_behind_tinyproxy):
    recorder, proxy = recorder_behind_tinyproxy
    host, username, password = run(recorder.url, HTTP_PROXY=proxy_url(proxy)).only_auth()
    assert (host, username) == (aws.ecr_host(), "AWS") and password
    call = recorder.only("GetAuthorizationToken")
    assert "tinyproxy" in call.headers.get("via", ""), call.headers  # it came through the proxy


def test_a_wrong_proxy_password_is_named_as_the_proxys_refusal(recorder_behind_tinyproxy):
    """tinyproxy answers wrong credentials with 401 and a Basic challenge (no credentials get 407)."""
    recorder, proxy = recorder_behind_tinyproxy
    wrong = "not-the-pa55word"
    result = run(recorder.url, secrets=(wrong,), HTTP_PROXY=proxy_url(proxy, wrong))
    assert result.code == 1, result
    assert (f"the proxy http://{LOOPBACK}:{proxy.port} from HTTP_PROXY" in result.stderr
            and "it answered 401 Unauthorized" in result.stderr and "USER:PASSWORD" in result.stderr), result
    assert not recorder.exchanges


def test_a_connect_the_proxy_refuses_is_named_with_its_status(workdir):
    proxy = start_tinyproxy(workdir, connect_port=443)
    try:
        closed = free_port()
        result = run(f"https://{LOOPBACK}:{closed}", HTTPS_PROXY=proxy_url(proxy))
    finally:
        proxy.stop()
    assert result.code == 1, result
    assert (f"the proxy http://{LOOPBACK}:{proxy.port} from HTTPS_PROXY refused the connection to "
            f"{LOOPBACK}:{closed}: it answered CONNECT with 403" in result.stderr), result


def test_https_through_the_proxys_tunnel(moto, workdir, private_ca):  # noqa: F811
    https_moto = Recorder(moto.port, tls=(private_ca / "leaf.pem", private_ca / "leaf.key"))
    proxy = start_tinyproxy(workdir, connect_port=https_moto.url.rsplit(":", 1)[1])
    try:
        result = run(https_moto.url, HTTPS_PROXY=proxy_url(proxy), AWS_CA_BUNDLE=private_ca / "ca.pem")
    finally:
        proxy.stop()
        https_moto.close()
    host, _, password = result.only_auth()
    assert host == aws.ecr_host() and password
    assert https_moto.only("GetAuthorizationToken").scope.region == aws.REGION
    # Through the tunnel, and through one only: the connection started while the credentials
    # resolved is the one the token call takes.
    assert proxy.log().count(f"CONNECT {LOOPBACK}:{https_moto.url.rsplit(':', 1)[1]}") == 1


def test_an_untrusted_certificate_through_the_tunnel_is_the_endpoints_not_the_proxys(moto, workdir,
                                                                                     private_ca):  # noqa: F811
    """What a TLS-inspecting proxy looks like: the tunnel works, the certificate on its far end
    is not trusted. The fix is AWS_CA_BUNDLE, not the proxy's address."""
    https_moto = Recorder(moto.port, tls=(private_ca / "leaf.pem", private_ca / "leaf.key"))
    proxy = start_tinyproxy(workdir, connect_port=https_moto.url.rsplit(":", 1)[1])
    try:
        result = run(https_moto.url, HTTPS_PROXY=proxy_url(proxy))
    finally:
        proxy.stop()
        https_moto.close()
    assert result.code == 1, result
    assert "certificate" in result.stderr and "point AWS_CA_BUNDLE" in result.stderr, result
    assert "could not reach the proxy" not in result.stderr and "check HTTPS_PROXY" not in result.stderr, result
    assert not https_moto.exchanges, "no request got through the TLS handshake"
