//! YAML or JSON text → a tree of values with their line numbers, typed the way the kubelet's
//! decoder (sigs.k8s.io/yaml, YAML 1.1 rules) types them: a plain `yes`, `on` or `12` is not a
//! string there. Duplicate keys are refused, as the kubelet's strict decoding refuses them.
//! Bounded: aliases may add at most a few times the document's own size (go-yaml refuses
//! "excessive aliasing" in the same spirit), so a small file cannot expand to gigabytes.
//! Pure: text in, tree out.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// More nodes than any credential provider config holds; bounds alias expansion.
const MAX_NODES: usize = 100_000;
const MAX_DEPTH: usize = 64;
/// Aliases may add this many times the document's size (scalars, keys and one byte a node)...
const ALIAS_RATIO: usize = 4;
/// ...or this much, whichever is more, so that a small file may reuse its anchors freely.
const MIN_ALIAS_BUDGET: usize = 64 << 10;
/// How an alias bomb's refusal starts, go-yaml's words.
pub(crate) const EXCESSIVE_ALIASING: &str = "excessive aliasing";

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// 1-based line where the value starts.
    pub(crate) line: usize,
    pub(crate) value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// An integer or a float, as written.
    Number(String),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order, each with its line.
    Map(Vec<(String, usize, Node)>),
}

impl Value {
    /// What the value is, for messages: "a string", "a boolean", …
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::Str(_) => "a string",
            Self::Seq(_) => "a list",
            Self::Map(_) => "a mapping",
        }
    }
}

/// A parsed file: its first document (the only one the kubelet reads).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub(crate) root: Node,
    /// The file holds more documents after the first; the kubelet ignores them.
    pub(crate) more_documents: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub(crate) struct YamlError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

pub(crate) fn parse(text: &str) -> Result<Document, YamlError> {
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
        alias_budget: text.len().saturating_mul(ALIAS_RATIO).max(MIN_ALIAS_BUDGET),
    };
    let mut documents = 0;
    let mut root = None;
    loop {
        let (event, _) = builder.next()?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                let (event, span) = builder.next()?;
                let node = builder.node(event, span, 0)?;
                if root.is_none() {
                    root = Some(node);
                }
            }
            _ => {}
        }
    }
    Ok(Document {
        root: root.unwrap_or(Node {
            line: 1,
            value: Value::Null,
        }),
        more_documents: documents > 1,
    })
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Each anchored node with its size, so that an alias is weighed before it is copied.
    anchors: HashMap<usize, (Node, Size)>,
    nodes: usize,
    /// What aliases may still add, in bytes (see `Size::bytes`).
    alias_budget: usize,
}

/// What a node holds once expanded: its nodes, and its bytes (every scalar's and key's text,
/// plus one a node, so that empty values weigh something too).
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
}

