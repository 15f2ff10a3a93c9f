"""Upstream's ecr-credential-provider v1.37.1 (built by scripts/peers from its published module)
and ours, exec'd the same way on the same request against the same stand-in, case by case.

Each case runs both binaries with an environment built from scratch, the node's keys in it and
the stand-in as the only AWS: moto behind a recording forwarder (recorder.py) that may answer
or rewrite a call as the case says. Compared: the exit code, stdout decoded (auth entries with
their passwords, cacheKeyType, cacheDuration within 5 s) and the calls the stand-in received
(service, API, SigV4 region, signing identity, registryIds or role; and, for the `tunnel`
cases, the endpoint host each binary resolved by itself). Every difference is one entry of
differences.toml, and every entry there is a difference seen here; README's "Where we differ
from upstream" table is rendered from that file's rows.

No traffic leaves loopback: `endpoint` cases set AWS_ENDPOINT_URL to the stand-in and
HTTP(S)_PROXY to a proxy that refuses and records any CONNECT (none may happen); `tunnel` cases
have no endpoint override, only HTTPS_PROXY to tunnel.py, which plays every AWS host name on
loopback, and run in a mount namespace whose /etc/hosts sends the AWS names to 127.0.0.1.
"""

import base64
import json
import re
import subprocess
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import aws
import hosts
import kubelet
import peers
import provider
from recorder import Recorder
from tunnel import Tunnel, TunnelCA

DIFFERENCES = Path(__file__).with_name("differences.toml")
README = Path(__file__).resolve().parents[2] / "README.md"
ACCOUNT = aws.ACCOUNT
ROLE = aws.ROLE_ARN
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/other"
TOKEN = aws.SERVICE_ACCOUNT_TOKEN
ECR_ROLE = "eks.amazonaws.com/ecr-role-arn"
IRSA_ROLE = "eks.amazonaws.com/role-arn"
V1, V1BETA1, V1ALPHA1 = provider.VERSIONS


def ecr(region="us-east-1", suffix="amazonaws.com", kind="dkr.ecr", account=ACCOUNT):
    return f"{account}.{kind}.{region}.{suffix}"


@dataclass(frozen=True)
class Case:
    id: str
    image: str = f"{ecr('eu-west-1')}/team/app"
    version: str = V1
    fields: dict = field(default_factory=dict)  # more request fields (KEP-4412)
    stdin: str = None  # raw stdin in place of the request
    env: dict = field(default_factory=dict)
    keys: bool = True  # the node's keys in the environment
    args: tuple = ()
    stand_in: str = "fresh"  # how the stand-in answers: see StandIn
    route: str = "endpoint"  # "endpoint": AWS_ENDPOINT_URL; "tunnel": the binary's own endpoint


def sa(annotations=None, token=TOKEN):
    return {"serviceAccountToken": token, "serviceAccountAnnotations": annotations or {}}


