"""A kubelet-shaped harness for exec credential providers, written from the kubelet's rules.

- `load_config`: a CredentialProviderConfig (kubelet.config.k8s.io/v1, YAML or JSON) decoded
  strictly (unknown or duplicate fields refused) and validated as the kubelet does at start-up.
- `urls_match`: matchImages as the kubelet matches them (credentialprovider.URLsMatch): both sides
  parsed as URLs after prefixing https://, equal ports, equal numbers of DNS labels, each label
  matched with Go's filepath.Match, and the glob's path a prefix of the image's.
- `exec_provider`: exec BIN_DIR/NAME with the config's args, the config's env appended to the
  given environment (the config wins), one request on stdin, killed at a timeout (1 minute in
  the kubelet), then `decode_response`: the strict decode the kubelet applies to stdout.
"""

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

CONFIG_API_VERSION = "kubelet.config.k8s.io/v1"
REQUEST_VERSIONS = (
    "credentialprovider.kubelet.k8s.io/v1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1alpha1",
)
CACHE_KEY_TYPES = ("Image", "Registry", "Global")
TOKEN_CACHE_TYPES = ("Token", "ServiceAccount")
KUBELET_TIMEOUT = 60.0


def minimal_environ():
    """The kubelet's own environment, reduced to what any process needs."""
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class Rejected(Exception):
    """What the kubelet refuses: a config (it would not start) or a provider's response."""


class ExecFailed(Exception):
    """The provider exited non-zero or was killed: the pull gets no credentials from it."""


class BadPattern(ValueError):
    """Go's filepath.ErrBadPattern."""


# --- Go's path/filepath.Match (Unix: '/' is the separator, '\\' escapes) -----------------------

def go_match(pattern, name):
    """Go's filepath.Match: '*' any run of non-'/' characters, '?' one, '[...]' a class with
    ranges and '^' negation, '\\' escapes. Raises BadPattern for a malformed pattern, even when
    the name already failed to match (as Go does)."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest, unless it holds a separator
        rest = _match_chunk(chunk, name)
        if rest is not None and (not rest or pattern):
            name = rest
            continue
        if star:
            rest = _match_after_skipping(chunk, name, last=not pattern)
            if rest is not None:
                name = rest
                continue
        while pattern:  # before answering no, the rest of the pattern must still be well-formed
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def _match_after_skipping(chunk, name, last):
    """A star's turn: the chunk matched after skipping 1, 2, ... characters, never a '/'; the
    last chunk must consume the whole name."""
    for i in range(len(name)):
        if name[i] == "/":
            break
        rest = _match_chunk(chunk, name[i + 1:])
        if rest is not None and not (last and rest):
            return rest
    return None


def _scan_chunk(pattern):
    """(preceded by a star, the chunk up to the next star outside a class, the rest)."""
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            i += 1
        elif char == "[":
            in_range = True
        elif char == "]":
            in_range = False
        elif char == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk, s):
    """The rest of `s` after `chunk` matched its beginning, or None. Parses the whole chunk even
    after a mismatch, so that a malformed chunk always raises BadPattern."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        head = chunk[0]
        if head == "[":
            char = None
            if not failed:
                char, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched, ranges = False, 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                low, chunk = _class_char(chunk)
                high = low
                if chunk[0] == "-":
                    high, chunk = _class_char(chunk[1:])
                if char is not None and low <= char <= high:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif head == "?":
            if not failed:
                failed = s[0] == "/"
                s = s[1:]
            chunk = chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern("trailing backslash")
            if not failed:
                failed = chunk[0] != s[0]
                s = s[1:]
            chunk = chunk[1:]
    return None if failed else s


def _class_char(chunk):
    """Go's getEsc: one possibly escaped character of a class, and what follows it."""
    if not chunk or chunk[0] in "-]":
        raise BadPattern("bad character class")
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern("bad escape in character class")
    if len(chunk) < 2:
        raise BadPattern("unterminated character class")
    return chunk[0], chunk[1:]