impl Size {
    fn of(node: &Node) -> Self {
        let mut size = Self { nodes: 1, bytes: 1 };
        let mut add = |child: Self| {
            size.nodes = size.nodes.saturating_add(child.nodes);
            size.bytes = size.bytes.saturating_add(child.bytes);
        };
        match &node.value {
            Value::Null | Value::Bool(_) => {}
            Value::Number(text) | Value::Str(text) => add(Self {
                nodes: 0,
                bytes: text.len(),
            }),
            Value::Seq(items) => items.iter().for_each(|item| add(Self::of(item))),
            Value::Map(entries) => {
                for (key, _, value) in entries {
                    add(Self {
                        nodes: 0,
                        bytes: key.len(),
                    });
                    add(Self::of(value));
                }
            }
        }
        size
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(error)) => Err(YamlError {
                line: error.marker().line(),
                message: error.info().to_owned(),
            }),
            None => Err(YamlError {
                line: 0,
                message: "unexpected end of input".into(),
            }),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, YamlError> {
        let line = span.start.line();
        if depth > MAX_DEPTH {
            return Err(too_much(line, "nested too deeply"));
        }
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(too_much(line, "too many values"));
        }
        let (anchor, value) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tagged_str = tag.is_some_and(|tag| tag.suffix == "str");
                let value = if style == ScalarStyle::Plain && !tagged_str {
                    resolve_plain(&text)
                } else {
                    Value::Str(text.into_owned())
                };
                (anchor, value)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                (anchor, Value::Seq(items))
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(String, usize, Node)> = Vec::new();
                // Each key's first line, so that a duplicate is found in one look-up: a
                // search of the entries made a mapping of 49,000 keys take seconds.
                let mut lines: HashMap<String, usize> = HashMap::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node(event, span, depth + 1)?;
                    let name = match key.value {
                        Value::Str(text) | Value::Number(text) => text,
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".into(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Err(YamlError {
                                line: key.line,
                                message: "a key must be a plain value, not a list or mapping"
                                    .into(),
                            });
                        }
                    };
                    if let Some(first) = lines.get(&name) {
                        return Err(YamlError {
                            line: key.line,
                            message: format!(
                                "duplicate key {name:?} (first on line {first}): the kubelet refuses the file"
                            ),
                        });
                    }
                    let (event, span) = self.next()?;
                    let value = self.node(event, span, depth + 1)?;
                    lines.insert(name.clone(), key.line);
                    entries.push((name, key.line, value));
                }
                (anchor, Value::Map(entries))
            }
            Event::Alias(id) => return self.alias(id, line),
            other => {
                return Err(YamlError {
                    line,
                    message: format!("unexpected {other:?}"),
                });
            }
        };
        let node = Node { line, value };
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), Size::of(&node)));
        }
        Ok(node)
    }

    /// A copy of the anchored node, weighed before it is made: a copy past the bounds never is.
    fn alias(&mut self, id: usize, line: usize) -> Result<Node, YamlError> {
        let (node, size) = self.anchors.get(&id).ok_or(YamlError {
            line,
            message: "an alias to an unknown anchor".into(),
        })?;
        self.nodes = self.nodes.saturating_add(size.nodes);
        if self.nodes > MAX_NODES {
            return Err(too_much(line, "too many values"));
        }
        self.alias_budget = self
            .alias_budget
            .checked_sub(size.bytes)
            .ok_or_else(|| YamlError {
                line,
                message: format!(
                    "{EXCESSIVE_ALIASING}: the aliases expand to more than {ALIAS_RATIO} times the document's own size; write the values out"
                ),
            })?;
        Ok(node.clone())
    }
}

fn too_much(line: usize, what: &str) -> YamlError {
    YamlError {
        line,
        message: format!("{what}: more than any credential provider config holds"),
    }
}

