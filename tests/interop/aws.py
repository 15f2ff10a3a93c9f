"""AWS-side helpers shared by the suite: keys, boto3 clients for moto, and the IAM world that
reproduces the least-privilege 403."""

import json
import sys
from dataclasses import dataclass

import boto3
import botocore.config

from servers import Server, free_port, tool_env

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
PULL_ACTIONS = ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability")
USERS = {"token-only": ("ecr:GetAuthorizationToken",), "puller": PULL_ACTIONS}
# Pod roles (KEP-4412), assumed with a service-account token, with the same two policies.
ROLES = {"pod-token-only": USERS["token-only"], "pod-puller": PULL_ACTIONS}


# KEP-4412: a pod's service-account token (a JWT in form; moto does not verify it) and the role
# its service account names in the IRSA annotation.
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/pull"
ROLE_ANNOTATION = "eks.amazonaws.com/ecr-role-arn"
SERVICE_ACCOUNT_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImludGVyb3AifQ."
    "eyJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZSIsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDphcHBzOnB1bGxlciJ9."
    "c2lnbmF0dXJlLW5vdC1jaGVja2VkLWJ5LW1vdG8")


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str
    session_token: str = ""

    @property
    def secrets(self):
        return [self.secret_access_key, self.session_token]


# The node's identity against a moto without IAM enforcement (any keys do); the secret must not leak.
NODE_KEYS = Keys("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def ecr_host(region=REGION, account=ACCOUNT):
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def client(service, endpoint, keys=NODE_KEYS, region=REGION):
    """A boto3 client for moto: no retries (a denial must surface at once), no machine settings."""
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key, aws_session_token=keys.session_token or None,
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def start_moto(name, log_dir, **env):
    """moto_server on a free loopback port, through this interpreter (a fresh pip install may have
    put no moto_server shim on PATH)."""
    port = free_port()
    return Server(name, [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port,
                  tool_env(log_dir, **env), log_dir)


@dataclass(frozen=True)
class IamWorld:
    """A moto that enforces IAM, with a repository holding one image and two users."""
    url: str
    account_id: str
    region: str
    repository: str
    tag: str
    users: dict  # user name → Keys
    roles: dict  # role name → ARN

    @property
    def image(self):
        """The repository as the kubelet puts it in a request (no tag)."""
        return f"{ecr_host(self.region, self.account_id)}/{self.repository}"

    def ecr(self, user):
        return client("ecr", self.url, self.users[user], self.region)


def iam_setup_steps(repository, image, found):
    """The setup as steps of exactly one AWS request each: moto counts requests for
    INITIAL_NO_AUTH_ACTION_COUNT. Each step takes (ecr, iam) clients; `found` collects the
    account id and each user's keys."""

    def create_repository(ecr, iam):
        ecr.create_repository(repositoryName=repository)

    def put_image(ecr, iam):
        ecr.put_image(repositoryName=repository, imageTag=image.tag, imageManifest=image.manifest.decode(),
                      imageManifestMediaType=json.loads(image.manifest)["mediaType"])

    def create_user(user):
        def step(ecr, iam):
            found["account_id"] = iam.create_user(UserName=user)["User"]["Arn"].split(":")[4]
        return step

    def allow(user, actions):
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
        return lambda ecr, iam: iam.put_user_policy(UserName=user, PolicyName="ecr", PolicyDocument=json.dumps(policy))

    def create_access_key(user):
        def step(ecr, iam):
            key = iam.create_access_key(UserName=user)["AccessKey"]
            found.setdefault("users", {})[user] = Keys(key["AccessKeyId"], key["SecretAccessKey"])
        return step

    def create_role(role):
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                          "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.example"}}]}

        def step(ecr, iam):
            arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
            found.setdefault("roles", {})[role] = arn
        return step

    def allow_role(role, actions):
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
        return lambda ecr, iam: iam.put_role_policy(RoleName=role, PolicyName="ecr", PolicyDocument=json.dumps(policy))

    steps = [create_repository, put_image]
    for user, actions in USERS.items():
        steps += [create_user(user), allow(user, actions), create_access_key(user)]
    for role, actions in ROLES.items():
        steps += [create_role(role), allow_role(role, actions)]
    return steps


def build_iam_world(log_dir, image, repository="team/app"):
    """Start moto letting exactly the setup's requests through unauthenticated, run the setup, and
    return the world and its server (the caller stops it)."""
    found = {}
    steps = iam_setup_steps(repository, image, found)
    server = start_moto("moto-iam", log_dir, INITIAL_NO_AUTH_ACTION_COUNT=len(steps))
    try:
        anyone = Keys("AKIAANYONEANYONE0000", "any-secret")  # unauthenticated: any keys will do
        ecr, iam = client("ecr", server.url, anyone), client("iam", server.url, anyone)
        for step in steps:
            step(ecr, iam)
        world = IamWorld(server.url, found["account_id"], REGION, repository, image.tag, found["users"],
                         found["roles"])
    except BaseException:
        server.stop()
        raise
    return world, server


def let_one_unsigned_call_through(world):
    """AWS does not authenticate STS AssumeRoleWithWebIdentity (the token is the credential);
    moto checks its signature like any call's once IAM is enforced. Let exactly the next request
    through unchecked: the provider makes that one first."""
    import urllib.request
    request = urllib.request.Request(f"{world.url}/moto-api/reset-auth", data=b"1", method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