# --- matchImages ---------------------------------------------------------------------------------

def parse_schemeless_url(text):
    """(host, port, path) as the kubelet gets them from Go's url.Parse("https://" + text) and
    net.SplitHostPort: the prefix is added whatever `text` holds, '#' and '?' end the host and
    path, and a port must be numeric."""
    text = text.split("#", 1)[0].split("?", 1)[0]
    authority, slash, path = text.partition("/")
    host, port = authority.rsplit("@", 1)[-1], ""
    if host.startswith("["):  # an IPv6 literal
        end = host.find("]")
        if end < 0:
            raise ValueError(f"missing ']' in host of {text!r}")
        host, port = host[:end + 1], host[end + 1:]
        if port and not port.startswith(":"):
            raise ValueError(f"invalid port {port!r} after host in {text!r}")
        if port:
            host, port = host[1:-1], port[1:]
    elif ":" in host:
        host, port = host.rsplit(":", 1)
    if port and not (port.isascii() and port.isdigit()):
        raise ValueError(f"invalid port {port!r} after host in {text!r}")
    return host, port, slash + path


def urls_match(glob, target):
    """The kubelet's URLsMatch(glob, target)."""
    glob_host, glob_port, glob_path = parse_schemeless_url(glob)
    host, port, path = parse_schemeless_url(target)
    glob_labels, labels = glob_host.split("."), host.split(".")
    if glob_port != port or len(glob_labels) != len(labels) or not path.startswith(glob_path):
        return False
    return all(go_match(g, label) for g, label in zip(glob_labels, labels, strict=True))


def repository(image):
    """The image as the kubelet puts it in the request: without tag or digest."""
    name = image.split("@", 1)[0]
    registry, slash, rest = name.rpartition("/")
    return registry + slash + rest.split(":", 1)[0]


# --- Go's time.ParseDuration -------------------------------------------------------------------

_UNITS_NS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6, "s": 10**9,
             "m": 60 * 10**9, "h": 3600 * 10**9}
_MAX_NS = 1 << 63


def parse_go_duration(text):
    """Nanoseconds, by Go's grammar [-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+ with its units and overflow
    rules; ValueError otherwise (a bare number other than "0" has no unit and is invalid)."""
    if not isinstance(text, str):
        raise ValueError(f"a duration must be a string, not {text!r}")
    original, negative = text, text[:1] == "-"
    if text[:1] in ("-", "+"):
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f"invalid duration {original!r}")
    total = 0
    while text:
        if not (text[0] == "." or _is_digit(text[0])):
            raise ValueError(f"invalid duration {original!r}")
        whole, text = _take(text, _is_digit)
        fraction = ""
        if text.startswith("."):
            fraction, text = _take(text[1:], _is_digit)
        if not whole and not fraction:
            raise ValueError(f"invalid duration {original!r}")  # "." or ".s"
        unit, text = _take(text, lambda c: c != "." and not _is_digit(c))
        if not unit:
            raise ValueError(f"missing unit in duration {original!r}")
        if unit not in _UNITS_NS:
            raise ValueError(f"unknown unit {unit!r} in duration {original!r}")
        scale = _UNITS_NS[unit]
        value = int(whole or "0")
        if value > _MAX_NS // scale:
            raise ValueError(f"invalid duration {original!r}")
        value *= scale
        numerator, denominator = _leading_fraction(fraction)
        if numerator:
            value += int(numerator * (scale / denominator))  # in float64, as Go
        total += value
        if value > _MAX_NS or total > _MAX_NS:
            raise ValueError(f"invalid duration {original!r}")
    if not negative and total > _MAX_NS - 1:
        raise ValueError(f"invalid duration {original!r}")
    return -total if negative else total


