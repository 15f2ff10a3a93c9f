//! The kubelet's CredentialProviderConfig, read by the kubelet's rules: strict decoding (known
//! fields in their exact case, no duplicates, the right types), its start-up validation, the
//! file-or-directory form (1.34+), and which providers it execs for an image (`matchImages`
//! globs per DNS label, equal label counts, equal ports, the glob's path a prefix).
//! Pure except `read`, the one function that reads files (one at a time: only what they decode
//! to is kept). Knows nothing of ECR.
//!
//! ```text
//! let decoded = config::read(Path::new(path))?;  // a file or a directory
//! let config = decoded.into_result()?;           // Err: why the kubelet refuses it
//! for provider in config.providers_for(image) { /* name, args, env, api_version, … */ }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::duration;
use crate::kubelet::yaml::{self, Node, Value};

pub(crate) const CONFIG_KIND: &str = "CredentialProviderConfig";
pub(crate) const CONFIG_GROUP: &str = "kubelet.config.k8s.io";
/// Every version of the config the kubelet decodes; v1 since Kubernetes 1.26.
pub(crate) const CONFIG_API_VERSIONS: [&str; 3] = [
    "kubelet.config.k8s.io/v1",
    "kubelet.config.k8s.io/v1beta1",
    "kubelet.config.k8s.io/v1alpha1",
];
/// The request/response versions a provider may be configured with.
pub(crate) const REQUEST_API_VERSIONS: [&str; 3] = [
    "credentialprovider.kubelet.k8s.io/v1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1alpha1",
];
pub(crate) const CACHE_TYPES: [&str; 2] = ["ServiceAccount", "Token"];
/// Larger than any config; the kubelet would read it, we refuse to.
pub(crate) const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The providers the kubelet would run, in its order (files in lexicographic order, then
/// each file's list).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Config {
    pub(crate) providers: Vec<Provider>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Provider {
    /// The executable's file name in the kubelet's `--image-credential-provider-bin-dir`.
    pub(crate) name: String,
    pub(crate) match_images: Vec<String>,
    /// `None` when absent (the kubelet refuses that); used when a response has no cacheDuration.
    pub(crate) default_cache_duration: Option<Duration>,
    /// The request/response version, one of [`REQUEST_API_VERSIONS`].
    pub(crate) api_version: String,
    pub(crate) args: Vec<String>,
    /// Appended to the kubelet's own environment; these win on duplicates.
    pub(crate) env: Vec<(String, String)>,
    pub(crate) token_attributes: Option<TokenAttributes>,
    /// Where the provider was written, for messages.
    pub(crate) origin: Origin,
}

/// KEP-4412: the kubelet passes the pod's service-account token and the listed annotations.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TokenAttributes {
    pub(crate) service_account_token_audience: String,
    pub(crate) require_service_account: Option<bool>,
    pub(crate) required_service_account_annotation_keys: Vec<String>,
    pub(crate) optional_service_account_annotation_keys: Vec<String>,
    /// `ServiceAccount` or `Token`.
    pub(crate) cache_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The file, in the directory form; `None` for text parsed alone.
    pub(crate) file: Option<String>,
    /// The provider's index in its file's `providers`.
    pub(crate) index: usize,
    pub(crate) line: usize,
    /// The line of each field and list item (`matchImages[2]`), for messages.
    pub(crate) lines: HashMap<String, usize>,
}

impl Origin {
    /// `providers[1]`, or `20-ecr.yaml: providers[1]` in the directory form.
    pub(crate) fn field(&self, rest: &str) -> String {
        let sep = if rest.is_empty() || rest.starts_with('[') {
            ""
        } else {
            "."
        };
        format!("providers[{}]{sep}{rest}", self.index)
    }

    /// The line of `field` (`matchImages[2]`, `tokenAttributes`), else of its parent, else of
    /// the provider.
    pub(crate) fn line_of(&self, field: &str) -> usize {
        let mut field = field;
        loop {
            if let Some(line) = self.lines.get(field) {
                return *line;
            }
            match field.rfind(['.', '[']) {
                Some(i) => field = &field[..i],
                None => return self.line,
            }
        }
    }
}

/// One reason the kubelet would refuse the config (and not start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) file: Option<String>,
    pub(crate) line: Option<usize>,
    /// The field at fault, such as `providers[0].matchImages[2]`; empty for the whole file.
    pub(crate) field: String,
    pub(crate) message: String,
    pub(crate) fix: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

/// The kubelet would not start with this config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the kubelet would refuse this credential provider config: {}", join(.problems))]
pub(crate) struct Rejected {
    pub(crate) problems: Vec<Problem>,
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What decoding found: the providers it could read, and every problem on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Decoded {
    pub(crate) config: Config,
    pub(crate) problems: Vec<Problem>,
    /// Not refusals: things the kubelet silently ignores (a second YAML document).
    pub(crate) ignored: Vec<Problem>,
}

/// One config file: its name (for messages) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// The file's name in the directory form; empty for a config given as a file.
    pub(crate) name: String,
    pub(crate) text: String,
}

/// Parses one file as the kubelet does at start-up: the config, or every reason it refuses it.
#[cfg(test)]
pub(crate) fn parse(text: &str) -> Result<Config, Rejected> {
    decode(&[Source {
        name: String::new(),
        text: text.into(),
    }])
    .into_result()
}

impl Decoded {
    pub(crate) fn into_result(self) -> Result<Config, Rejected> {
        if self.problems.is_empty() {
            Ok(self.config)
        } else {
            Err(Rejected {
                problems: self.problems,
            })
        }
    }
}

/// Reads the kubelet's `--image-credential-provider-config` and decodes it: a file, or
/// (Kubernetes 1.34+) a directory whose `*.json`, `*.yaml` and `*.yml` files are read in
/// lexicographic order. One file at a time: a directory of many large files never sits in
/// memory whole, only the providers they decode to.
pub(crate) fn read(path: &Path) -> Result<Decoded, ReadError> {
    let (files, in_dir) = config_files(path)?;
    let mut decoder = Decoder::default();
    for file in files {
        decoder.add(&read_source(&file, in_dir)?);
    }
    Ok(decoder.finish())
}

