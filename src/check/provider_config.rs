//! Just enough of the kubelet's CredentialProviderConfig for `check --config`: the providers
//! (name, matchImages, apiVersion, args, env, tokenAttributes' audience) and which of them the
//! kubelet would exec for an image, by its rules (credentialprovider.URLsMatch: equal ports,
//! equal numbers of DNS labels, each label a Go `filepath.Match` glob, the glob's path a
//! prefix). Reads JSON and the block YAML configs are written in; it does not validate a
//! config the way the kubelet does at start-up. Pure.
//!
//! Kept to the shape of a full kubelet-config module (`Config::providers_for`,
//! `Provider::matched_by`) so that one can replace it.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub providers: Vec<Provider>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provider {
    pub name: String,
    pub match_images: Vec<String>,
    pub api_version: String,
    pub args: Vec<String>,
    /// Appended to the kubelet's own environment; these win on duplicates.
    pub env: Vec<(String, String)>,
    /// KEP-4412: the audience of the service-account token the kubelet passes, if any.
    pub token_audience: Option<String>,
}

impl Config {
    /// The providers the kubelet would exec for `image`, in its order.
    pub fn providers_for(&self, image: &str) -> Vec<&Provider> {
        self.providers
            .iter()
            .filter(|provider| provider.matched_by(image).is_some())
            .collect()
    }
}

impl Provider {
    /// The first of `matchImages` that matches `image`.
    pub fn matched_by(&self, image: &str) -> Option<&str> {
        self.match_images
            .iter()
            .find(|glob| url_match(glob, image))
            .map(String::as_str)
    }
}

/// Reads a config: JSON, or block YAML.
pub fn parse(text: &str) -> Result<Config, String> {
    let value = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?
    } else {
        yaml(text)?
    };
    if value["kind"] != "CredentialProviderConfig" {
        return Err("its kind is not CredentialProviderConfig".into());
    }
    let providers = value["providers"]
        .as_array()
        .ok_or("it has no providers list")?;
    let strings = |value: &serde_json::Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut config = Config::default();
    for (index, provider) in providers.iter().enumerate() {
        let name = provider["name"]
            .as_str()
            .filter(|name| !name.is_empty())
            .ok_or_else(|| format!("provider {index} has no name"))?;
        let env = provider["env"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| {
                        Some((
                            entry["name"].as_str()?.to_owned(),
                            entry["value"].as_str().unwrap_or_default().to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        config.providers.push(Provider {
            name: name.to_owned(),
            match_images: strings(&provider["matchImages"]),
            api_version: provider["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            args: strings(&provider["args"]),
            env,
            token_audience: provider["tokenAttributes"]["serviceAccountTokenAudience"]
                .as_str()
                .map(str::to_owned),
        });
    }
    Ok(config)
}

/// `[scheme://]host[:port][/path]` → (host, port, path), as the kubelet parses both sides.
fn split(text: &str) -> (&str, &str, &str) {
    let text = text.split_once("://").map_or(text, |(_, rest)| rest);
    let (authority, path) = text.find('/').map_or((text, ""), |i| text.split_at(i));
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => (host, port, path),
        _ => (authority, "", path),
    }
}

/// The kubelet's URLsMatch: `*.amazonaws.com` never matches an ECR host (label counts differ).
pub fn url_match(glob: &str, image: &str) -> bool {
    let (glob_host, glob_port, glob_path) = split(glob);
    let (host, port, path) = split(image);
    if glob_port != port || !path.starts_with(glob_path) {
        return false;
    }
    let globs: Vec<&str> = glob_host.split('.').collect();
    let labels: Vec<&str> = host.split('.').collect();
    globs.len() == labels.len()
        && globs
            .iter()
            .zip(&labels)
            .all(|(glob, label)| glob_match(glob.as_bytes(), label.as_bytes()))
}

/// Go's `filepath.Match` for one DNS label: `*`, `?`, `[...]` (ranges, `^` negation), `\`.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| glob_match(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && glob_match(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some((&first, tail)) = name.split_first() else {
                return false;
            };
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let (class, after) = (&rest[..end], &rest[end + 1..]);
            let (negated, class) = match class.split_first() {
                Some((b'^', class)) => (true, class),
                _ => (false, class),
            };
            let mut matched = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    matched |= (class[i]..=class[i + 2]).contains(&first);
                    i += 3;
                } else {
                    matched |= class[i] == first;
                    i += 1;
                }
            }
            matched != negated && glob_match(after, tail)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            name.first() == rest.first() && glob_match(&rest[1..], &name[1..])
        }
        Some((&literal, rest)) => name.first() == Some(&literal) && glob_match(rest, &name[1..]),
    }
}

/// Block YAML (mappings, sequences, plain and quoted scalars, flow sequences of scalars,
/// comments) → JSON, which is all a CredentialProviderConfig is written in.
fn yaml(text: &str) -> Result<serde_json::Value, String> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        if line.trim() == "---" {
            continue;
        }
        let content = strip_comment(line);
        if content.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            return Err("a tab in the indentation".into());
        }
        let indent = content.len() - content.trim_start().len();
        lines.push((indent, content.trim().to_owned()));
    }
    let mut at = 0;
    let value = block(&mut lines, &mut at, 0)?;
    if at < lines.len() {
        return Err(format!("unexpected indentation at {:?}", lines[at].1));
    }
    Ok(value)
}

fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || line[..i].ends_with([' ', '\t']) => return &line[..i],
            _ => {}
        }
    }
    line
}