CASES = [
    # Request versions.
    Case("v1"),
    Case("v1beta1", version=V1BETA1),
    Case("v1alpha1", version=V1ALPHA1),
    # Every host form and partition (the region each call is signed for).
    Case("us-east-1", image=f"{ecr()}/app"),
    Case("ap-southeast-2", image=f"{ecr('ap-southeast-2')}/app:v1"),
    Case("china", image=f"{ecr('cn-north-1', 'amazonaws.com.cn')}/app"),
    Case("fips", image=f"{ecr('us-east-1', kind='dkr.ecr-fips')}/app"),
    Case("dual-stack", image=f"{ecr('us-west-2', 'on.aws', 'dkr-ecr')}/app"),
    Case("dual-stack-china", image=f"{ecr('cn-northwest-1', 'on.amazonwebservices.com.cn', 'dkr-ecr')}/app"),
    Case("eusc", image=f"{ecr('eusc-de-east-1', 'amazonaws.eu')}/app"),
    Case("govcloud", image=f"{ecr('us-gov-west-1')}/app"),
    Case("iso", image=f"{ecr('us-iso-east-1', 'c2s.ic.gov')}/app"),
    Case("isob", image=f"{ecr('us-isob-east-1', 'sc2s.sgov.gov')}/app"),
    Case("isoe", image=f"{ecr('eu-isoe-west-1', 'cloud.adc-e.uk')}/app"),
    Case("isof", image=f"{ecr('us-isof-south-1', 'csp.hci.ic.gov')}/app"),
    Case("digest", image=f"{ecr()}/app@sha256:{'a' * 64}"),
    Case("host-region-over-env", env={"AWS_REGION": "sa-east-1"}),
    # Ports.
    Case("port-443", image=f"{ecr()}:443/app"),
    Case("port-5000", image=f"{ecr()}:5000/app"),
    # Case.
    Case("upper-case-host", image=f"{ecr().upper()}/app", env={"AWS_REGION": "sa-east-1"}),
    Case("upper-case-region", image=f"{ecr('US-WEST-2')}/app"),
    # ECR Public.
    Case("public", image="public.ecr.aws/nginx/nginx"),
    Case("public-alias", image="ecr-public.aws.com/team/app"),
    Case("public-upper-case", image="PUBLIC.ECR.AWS/nginx/nginx", env={"AWS_REGION": "sa-east-1"}),
    # Hosts that are not ECR's: private ECR in the default region (pull-through setups).
    Case("docker-hub", image="docker.io/library/busybox", env={"AWS_REGION": "us-west-1"}),
    Case("not-ecr-no-region", image="registry.example/app"),
    Case("not-ecr-default-region", image="registry.example/app", env={"AWS_DEFAULT_REGION": "ca-central-1"}),
    Case("localhost-port", image="localhost:5000/app", env={"AWS_REGION": "us-west-1"}),
    Case("lookalike", image=f"{ecr()}.evil.example/app", env={"AWS_REGION": "us-west-1"}),
    Case("eleven-digit-account", image=f"{ecr(account='12345678901')}/app", env={"AWS_REGION": "us-west-1"}),
    # The token's expiresAt.
    Case("expires-in-1h", stand_in="1h"),
    Case("expired", stand_in="past"),
    Case("expires-absent", stand_in="absent"),
    Case("public-expired", image="public.ecr.aws/nginx/nginx", stand_in="past"),
    # What ECR answers.
    Case("access-denied", stand_in="denied"),
    Case("public-access-denied", image="public.ecr.aws/nginx/nginx", stand_in="denied"),
    Case("throttled", stand_in="throttled"),
    Case("throttled-once", stand_in="throttled-once"),
    Case("server-error-once", stand_in="500-once"),
    Case("token-not-base64", stand_in="not-base64"),
    Case("token-without-colon", stand_in="no-colon"),
    Case("no-authorization-data", stand_in="empty"),
    Case("answer-over-1mib", stand_in="huge"),
    Case("no-credentials", keys=False),
    # KEP-4412: a service-account token, with and without each annotation and AWS_ECR_ROLE_ARN.
    Case("sa-ecr-role-arn", fields=sa({ECR_ROLE: ROLE}), keys=False),
    Case("sa-role-arn-only", fields=sa({IRSA_ROLE: ROLE})),
    Case("sa-both-annotations", fields=sa({ECR_ROLE: ROLE, IRSA_ROLE: OTHER_ROLE}), keys=False),
    Case("sa-env-role", fields=sa(), env={"AWS_ECR_ROLE_ARN": ROLE}, keys=False),
    Case("sa-annotation-over-env", fields=sa({ECR_ROLE: ROLE}), env={"AWS_ECR_ROLE_ARN": OTHER_ROLE}, keys=False),
    Case("sa-no-role", fields=sa()),
    Case("annotation-without-token", fields=sa({ECR_ROLE: ROLE}, token="")),
    Case("env-role-without-token", env={"AWS_ECR_ROLE_ARN": ROLE}),
    Case("sa-public", image="public.ecr.aws/nginx/nginx", fields=sa({ECR_ROLE: ROLE}), keys=False),
    Case("sa-sts-denied", fields=sa({ECR_ROLE: ROLE}), keys=False, stand_in="sts-denied"),
    # The command line: kOps' `get-credentials`, and flags upstream does not have.
    Case("kops-get-credentials", args=("get-credentials",)),
    Case("verbosity-flag", args=("--v=3",)),
    Case("timeout-flag", args=("--timeout=20s",)),
    Case("unknown-flag", args=("--bogus",)),
    # Bad input.
    Case("empty-stdin", stdin=""),
    Case("not-json", stdin="not json"),
    Case("wrong-kind", stdin=json.dumps({"kind": "Pod", "apiVersion": V1, "image": f"{ecr()}/app"})),
    Case("unknown-version", version="credentialprovider.kubelet.k8s.io/v2"),
    Case("no-image", stdin=json.dumps({"kind": "CredentialProviderRequest", "apiVersion": V1})),
    Case("empty-image", image=""),
    Case("unknown-field", fields={"futureField": {"x": 1}}),
    Case("image-is-a-number", stdin=json.dumps({"kind": "CredentialProviderRequest", "apiVersion": V1, "image": 5})),
    # The endpoint each binary resolves by itself (no AWS_ENDPOINT_URL), through tunnel.py.
    Case("endpoint-us-east-1", image=f"{ecr()}/app", route="tunnel"),
    Case("endpoint-fips", image=f"{ecr('us-east-1', kind='dkr.ecr-fips')}/app", route="tunnel"),
    Case("endpoint-dual-stack", image=f"{ecr('us-west-2', 'on.aws', 'dkr-ecr')}/app", route="tunnel"),
    Case("endpoint-china", image=f"{ecr('cn-north-1', 'amazonaws.com.cn')}/app", route="tunnel"),
    Case("endpoint-govcloud", image=f"{ecr('us-gov-west-1')}/app", route="tunnel"),
    Case("endpoint-public", image="public.ecr.aws/nginx/nginx", route="tunnel"),
    Case("endpoint-sa-role", fields=sa({ECR_ROLE: ROLE}), keys=False, route="tunnel"),
    Case("endpoint-sa-public", image="public.ecr.aws/nginx/nginx", fields=sa({ECR_ROLE: ROLE}), keys=False,
         route="tunnel"),
    Case("endpoint-not-ecr-no-region", image="registry.example/app", route="tunnel"),
    Case("endpoint-upper-case-region", image=f"{ecr('US-WEST-2')}/app", route="tunnel"),
]