/// The files `read` reads, and whether they come from a directory.
fn config_files(path: &Path) -> Result<(Vec<PathBuf>, bool), ReadError> {
    let read_error = |path: &Path, source| ReadError {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(|e| read_error(path, e))?;
    if metadata.is_file() {
        return Ok((vec![path.to_owned()], false));
    }
    if !metadata.is_dir() {
        // A FIFO or a device would block the read or never end.
        return Err(read_error(
            path,
            std::io::Error::other("not a regular file or a directory"),
        ));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| read_error(path, e))? {
        let entry = entry.map_err(|e| read_error(path, e))?;
        let file = entry.path();
        let wanted = file
            .extension()
            .is_some_and(|ext| ext == "json" || ext == "yaml" || ext == "yml");
        if wanted && std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(read_error(
            path,
            std::io::Error::other("no *.json, *.yaml or *.yml file in this directory"),
        ));
    }
    Ok((files, true))
}

fn read_source(file: &Path, in_dir: bool) -> Result<Source, ReadError> {
    use std::io::Read;
    let read_error = |source| ReadError {
        path: file.to_owned(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
        .map_err(read_error)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(read_error(std::io::Error::other(
            "larger than 1 MiB: not a credential provider config",
        )));
    }
    let name = if in_dir {
        file.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    } else {
        String::new()
    };
    Ok(Source { name, text })
}

#[derive(Debug, thiserror::Error)]
#[error("could not read the credential provider config {}: {source}", path.display())]
pub(crate) struct ReadError {
    pub(crate) path: PathBuf,
    pub(crate) source: std::io::Error,
}

/// Decodes and validates the files as one config, as the kubelet merges the directory form.
/// Keeps going after a problem, so that a linter can report them all.
#[cfg(test)]
pub(crate) fn decode(sources: &[Source]) -> Decoded {
    let mut decoder = Decoder::default();
    for source in sources {
        decoder.add(source);
    }
    decoder.finish()
}

/// Decodes file after file into one config; validates the whole once all are in.
#[derive(Default)]
struct Decoder(Decoded);

impl Decoder {
    fn add(&mut self, source: &Source) {
        let decoded = &mut self.0;
        let file = (!source.name.is_empty()).then(|| source.name.clone());
        let mut sink = Sink {
            file: file.clone(),
            problems: Vec::new(),
        };
        match yaml::parse(&source.text) {
            Err(error) => {
                // A plain `*` starts an alias: say so, unless the aliases were refused for size.
                let alias = (error.message.contains("anchor") || error.message.contains("alias"))
                    && !error.message.starts_with(yaml::EXCESSIVE_ALIASING);
                sink.push(
                    Some(error.line).filter(|l| *l > 0),
                    "",
                    format!("not YAML or JSON: {}", error.message),
                    alias.then(|| {
                        "quote patterns that start with *, as in \"*.dkr.ecr.*.amazonaws.com\": a plain * starts a YAML alias".into()
                    }),
                );
            }
            Ok(document) => {
                if document.more_documents {
                    decoded.ignored.push(Problem {
                        file: file.clone(),
                        line: None,
                        field: String::new(),
                        message: "the file holds more than one YAML document; the kubelet reads only the first".into(),
                        fix: Some("one CredentialProviderConfig per file (the directory form takes several files)".into()),
                    });
                }
                for mut provider in config(&document.root, &mut sink) {
                    provider.origin.file.clone_from(&file);
                    decoded.config.providers.push(provider);
                }
            }
        }
        decoded.problems.extend(sink.problems);
    }

    fn finish(mut self) -> Decoded {
        validate(&self.0.config, &mut self.0.problems);
        self.0
    }
}

struct Sink {
    file: Option<String>,
    problems: Vec<Problem>,
}

impl Sink {
    fn push(&mut self, line: Option<usize>, field: &str, message: String, fix: Option<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            field: field.into(),
            message,
            fix,
        });
    }
}

/// The fields of one object: each known field in its exact case, once.
type Fields<'a> = &'a [&'a str];

/// The mapping's entries, refusing fields the kubelet does not know (naming the right case).
fn object<'n>(
    node: &'n Node,
    known: Fields<'_>,
    at: &str,
    sink: &mut Sink,
) -> Option<Vec<(&'n str, &'n Node)>> {
    let Value::Map(entries) = &node.value else {
        sink.push(
            Some(node.line),
            at,
            format!("must be a mapping, not {}", node.value.kind()),
            None,
        );
        return None;
    };
    let mut fields = Vec::new();
    for (key, line, value) in entries {
        if known.contains(&key.as_str()) {
            fields.push((key.as_str(), value));
            continue;
        }
        let field = child(at, key);
        match suggestion(key, known) {
            Some(right) if right.eq_ignore_ascii_case(key) => sink.push(
                Some(*line),
                &field,
                format!("unknown field {key:?}: field names are case-sensitive"),
                Some(format!("write {right:?}")),
            ),
            Some(right) => sink.push(
                Some(*line),
                &field,
                format!("unknown field {key:?}"),
                Some(format!("did you mean {right:?}?")),
            ),
            None => sink.push(
                Some(*line),
                &field,
                format!("unknown field {key:?}: the kubelet decodes strictly"),
                Some(format!("remove it; known fields: {}", known.join(", "))),
            ),
        }
    }
    Some(fields)
}

fn child(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.into()
    } else {
        format!("{at}.{key}")
    }
}

/// The known field closest to `key`: the same letters in another case, or one or two edits away.
fn suggestion<'k>(key: &str, known: Fields<'k>) -> Option<&'k str> {
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(key))
        .or_else(|| {
            known
                .iter()
                .map(|k| {
                    (
                        edit_distance(&k.to_ascii_lowercase(), &key.to_ascii_lowercase()),
                        k,
                    )
                })
                .filter(|(d, _)| *d <= 2)
                .min_by_key(|(d, _)| *d)
                .map(|(_, k)| k)
        })
        .copied()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