def _leading_fraction(digits):
    """Go's leadingFraction: the digits as an integer over a power of ten, ignoring digits that
    would overflow an int64."""
    numerator, denominator = 0, 1
    for digit in digits:
        if numerator > (_MAX_NS - 1) // 10 or numerator * 10 + int(digit) > _MAX_NS:
            break
        numerator, denominator = numerator * 10 + int(digit), denominator * 10
    return numerator, denominator


def _is_digit(char):
    return "0" <= char <= "9"


def _take(text, keep):
    """The longest prefix of `text` whose characters all satisfy `keep`, and the rest."""
    i = 0
    while i < len(text) and keep(text[i]):
        i += 1
    return text[:i], text[i:]


# --- CredentialProviderConfig --------------------------------------------------------------------

@dataclass
class TokenAttributes:
    service_account_token_audience: str
    require_service_account: bool
    cache_type: str
    required_annotation_keys: list = field(default_factory=list)
    optional_annotation_keys: list = field(default_factory=list)


@dataclass
class Provider:
    name: str
    match_images: list
    default_cache_duration: str
    api_version: str
    args: list = field(default_factory=list)
    env: list = field(default_factory=list)  # [(name, value)]
    token_attributes: TokenAttributes = None

    def matches(self, image):
        """The kubelet's isImageAllowed: an error (a bad pattern) counts as no match."""
        return any(_matches_or_false(glob, image) for glob in self.match_images)


def _matches_or_false(glob, image):
    try:
        return urls_match(glob, image)
    except ValueError:
        return False


class _StrictLoader(yaml.SafeLoader):
    """YAML (and so JSON) with duplicate keys refused, as sigs.k8s.io/yaml's strict mode does."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
        if duplicates:
            raise Rejected(f"duplicate field(s) {duplicates}")
        return super().construct_mapping(node, deep=deep)


def _object(value, fields, required, where):
    """`value` as a mapping with only `fields` (name → type), `required` present."""
    if not isinstance(value, dict):
        raise Rejected(f"{where} must be an object")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise Rejected(f"unknown field(s) {unknown} in {where}")
    for name in required:
        if value.get(name) is None:
            raise Rejected(f"{where}.{name} is required")
    for name, kind in fields.items():
        item = value.get(name)
        if item is not None and not _is(item, kind):
            raise Rejected(f"{where}.{name} has the wrong type: {item!r}")
    return value


def _is(value, kind):
    if kind == [str]:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind is bool:
        return isinstance(value, bool)
    return isinstance(value, kind) and not isinstance(value, bool)


_CONFIG_FIELDS = {"apiVersion": str, "kind": str, "providers": list}
_PROVIDER_FIELDS = {"name": str, "matchImages": [str], "defaultCacheDuration": str, "apiVersion": str,
                    "args": [str], "env": list, "tokenAttributes": dict}
_ENV_FIELDS = {"name": str, "value": str}
_TOKEN_FIELDS = {"serviceAccountTokenAudience": str, "requireServiceAccount": bool, "cacheType": str,
                 "requiredServiceAccountAnnotationKeys": [str], "optionalServiceAccountAnnotationKeys": [str]}


def load_config(path):
    """The providers of a CredentialProviderConfig file; Rejected where the kubelet would not start."""
    try:
        document = yaml.load(Path(path).read_text(), Loader=_StrictLoader)
    except yaml.YAMLError as error:
        raise Rejected(f"not YAML or JSON: {error}") from error
    _object(document, _CONFIG_FIELDS, ("apiVersion", "kind"), "CredentialProviderConfig")
    if document["kind"] != "CredentialProviderConfig" or document["apiVersion"] != CONFIG_API_VERSION:
        raise Rejected(f"not a {CONFIG_API_VERSION} CredentialProviderConfig")
    providers = [_provider(raw, f"providers[{i}]") for i, raw in enumerate(document.get("providers") or [])]
    _validate(providers)
    return providers


def _provider(raw, where):
    _object(raw, _PROVIDER_FIELDS, (), where)
    env = [_object(item, _ENV_FIELDS, ("name",), f"{where}.env[{i}]") for i, item in enumerate(raw.get("env") or [])]
    tokens = None
    if raw.get("tokenAttributes") is not None:
        attributes = _object(raw["tokenAttributes"], _TOKEN_FIELDS, (), f"{where}.tokenAttributes")
        tokens = TokenAttributes(
            service_account_token_audience=attributes.get("serviceAccountTokenAudience") or "",
            require_service_account=attributes.get("requireServiceAccount"),
            cache_type=attributes.get("cacheType") or "",
            required_annotation_keys=list(attributes.get("requiredServiceAccountAnnotationKeys") or []),
            optional_annotation_keys=list(attributes.get("optionalServiceAccountAnnotationKeys") or []),
        )
    return Provider(
        name=raw.get("name") or "", match_images=list(raw.get("matchImages") or []),
        default_cache_duration=raw.get("defaultCacheDuration"), api_version=raw.get("apiVersion") or "",
        args=list(raw.get("args") or []), env=[(item["name"], item.get("value") or "") for item in env],
        token_attributes=tokens,
    )


def _validate(providers):
    """The kubelet's validateCredentialProviderConfig (all its errors, joined)."""
    errors, seen = [], set()
    if not providers:
        errors.append("at least 1 item in providers is required")
    for p in providers:
        if "/" in p.name or " " in p.name or p.name in ("", ".", ".."):
            errors.append(f"invalid provider name {p.name!r}")
        if p.name in seen:
            errors.append(f"duplicate provider name {p.name!r}")
        seen.add(p.name)
        if p.api_version not in REQUEST_VERSIONS:
            errors.append(f"{p.name}: apiVersion {p.api_version!r} is not one of {list(REQUEST_VERSIONS)}")
        if not p.match_images:
            errors.append(f"{p.name}: at least 1 item in matchImages is required")
        for glob in p.match_images:
            try:
                parse_schemeless_url(glob)
            except ValueError as error:
                errors.append(f"{p.name}: match image {glob!r} is invalid: {error}")
        if p.default_cache_duration is None:
            errors.append(f"{p.name}: defaultCacheDuration is required")
        else:
            try:
                if parse_go_duration(p.default_cache_duration) < 0:
                    errors.append(f"{p.name}: defaultCacheDuration must be greater than or equal to 0")
            except ValueError as error:
                errors.append(f"{p.name}: defaultCacheDuration: {error}")
        if p.token_attributes is not None:
            errors += _token_errors(p)
    if errors:
        raise Rejected("; ".join(errors))