# --- The stand-in's scripts ----------------------------------------------------------------------

def _target(exchange):
    return exchange.headers.get("x-amz-target", "")


def service_of(exchange):
    if exchange.scope:
        return exchange.scope.service
    target = _target(exchange)
    if target.startswith("SpencerFrontendService"):
        return "ecr-public"
    if target.startswith("AmazonEC2ContainerRegistry"):
        return "ecr"
    return "sts" if exchange.form().get("Action") else "?"


def _json(status, document, headers=None):
    body = json.dumps(document).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "differential-1",
                    **(headers or {})}, body


def _error(status, code, message):
    return _json(status, {"__type": code, "message": message})


class StandIn:
    """The case's script for the recorder: which calls it answers itself and how it changes
    moto's answers. Token answers carry `expiresAt` as the case says; ECR Public, which moto
    lacks, is answered here in ECR Public's own shape."""

    PUBLIC_PASSWORD = "public-ecr-token"

    def __init__(self, kind):
        self.kind = kind
        self.token_calls = 0

    def expires_at(self):
        return {"fresh": time.time() + 12 * 3600, "1h": time.time() + 3600,
                "past": 1420070400.0}.get(self.kind, time.time() + 12 * 3600)

    def answer(self, exchange):
        if exchange.operation == "AssumeRoleWithWebIdentity" and self.kind == "sts-denied":
            body = ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"
                    "<Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity"
                    "</Message></Error><RequestId>differential-2</RequestId></ErrorResponse>")
            return 403, {"Content-Type": "text/xml"}, body.encode()
        if exchange.operation != "GetAuthorizationToken":
            return None
        self.token_calls += 1
        if self.kind == "denied":
            return _error(400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/node is not "
                          "authorized to perform: ecr:GetAuthorizationToken on resource: *")
        if self.kind == "throttled" or (self.kind == "throttled-once" and self.token_calls == 1):
            return _error(400, "ThrottlingException", "Rate exceeded")
        if self.kind == "500-once" and self.token_calls == 1:
            return _error(500, "ServerException", "internal error")
        if service_of(exchange) == "ecr-public":
            data = {"authorizationToken": base64.b64encode(f"AWS:{self.PUBLIC_PASSWORD}".encode()).decode()}
            if self.kind != "absent":
                data["expiresAt"] = self.expires_at()
            return _json(200, {"authorizationData": data})
        return None  # private ECR: moto's answer, rewritten below

    def rewrite(self, exchange, status, body):
        if exchange.operation != "GetAuthorizationToken" or status != 200:
            return status, body
        document = json.loads(body)
        data = document["authorizationData"][0]
        if self.kind == "absent":
            del data["expiresAt"]
        elif self.kind != "past":  # "past": moto's own, 2015-01-01
            data["expiresAt"] = self.expires_at()
        if self.kind == "not-base64":
            data["authorizationToken"] = "!!not base64!!"
        elif self.kind == "no-colon":
            data["authorizationToken"] = base64.b64encode(b"AWSwithoutcolon").decode()
        elif self.kind == "empty":
            document["authorizationData"] = []
        elif self.kind == "huge":
            document["padding"] = "x" * (1536 * 1024)
        return status, json.dumps(document).encode()