fn string(node: &Node, at: &str, sink: &mut Sink) -> Option<String> {
    match &node.value {
        Value::Str(text) => Some(text.clone()),
        Value::Null => None,
        Value::Bool(_) | Value::Number(_) => {
            let text = scalar_text(&node.value);
            sink.push(
                Some(node.line),
                at,
                format!(
                    "{text} is {} to the kubelet's YAML decoder, not a string",
                    node.value.kind()
                ),
                Some(format!("quote it: \"{text}\"")),
            );
            None
        }
        Value::Seq(_) | Value::Map(_) => {
            sink.push(
                Some(node.line),
                at,
                format!("must be a string, not {}", node.value.kind()),
                None,
            );
            None
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Number(text) | Value::Str(text) => text.clone(),
        _ => String::new(),
    }
}

fn strings(node: &Node, at: &str, sink: &mut Sink) -> Vec<String> {
    match &node.value {
        Value::Null => Vec::new(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| string(item, &format!("{at}[{i}]"), sink))
            .collect(),
        other => {
            sink.push(
                Some(node.line),
                at,
                format!("must be a list of strings, not {}", other.kind()),
                None,
            );
            Vec::new()
        }
    }
}

fn config(root: &Node, sink: &mut Sink) -> Vec<Provider> {
    if root.value == Value::Null {
        sink.push(None, "", "the file is empty".into(), None);
        return Vec::new();
    }
    let Some(fields) = object(root, &["apiVersion", "kind", "providers"], "", sink) else {
        return Vec::new();
    };
    let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let api_version = get("apiVersion").and_then(|n| string(n, "apiVersion", sink));
    let kind = get("kind").and_then(|n| string(n, "kind", sink));
    let fix_header = || {
        Some(format!(
            "start the file with apiVersion: {} and kind: {CONFIG_KIND}",
            CONFIG_API_VERSIONS[0]
        ))
    };
    match kind.as_deref() {
        Some(CONFIG_KIND) => {}
        None => sink.push(Some(root.line), "kind", "is missing".into(), fix_header()),
        Some(other) => sink.push(
            get("kind").map(|n| n.line),
            "kind",
            format!("is {other:?}, not {CONFIG_KIND}"),
            fix_header(),
        ),
    }
    match api_version.as_deref() {
        Some(v) if CONFIG_API_VERSIONS.contains(&v) => {}
        None => sink.push(
            Some(root.line),
            "apiVersion",
            "is missing".into(),
            fix_header(),
        ),
        Some(other) => sink.push(
            get("apiVersion").map(|n| n.line),
            "apiVersion",
            format!(
                "{other:?} is not a version of {CONFIG_GROUP} the kubelet decodes ({})",
                CONFIG_API_VERSIONS.join(", ")
            ),
            Some(format!("apiVersion: {}", CONFIG_API_VERSIONS[0])),
        ),
    }
    let Some(providers) = get("providers") else {
        return Vec::new();
    };
    match &providers.value {
        Value::Null => Vec::new(),
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(index, item)| provider(item, index, sink))
            .collect(),
        other => {
            sink.push(
                Some(providers.line),
                "providers",
                format!("must be a list, not {}", other.kind()),
                None,
            );
            Vec::new()
        }
    }
}

const PROVIDER_FIELDS: Fields<'static> = &[
    "name",
    "matchImages",
    "defaultCacheDuration",
    "apiVersion",
    "args",
    "env",
    "tokenAttributes",
];
const TOKEN_FIELDS: Fields<'static> = &[
    "serviceAccountTokenAudience",
    "requireServiceAccount",
    "requiredServiceAccountAnnotationKeys",
    "optionalServiceAccountAnnotationKeys",
    "cacheType",
];

fn provider(node: &Node, index: usize, sink: &mut Sink) -> Option<Provider> {
    let mut origin = Origin {
        file: None,
        index,
        line: node.line,
        lines: HashMap::new(),
    };
    let at = origin.field("");
    let fields = object(node, PROVIDER_FIELDS, &at, sink)?;
    for (key, value) in &fields {
        origin.lines.insert((*key).to_owned(), value.line);
        if let Value::Seq(items) = &value.value {
            for (i, item) in items.iter().enumerate() {
                origin.lines.insert(format!("{key}[{i}]"), item.line);
            }
        }
    }
    let mut provider = Provider {
        origin: origin.clone(),
        ..Provider::default()
    };
    for (key, value) in fields {
        let at = origin.field(key);
        match key {
            "name" => provider.name = string(value, &at, sink).unwrap_or_default(),
            "matchImages" => provider.match_images = strings(value, &at, sink),
            "apiVersion" => provider.api_version = string(value, &at, sink).unwrap_or_default(),
            "args" => provider.args = strings(value, &at, sink),
            "defaultCacheDuration" => {
                provider.default_cache_duration = cache_duration(value, &at, sink);
            }
            "env" => provider.env = env(value, &at, sink),
            "tokenAttributes" => provider.token_attributes = token_attributes(value, &at, sink),
            _ => {}
        }
    }
    Some(provider)
}

fn cache_duration(node: &Node, at: &str, sink: &mut Sink) -> Option<Duration> {
    if let Value::Number(text) = &node.value {
        sink.push(
            Some(node.line),
            at,
            format!("{text} is a number; the kubelet wants a Go duration string"),
            Some("write it with a unit and quotes, such as \"12h0m0s\"".into()),
        );
        return None;
    }
    let text = string(node, at, sink)?;
    let invalid = |sink: &mut Sink, why: &str| {
        sink.push(
            Some(node.line),
            at,
            format!("{text:?} {why}"),
            Some("a Go duration such as \"12h0m0s\", \"30m\" or \"0s\"".into()),
        );
    };
    // Go's ParseDuration: a unit on every number, except a lone "0".
    let bare = text.trim_start_matches(['-', '+']);
    if bare.bytes().all(|b| b.is_ascii_digit()) && bare.bytes().any(|b| b != b'0') {
        invalid(sink, "has no unit: Go's duration syntax needs one");
        return None;
    }
    match duration::parse(&text) {
        Err(duration::ParseError::Negative) => {
            invalid(
                sink,
                "is negative: defaultCacheDuration must be greater than or equal to 0",
            );
            None
        }
        Ok(d) => Some(d),
        Err(duration::ParseError::NotGo) => {
            invalid(sink, "is not a Go duration");
            None
        }
    }
}