/// A plain scalar's type under YAML 1.1, as go-yaml (behind sigs.k8s.io/yaml) resolves it.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        ".inf" | "-.inf" | "+.inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN" => {
            return Value::Number(text.into());
        }
        _ => {}
    }
    let digits = text.replace('_', "");
    let unsigned = digits.trim_start_matches(['-', '+']);
    let radix = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| unsigned.strip_prefix(prefix).map(|rest| (rest, radix)));
    let is_number = match radix {
        Some((rest, radix)) => !rest.is_empty() && u64::from_str_radix(rest, radix).is_ok(),
        None => {
            unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
                && unsigned.bytes().any(|b| b.is_ascii_digit())
                && digits.parse::<f64>().is_ok()
        }
    };
    if is_number {
        Value::Number(text.into())
    } else {
        Value::Str(text.into())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn root(text: &str) -> Value {
        parse(text).unwrap().root.value
    }

    #[test]
    fn plain_scalars_are_typed_as_yaml_1_1_types_them() {
        let table = [
            ("yes", Value::Bool(true)),
            ("off", Value::Bool(false)),
            ("y", Value::Bool(true)),
            ("true", Value::Bool(true)),
            ("~", Value::Null),
            ("", Value::Null),
            ("12", Value::Number("12".into())),
            ("012345678901", Value::Number("012345678901".into())),
            ("1_000", Value::Number("1_000".into())),
            ("0x1F", Value::Number("0x1F".into())),
            ("1.5", Value::Number("1.5".into())),
            ("-3", Value::Number("-3".into())),
            ("12h0m0s", Value::Str("12h0m0s".into())),
            ("inf", Value::Str("inf".into())),
            ("nan", Value::Str("nan".into())),
            ("us-east-1", Value::Str("us-east-1".into())),
            ("'yes'", Value::Str("yes".into())),
            ("\"12\"", Value::Str("12".into())),
            ("!!str 12", Value::Str("12".into())),
        ];
        for (text, expected) in table {
            assert_eq!(root(text), expected, "{text:?}");
        }
    }

    #[test]
    fn maps_keep_order_and_lines_and_json_is_yaml() {
        let doc = parse("a: 1\nb:\n  - x\n  - z\n").unwrap();
        let Value::Map(entries) = doc.root.value else {
            panic!("not a map")
        };
        let keys: Vec<_> = entries
            .iter()
            .map(|(k, line, _)| (k.as_str(), *line))
            .collect();
        assert_eq!(keys, [("a", 1), ("b", 2)]);
        assert_eq!(
            entries[1].2.value,
            Value::Seq(vec![
                Node {
                    line: 3,
                    value: Value::Str("x".into())
                },
                Node {
                    line: 4,
                    value: Value::Str("z".into())
                },
            ])
        );
        assert_eq!(
            root(r#"{"a": [true, null, "s", 2]}"#),
            Value::Map(vec![(
                "a".into(),
                1,
                Node {
                    line: 1,
                    value: Value::Seq(vec![
                        Node {
                            line: 1,
                            value: Value::Bool(true)
                        },
                        Node {
                            line: 1,
                            value: Value::Null
                        },
                        Node {
                            line: 1,
                            value: Value::Str("s".into())
                        },
                        Node {
                            line: 1,
                            value: Value::Number("2".into())
                        },
                    ])
                }
            )])
        );
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let error = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(
            error
                .message
                .contains("duplicate key \"a\" (first on line 1)"),
            "{error}"
        );
        let error = parse(r#"{"p": {"x": 1, "x": 2}}"#).unwrap_err();
        assert!(error.message.contains("duplicate key \"x\""), "{error}");
    }

    #[test]
    fn aliases_expand_and_bombs_are_bounded() {
        assert_eq!(
            root("a: &v x\nb: *v\n"),
            Value::Map(vec![
                (
                    "a".into(),
                    1,
                    Node {
                        line: 1,
                        value: Value::Str("x".into())
                    }
                ),
                (
                    "b".into(),
                    2,
                    Node {
                        line: 1,
                        value: Value::Str("x".into())
                    }
                ),
            ])
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            let _ = writeln!(
                bomb,
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
            );
        }
        let error = parse(&bomb).unwrap_err();
        assert!(
            error.message.contains("too many values")
                || error.message.starts_with(EXCESSIVE_ALIASING),
            "{error}"
        );
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn aliases_add_at_most_a_few_times_the_document() {
        // Issue 19: 600 kB aliased 100,000 times was 60 GB once expanded; 100 kB a thousand
        // times is 100 MB, a bound a test can pass without one.
        let bomb = format!(
            "args: [&b \"{}\"]\nmatchImages: [{}]\n",
            "x".repeat(100_000),
            vec!["*b"; 1000].join(", ")
        );
        let error = parse(&bomb).unwrap_err();
        assert!(error.message.starts_with(EXCESSIVE_ALIASING), "{error}");
        assert_eq!(error.line, 2);
        // Within the budget: a big value aliased a few times, a small one many times.
        let few = format!("a: &b \"{}\"\nc: [*b, *b, *b]\n", "x".repeat(100_000));
        assert!(parse(&few).is_ok());
        let mut env = "e: &e [{name: AWS_REGION, value: us-east-1}]\n".to_owned();
        for i in 0..500 {
            let _ = writeln!(env, "p{i}: *e");
        }
        assert!(parse(&env).is_ok());
    }

    #[test]
    fn a_mapping_of_many_keys_is_checked_in_linear_time() {
        // Issue 19: comparing each key with every earlier one took 4.3 s for 49,000 keys
        // (12 s of CPU in a debug build; a fraction of a second once linear).
        let text: String = (0..49_000)
            .map(|i| format!("key{i}: {i}\n"))
            .chain(["key48999: again\n".to_owned()])
            .collect();
        let started = std::time::Instant::now();
        let error = parse(&text).unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            error
                .message
                .contains("duplicate key \"key48999\" (first on line 49000)"),
            "{error}"
        );
        assert_eq!(error.line, 49_001);
        assert!(elapsed < std::time::Duration::from_secs(3), "{elapsed:?}");
    }

    #[test]
    fn syntax_errors_and_extra_documents() {
        assert!(parse("a: [1, 2\n").is_err());
        assert!(parse("a: b: c\n").is_err());
        let doc = parse("a: 1\n---\nb: 2\n").unwrap();
        assert!(doc.more_documents);
        assert_eq!(parse("").unwrap().root.value, Value::Null);
    }
}