# --- Running one binary -----------------------------------------------------------------------

@dataclass
class Outcome:
    exit: int
    stdout: object  # the decoded response, or the raw text when the exec failed
    calls: list
    stderr: str
    connects: list

    def aspects(self):
        return {"exit": self.exit, "stdout": self.stdout, "calls": self.calls}


def candidate_api_hosts(image):
    """The names an SDK might dial for this image's calls: /etc/hosts sends them to loopback in
    the tunnel cases, in case a binary ever skipped the proxy."""
    host = image.split("/", 1)[0].split(":", 1)[0].lower()
    match = re.match(r"^\d{12}\.dkr[.-]ecr(-fips)?\.([a-z0-9-]+)\.(.+)$", host)
    region, suffix = (match.group(2), match.group(3)) if match else ("us-east-1", "amazonaws.com")
    suffixes = {suffix, "amazonaws.com", "amazonaws.com.cn", "api.aws", "api.amazonwebservices.com.cn"}
    names = set()
    for s in suffixes:
        for prefix in ("api.ecr", "api.ecr-fips", "ecr", "ecr-fips", "sts", "sts-fips"):
            names.add(f"{prefix}.{region}.{s}")
        names.add(f"sts.{s}")
    names.add("ecr-public.us-east-1.api.aws")
    return sorted(names - set(hosts.AWS_API_HOSTS))  # hosts.write adds those


def run_binary(binary, case, moto, ca, workdir, ours):
    stand_in = StandIn(case.stand_in)
    recorder = Recorder(moto.port, answer=stand_in.answer, rewrite=stand_in.rewrite)
    tunnel = Tunnel(ca, recorder, relay=case.route == "tunnel")
    try:
        env = {**case.env}
        if case.keys:
            env.update(AWS_ACCESS_KEY_ID=aws.NODE_KEYS.access_key_id,
                       AWS_SECRET_ACCESS_KEY=aws.NODE_KEYS.secret_access_key)
        if case.route == "endpoint":
            env.update(AWS_ENDPOINT_URL=recorder.url, HTTPS_PROXY=tunnel.url, HTTP_PROXY=tunnel.url,
                       NO_PROXY="127.0.0.1")
        else:
            env.update(HTTPS_PROXY=tunnel.url, AWS_CA_BUNDLE=str(ca.bundle))
        if case.stdin is not None:
            stdin = case.stdin
        else:
            stdin = json.dumps(provider.request(case.image, case.version, **case.fields))
        secrets = [*aws.NODE_KEYS.secrets, TOKEN]
        argv = [str(binary), *case.args]
        if case.route == "tunnel":
            argv = hosts.private(argv, hosts.write(workdir / f"hosts-{case.id}", candidate_api_hosts(case.image)))
        if ours and case.route == "endpoint":
            run = provider.run(stdin, env=env, args=case.args, secrets=secrets)
        else:
            run = exec_once(argv, stdin, env, secrets)
    finally:
        tunnel.close()
        recorder.close()
    return Outcome(run.code, decode(run), calls(recorder.exchanges, case.route), run.stderr, tunnel.connects)


