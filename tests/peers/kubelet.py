"""A kubelet-shaped harness: reads a CredentialProviderConfig as the kubelet does (strictly),
matches images against matchImages with the kubelet's per-label glob rules, execs the provider
with the config's args and env, and decodes its response as strictly as the kubelet does."""

import json
import re
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import yaml

VERSIONS = (
    "credentialprovider.kubelet.k8s.io/v1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1alpha1",
)
PROVIDER_FIELDS = {"name", "matchImages", "defaultCacheDuration", "apiVersion", "args", "env", "tokenAttributes"}
TOKEN_FIELDS = {
    "serviceAccountTokenAudience", "requireServiceAccount", "requiredServiceAccountAnnotationKeys",
    "optionalServiceAccountAnnotationKeys", "cacheType",
}
RESPONSE_FIELDS = {"kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth"}


class Rejected(Exception):
    """What the kubelet would refuse: a config at start-up, a response at pull time."""


@dataclass
class Provider:
    name: str
    match_images: list
    default_cache_duration: str
    api_version: str
    args: list = field(default_factory=list)
    env: list = field(default_factory=list)
    token_attributes: dict = None


def _only(fields, allowed, what):
    unknown = set(fields) - allowed
    if unknown:
        raise Rejected(f"unknown field(s) {sorted(unknown)} in {what}")


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_GO_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text):
    """Seconds, by Go's time.ParseDuration grammar; raises ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a string")
    rest = text[1:] if text[:1] in "+-" else text
    sign = -1 if text[:1] == "-" else 1
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total, position = 0.0, 0
    while position < len(rest):
        match = _GO_DURATION.match(rest, position)
        if not match or match.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        position = match.end()
    return sign * total


def load_config(path):
    """The providers of a CredentialProviderConfig, refused on any field the kubelet refuses."""
    document = yaml.safe_load(Path(path).read_text())
    if not isinstance(document, dict):
        raise Rejected("the config is not an object")
    _only(document, {"apiVersion", "kind", "providers"}, "CredentialProviderConfig")
    if document.get("apiVersion") != "kubelet.config.k8s.io/v1" or document.get("kind") != "CredentialProviderConfig":
        raise Rejected("not a kubelet.config.k8s.io/v1 CredentialProviderConfig")
    providers = []
    for raw in document.get("providers") or []:
        _only(raw, PROVIDER_FIELDS, "a provider")
        for required in ("name", "matchImages", "defaultCacheDuration", "apiVersion"):
            if not raw.get(required):
                raise Rejected(f"a provider has no {required}")
        if raw["apiVersion"] not in VERSIONS:
            raise Rejected(f"unknown provider apiVersion {raw['apiVersion']}")
        parse_go_duration(raw["defaultCacheDuration"])
        for variable in raw.get("env") or []:
            _only(variable, {"name", "value"}, "an env entry")
        if raw.get("tokenAttributes") is not None:
            _only(raw["tokenAttributes"], TOKEN_FIELDS, "tokenAttributes")
        providers.append(Provider(
            name=raw["name"], match_images=list(raw["matchImages"]),
            default_cache_duration=raw["defaultCacheDuration"], api_version=raw["apiVersion"],
            args=list(raw.get("args") or []), env=list(raw.get("env") or []),
            token_attributes=raw.get("tokenAttributes"),
        ))
    if not providers:
        raise Rejected("the config has no providers")
    return providers


def _glob_label(pattern, label):
    """Go's filepath.Match for one DNS label (no separators inside a label)."""
    regex, i = "", 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            regex += "[" + ("^" + body[1:] if body.startswith("^") else body) + "]"
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            regex += re.escape(pattern[i])
        else:
            regex += re.escape(char)
        i += 1
    return re.fullmatch(regex, label) is not None


def _parse(text):
    return urllib.parse.urlsplit(text if "://" in text else "https://" + text)


def urls_match(glob, target):
    """The kubelet's URLsMatch: equal label count, each label globbed, equal port, path prefix."""
    glob_url, target_url = _parse(glob), _parse(target)
    glob_labels, target_labels = glob_url.hostname.split("."), (target_url.hostname or "").split(".")
    if glob_url.port != target_url.port or len(glob_labels) != len(target_labels):
        return False
    if not target_url.path.startswith(glob_url.path):
        return False
    return all(_glob_label(g, t) for g, t in zip(glob_labels, target_labels))


def matching(providers, image):
    return [p for p in providers if any(urls_match(glob, image) for glob in p.match_images)]


def repository(image):
    """The image as the kubelet passes it: without tag or digest."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else name


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Rejected(f"duplicate field in {keys}")
    return dict(pairs)


def decode_response(text, api_version):
    """The response as the kubelet decodes it, strictly."""
    try:
        response = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise Rejected(f"stdout is not JSON: {error}") from error
    if not isinstance(response, dict):
        raise Rejected("the response is not an object")
    _only(response, RESPONSE_FIELDS, "the response")
    if response.get("kind") != "CredentialProviderResponse":
        raise Rejected(f"kind {response.get('kind')!r}")
    if response.get("apiVersion") != api_version:
        raise Rejected(f"apiVersion {response.get('apiVersion')!r}, configured {api_version!r}")
    if response.get("cacheKeyType") not in ("Image", "Registry", "Global"):
        raise Rejected(f"cacheKeyType {response.get('cacheKeyType')!r}")
    if "cacheDuration" in response:
        try:
            parse_go_duration(response["cacheDuration"])
        except ValueError as error:
            raise Rejected(str(error)) from error
    auth = response.get("auth") or {}
    if not isinstance(auth, dict):
        raise Rejected("auth is not an object")
    for entry in auth.values():
        if not isinstance(entry, dict):
            raise Rejected("an auth entry is not an object")
        _only(entry, {"username", "password"}, "an auth entry")
        if not all(isinstance(v, str) for v in entry.values()):
            raise Rejected("an auth entry holds a non-string")
    return response


def exec_provider(provider, bin_dir, image, env, timeout=60, **request_fields):
    """What the kubelet does for one pull: exec, one request on stdin, strict decode."""
    full_env = dict(env)
    full_env.update({variable["name"]: variable["value"] for variable in provider.env})
    request = {"kind": "CredentialProviderRequest", "apiVersion": provider.api_version,
               "image": repository(image), **request_fields}
    try:
        completed = subprocess.run(
            [str(Path(bin_dir) / provider.name), *provider.args], input=json.dumps(request).encode(),
            capture_output=True, env=full_env, timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        raise Rejected(f"provider {provider.name} killed after {timeout}s") from error
    if completed.returncode != 0:
        raise Rejected(f"provider {provider.name} exited {completed.returncode}: {completed.stderr.decode()}")
    return decode_response(completed.stdout.decode(), provider.api_version), completed.stderr.decode()
