"""The provider through tinyproxy, a real HTTP proxy with basic auth (and behind stunnel, an
https:// proxy): plain and CONNECT requests carry the user:password from the proxy variable, the
proxy's own refusals and certificate are named as the proxy's, the endpoint's certificate as the
endpoint's, and the proxy's password never reaches stderr."""

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


@pytest.fixture
def https_moto_behind_tinyproxy(moto, workdir, private_ca):  # noqa: F811
    """moto over HTTPS (the private CA's certificate), reachable through tinyproxy's tunnel."""
    https_moto = Recorder(moto.port, tls=(private_ca / "leaf.pem", private_ca / "leaf.key"))
    proxy = start_tinyproxy(workdir, connect_port=https_moto.url.rsplit(":", 1)[1])
    yield https_moto, proxy
    proxy.stop()
    https_moto.close()


def test_https_through_the_proxys_tunnel(https_moto_behind_tinyproxy, private_ca):  # noqa: F811
    https_moto, proxy = https_moto_behind_tinyproxy
    result = run(https_moto.url, HTTPS_PROXY=proxy_url(proxy), AWS_CA_BUNDLE=private_ca / "ca.pem")
    host, _, password = result.only_auth()
    assert host == aws.ecr_host() and password
    assert https_moto.only("GetAuthorizationToken").scope.region == aws.REGION
    # Through the tunnel, and through one only: the connection started while the credentials
    # resolved is the one the token call takes.
    assert proxy.log().count(f"CONNECT {LOOPBACK}:{https_moto.url.rsplit(':', 1)[1]}") == 1


def test_an_untrusted_certificate_through_the_tunnel_is_the_endpoints_not_the_proxys(https_moto_behind_tinyproxy):
    """What a TLS-inspecting proxy looks like: the tunnel works, the certificate on its far end
    is not trusted. The fix is AWS_CA_BUNDLE, not the proxy's address."""
    https_moto, proxy = https_moto_behind_tinyproxy
    result = run(https_moto.url, HTTPS_PROXY=proxy_url(proxy))
    assert result.code == 1, result
    assert "certificate" in result.stderr and "point AWS_CA_BUNDLE" in result.stderr, result
    assert "could not reach the proxy" not in result.stderr and "check HTTPS_PROXY" not in result.stderr, result
    assert not https_moto.exchanges, "no request got through the TLS handshake"


def start_stunnel(workdir, private_ca, upstream_port):  # noqa: F811
    """TLS in front of a plain proxy, as an https:// proxy is often made: stunnel with the
    private CA's certificate for 127.0.0.1."""
    binary = require_tool("stunnel", "apt-get install -y stunnel4")
    port = free_port()
    config = workdir / f"stunnel-{port}.conf"
    config.write_text("\n".join([
        "foreground = yes", "pid =", "[proxy]", f"accept = {LOOPBACK}:{port}",
        f"connect = {LOOPBACK}:{upstream_port}", f"cert = {private_ca / 'leaf.pem'}",
        f"key = {private_ca / 'leaf.key'}", "",
    ]))
    return Server(f"stunnel-{port}", [binary, str(config)], port, tool_env(workdir), workdir)


@pytest.fixture
def https_moto_behind_https_proxy(https_moto_behind_tinyproxy, workdir, private_ca):  # noqa: F811
    """The same, with stunnel in front of tinyproxy: an https:// proxy URL."""
    https_moto, proxy = https_moto_behind_tinyproxy
    tls_proxy = start_stunnel(workdir, private_ca, proxy.port)
    yield https_moto, f"https://{USER}:{PASSWORD}@{LOOPBACK}:{tls_proxy.port}"
    tls_proxy.stop()


def test_an_https_proxy_tunnels_to_https_when_its_ca_is_trusted(https_moto_behind_https_proxy, private_ca):  # noqa: F811
    https_moto, proxy = https_moto_behind_https_proxy
    result = run(https_moto.url, HTTPS_PROXY=proxy, AWS_CA_BUNDLE=private_ca / "ca.pem")
    host, _, password = result.only_auth()
    assert host == aws.ecr_host() and password
    assert https_moto.only("GetAuthorizationToken").scope.region == aws.REGION


def test_an_https_proxys_untrusted_certificate_is_named_as_the_proxys(https_moto_behind_https_proxy):
    https_moto, proxy = https_moto_behind_https_proxy
    result = run(https_moto.url, HTTPS_PROXY=proxy)
    assert result.code == 1, result
    port = proxy.rsplit(":", 1)[1]
    assert f"the proxy https://{LOOPBACK}:{port} from HTTPS_PROXY" in result.stderr, result
    assert "its TLS certificate is not trusted" in result.stderr and "point AWS_CA_BUNDLE" in result.stderr, result
    assert not https_moto.exchanges