def exec_once(argv, stdin, env, secrets):
    """One exec, as provider.run does it (the base environment, stdin, a timeout), for upstream and
    for the tunnel cases (which go through unshare)."""
    with tempfile.TemporaryDirectory(prefix="differential-home-") as home:
        completed = subprocess.run(argv, input=stdin.encode(), capture_output=True, timeout=90,
                                   env={**provider.base_env(home), **{k: str(v) for k, v in env.items()}})
    result = provider.Exec(completed.returncode, completed.stdout.decode(errors="replace"),
                           completed.stderr.decode(errors="replace"))
    provider.assert_no_secrets(result.stderr, secrets, "stderr")
    return result


def decode(run):
    if run.code != 0:
        return run.stdout
    try:
        response = json.loads(run.stdout)
    except ValueError:
        return run.stdout
    if isinstance(response.get("cacheDuration"), str):
        response["cacheDuration"] = kubelet.parse_go_duration(response["cacheDuration"]) / 1e9
    return response


def calls(exchanges, route):
    """What the stand-in received, in order: service, API, SigV4 region, who signed (the node's
    keys, the role's keys from an earlier STS answer, or nobody), and what was asked for. A call
    repeated after the stand-in answered it 200 is counted once: its answer did not reach the
    client whole (a loopback hiccup under load), which says nothing of either binary."""
    role_keys, seen, previous = set(), [], None
    for exchange in exchanges:
        scope = exchange.scope
        if scope is None:
            identity = "unsigned"
        elif scope.access_key_id == aws.NODE_KEYS.access_key_id:
            identity = "node"
        elif scope.access_key_id in role_keys:
            identity = "role"
        else:
            identity = f"other key {scope.access_key_id}"
        detail = ""
        if exchange.operation == "AssumeRoleWithWebIdentity":
            form = exchange.form()
            detail = f"{form.get('RoleArn')} as {form.get('RoleSessionName')}"
            if form.get("WebIdentityToken") != TOKEN:
                detail += " with another token"
            if exchange.status == 200:
                root = ElementTree.fromstring(exchange.answer)
                role_keys |= {e.text for e in root.iter() if e.tag.endswith("AccessKeyId")}
        elif exchange.body.strip().startswith("{"):
            ids = json.loads(exchange.body).get("registryIds")
            detail = f"registryIds={ids}" if ids else ""
        call = [service_of(exchange), exchange.operation, scope.region if scope else None, identity, detail]
        if route == "tunnel":
            call.append(exchange.headers.get("host"))
        if not (previous and previous[0] == call and previous[1] == 200):
            seen.append(call)
        previous = (call, exchange.status)
    return seen


# --- Comparing --------------------------------------------------------------------------------

def differing(ours, upstream):
    """The aspects in which two outcomes differ; a cacheDuration differs by more than 5 s (a loaded machine)."""
    found = set()
    for aspect, mine in ours.aspects().items():
        theirs = upstream.aspects()[aspect]
        if aspect == "stdout" and isinstance(mine, dict) and isinstance(theirs, dict):
            a, b = dict(mine), dict(theirs)
            da, db = a.pop("cacheDuration", None), b.pop("cacheDuration", None)
            durations_agree = (da is None) == (db is None) and (da is None or abs(da - db) <= 5)
            if a != b or not durations_agree:
                found.add(aspect)
        elif mine != theirs:
            found.add(aspect)
    return found


