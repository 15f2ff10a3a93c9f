"""The Docker credential helper mode against docker-credential-ecr-login 0.13.0 (built by
scripts/peers from its module): each case runs both as `docker-credential-ecr-login VERB` with
the same stdin and environment against the same stand-in as test_differential.py, compared on
exit code, stdout (decoded when it is JSON) and the calls the stand-in received. Differences
are `[[helper_difference]]` entries of differences.toml; README's table for the helper is its
`[[helper_row]]` rows."""

import json
import os
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass

import pytest

import aws
import peers
import provider
from recorder import Recorder
from test_differential import DIFFERENCES, README, StandIn, calls, ecr
from tunnel import Tunnel, TunnelCA

NAME = "docker-credential-ecr-login"
PRIVATE = ecr("eu-west-1")


@dataclass(frozen=True)
class Case:
    id: str
    verb: str = "get"
    stdin: str = PRIVATE
    stand_in: str = "fresh"
    keys: bool = True


CASES = [
    Case("get-private"),
    Case("get-private-url", stdin=f"https://{PRIVATE}/v2/\n"),
    Case("get-private-port", stdin=f"{PRIVATE}:443"),
    Case("get-china", stdin=ecr("cn-north-1", "amazonaws.com.cn")),
    Case("get-fips", stdin=ecr("us-east-1", kind="dkr.ecr-fips")),
    Case("get-public", stdin="public.ecr.aws"),
    Case("get-not-ecr", stdin="registry.example"),
    Case("get-docker-hub", stdin="https://index.docker.io/v1/"),
    Case("get-denied", stand_in="denied"),
    Case("get-public-denied", stdin="public.ecr.aws", stand_in="denied"),
    Case("get-throttled", stand_in="throttled"),
    Case("get-no-credentials", keys=False),
    Case("get-empty", stdin=""),
    Case("store", verb="store", stdin=json.dumps({"ServerURL": PRIVATE, "Username": "AWS", "Secret": "x"})),
    Case("erase", verb="erase"),
    Case("version", verb="version", stdin=""),
    Case("unknown-verb", verb="frobnicate", stdin=""),
]


def run_helper(binary, case, moto, workdir):
    bin_dir = workdir / f"helper-{binary.parent.name}-{binary.name}"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / NAME
    if not link.exists():
        link.symlink_to(binary)
    stand_in = StandIn(case.stand_in)
    recorder = Recorder(moto.port, answer=stand_in.answer, rewrite=stand_in.rewrite)
    net = Tunnel(TunnelCA(), recorder, relay=False)
    try:
        with tempfile.TemporaryDirectory(prefix="helper-home-") as home:
            env = {**provider.base_env(home), "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
                   "AWS_ENDPOINT_URL": recorder.url, "HTTPS_PROXY": net.url, "HTTP_PROXY": net.url,
                   "NO_PROXY": "127.0.0.1", "AWS_ECR_DISABLE_CACHE": "true"}
            if case.keys:
                env.update(AWS_ACCESS_KEY_ID=aws.NODE_KEYS.access_key_id,
                           AWS_SECRET_ACCESS_KEY=aws.NODE_KEYS.secret_access_key)
            completed = subprocess.run([str(link), case.verb], input=case.stdin.encode(), capture_output=True,
                                       timeout=90, env=env)
    finally:
        net.close()
        recorder.close()
    assert net.connects == [], f"{binary} tried to leave loopback: {net.connects}"
    out = completed.stdout.decode(errors="replace")
    provider.assert_no_secrets(completed.stderr.decode(errors="replace"), aws.NODE_KEYS.secrets, "stderr")
    try:
        stdout = json.loads(out)
    except ValueError:
        stdout = out.strip()
    return {"exit": completed.returncode, "stdout": stdout, "calls": calls(recorder.exchanges, "endpoint"),
            "stderr": completed.stderr.decode(errors="replace")}


def helper_allowlist():
    data = tomllib.loads(DIFFERENCES.read_text())
    return data, {entry["case"]: entry for entry in data.get("helper_difference", [])}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_ecr_login_and_ours_agree_or_the_difference_is_allowlisted(case, moto, workdir):
    theirs = run_helper(peers.ecr_login(), case, moto, workdir)
    ours = run_helper(provider.binary(), case, moto, workdir)
    found = {aspect for aspect in ("exit", "stdout", "calls") if ours[aspect] != theirs[aspect]}
    _, entries = helper_allowlist()
    listed = set(entries[case.id]["differs"]) if case.id in entries else set()
    report = (f"case {case.id}: differs in {sorted(found) or 'nothing'}, allowlisted {sorted(listed) or 'nothing'}\n"
              f"--- ours: {ours}\n--- ecr-login 0.13.0: {theirs}")
    (workdir / "differential").mkdir(exist_ok=True)
    (workdir / "differential" / f"helper-{case.id}.txt").write_text(report)
    assert found == listed, report


def test_every_helper_allowlist_entry_names_a_case_and_a_reason():
    data, entries = helper_allowlist()
    ids = {case.id for case in CASES}
    rows = {row["id"] for row in data["helper_row"]}
    for case, entry in entries.items():
        assert case in ids, f"{DIFFERENCES.name}: no helper case {case}"
        assert entry["differs"] and set(entry["differs"]) <= {"exit", "stdout", "calls"}, entry
        assert entry["why"].strip() and (entry.get("row") is None or entry["row"] in rows), entry
    for row in data["helper_row"]:
        shown = [entry["case"] for entry in entries.values() if entry.get("row") == row["id"]]
        assert shown or row.get("unobserved"), f"README helper row {row['id']}: no case shows it and no reason why"


def test_the_readme_helper_table_is_the_allowlists_rows():
    data, _ = helper_allowlist()
    lines = ["| amazon-ecr-credential-helper | here |", "| --- | --- |"]
    lines += [f"| {row['upstream']} | {row['here']} |" for row in data["helper_row"]]
    text = README.read_text()
    start = text.index("## Docker, podman, skopeo, buildah, nerdctl")
    section = text[start:text.index("\n## ", start + 3)]
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    assert table == "\n".join(lines), "README's helper table is not differences.toml's helper rows:\n" + "\n".join(lines)