fn env(node: &Node, at: &str, sink: &mut Sink) -> Vec<(String, String)> {
    let items = match &node.value {
        Value::Null => return Vec::new(),
        Value::Seq(items) => items,
        other => {
            let fix = matches!(other, Value::Map(_))
                .then(|| "a list of {name: NAME, value: VALUE} entries".to_owned());
            sink.push(
                Some(node.line),
                at,
                format!("must be a list, not {}", other.kind()),
                fix,
            );
            return Vec::new();
        }
    };
    let mut env = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Some(fields) = object(item, &["name", "value"], &at, sink) else {
            continue;
        };
        let mut name = None;
        let mut value = String::new();
        for (key, node) in fields {
            let at = child(&at, key);
            match key {
                "name" => name = string(node, &at, sink),
                _ => value = env_value(node, &at, sink).unwrap_or_default(),
            }
        }
        match name {
            Some(name) if !name.is_empty() => env.push((name, value)),
            _ => sink.push(
                Some(item.line),
                &child(&at, "name"),
                "is required".into(),
                None,
            ),
        }
    }
    env
}

/// An env entry's value, as `string` reads it, but never repeated in a finding: it may be a
/// credential (issue 19).
fn env_value(node: &Node, at: &str, sink: &mut Sink) -> Option<String> {
    match &node.value {
        Value::Bool(_) | Value::Number(_) => {
            let kind = node.value.kind();
            let problem = format!("is {kind} to the kubelet's YAML decoder, not a string");
            sink.push(Some(node.line), at, problem, Some("quote it".into()));
            None
        }
        _ => string(node, at, sink),
    }
}

fn token_attributes(node: &Node, at: &str, sink: &mut Sink) -> Option<TokenAttributes> {
    if node.value == Value::Null {
        return None;
    }
    let fields = object(node, TOKEN_FIELDS, at, sink)?;
    let mut attributes = TokenAttributes::default();
    for (key, value) in fields {
        let at = child(at, key);
        match key {
            "serviceAccountTokenAudience" => {
                attributes.service_account_token_audience =
                    string(value, &at, sink).unwrap_or_default();
            }
            "requireServiceAccount" => match &value.value {
                Value::Bool(b) => attributes.require_service_account = Some(*b),
                Value::Null => {}
                other => sink.push(
                    Some(value.line),
                    &at,
                    format!("must be true or false, not {}", other.kind()),
                    Some("requireServiceAccount: false".into()),
                ),
            },
            "requiredServiceAccountAnnotationKeys" => {
                attributes.required_service_account_annotation_keys = strings(value, &at, sink);
            }
            "optionalServiceAccountAnnotationKeys" => {
                attributes.optional_service_account_annotation_keys = strings(value, &at, sink);
            }
            _ => attributes.cache_type = string(value, &at, sink).unwrap_or_default(),
        }
    }
    Some(attributes)
}

/// The kubelet's validateCredentialProviderConfig, plus the directory form's rule that
/// provider names are unique across files.
fn validate(config: &Config, problems: &mut Vec<Problem>) {
    if config.providers.is_empty() && problems.is_empty() {
        problems.push(Problem {
            file: None,
            line: None,
            field: "providers".into(),
            message: "at least one provider is required".into(),
            fix: None,
        });
    }
    // Names and fields already seen, looked up in one step each: the config is outside input.
    let mut seen: HashMap<&str, &Provider> = HashMap::new();
    let reported: HashSet<(Option<String>, String)> = problems
        .iter()
        .map(|q| (q.file.clone(), q.field.clone()))
        .collect();
    for p in &config.providers {
        let mut push = |field: &str, message: String, fix: Option<String>| {
            problems.push(Problem {
                file: p.origin.file.clone(),
                line: Some(p.origin.line_of(field)),
                field: p.origin.field(field),
                message,
                fix,
            });
        };
        let name = &p.name;
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', ' ']) {
            push(
                "name",
                format!("{name:?} is not a file name: the kubelet execs BIN_DIR/NAME"),
                Some("name: ecr-credential-provider".into()),
            );
        }
        if let Some(first) = seen.get(name.as_str()) {
            let place = first.origin.file.as_ref().map_or_else(
                || first.origin.field(""),
                |f| format!("{f}: {}", first.origin.field("")),
            );
            push(
                "name",
                format!("duplicate provider name {name:?}, also in {place}"),
                Some("one provider per name across all files".into()),
            );
        }
        seen.entry(name.as_str()).or_insert(p);
        if !REQUEST_API_VERSIONS.contains(&p.api_version.as_str()) {
            let message = if p.api_version.is_empty() {
                "is required".into()
            } else {
                format!(
                    "{:?} is not one of {}",
                    p.api_version,
                    REQUEST_API_VERSIONS.join(", ")
                )
            };
            push(
                "apiVersion",
                message,
                Some(format!("apiVersion: {}", REQUEST_API_VERSIONS[0])),
            );
        }
        if p.match_images.is_empty() {
            push(
                "matchImages",
                "at least one pattern is required".into(),
                Some("ecr-credential-provider config prints the list for every ECR host".into()),
            );
        }
        for (i, glob) in p.match_images.iter().enumerate() {
            if let Err(error) = parse_schemeless_url(glob) {
                push(
                    &format!("matchImages[{i}]"),
                    format!("{glob:?} is invalid: {error}"),
                    None,
                );
            }
        }
        if p.default_cache_duration.is_none()
            && !reported.contains(&(
                p.origin.file.clone(),
                p.origin.field("defaultCacheDuration"),
            ))
        {
            problems.push(Problem {
                file: p.origin.file.clone(),
                line: Some(p.origin.line),
                field: p.origin.field("defaultCacheDuration"),
                message: "is required".into(),
                fix: Some("defaultCacheDuration: \"12h0m0s\"".into()),
            });
        }
        if let Some(t) = &p.token_attributes {
            validate_tokens(p, t, problems);
        }
    }
}