def allowlist():
    data = tomllib.loads(DIFFERENCES.read_text())
    entries = {}
    for entry in data.get("difference", []):
        assert entry["case"] not in entries, f"{entry['case']} is listed twice in {DIFFERENCES.name}"
        entries[entry["case"]] = entry
    return data, entries


@pytest.fixture(scope="module")
def ca():
    return TunnelCA()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_upstream_and_ours_agree_or_the_difference_is_allowlisted(case, moto, ca, workdir):
    upstream = run_binary(peers.upstream(), case, moto, ca, workdir, ours=False)
    ours = run_binary(provider.binary(), case, moto, ca, workdir, ours=True)

    for name, outcome in (("upstream", upstream), ("ours", ours)):
        if case.route == "endpoint":
            assert outcome.connects == [], f"{name} tried to leave loopback: {outcome.connects}"
        else:  # each call the stand-in saw came through the tunnel, under the name CONNECTed to
            assert {call[-1] for call in outcome.calls} <= {c.rsplit(":", 1)[0] for c in outcome.connects}, outcome

    found = differing(ours, upstream)
    _, entries = allowlist()
    listed = set(entries[case.id]["differs"]) if case.id in entries else set()
    report = (f"case {case.id}: differs in {sorted(found) or 'nothing'}, allowlisted {sorted(listed) or 'nothing'}\n"
              f"--- ours: exit {ours.exit}\nstdout: {ours.stdout}\ncalls: {ours.calls}\nstderr: {ours.stderr}\n"
              f"--- upstream: exit {upstream.exit}\nstdout: {upstream.stdout}\ncalls: {upstream.calls}\n"
              f"stderr: {upstream.stderr}")
    (workdir / "differential").mkdir(exist_ok=True)
    (workdir / "differential" / f"{case.id}.txt").write_text(report)  # what each case saw, kept with the logs
    assert found == listed, report


def test_upstreams_calls_reach_the_stand_in(moto, ca, workdir):
    """The comparison means something only if upstream talks to the stand-in: its token call is
    recorded, signed with the node's keys for the host's region, and its answer is moto's."""
    upstream = run_binary(peers.upstream(), CASES[0], moto, ca, workdir, ours=False)
    assert upstream.exit == 0, upstream
    assert upstream.calls == [["ecr", "GetAuthorizationToken", "eu-west-1", "node", ""]], upstream
    assert upstream.stdout["auth"] == {ecr("eu-west-1"): {"username": "AWS", "password": f"{ACCOUNT}-auth-token"}}
    assert upstream.connects == []


def test_every_allowlist_entry_names_a_case_and_a_reason():
    data, entries = allowlist()
    ids = {case.id for case in CASES}
    assert len(ids) == len(CASES) >= 40
    rows = {row["id"] for row in data["row"]}
    for case, entry in entries.items():
        assert case in ids, f"{DIFFERENCES.name}: no case {case}"
        assert entry["differs"] and set(entry["differs"]) <= {"exit", "stdout", "calls"}, entry
        assert entry["why"].strip(), entry
        assert entry.get("row") is None or entry["row"] in rows, entry
    for row in data["row"]:
        shown = [entry["case"] for entry in entries.values() if entry.get("row") == row["id"]]
        assert shown or row.get("unobserved"), f"README row {row['id']}: no case shows it and no reason why"


def readme_table(data):
    lines = ["| upstream | here |", "| --- | --- |"]
    lines += [f"| {row['upstream']} | {row['here']} |" for row in data["row"]]
    return "\n".join(lines)


def test_the_readme_table_is_the_allowlists_rows():
    """README's "Where we differ from upstream" table is rendered from differences.toml's rows,
    so a claim there is a row here, shown by a case above or marked unobserved with the reason."""
    data, _ = allowlist()
    text = README.read_text()
    start = text.index("### Where we differ from upstream")
    section = text[start:text.index("\n## ", start)]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert table == readme_table(data), ("README's table is not differences.toml's rows; paste this:\n"
                                         + readme_table(data))