fn block(
    lines: &mut Vec<(usize, String)>,
    at: &mut usize,
    min: usize,
) -> Result<serde_json::Value, String> {
    let Some((indent, first)) = lines.get(*at).cloned() else {
        return Ok(serde_json::Value::Null);
    };
    if indent < min {
        return Ok(serde_json::Value::Null);
    }
    if first == "-" || first.starts_with("- ") {
        let mut items = Vec::new();
        while let Some((i, line)) = lines.get(*at).cloned() {
            if i != indent || !(line == "-" || line.starts_with("- ")) {
                break;
            }
            let rest = line[1..].trim_start().to_owned();
            if rest.is_empty() {
                *at += 1;
                items.push(block(lines, at, indent + 1)?);
            } else if key_value(&rest).is_some() {
                // `- key: value` opens a mapping whose keys sit under `key`.
                lines[*at] = (indent + 2, rest);
                items.push(block(lines, at, indent + 2)?);
            } else {
                *at += 1;
                items.push(scalar(&rest)?);
            }
        }
        return Ok(serde_json::Value::Array(items));
    }
    let mut map = serde_json::Map::new();
    while let Some((i, line)) = lines.get(*at).cloned() {
        if i != indent || line.starts_with("- ") || line == "-" {
            break;
        }
        let (key, rest) =
            key_value(&line).ok_or_else(|| format!("expected key: value at {line:?}"))?;
        *at += 1;
        let value = if rest.is_empty() {
            match lines.get(*at) {
                Some((next, text))
                    if *next > indent || (*next == indent && text.starts_with('-')) =>
                {
                    block(lines, at, *next)?
                }
                _ => serde_json::Value::Null,
            }
        } else {
            scalar(rest)?
        };
        if map.insert(key.clone(), value).is_some() {
            return Err(format!("duplicate key {key:?}"));
        }
    }
    Ok(serde_json::Value::Object(map))
}

/// `key: rest` (the key plain or quoted); `None` for a line that is no mapping entry.
fn key_value(line: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(quoted) = line.strip_prefix('"') {
        let end = quoted.find('"')?;
        (
            quoted[..end].to_owned(),
            quoted[end + 1..].strip_prefix(':')?,
        )
    } else {
        let colon = line
            .find(": ")
            .or_else(|| line.strip_suffix(':').map(str::len))?;
        (line[..colon].to_owned(), &line[colon + 1..])
    };
    (!key.is_empty() && !key.contains(['[', '{'])).then(|| (key, rest.trim()))
}

fn scalar(text: &str) -> Result<serde_json::Value, String> {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let items = split_flow(inner)
            .into_iter()
            .filter(|item| !item.trim().is_empty())
            .map(scalar)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(serde_json::Value::Array(items));
    }
    if text.starts_with('"') {
        return serde_json::from_str(text).map_err(|_| format!("a bad quoted string {text}"));
    }
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Ok(serde_json::Value::String(inner.replace("''", "'")));
    }
    Ok(match text {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        "null" | "~" => serde_json::Value::Null,
        _ => serde_json::Value::String(text.to_owned()),
    })
}

fn split_flow(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut start, mut quote) = (0, None);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ',') => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_per_label_as_the_kubelet_does() {
        let ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app";
        assert!(url_match("*.dkr.ecr.*.amazonaws.com", ecr));
        assert!(!url_match("*.amazonaws.com", ecr));
        assert!(!url_match("*.dkr.ecr.*.amazonaws.com:443", ecr));
        assert!(url_match("*.dkr.ecr.*.amazonaws.com/team", ecr));
        assert!(!url_match("*.dkr.ecr.*.amazonaws.com/other", ecr));
        assert!(url_match("public.ecr.aws", "public.ecr.aws/x/y"));
        assert!(url_match("registry.local:5000", "registry.local:5000/app"));
        assert!(!url_match("registry.local:5000", "registry.local/app"));
        assert!(url_match("*.dkr.ecr.us-[a-z]*-1.amazonaws.com", ecr));
        assert!(!url_match("*.dkr.ecr.eu-?est-1.amazonaws.com", ecr));
    }

    #[test]
    fn reads_block_yaml_and_json_configs() {
        let yaml = r#"
# a comment
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: ecr-credential-provider   # trailing
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages:
      - "*.dkr.ecr.*.amazonaws.com"
      - 'public.ecr.aws'
    defaultCacheDuration: "12h0m0s"
    args: [get-credentials, "--v=2"]
    env:
    - name: AWS_REGION
      value: us-east-1
    tokenAttributes:
      serviceAccountTokenAudience: sts.amazonaws.com
      requireServiceAccount: false
  - name: other
    matchImages: ["registry.local:5000"]
"#;
        let config = parse(yaml).unwrap();
        let first = &config.providers[0];
        assert_eq!(first.name, "ecr-credential-provider");
        assert_eq!(
            first.match_images,
            ["*.dkr.ecr.*.amazonaws.com", "public.ecr.aws"]
        );
        assert_eq!(first.args, ["get-credentials", "--v=2"]);
        assert_eq!(
            first.env,
            [("AWS_REGION".to_owned(), "us-east-1".to_owned())]
        );
        assert_eq!(first.token_audience.as_deref(), Some("sts.amazonaws.com"));
        assert_eq!(config.providers[1].match_images, ["registry.local:5000"]);
        let json = r#"{"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig",
            "providers":[{"name":"p","matchImages":["public.ecr.aws"],"apiVersion":"credentialprovider.kubelet.k8s.io/v1"}]}"#;
        assert_eq!(
            parse(json).unwrap().providers_for("public.ecr.aws/a").len(),
            1
        );
        assert!(parse("kind: Pod").is_err());
        assert!(parse("kind: CredentialProviderConfig\nkind: x\n").is_err());
    }
}