fn validate_tokens(p: &Provider, t: &TokenAttributes, problems: &mut Vec<Problem>) {
    let mut push = |field: &str, message: String, fix: Option<String>| {
        problems.push(Problem {
            file: p.origin.file.clone(),
            line: Some(p.origin.line_of(&format!("tokenAttributes{field}"))),
            field: p.origin.field(&format!("tokenAttributes{field}")),
            message,
            fix,
        });
    };
    if t.service_account_token_audience.is_empty() {
        push(
            ".serviceAccountTokenAudience",
            "is required".into(),
            Some("serviceAccountTokenAudience: sts.amazonaws.com".into()),
        );
    }
    if t.require_service_account.is_none() {
        push(
            ".requireServiceAccount",
            "is required".into(),
            Some("requireServiceAccount: false".into()),
        );
    }
    if p.api_version != REQUEST_API_VERSIONS[0] {
        push(
            "",
            format!(
                "is only supported with apiVersion {}",
                REQUEST_API_VERSIONS[0]
            ),
            Some(format!("apiVersion: {}", REQUEST_API_VERSIONS[0])),
        );
    }
    let required = &t.required_service_account_annotation_keys;
    let optional = &t.optional_service_account_annotation_keys;
    if t.require_service_account == Some(false) && !required.is_empty() {
        push(
            ".requiredServiceAccountAnnotationKeys",
            "requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set"
                .into(),
            Some("move the keys to optionalServiceAccountAnnotationKeys".into()),
        );
    }
    for (field, keys) in [
        (".requiredServiceAccountAnnotationKeys", required),
        (".optionalServiceAccountAnnotationKeys", optional),
    ] {
        let mut seen = HashSet::new();
        for key in keys {
            if !is_qualified_name(&key.to_ascii_lowercase()) {
                push(
                    field,
                    format!("{key:?} is not an annotation key (PREFIX/NAME)"),
                    None,
                );
            }
            if !seen.insert(key) {
                push(field, format!("duplicate key {key:?}"), None);
            }
        }
    }
    let optional: HashSet<&String> = optional.iter().collect();
    if let Some(both) = required.iter().find(|k| optional.contains(k)) {
        push(
            "",
            format!("annotation key {both:?} cannot be both required and optional"),
            None,
        );
    }
    if !CACHE_TYPES.contains(&t.cache_type.as_str()) {
        let message = if t.cache_type.is_empty() {
            "is required".into()
        } else {
            format!(
                "{:?} is not one of {}",
                t.cache_type,
                CACHE_TYPES.join(", ")
            )
        };
        push(
            ".cacheType",
            message,
            Some("cacheType: ServiceAccount".into()),
        );
    }
}

/// Kubernetes' IsQualifiedName: an optional DNS-subdomain prefix and `/`, then a name of at
/// most 63 alphanumerics, `-`, `_` and `.`, starting and ending alphanumeric.
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let alnum_ends = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && alnum_ends(name)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|label| {
                !label.is_empty()
                    && alnum_ends(label)
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    name_ok && prefix_ok
}

// --- matchImages -----------------------------------------------------------------------------

/// A `matchImages` pattern or an image, split as the kubelet splits it: Go's
/// `url.Parse("https://" + text)` and `net.SplitHostPort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SchemelessUrl {
    pub(crate) host: String,
    /// Empty when the text names no port.
    pub(crate) port: String,
    /// From the first `/` on; empty when there is none.
    pub(crate) path: String,
}

impl SchemelessUrl {
    pub(crate) fn labels(&self) -> Vec<&str> {
        self.host.split('.').collect()
    }
}

/// Splits `text` as the kubelet does; an error where Go's URL parser fails (the kubelet then
/// refuses a pattern at start-up).
pub(crate) fn parse_schemeless_url(text: &str) -> Result<SchemelessUrl, String> {
    if let Some(c) = text.chars().find(|c| c.is_control() || *c == ' ') {
        return Err(format!("invalid character {c:?} in URL"));
    }
    let text = text.split('#').next().unwrap_or_default();
    let text = text.split('?').next().unwrap_or_default();
    let (authority, path) = match text.find('/') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(rest) = host.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("missing ']' in host of {text:?}"))?;
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(port) => (&rest[..end], port),
            None if after.is_empty() => (&host[..end + 2], ""),
            None => return Err(format!("invalid port {after:?} after host")),
        }
    } else {
        match host.rsplit_once(':') {
            Some((host, port)) => (host, port),
            None => (host, ""),
        }
    };
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid port {port:?} after host"));
    }
    Ok(SchemelessUrl {
        host: host.into(),
        port: port.into(),
        path: path.into(),
    })
}

/// Go's `filepath.ErrBadPattern`: the kubelet counts such a pattern as matching nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub(crate) struct BadPattern;

/// Why a pattern does or does not match an image, the kubelet's URLsMatch step by step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Match {
    Yes,
    /// The ports differ (one side may have none).
    Port {
        glob: String,
        image: String,
    },
    /// The hosts have different numbers of DNS labels: `*` never spans a dot.
    LabelCount {
        glob: usize,
        image: usize,
    },
    /// The image's path does not start with the pattern's.
    Path {
        glob: String,
    },
    /// Label `index` (0-based) does not match.
    Label {
        index: usize,
        glob: String,
        image: String,
    },
    BadPattern {
        glob: String,
    },
    /// Either side is not a URL the kubelet can split.
    Invalid(String),
}