def _token_errors(p):
    t, errors = p.token_attributes, []
    if not t.service_account_token_audience:
        errors.append(f"{p.name}: tokenAttributes.serviceAccountTokenAudience is required")
    if t.require_service_account is None:
        errors.append(f"{p.name}: tokenAttributes.requireServiceAccount is required")
    if p.api_version != REQUEST_VERSIONS[0]:
        errors.append(f"{p.name}: tokenAttributes is only supported for {REQUEST_VERSIONS[0]}")
    if t.require_service_account is False and t.required_annotation_keys:
        errors.append(f"{p.name}: requireServiceAccount cannot be false with requiredServiceAccountAnnotationKeys")
    if set(t.required_annotation_keys) & set(t.optional_annotation_keys):
        errors.append(f"{p.name}: annotation keys cannot be both required and optional")
    if t.cache_type not in TOKEN_CACHE_TYPES:
        errors.append(f"{p.name}: tokenAttributes.cacheType must be one of {list(TOKEN_CACHE_TYPES)}")
    return errors


def matching(providers, image):
    """Every provider whose matchImages match `image` (the kubelet runs them all)."""
    return [p for p in providers if p.matches(image)]


# --- exec and the response -------------------------------------------------------------------------

@dataclass
class ServiceAccount:
    token: str
    annotations: dict = field(default_factory=dict)


@dataclass
class Result:
    request: dict
    response: dict
    stderr: str


def build_request(provider, image, service_account=None):
    request = {"kind": "CredentialProviderRequest", "apiVersion": provider.api_version, "image": repository(image)}
    tokens = provider.token_attributes
    if tokens is None:
        return request
    if service_account is None:
        if tokens.require_service_account:
            raise ExecFailed(f"{provider.name} requires a service account and the pod has none")
        return request
    missing = [k for k in tokens.required_annotation_keys if k not in service_account.annotations]
    if missing:
        raise ExecFailed(f"the service account lacks the required annotation(s) {missing}")
    wanted = set(tokens.required_annotation_keys) | set(tokens.optional_annotation_keys)
    request["serviceAccountToken"] = service_account.token
    annotations = {k: v for k, v in service_account.annotations.items() if k in wanted}
    if annotations:
        request["serviceAccountAnnotations"] = annotations
    return request


def exec_provider(provider, bin_dir, image, environ, service_account=None, timeout=KUBELET_TIMEOUT):
    """One pull's worth of kubelet work for `provider`: exec, write the request, decode strictly."""
    request = build_request(provider, image, service_account)
    env = {**environ, **dict(provider.env)}  # appended after the kubelet's own: the config wins
    try:
        completed = subprocess.run(
            [str(Path(bin_dir) / provider.name), *provider.args], input=json.dumps(request).encode(),
            capture_output=True, env=env, timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        raise ExecFailed(f"{provider.name}: context deadline exceeded (killed after {timeout}s)") from error
    stderr = completed.stderr.decode(errors="replace")
    if completed.returncode != 0:
        raise ExecFailed(f"{provider.name} exited {completed.returncode}: {stderr}")
    return Result(request, decode_response(completed.stdout, provider.api_version), stderr)


_RESPONSE_FIELDS = {"kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth"}


def _refuse_duplicates(pairs):
    keys = [key for key, _ in pairs]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise Rejected(f"duplicate field(s) {duplicates}")
    return dict(pairs)


def _not_json(constant):
    raise Rejected(f"{constant} is not JSON")


def decode_response(stdout, api_version):
    """The response as the kubelet decodes it: strict JSON, exact field names, no extras."""
    try:
        text = stdout.decode() if isinstance(stdout, bytes) else stdout
        response = json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_not_json)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Rejected(f"the response is not JSON: {error}") from error
    if not isinstance(response, dict):
        raise Rejected("the response is not a JSON object")
    unknown = sorted(set(response) - _RESPONSE_FIELDS)
    if unknown:
        raise Rejected(f"unknown field(s) {unknown} in the response")
    if response.get("kind") != "CredentialProviderResponse":
        raise Rejected(f"kind is {response.get('kind')!r}, not CredentialProviderResponse")
    if response.get("apiVersion") != api_version:
        raise Rejected(f"apiVersion {response.get('apiVersion')!r} does not match the configured {api_version!r}")
    if response.get("cacheKeyType") not in CACHE_KEY_TYPES:
        raise Rejected(f"cacheKeyType {response.get('cacheKeyType')!r} is not one of {list(CACHE_KEY_TYPES)}")
    if response.get("cacheDuration") is not None:
        try:
            parse_go_duration(response["cacheDuration"])
        except ValueError as error:
            raise Rejected(f"cacheDuration: {error}") from error
    auth = response.get("auth")
    if auth is not None and not isinstance(auth, dict):
        raise Rejected("auth is not an object")
    for host, entry in (auth or {}).items():
        _check_auth_entry(entry, f"auth[{host!r}]")
    return response


def _check_auth_entry(entry, where):
    if not isinstance(entry, dict):
        raise Rejected(f"{where} is not an object")
    unknown = sorted(set(entry) - {"username", "password"})
    if unknown:
        raise Rejected(f"unknown field(s) {unknown} in {where}")
    for name, value in entry.items():
        if value is not None and not isinstance(value, str):
            raise Rejected(f"{where}.{name} is not a string")