/// The kubelet's URLsMatch(glob, image), with the reason when it is no.
pub(crate) fn url_match(glob: &str, image: &str) -> Match {
    let (g, t) = match (parse_schemeless_url(glob), parse_schemeless_url(image)) {
        (Ok(g), Ok(t)) => (g, t),
        (Err(e), _) | (_, Err(e)) => return Match::Invalid(e),
    };
    if g.port != t.port {
        return Match::Port {
            glob: g.port,
            image: t.port,
        };
    }
    let (glob_labels, labels) = (g.labels(), t.labels());
    if glob_labels.len() != labels.len() {
        return Match::LabelCount {
            glob: glob_labels.len(),
            image: labels.len(),
        };
    }
    if !t.path.starts_with(&g.path) {
        return Match::Path { glob: g.path };
    }
    for (index, (pattern, label)) in glob_labels.iter().zip(&labels).enumerate() {
        match glob_match(pattern, label) {
            Ok(true) => {}
            Ok(false) => {
                return Match::Label {
                    index,
                    glob: (*pattern).into(),
                    image: (*label).into(),
                };
            }
            Err(BadPattern) => {
                return Match::BadPattern {
                    glob: (*pattern).into(),
                };
            }
        }
    }
    Match::Yes
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Yes => f.write_str("matches"),
            Self::Port { glob, image } => {
                let side = |p: &str| {
                    if p.is_empty() {
                        "no port".to_owned()
                    } else {
                        format!("port {p}")
                    }
                };
                write!(
                    f,
                    "the pattern has {} and the image {}",
                    side(glob),
                    side(image)
                )
            }
            Self::LabelCount { glob, image } => write!(
                f,
                "the pattern's host has {glob} DNS labels and the image's {image} (the kubelet matches label by label)"
            ),
            Self::Path { glob } => write!(f, "the image's path does not start with {glob:?}"),
            Self::Label { index, glob, image } => {
                write!(f, "label {} {image:?} does not match {glob:?}", index + 1)
            }
            Self::BadPattern { glob } => write!(f, "{glob:?} is not a valid glob"),
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

impl Provider {
    /// The first of `matchImages` that matches `image`, as the kubelet's isImageAllowed checks.
    pub(crate) fn matched_by(&self, image: &str) -> Option<&str> {
        self.match_images
            .iter()
            .find(|glob| url_match(glob, image) == Match::Yes)
            .map(String::as_str)
    }
}

impl Config {
    /// Every provider the kubelet would exec for `image` (all of them run; their answers merge).
    pub(crate) fn providers_for(&self, image: &str) -> Vec<&Provider> {
        self.providers
            .iter()
            .filter(|p| p.matched_by(image).is_some())
            .collect()
    }
}

/// The `image` of the request the kubelet writes: the reference without tag or digest.
pub(crate) fn request_image(image: &str) -> String {
    let name = image.split('@').next().unwrap_or_default();
    match name.rsplit_once('/') {
        Some((registry, last)) => {
            format!("{registry}/{}", last.split(':').next().unwrap_or_default())
        }
        None => name.into(),
    }
}

/// Go's `path/filepath.Match` on Unix: `*` any run of non-`/` characters, `?` one, `[...]` a
/// class with ranges and `^` negation, `\` escapes. A malformed pattern is an error even when
/// the name already failed to match, as in Go.
pub(crate) fn glob_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut pattern, mut name) = (&pattern[..], &name[..]);
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&'/'));
        }
        let (matched, failed_with) = match match_chunk(chunk, name) {
            Ok(rest) => (rest, None),
            Err(e) => (None, e),
        };
        if let Some(rest) = matched.filter(|rest| rest.is_empty() || !pattern.is_empty()) {
            name = rest;
            continue;
        }
        if let Some(error) = failed_with {
            return Err(error);
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != '/' {
                match match_chunk(chunk, &name[i + 1..]) {
                    Ok(Some(rest)) => {
                        if pattern.is_empty() && !rest.is_empty() {
                            i += 1;
                            continue;
                        }
                        name = rest;
                        continue 'pattern;
                    }
                    Ok(None) => {}
                    Err(e) => return Err(e.unwrap_or(BadPattern)),
                }
                i += 1;
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, &[]).map_err(|e| e.unwrap_or(BadPattern))?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[char]) -> (bool, &[char], &[char]) {
    let mut star = false;
    while pattern.first() == Some(&'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            '\\' if i + 1 < pattern.len() => i += 1,
            '[' => in_range = true,
            ']' => in_range = false,
            '*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// The rest of `s` after `chunk` matched its start: `Ok(None)` for no match, `Err(Some)` for
/// a malformed chunk. Parses the whole chunk even after a mismatch.
#[allow(clippy::type_complexity)]
fn match_chunk<'s>(
    mut chunk: &[char],
    mut s: &'s [char],
) -> Result<Option<&'s [char]>, Option<BadPattern>> {
    let bad = Err(Some(BadPattern));
    let mut failed = false;
    while let Some(&head) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match head {
            '[' => {
                let mut c = None;
                if !failed {
                    c = Some(s[0]);
                    s = &s[1..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Some((low, rest)) = class_char(chunk) else {
                        return bad;
                    };
                    chunk = rest;
                    let mut high = low;
                    if chunk[0] == '-' {
                        let Some((h, rest)) = class_char(&chunk[1..]) else {
                            return bad;
                        };
                        high = h;
                        chunk = rest;
                    }
                    if c.is_some_and(|c| low <= c && c <= high) {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            '?' => {
                if !failed {
                    failed = s[0] == '/';
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if head == '\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return bad;
                    }
                }
                if !failed {
                    failed = chunk[0] != s[0];
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// Go's getEsc: one possibly escaped character of a class, and what follows (never empty).
fn class_char(chunk: &[char]) -> Option<(char, &[char])> {
    let mut chunk = chunk;
    if chunk.is_empty() || chunk[0] == '-' || chunk[0] == ']' {
        return None;
    }
    if chunk[0] == '\\' {
        chunk = &chunk[1..];
    }
    if chunk.len() < 2 {
        return None;
    }
    Some((chunk[0], &chunk[1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_glob(pattern: &str, name: &str, expected: Result<bool, BadPattern>) {
        assert_eq!(
            glob_match(pattern, name),
            expected,
            "{pattern:?} vs {name:?}"
        );
    }

    #[test]
    fn go_filepath_match() {
        // Go's own table (path/filepath match_test.go), Unix rows.
        let table: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "-", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("[x-]", "-", Err(BadPattern)),
            ("[x-]", "z", Err(BadPattern)),
            ("[-x]", "x", Err(BadPattern)),
            ("[-x]", "-", Err(BadPattern)),
            ("[-x]", "a", Err(BadPattern)),
            ("\\", "a", Err(BadPattern)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^", "a", Err(BadPattern)),
            ("[^bc", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "x", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
        ];
        for (pattern, name, expected) in table {
            check_glob(pattern, name, *expected);
        }
    }

    #[test]
    fn the_kubelets_url_matching() {
        let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let table = [
            (
                "*.dkr.ecr.*.amazonaws.com",
                format!("{ecr}/app:v1"),
                Match::Yes,
            ),
            (
                "*.amazonaws.com",
                format!("{ecr}/app"),
                Match::LabelCount { glob: 3, image: 6 },
            ),
            (
                "*.dkr.ecr.*.amazonaws.com:443",
                format!("{ecr}/app"),
                Match::Port {
                    glob: "443".into(),
                    image: String::new(),
                },
            ),
            (
                "*.dkr.ecr.*.amazonaws.com",
                format!("{ecr}:443/app"),
                Match::Port {
                    glob: String::new(),
                    image: "443".into(),
                },
            ),
            (
                "*.dkr.ecr.*.amazonaws.com/team",
                format!("{ecr}/team/app"),
                Match::Yes,
            ),
            (
                "*.dkr.ecr.*.amazonaws.com/team",
                format!("{ecr}/other/app"),
                Match::Path {
                    glob: "/team".into(),
                },
            ),
            (
                "*.dkr.ecr.*.amazonaws.com.cn",
                format!("{ecr}/app"),
                Match::LabelCount { glob: 7, image: 6 },
            ),
            (
                "111122223333.dkr.ecr.*.amazonaws.com",
                format!("{ecr}/app"),
                Match::Label {
                    index: 0,
                    glob: "111122223333".into(),
                    image: "123456789012".into(),
                },
            ),
            (
                "public.ecr.aws",
                "public.ecr.aws/nginx/nginx:1".into(),
                Match::Yes,
            ),
            (
                "*",
                "docker.io/library/busybox".into(),
                Match::LabelCount { glob: 1, image: 2 },
            ),
            ("*.*", "docker.io/library/busybox".into(), Match::Yes),
            (
                "x[.dkr",
                "x.dkr".into(),
                Match::BadPattern { glob: "x[".into() },
            ),
        ];
        for (glob, image, expected) in table {
            assert_eq!(url_match(glob, &image), expected, "{glob} vs {image}");
        }
        assert!(parse_schemeless_url("host:abc").is_err());
        assert!(parse_schemeless_url("a b").is_err());
        assert_eq!(
            parse_schemeless_url("[::1]:5000/x").unwrap(),
            SchemelessUrl {
                host: "::1".into(),
                port: "5000".into(),
                path: "/x".into()
            }
        );
    }

    #[test]
    fn request_image_drops_tag_and_digest() {
        for (image, expected) in [
            ("h/app:v1", "h/app"),
            ("h:5000/team/app:v1", "h:5000/team/app"),
            ("h/app@sha256:abc", "h/app"),
            ("h/app", "h/app"),
        ] {
            assert_eq!(request_image(image), expected);
        }
    }

    const GOOD: &str = "\
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: [\"*.dkr.ecr.*.amazonaws.com\", \"public.ecr.aws\"]
    defaultCacheDuration: 12h0m0s
    args: [get-credentials]
    env:
      - name: AWS_REGION
        value: us-east-1
  - name: other
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: [\"*.dkr.ecr.*.amazonaws.com/team\"]
    defaultCacheDuration: 0s
    tokenAttributes:
      serviceAccountTokenAudience: sts.amazonaws.com
      requireServiceAccount: false
      cacheType: ServiceAccount
      optionalServiceAccountAnnotationKeys: [eks.amazonaws.com/ecr-role-arn]
";

    #[test]
    fn a_good_config_decodes_whole() {
        let config = parse(GOOD).unwrap();
        let [ecr, other] = &config.providers[..] else {
            panic!("two providers")
        };
        assert_eq!(ecr.args, ["get-credentials"]);
        assert_eq!(ecr.env, [("AWS_REGION".to_owned(), "us-east-1".to_owned())]);
        assert_eq!(
            ecr.default_cache_duration,
            Some(Duration::from_secs(12 * 3600))
        );
        assert_eq!(other.default_cache_duration, Some(Duration::ZERO));
        let tokens = other.token_attributes.as_ref().unwrap();
        assert_eq!(tokens.require_service_account, Some(false));
        assert_eq!(tokens.cache_type, "ServiceAccount");
        let names = |image| -> Vec<&str> {
            config
                .providers_for(image)
                .iter()
                .map(|p| p.name.as_str())
                .collect()
        };
        assert_eq!(
            names("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1"),
            ["ecr-credential-provider", "other"]
        );
        assert_eq!(
            names("123456789012.dkr.ecr.us-east-1.amazonaws.com/app"),
            ["ecr-credential-provider"]
        );
        assert!(names("docker.io/library/busybox").is_empty());
    }

    #[track_caller]
    fn check_rejected(text: &str, field: &str, needle: &str) {
        let rejected = parse(text).expect_err(text);
        assert!(
            rejected
                .problems
                .iter()
                .any(|p| p.field == field && p.to_string().contains(needle)),
            "wanted {field}: {needle}, got {rejected}"
        );
    }

    /// Issue 19: an env value may be a credential; a finding about it never repeats it.
    #[test]
    fn an_env_value_is_never_repeated() {
        for value in ["987654321", "true", "0x5eC7e7"] {
            let text = GOOD.replacen("value: us-east-1", &format!("value: {value}"), 1);
            let rejected = parse(&text).expect_err(&text).to_string();
            assert!(!rejected.contains(value), "{rejected}");
        }
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "one table")]
    fn what_the_kubelet_refuses() {
        let with = |from: &str, to: &str| GOOD.replacen(from, to, 1);
        let table = [
            (
                with(
                    "kind: CredentialProviderConfig",
                    "kind: KubeletConfiguration",
                ),
                "kind",
                "not CredentialProviderConfig",
            ),
            (
                with("kubelet.config.k8s.io/v1", "kubelet.config.k8s.io/v2"),
                "apiVersion",
                "not a version",
            ),
            (
                with("matchImages:", "matchimages:"),
                "providers[0].matchimages",
                "write \"matchImages\"",
            ),
            (
                with("args:", "arg:"),
                "providers[0].arg",
                "did you mean \"args\"",
            ),
            (
                with(
                    "    args: [get-credentials]\n",
                    "    args: [get-credentials]\n    name: again\n",
                ),
                "",
                "duplicate key \"name\"",
            ),
            (
                with("defaultCacheDuration: 12h0m0s", "defaultCacheDuration: 12"),
                "providers[0].defaultCacheDuration",
                "is a number",
            ),
            (
                with(
                    "defaultCacheDuration: 12h0m0s",
                    "defaultCacheDuration: \"12\"",
                ),
                "providers[0].defaultCacheDuration",
                "no unit",
            ),
            (
                with("defaultCacheDuration: 12h0m0s", "defaultCacheDuration: -1h"),
                "providers[0].defaultCacheDuration",
                "negative",
            ),
            (
                with("    defaultCacheDuration: 12h0m0s\n", ""),
                "providers[0].defaultCacheDuration",
                "is required",
            ),
            // An env value is never repeated: it may be a credential.
            (
                with("value: us-east-1", "value: yes"),
                "providers[0].env[0].value",
                "is a boolean to the kubelet's YAML decoder, not a string",
            ),
            (
                with("value: us-east-1", "value: 123456789012"),
                "providers[0].env[0].value",
                "is a number to the kubelet's YAML decoder, not a string",
            ),
            (
                with("- name: other", "- name: ecr-credential-provider"),
                "providers[1].name",
                "duplicate provider name",
            ),
            (
                with("- name: other", "- name: bin/other"),
                "providers[1].name",
                "not a file name",
            ),
            (
                with(
                    "credentialprovider.kubelet.k8s.io/v1\n",
                    "credentialprovider.kubelet.k8s.io/v2\n",
                ),
                "providers[0].apiVersion",
                "is not one of",
            ),
            (
                with("[\"*.dkr.ecr.*.amazonaws.com\", \"public.ecr.aws\"]", "[]"),
                "providers[0].matchImages",
                "at least one",
            ),
            (
                with("\"public.ecr.aws\"", "\"public.ecr.aws:https\""),
                "providers[0].matchImages[1]",
                "invalid port",
            ),
            (
                with("cacheType: ServiceAccount", "cacheType: Pod"),
                "providers[1].tokenAttributes.cacheType",
                "not one of",
            ),
            (
                with("      requireServiceAccount: false\n", ""),
                "providers[1].tokenAttributes.requireServiceAccount",
                "is required",
            ),
            (
                with(
                    "requireServiceAccount: false",
                    "requireServiceAccount: \"false\"",
                ),
                "providers[1].tokenAttributes.requireServiceAccount",
                "true or false",
            ),
            (
                with(
                    "      cacheType: ServiceAccount\n",
                    "      cacheType: ServiceAccount\n      requiredServiceAccountAnnotationKeys: [eks.amazonaws.com/ecr-role-arn]\n",
                ),
                "providers[1].tokenAttributes.requiredServiceAccountAnnotationKeys",
                "cannot be false",
            ),
            (
                with(
                    "env:\n      - name: AWS_REGION\n        value: us-east-1",
                    "env:\n      AWS_REGION: us-east-1",
                ),
                "providers[0].env",
                "must be a list",
            ),
            (String::new(), "", "empty"),
            (
                with(
                    "[\"*.dkr.ecr.*.amazonaws.com\", \"public.ecr.aws\"]",
                    "\n      - *.dkr.ecr.*.amazonaws.com",
                ),
                "",
                "quote patterns that start with *",
            ),
            ("[1, 2]".into(), "", "must be a mapping"),
            (
                "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n".into(),
                "providers",
                "at least one",
            ),
        ];
        for (text, field, needle) in table {
            check_rejected(&text, field, needle);
        }
    }

    #[test]
    fn tokens_on_an_old_request_version_are_refused() {
        let text = GOOD.replace(
            "- name: other\n    apiVersion: credentialprovider.kubelet.k8s.io/v1",
            "- name: other\n    apiVersion: credentialprovider.kubelet.k8s.io/v1beta1",
        );
        check_rejected(&text, "providers[1].tokenAttributes", "only supported");
    }

    #[test]
    fn the_directory_form_merges_in_order_and_keeps_names_unique() {
        let source = |name: &str, text: &str| Source {
            name: name.into(),
            text: text.into(),
        };
        let decoded = decode(&[source("10-a.yaml", GOOD), source("20-b.json", GOOD)]);
        let duplicate = decoded
            .problems
            .iter()
            .find(|p| p.file.as_deref() == Some("20-b.json"))
            .unwrap();
        assert!(
            duplicate
                .message
                .contains("also in 10-a.yaml: providers[0]"),
            "{duplicate}"
        );
        assert_eq!(decoded.config.providers.len(), 4);
    }

    /// Every prefix of a config, and many one-character changes to it, decode to an answer
    /// (no panic) whose problems are one line each, whatever a broken file holds.
    #[test]
    fn broken_files_never_panic() {
        let text = GOOD.replace("12h0m0s", "\"12h0m0s\"");
        let chars: Vec<char> = text.chars().collect();
        let mut inputs: Vec<String> = (0..chars.len())
            .map(|i| chars[..i].iter().collect())
            .collect();
        for (i, replacement) in
            (0..chars.len()).flat_map(|i| ['"', '[', ':', '&', '\t', '\0'].map(|c| (i, c)))
        {
            let mut changed = chars.clone();
            changed[i] = replacement;
            inputs.push(changed.into_iter().collect());
        }
        for input in inputs {
            let decoded = decode(&[Source {
                name: String::new(),
                text: input,
            }]);
            for problem in &decoded.problems {
                assert!(!problem.to_string().contains('\n'), "{problem:?}");
            }
        }
    }

    #[test]
    fn qualified_names() {
        for (key, ok) in [
            ("eks.amazonaws.com/ecr-role-arn", true),
            ("ecr-role-arn", true),
            ("Eks.amazonaws.com/x", false),
            ("/x", false),
            ("a/", false),
            ("a/b/c", false),
        ] {
            assert_eq!(is_qualified_name(key), ok, "{key}");
        }
    }
}
