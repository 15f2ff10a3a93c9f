//! Command line and environment → what to run and how. Accepts every command line existing
//! configs pass to upstream (`--version`/`-v`, `get-credentials` from kOps, klog's `--v=N`)
//! with the same meaning; anything unknown is an error, never silently ignored.
//!
//! Each subcommand is one [`Spec`] in [`COMMANDS`]: its usage, flags, example and exit codes,
//! from which `--help`, the man page and the README's command-line section are all made.
//! Adding a subcommand is one entry there, one [`Command`] variant, a module under `commands`
//! and one arm in `app`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::deadline::{DEFAULT_TIMEOUT, TIMEOUT_ENV};
use crate::duration;
use crate::error::Error;

/// The program's name, as every line it writes to stderr begins.
pub(crate) const PROGRAM: &str = "ecr-credential-provider";
pub const TRACE_ENV: &str = "ECR_CREDENTIAL_PROVIDER_TRACE";
pub(crate) const CACHE_DIR_ENV: &str = "ECR_CREDENTIAL_PROVIDER_CACHE_DIR";
/// The name this binary answers to as Docker's credential helper (see `commands::docker_helper`);
/// Docker looks it up for `"credHelpers": {HOST: "ecr-login"}` or `"credsStore": "ecr-login"`.
pub(crate) const HELPER_NAME: &str = "docker-credential-ecr-login";
/// amazon-ecr-credential-helper's switch that makes `store` and `erase` succeed, doing nothing,
/// so `docker login`/`logout` work with `"credsStore": "ecr-login"`.
pub(crate) const IGNORE_STORAGE_ENV: &str = "AWS_ECR_IGNORE_CREDS_STORAGE";
/// amazon-ecr-credential-helper's switch: any value but the empty one turns its cache off.
pub(crate) const DISABLE_CACHE_ENV: &str = "AWS_ECR_DISABLE_CACHE";
/// amazon-ecr-credential-helper's cache directory, `~/.ecr` when unset or empty.
pub(crate) const ECR_LOGIN_CACHE_DIR_ENV: &str = "AWS_ECR_CACHE_DIR";
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// The kubelet kills a provider after this, whatever the provider's own deadline.
pub(crate) const KUBELET_LIMIT: Duration = Duration::from_secs(60);

/// What a flag takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Takes {
    /// Nothing: present means on. `--json=false` is an error, not "on".
    Nothing,
    /// A value, as `--flag=VALUE` or `--flag VALUE`; never the next flag.
    Value(&'static str),
    /// An optional value, only as `--flag=VALUE`.
    Optional(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag {
    pub(crate) long: &'static str,
    pub(crate) short: Option<char>,
    pub(crate) takes: Takes,
    pub(crate) help: &'static str,
}

const fn flag(long: &'static str, takes: Takes, help: &'static str) -> Flag {
    Flag {
        long,
        short: None,
        takes,
        help,
    }
}

/// Flags every command accepts.
pub(crate) const GLOBAL_FLAGS: &[Flag] = &[
    Flag {
        short: Some('h'),
        ..flag("help", Takes::Nothing, "print help")
    },
    Flag {
        short: Some('v'),
        ..flag("version", Takes::Nothing, "print the version")
    },
    flag(
        "trace",
        Takes::Optional("FORMAT"),
        "trace to stderr, no secrets; FORMAT: text, json",
    ),
    flag(
        "v",
        Takes::Value("N"),
        "klog verbosity (also -v=N): 1-3 info, 4+ debug",
    ),
    flag(
        "timeout",
        Takes::Value("DURATION"),
        "give up after DURATION (Go syntax; default 30s)",
    ),
    flag(
        "cache-dir",
        Takes::Value("DIR"),
        "share tokens among the node's execs in DIR",
    ),
];

/// One subcommand: everything its `--help` says, and how its arguments become a [`Command`].
pub(crate) struct Spec {
    /// The word that selects it; the kubelet's path is selected by no word at all.
    pub(crate) name: &'static str,
    /// What follows the program's name, e.g. `get IMAGE [--show-password]`.
    pub(crate) usage: &'static str,
    /// One line for the overview.
    pub(crate) summary: &'static str,
    /// Required positional arguments, by name.
    pub(crate) args: &'static [&'static str],
    pub(crate) flags: &'static [Flag],
    pub(crate) about: &'static str,
    pub(crate) example: &'static str,
    pub(crate) exit_codes: &'static str,
    build: fn(&Matches) -> Command,
}

const EXIT_CODES: &str = "  0  the response is on stdout
  1  failure: one line on stderr says what and the fix; stdout stays empty
  2  wrong command line";

const REQUEST_EXAMPLE: &str = r#"  echo '{"kind":"CredentialProviderRequest",
    "apiVersion":"credentialprovider.kubelet.k8s.io/v1",
    "image":"123456789012.dkr.ecr.us-west-2.amazonaws.com/app"}' |
    ecr-credential-provider"#;

/// `config`'s flags, for its help; `commands::config` parses them (several repeat, and `check`
/// takes a path).
const CONFIG_FLAGS: &[Flag] = &[
    flag(
        "format",
        Takes::Value("yaml|json"),
        "output format (default yaml)",
    ),
    flag(
        "account",
        Takes::Value("ID"),
        "only this 12-digit registry id (repeatable)",
    ),
    flag(
        "region",
        Takes::Value("REGION"),
        "only this region and its partition (repeatable)",
    ),
    flag(
        "env",
        Takes::Value("NAME=VALUE"),
        "add to the provider's env (repeatable)",
    ),
    flag(
        "arg",
        Takes::Value("ARG"),
        "add to the provider's args (repeatable)",
    ),
    flag(
        "cache-dir",
        Takes::Value("DIR"),
        "the printed provider shares tokens in DIR",
    ),
    flag(
        "service-account",
        Takes::Nothing,
        "KEP-4412 tokenAttributes, node role kept",
    ),
    flag(
        "bin-dir",
        Takes::Value("DIR"),
        "check: DIR/NAME must be executable",
    ),
    flag(
        "image",
        Takes::Value("IMAGE"),
        "check: providers the kubelet execs for IMAGE",
    ),
];

pub(crate) const COMMANDS: &[Spec] = &[
    Spec {
        name: "get-credentials",
        usage: "[get-credentials] [FLAGS] < REQUEST",
        summary: "answer the kubelet's request",
        args: &[],
        flags: &[],
        about: "\
Reads one CredentialProviderRequest (JSON) on stdin, as the kubelet writes it,
and writes one CredentialProviderResponse on stdout. The word get-credentials is
optional (kOps passes it); other positional arguments are ignored with a
warning, as upstream ignores them.",
        example: REQUEST_EXAMPLE,
        exit_codes: EXIT_CODES,
        build: |_| Command::Provide,
    },
    Spec {
        name: "get",
        usage: "get IMAGE [--show-password] [--format FORMAT]",
        summary: "print the response for IMAGE",
        args: &["IMAGE"],
        flags: &[
            flag(
                "show-password",
                Takes::Nothing,
                "print the password, not ** redacted **",
            ),
            flag(
                "format",
                Takes::Value("FORMAT"),
                "dockerconfigjson: print a pull secret instead",
            ),
        ],
        about: "\
Builds the request for IMAGE (a repository, with or without a tag or digest),
gets a token as the kubelet's exec would, and prints the response. With
--format dockerconfigjson it prints the .dockerconfigjson of a
kubernetes.io/dockerconfigjson Secret for IMAGE's registry (password included),
and refuses a registry that is not ECR.",
        example: "  ecr-credential-provider get 123456789012.dkr.ecr.us-west-2.amazonaws.com/app",
        exit_codes: EXIT_CODES,
        build: |m| Command::Get {
            image: m.arg(0),
            format: match m.value("format").as_deref() {
                Some(FORMAT_DOCKER_CONFIG_JSON) => GetFormat::DockerConfigJson,
                _ => GetFormat::Response,
            },
            show_password: m.flag("show-password"),
        },
    },
    Spec {
        name: "check",
        usage: "check IMAGE [--json] [--config FILE] [FLAGS]",
        summary: "can this identity pull IMAGE?",
        args: &["IMAGE"],
        flags: &[
            flag("json", Takes::Nothing, "the report as JSON, for scripts"),
            flag(
                "registry-endpoint",
                Takes::Value("URL"),
                "registry at URL (http only on loopback)",
            ),
            flag(
                "service-account-token-file",
                Takes::Value("FILE"),
                "as a pod with this token (KEP-4412)",
            ),
            flag(
                "role-arn",
                Takes::Value("ARN"),
                "the pod's ecr-role-arn annotation",
            ),
            flag(
                "config",
                Takes::Value("FILE"),
                "the kubelet's provider config first",
            ),
        ],
        about: "\
Tries each step a pull of IMAGE takes, as the kubelet's exec would: who the
credentials are, the token, BatchGetImage (or the pull-through cache rule), a
layer's URL, then IMAGE's own registry with the login its challenge asks for,
the manifest and a layer, each in a share of --timeout. A failure says the cause
and the fix. --config first says if the kubelet would exec a provider for IMAGE,
and which, then runs the steps with that provider's env.",
        example: "  ecr-credential-provider check \\\n    123456789012.dkr.ecr.us-west-2.amazonaws.com/app:v1",
        exit_codes: "  0  every step passed: this identity can pull IMAGE
  1  a step failed (the report on stdout says which, why, and the fix),
     or the check could not run (one line on stderr)
  2  wrong command line",
        build: |m| Command::Check {
            image: m.arg(0),
            json: m.flag("json"),
            registry_endpoint: m.value("registry-endpoint"),
            service_account_token_file: m.value("service-account-token-file"),
            role_arn: m.value("role-arn"),
            config: m.value("config"),
        },
    },
    Spec {
        name: "config",
        usage: "config [FLAGS]\n       ecr-credential-provider config check PATH [--bin-dir DIR] [--image IMAGE]",
        summary: "print or lint a provider config",
        args: &[],
        flags: CONFIG_FLAGS,
        about: "\
Prints a CredentialProviderConfig whose matchImages cover every ECR host form;
config check lints one: what the kubelet refuses, what breaks ECR pulls, fixes.",
        example: "  ecr-credential-provider config --region us-west-2 > config.yaml\n  ecr-credential-provider config check config.yaml --image public.ecr.aws/a/b",
        exit_codes: "  0  printed, or no errors found (warnings and notes are printed)
  1  errors, an --image no provider matches, or an unreadable PATH
  2  wrong command line",
        build: |_| Command::Config(Vec::new()),
    },
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// The kubelet's exec protocol: request on stdin, response on stdout.
    Provide,
    /// Build the request for `image` and print the response, password redacted unless asked.
    Get {
        image: String,
        show_password: bool,
        format: GetFormat,
    },
    /// Try each step a pull of `image` takes and report which fails, why, and the fix.
    Check {
        image: String,
        json: bool,
        registry_endpoint: Option<String>,
        /// A pod's service-account token, to check as the role the provider would assume.
        service_account_token_file: Option<String>,
        /// The pod's `eks.amazonaws.com/ecr-role-arn` annotation (empty: node credentials).
        role_arn: Option<String>,
        /// A CredentialProviderConfig: check as the kubelet would exec the provider for it.
        config: Option<String>,
    },
    /// `config …`: print or check a CredentialProviderConfig (`commands::config` reads its arguments).
    Config(Vec<String>),
    Version,
    /// Help for one command, or the overview.
    Help(Option<&'static str>),
}

/// What `get` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GetFormat {
    /// The kubelet's CredentialProviderResponse.
    Response,
    /// Docker's config JSON, as a `kubernetes.io/dockerconfigjson` Secret holds it.
    DockerConfigJson,
}

const FORMAT_DOCKER_CONFIG_JSON: &str = "dockerconfigjson";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TraceLevel {
    Info,
    Debug,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cli {
    pub(crate) command: Command,
    /// `None`: only warnings reach stderr.
    pub(crate) trace: Option<(TraceFormat, TraceLevel)>,
    pub(crate) timeout: Duration,
    /// Said on stderr before the run: settings that cannot be honoured as written, and
    /// positional arguments upstream ignores. A debug setting never fails a pull.
    pub(crate) warnings: Vec<String>,
    /// The shared token cache's directory, when it is on.
    pub(crate) cache_dir: Option<PathBuf>,
    /// Positional arguments the kubelet's command ignores (each also a warning): a person on
    /// a terminal is told of them at once, with the command a typo may have meant.
    pub(crate) ignored: Vec<Ignored>,
}

/// A positional argument the kubelet's command ignores, as upstream's does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ignored {
    /// Bounded, as every value a message repeats.
    pub(crate) arg: String,
    /// The command it is one typo away from, when it stood where a command goes.
    pub(crate) meant: Option<&'static str>,
}

impl Ignored {
    fn did_you_mean(&self) -> String {
        self.meant
            .map(|name| format!(" (did you mean `{name}`?)"))
            .unwrap_or_default()
    }
}

impl Cli {
    /// What a person who runs the kubelet's command on a terminal is told at once, before
    /// stdin is read: what it waits for, and which arguments it ignores.
    pub(crate) fn terminal_notice(&self) -> String {
        let args: Vec<String> = self
            .ignored
            .iter()
            .map(|ignored| format!("{:?}{}", ignored.arg, ignored.did_you_mean()))
            .collect();
        let ignoring = match args.as_slice() {
            [] => String::new(),
            [arg] => format!(", and ignoring the argument {arg}"),
            args => format!(", and ignoring the arguments {}", args.join(", ")),
        };
        format!(
            "stdin is a terminal: waiting for a CredentialProviderRequest (JSON, ended by Ctrl-D), as the kubelet writes it{ignoring}; to ask for an image by hand, run `ecr-credential-provider get IMAGE`"
        )
    }
}

/// The flags and positional arguments of one command line, before they mean anything.
#[derive(Debug, Default)]
pub(crate) struct Matches {
    flags: Vec<(&'static str, Option<String>)>,
    positional: Vec<String>,
}

impl Matches {
    fn flag(&self, long: &str) -> bool {
        self.flags.iter().any(|(name, _)| *name == long)
    }

    /// The last value given, as with most command-line tools.
    fn value(&self, long: &str) -> Option<String> {
        self.flags
            .iter()
            .rev()
            .find(|(name, _)| *name == long)
            .and_then(|(_, value)| value.clone())
    }

    fn arg(&self, index: usize) -> String {
        self.positional.get(index).cloned().unwrap_or_default()
    }
}

fn usage(message: impl Into<String>) -> Error {
    Error::Usage(message.into())
}

fn find_flag(long: &str) -> Option<&'static Flag> {
    GLOBAL_FLAGS
        .iter()
        .chain(COMMANDS.iter().flat_map(|spec| spec.flags))
        .find(|flag| flag.long == long)
}

fn spec(name: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|spec| spec.name == name)
}

fn text(value: OsString, what: &str) -> Result<String, Error> {
    value
        .into_string()
        .map_err(|value| usage(format!("{what} {:?} is not UTF-8", value.display())))
}

/// Step one: split the command line into flags and positional arguments, checking only
/// each flag's shape (known, takes a value or not).
fn lex(args: impl IntoIterator<Item = OsString>) -> Result<Matches, Error> {
    use lexopt::Arg::{Long, Short, Value};
    let mut parser = lexopt::Parser::from_args(args);
    let mut matches = Matches::default();
    loop {
        let arg = parser.next().map_err(|error| usage(format!("{error}")))?;
        let Some(arg) = arg else { break };
        let (flag, shown) = match arg {
            Value(value) => {
                matches.positional.push(text(value, "argument")?);
                continue;
            }
            // Upstream's `-v` is --version; klog's `-v=N` is the verbosity.
            Short('v') => match parser.optional_value() {
                Some(level) => {
                    matches.flags.push(("v", Some(text(level, "-v")?)));
                    continue;
                }
                None => (find_flag("version"), "-v".to_owned()),
            },
            Short('h') => (find_flag("help"), "-h".to_owned()),
            Short(other) => return Err(usage(format!("unknown flag -{other}"))),
            Long(long) => (find_flag(long), format!("--{long}")),
        };
        let flag = flag.ok_or_else(|| usage(format!("unknown flag {shown}")))?;
        let value = match flag.takes {
            Takes::Nothing => {
                if let Some(value) = parser.optional_value() {
                    return Err(usage(format!(
                        "{shown} takes no value (given {:?}): it is on when present, off when absent",
                        value.display()
                    )));
                }
                None
            }
            Takes::Optional(_) => parser
                .optional_value()
                .map(|value| text(value, &shown))
                .transpose()?,
            Takes::Value(name) => Some(required_value(&mut parser, &shown, name)?),
        };
        matches.flags.push((flag.long, value));
    }
    Ok(matches)
}

/// `--flag=VALUE` or `--flag VALUE`, but never `--flag --other`: a forgotten value must not
/// turn the next flag into one.
fn required_value(parser: &mut lexopt::Parser, shown: &str, name: &str) -> Result<String, Error> {
    if let Some(value) = parser.optional_value() {
        return text(value, shown);
    }
    let missing = || usage(format!("{shown} needs a value: {shown}={name}"));
    let next = parser
        .raw_args()
        .map_err(|error| usage(format!("{error}")))?
        .next_if(|next| !next.to_string_lossy().starts_with('-') || next == "-");
    text(next.ok_or_else(missing)?, shown)
}

/// `config` reads its own arguments (repeated flags, `check FILE`); its help comes from its Spec.
fn config_command(args: &[OsString]) -> Result<Option<Command>, Error> {
    if args.first().is_none_or(|arg| arg != "config") {
        return Ok(None);
    }
    let rest = args[1..]
        .iter()
        .map(|arg| text(arg.clone(), "argument"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        if rest.iter().any(|arg| arg == "-h" || arg == "--help") {
            Command::Help(Some("config"))
        } else {
            Command::Config(rest)
        },
    ))
}

/// `get --format` takes one value; anything else is a wrong command line, not a default.
fn check_format(matches: &Matches) -> Result<(), Error> {
    match matches.value("format") {
        Some(format) if format != FORMAT_DOCKER_CONFIG_JSON => Err(usage(format!(
            "--format {:?}: the only format is {FORMAT_DOCKER_CONFIG_JSON}",
            bounded(&format)
        ))),
        _ => Ok(()),
    }
}

/// `check --registry-endpoint` is where the ECR token goes: refused here, before anything runs,
/// unless https:// or a loopback stand-in (issue 19).
fn check_registry_endpoint(matches: &Matches) -> Result<(), Error> {
    match matches.value("registry-endpoint") {
        Some(url) => match crate::registry::endpoint_problem(&url) {
            Some(problem) => Err(usage(format!(
                "--registry-endpoint {:?}: {problem}",
                bounded(&url)
            ))),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

/// Parses `args` (without the program name); `env` reads our own environment variables.
pub(crate) fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Cli, Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    match config_command(&args)? {
        Some(command) => Ok(help_cli(command)),
        None => parse_command_line(args, env),
    }
}

fn parse_command_line(
    args: Vec<OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Cli, Error> {
    let matches = lex(args)?;
    let mut warnings = Vec::new();

    let mut positional = matches.positional.iter();
    let first = positional.next().map(String::as_str);
    let named_command = first.and_then(spec).is_some();
    let (spec, rest): (&Spec, Vec<String>) = match first.and_then(spec) {
        Some(spec) => (spec, positional.cloned().collect()),
        None if matches!(first, Some("help")) => {
            let topic = positional.next().map(|name| {
                spec(name)
                    .map(|spec| spec.name)
                    .ok_or_else(|| usage(format!("no command {name:?}: {}", command_names())))
            });
            return Ok(help_cli(Command::Help(topic.transpose()?)));
        }
        None if matches!(first, Some("version")) => return Ok(help_cli(Command::Version)),
        // Upstream's command takes any positional argument and ignores it.
        None => (&COMMANDS[0], matches.positional.clone()),
    };
    if matches.flag("help") {
        let topic = first.is_some().then_some(spec.name);
        return Ok(help_cli(Command::Help(topic)));
    }
    if matches.flag("version") {
        return Ok(help_cli(Command::Version));
    }
    for (name, _) in &matches.flags {
        if !GLOBAL_FLAGS.iter().any(|f| f.long == *name)
            && !spec.flags.iter().any(|f| f.long == *name)
        {
            let owner = COMMANDS
                .iter()
                .find(|s| s.flags.iter().any(|f| f.long == *name))
                .map_or("", |s| s.name);
            return Err(usage(format!("--{name} goes with {owner} only")));
        }
    }
    let mut ignored = Vec::new();
    if spec.args.is_empty() {
        ignored = ignore(&rest, named_command, &mut warnings);
    } else {
        if rest.len() < spec.args.len() {
            return Err(usage(format!(
                "{} needs {}, such as: {}",
                spec.name,
                spec.args.join(" "),
                spec.example.trim()
            )));
        }
        if let Some(extra) = rest.get(spec.args.len()) {
            return Err(usage(format!(
                "{}: unexpected argument {:?}",
                spec.name,
                bounded(extra)
            )));
        }
    }
    check_format(&matches)?;
    check_registry_endpoint(&matches)?;
    let command = (spec.build)(&Matches {
        flags: matches.flags.clone(),
        positional: rest,
    });

    let timeout = timeout(&matches, &env, &mut warnings)?;
    let verbosity = match matches.value("v") {
        Some(text) => parse_verbosity(&text, &mut warnings),
        None => 0,
    };
    let trace_flag = match matches.value("trace").as_deref() {
        None if !matches.flag("trace") => None,
        None | Some("text") => Some(TraceFormat::Text),
        Some("json") => Some(TraceFormat::Json),
        Some(other) => {
            warnings.push(format!(
                "--trace={:?} is not a trace format (text, json): not tracing",
                bounded(other)
            ));
            None
        }
    };
    let trace = trace_setting(
        trace_flag,
        verbosity,
        env(TRACE_ENV).as_deref(),
        &mut warnings,
    );
    let cache_dir = matches
        .value("cache-dir")
        .or_else(|| env(CACHE_DIR_ENV))
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    Ok(Cli {
        command,
        trace,
        timeout,
        warnings,
        cache_dir,
        ignored,
    })
}

/// The positional arguments the kubelet's command ignores, each with its warning. Only the
/// first word, where no command was named, can be a mistyped command.
fn ignore(rest: &[String], named_command: bool, warnings: &mut Vec<String>) -> Vec<Ignored> {
    rest.iter()
        .enumerate()
        .map(|(i, arg)| {
            let arg = Ignored {
                arg: bounded(arg),
                meant: (i == 0 && !named_command)
                    .then(|| similar_command(arg))
                    .flatten(),
            };
            warnings.push(format!(
                "ignoring the argument {:?}, as upstream's command does{}",
                arg.arg,
                arg.did_you_mean()
            ));
            arg
        })
        .collect()
}

fn help_cli(command: Command) -> Cli {
    Cli {
        command,
        trace: None,
        timeout: DEFAULT_TIMEOUT,
        warnings: Vec::new(),
        cache_dir: None,
        ignored: Vec::new(),
    }
}

fn command_names() -> String {
    let names: Vec<&str> = COMMANDS.iter().map(|spec| spec.name).collect();
    format!("the commands are {}", names.join(", "))
}

/// The command `word` is a typo of: one edit away (two for longer names), a swap of
/// neighbours counting as one.
fn similar_command(word: &str) -> Option<&'static str> {
    let word = word.to_lowercase();
    COMMANDS
        .iter()
        .map(|spec| spec.name)
        .chain(["help", "version"])
        .map(|name| (edit_distance(&word, name), name))
        .filter(|&(distance, name)| distance <= name.len().min(9) / 4 + 1)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, name)| name)
}

/// The optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// neighbouring characters, each costing one.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table: two back (for swaps), the previous one and this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (previous[j] + 1)
                .min(row[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut previous, row);
    }
    previous[b.len()]
}

/// A value from the user, shortened for a message: messages stay one bounded line.
pub(crate) fn bounded(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The flag wins over the environment. Errors name where the value came from.
fn timeout(
    matches: &Matches,
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Duration, Error> {
    let (text, origin) = match matches.value("timeout") {
        Some(text) => (text, "--timeout".to_owned()),
        None => match env(TIMEOUT_ENV).filter(|v| !v.is_empty()) {
            Some(text) => (text, TIMEOUT_ENV.to_owned()),
            None => return Ok(DEFAULT_TIMEOUT),
        },
    };
    let shown = format!("{origin}={:?}", bounded(&text));
    let timeout = match duration::parse(&text) {
        Err(duration::ParseError::NotGo)
            if text.trim().parse::<f64>().is_ok() && text.trim() != "0" =>
        {
            return Err(usage(format!(
                "{shown}: a duration needs a unit, as in Go: {}s, {}m",
                text.trim(),
                text.trim()
            )));
        }
        Err(duration::ParseError::NotGo) => {
            return Err(usage(format!(
                "{shown} is not a Go duration such as 30s, 1m or 1m30s"
            )));
        }
        Err(duration::ParseError::Negative) => {
            return Err(usage(format!(
                "{shown} is out of range: the timeout must be more than 0"
            )));
        }
        Ok(d) if d.is_zero() => {
            return Err(usage(format!("{shown}: the timeout must be more than 0")));
        }
        Ok(d) if d > MAX_TIMEOUT => {
            return Err(usage(format!(
                "{shown} is out of range: the timeout must be at most 1h"
            )));
        }
        Ok(d) => d,
    };
    if timeout > KUBELET_LIMIT {
        warnings.push(format!(
            "{shown} is longer than the kubelet waits: it kills a provider after 1m0s, whatever this says"
        ));
    }
    Ok(timeout)
}

/// klog's level; a debug setting, so a bad one is a warning, never a failed pull.
fn parse_verbosity(text: &str, warnings: &mut Vec<String>) -> u32 {
    text.parse().unwrap_or_else(|_| {
        warnings.push(format!(
            "--v={:?} is not a verbosity (a number such as 2 or 4): not tracing",
            bounded(text)
        ));
        0
    })
}

/// The flag wins over the environment; `--v` raises the level of either. An unknown value
/// of the variable is a warning, never a failed pull: it is a debug setting.
fn trace_setting(
    flag: Option<TraceFormat>,
    verbosity: u32,
    env: Option<&str>,
    warnings: &mut Vec<String>,
) -> Option<(TraceFormat, TraceLevel)> {
    let from_env = match env.map(str::trim) {
        None | Some("" | "0" | "false") => None,
        Some("1" | "true" | "text") => Some(TraceFormat::Text),
        Some("json") => Some(TraceFormat::Json),
        Some(other) => {
            warnings.push(format!(
                "{TRACE_ENV}={:?} is not a trace setting (1, text, json, or 0 for off): not tracing",
                bounded(other)
            ));
            None
        }
    };
    match (flag.or(from_env), verbosity) {
        (Some(format), _) => Some((format, TraceLevel::Debug)),
        (None, 0) => None,
        (None, 1..=3) => Some((TraceFormat::Text, TraceLevel::Info)),
        (None, _) => Some((TraceFormat::Text, TraceLevel::Debug)),
    }
}

const ENVIRONMENT: &[(&str, &str)] = &[
    (TRACE_ENV, "1, text or json: as --trace; 0: off"),
    (TIMEOUT_ENV, "as --timeout"),
    (CACHE_DIR_ENV, "as --cache-dir (off by default)"),
    (
        "AWS_ECR_ROLE_ARN",
        "role to assume with a service-account token",
    ),
    (
        "AWS_REGION, AWS_PROFILE, ...",
        "the AWS SDK's own, as AWS_ENDPOINT_URL_ECR",
    ),
];

/// The binary under the Docker helper's name: one line of the overview, a section of the man
/// page (the README says the rest).
const HELPER_USAGE: (&str, &str) = (
    "docker-credential-ecr-login ACTION",
    "Docker credential helper (a link)",
);

#[cfg(test)]
const HELPER_ABOUT: &str = "\
Run under the name docker-credential-ecr-login (a symbolic link or a copy), the
binary is the Docker credential helper that amazon-ecr-credential-helper
installs under that name, for docker, podman, skopeo, buildah and nerdctl. It
takes one ACTION and no flags (settings come from the environment): get reads a
server URL on stdin and prints the credentials for it, for ECR hosts only; list
prints the registries the token cache holds tokens for, after asking for the
caller's own and ECR Public's; store and erase answer \"not implemented\" unless
AWS_ECR_IGNORE_CREDS_STORAGE is true; version. As amazon-ecr-credential-helper,
it caches tokens by default: in ECR_CREDENTIAL_PROVIDER_CACHE_DIR when set, else
nowhere when AWS_ECR_DISABLE_CACHE is not empty, else in AWS_ECR_CACHE_DIR,
else in ~/.ecr. The cache touches only its own files there.";

/// amazon-ecr-credential-helper's variables, which the Docker helper honours: in full in the
/// man page, as one row in the overview.
#[cfg(test)]
const HELPER_ENVIRONMENT: &[(&str, &str)] = &[
    (
        ECR_LOGIN_CACHE_DIR_ENV,
        "the Docker helper's token cache when ECR_CREDENTIAL_PROVIDER_CACHE_DIR is unset (default ~/.ecr; a leading ~ is the home directory)",
    ),
    (
        DISABLE_CACHE_ENV,
        "any value but the empty one (false too): the Docker helper caches no token, unless ECR_CREDENTIAL_PROVIDER_CACHE_DIR is set",
    ),
    (
        IGNORE_STORAGE_ENV,
        "true: the Docker helper's store and erase succeed doing nothing",
    ),
];
const HELPER_ENVIRONMENT_ROW: (&str, &str) = (
    "AWS_ECR_CACHE_DIR, ...",
    "ecr-login's settings, in the Docker helper",
);

fn flag_column(flag: &Flag) -> String {
    let short = flag
        .short
        .map_or_else(|| "    ".to_owned(), |c| format!("-{c}, "));
    let value = match flag.takes {
        Takes::Nothing => String::new(),
        Takes::Value(name) => format!("={name}"),
        Takes::Optional(name) => format!("[={name}]"),
    };
    format!("{short}--{}{value}", flag.long)
}

/// Flags as a table, aligned to the widest of them (a command's help lists its own flags only,
/// so one long flag name costs no other table its room).
fn write_flags(out: &mut String, flags: &[Flag]) {
    let width = flags
        .iter()
        .map(|flag| flag_column(flag).len() + 2)
        .max()
        .unwrap_or_default();
    for flag in flags {
        let _ = writeln!(out, "  {:<width$}{}", flag_column(flag), flag.help);
    }
}

/// `--help`: the overview, or one command's usage, flags, example and exit codes.
pub(crate) fn help(topic: Option<&str>) -> String {
    let mut out = String::new();
    match topic.and_then(spec) {
        None => {
            let _ = writeln!(
                out,
                "{PROGRAM}: kubelet credentials for Amazon ECR and ECR Public\n\nUsage:"
            );
            for spec in COMMANDS {
                let _ = writeln!(out, "  {PROGRAM} {:<19}{}", short_usage(spec), spec.summary);
            }
            let _ = writeln!(
                out,
                "  {PROGRAM} {:<19}its flags, example, exit codes",
                "COMMAND --help"
            );
            let (helper, summary) = HELPER_USAGE;
            let _ = writeln!(
                out,
                "  {helper:<width$}{summary}",
                width = PROGRAM.len() + 20
            );
            out.push_str("\nFlags (every command):\n");
            write_flags(&mut out, GLOBAL_FLAGS);
            out.push_str("\nEnvironment:\n");
            let rows = || ENVIRONMENT.iter().chain([&HELPER_ENVIRONMENT_ROW]);
            let width = rows()
                .map(|(name, _)| name.len() + 2)
                .max()
                .unwrap_or_default();
            for (name, meaning) in rows() {
                let _ = writeln!(out, "  {name:<width$}{meaning}");
            }
            // The overview keeps to a screen as commands come: exit codes in one line here,
            // in full in each command's help.
            let _ = write!(
                out,
                "\nExit codes: 0 success, 1 failure (one line on stderr), 2 wrong command line\n\nExample:\n{}\n",
                COMMANDS[1].example
            );
        }
        Some(spec) => {
            let _ = write!(
                out,
                "{PROGRAM} {}: {}\n\nUsage: {PROGRAM} {}\n\n{}\n",
                spec.name, spec.summary, spec.usage, spec.about
            );
            out.push_str("\nFlags:\n");
            write_flags(&mut out, spec.flags);
            // The global flags by name only: a command's help must leave room for its own.
            let names: Vec<String> = GLOBAL_FLAGS
                .iter()
                .map(|flag| flag_column(flag).trim().replace(", ", "/"))
                .collect();
            let sentence = format!(
                "Every command also takes {}: `{PROGRAM} --help` says what they do.",
                names.join(", ")
            );
            out.push_str(&wrap(&sentence, "  ", 78));
            let _ = write!(
                out,
                "\nExample:\n{}\n\nExit codes:\n{}\n",
                spec.example, spec.exit_codes
            );
        }
    }
    out
}

/// `text` in lines of at most `width` columns, each starting with `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

fn short_usage(spec: &Spec) -> String {
    if spec.name == COMMANDS[0].name {
        "[FLAGS] < REQUEST".to_owned()
    } else {
        format!("{} {}", spec.name, spec.args.join(" "))
    }
}

/// The man page, from the same text as `--help`: made by the test that keeps
/// doc/ecr-credential-provider.1 current (`man_page_matches_the_help`).
#[cfg(test)]
fn man_page() -> String {
    let escape = |text: &str| {
        text.replace('\\', "\\e")
            .replace('-', "\\-")
            .lines()
            .map(|line| {
                if line.starts_with(['.', '\'']) {
                    format!("\\&{line}")
                } else {
                    line.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut out = format!(
        ".TH ECR\\-CREDENTIAL\\-PROVIDER 1 \"\" \"{PROGRAM} {}\" \"User Commands\"\n\
         .SH NAME\n{PROGRAM} \\- kubelet image credential provider for Amazon ECR and ECR Public\n\
         .SH SYNOPSIS\n.nf\n",
        env!("CARGO_PKG_VERSION")
    );
    for spec in COMMANDS {
        let _ = writeln!(out, "\\fB{PROGRAM}\\fR {}", escape(spec.usage));
    }
    let _ = writeln!(
        out,
        "\\fB{}\\fR get|list|store|erase|version",
        escape(HELPER_NAME)
    );
    out.push_str(".fi\n.SH DESCRIPTION\n");
    for spec in COMMANDS {
        let _ = write!(
            out,
            ".SS {}\n{}\n.PP\nExample:\n.nf\n{}\n.fi\n",
            escape(spec.name),
            escape(spec.about),
            escape(spec.example)
        );
        if !spec.flags.is_empty() {
            out.push_str(".PP\nFlags:\n");
            for flag in spec.flags {
                let _ = write!(
                    out,
                    ".TP\n\\fB{}\\fR\n{}\n",
                    escape(flag_column(flag).trim()),
                    escape(flag.help)
                );
            }
        }
        if spec.exit_codes != EXIT_CODES {
            let _ = write!(
                out,
                ".PP\nExit codes:\n.nf\n{}\n.fi\n",
                escape(spec.exit_codes)
            );
        }
    }
    let _ = write!(
        out,
        ".SS {}\n{}\n",
        escape(HELPER_NAME),
        escape(HELPER_ABOUT)
    );
    out.push_str(".SH OPTIONS\n");
    for flag in GLOBAL_FLAGS {
        let _ = write!(
            out,
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(flag_column(flag).trim()),
            escape(flag.help)
        );
    }
    out.push_str(".SH ENVIRONMENT\n");
    for (name, meaning) in ENVIRONMENT.iter().chain(HELPER_ENVIRONMENT) {
        let _ = write!(out, ".TP\n\\fB{}\\fR\n{}\n", escape(name), escape(meaning));
    }
    let _ = write!(
        out,
        ".SH EXIT STATUS\n.nf\n{}\n.fi\n.SH SEE ALSO\nThe kubelet's \\fB\\-\\-image\\-credential\\-provider\\-config\\fR and \\fB\\-\\-image\\-credential\\-provider\\-bin\\-dir\\fR.\n",
        escape(EXIT_CODES)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The man page is made from the help's text; the shipped copy must be the current one.
    /// After changing a help text: `UPDATE_MAN=1 cargo test --lib man_page`.
    #[test]
    fn man_page_matches_the_help() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/doc/ecr-credential-provider.1");
        let current = man_page();
        if std::env::var_os("UPDATE_MAN").is_some() {
            std::fs::write(path, &current).unwrap();
        }
        let shipped = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            shipped == current,
            "doc/ecr-credential-provider.1 is stale: run `UPDATE_MAN=1 cargo test --lib man_page`"
        );
    }

    fn parse_args(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, Error> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        parse(args.iter().map(OsString::from), move |key| {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    #[track_caller]
    fn check(args: &[&str], command: &Command) {
        assert_eq!(&parse_args(args, &[]).unwrap().command, command, "{args:?}");
    }

    #[track_caller]
    fn check_usage_error(args: &[&str], env: &[(&str, &str)], needle: &str) {
        match parse_args(args, env) {
            Err(Error::Usage(message)) => assert!(message.contains(needle), "{args:?}: {message}"),
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn upstream_command_lines_keep_their_meaning() {
        check(&[], &Command::Provide);
        check(&["get-credentials"], &Command::Provide);
        check(&["--version"], &Command::Version);
        check(&["-v"], &Command::Version);
        check(&["version"], &Command::Version);
        check(&["-h"], &Command::Help(None));
        check(&["--help"], &Command::Help(None));
        check(&["help"], &Command::Help(None));
        check(&["help", "check"], &Command::Help(Some("check")));
        check(&["get", "--help"], &Command::Help(Some("get")));
        check(&["check", "-h"], &Command::Help(Some("check")));
        check(&["get-credentials", "--v=4"], &Command::Provide);
        check(&["get-credentials", "--v", "4"], &Command::Provide);
        let check_args = [
            "check",
            "public.ecr.aws/x",
            "--json",
            "--registry-endpoint",
            "http://127.0.0.1:5000",
        ];
        check(
            &check_args,
            &Command::Check {
                image: "public.ecr.aws/x".into(),
                json: true,
                registry_endpoint: Some("http://127.0.0.1:5000".into()),
                service_account_token_file: None,
                role_arn: None,
                config: None,
            },
        );
        for args in [
            &["get", "public.ecr.aws/x", "--show-password"][..],
            &["--show-password", "get", "public.ecr.aws/x"],
            &["--show-password", "get", "--", "public.ecr.aws/x"],
        ] {
            check(
                args,
                &Command::Get {
                    image: "public.ecr.aws/x".into(),
                    show_password: true,
                    format: GetFormat::Response,
                },
            );
        }
        for args in [
            &["get", "public.ecr.aws/x", "--format", "dockerconfigjson"][..],
            &["get", "--format=dockerconfigjson", "public.ecr.aws/x"],
        ] {
            check(
                args,
                &Command::Get {
                    image: "public.ecr.aws/x".into(),
                    show_password: false,
                    format: GetFormat::DockerConfigJson,
                },
            );
        }
    }

    /// A word where a command goes that is a typo of one is named with it, at once on a
    /// terminal and in the warning; arguments after a command, or far from any, are not.
    #[test]
    fn a_mistyped_command_is_named_with_the_command_it_may_mean() {
        let table: &[(&[&str], &[Option<&str>])] = &[
            (&["chek", "IMAGE"], &[Some("check"), None]),
            (&["cehck"], &[Some("check")]),
            (&["Check"], &[Some("check")]),
            (&["gte", "IMAGE"], &[Some("get"), None]),
            (&["confg"], &[Some("config")]),
            (&["get-credential"], &[Some("get-credentials")]),
            (&["verison"], &[Some("version")]),
            (&["hlep"], &[Some("help")]),
            (&["chk"], &[Some("check")]),
            (&["xyz"], &[None]),
            (&["frob"], &[None]),
            (
                &["123456789012.dkr.ecr.us-west-2.amazonaws.com/app"],
                &[None],
            ),
            (&["get-credentials", "chek"], &[None]),
        ];
        for (args, meant) in table {
            let cli = parse_args(args, &[]).unwrap();
            assert_eq!(cli.command, Command::Provide, "{args:?}");
            let found: Vec<Option<&str>> = cli.ignored.iter().map(|i| i.meant).collect();
            assert_eq!(&found, meant, "{args:?}");
        }
        let cli = parse_args(&["chek", "IMAGE"], &[]).unwrap();
        assert_eq!(
            cli.warnings,
            [
                "ignoring the argument \"chek\", as upstream's command does (did you mean `check`?)",
                "ignoring the argument \"IMAGE\", as upstream's command does",
            ]
        );
        assert_eq!(
            cli.terminal_notice(),
            "stdin is a terminal: waiting for a CredentialProviderRequest (JSON, ended by Ctrl-D), as the kubelet writes it, and ignoring the arguments \"chek\" (did you mean `check`?), \"IMAGE\"; to ask for an image by hand, run `ecr-credential-provider get IMAGE`"
        );
        assert_eq!(
            parse_args(&[], &[]).unwrap().terminal_notice(),
            "stdin is a terminal: waiting for a CredentialProviderRequest (JSON, ended by Ctrl-D), as the kubelet writes it; to ask for an image by hand, run `ecr-credential-provider get IMAGE`"
        );
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one() {
        for (a, b, distance) in [
            ("check", "check", 0),
            ("chek", "check", 1),
            ("cehck", "check", 1),
            ("", "get", 3),
            ("gte", "get", 1),
            ("kitten", "sitting", 3),
        ] {
            assert_eq!(edit_distance(a, b), distance, "{a} {b}");
            assert_eq!(edit_distance(b, a), distance, "{b} {a}");
        }
    }

    #[test]
    fn positional_arguments_upstream_ignores_are_ignored_with_a_warning() {
        let cli = parse_args(&["get-credentials", "extra"], &[]).unwrap();
        assert_eq!(cli.command, Command::Provide);
        assert_eq!(
            cli.warnings,
            ["ignoring the argument \"extra\", as upstream's command does"]
        );
        let cli = parse_args(&["frob"], &[]).unwrap();
        assert_eq!(cli.command, Command::Provide);
        assert_eq!(cli.warnings.len(), 1);
        assert_eq!(
            cli.ignored,
            [Ignored {
                arg: "frob".into(),
                meant: None
            }]
        );
        assert!(
            parse_args(&["get-credentials"], &[])
                .unwrap()
                .warnings
                .is_empty()
        );
        assert_eq!(
            parse_args(&["-v=3"], &[]).unwrap().trace,
            Some((TraceFormat::Text, TraceLevel::Info))
        );
    }

    #[test]
    fn unknown_input_is_a_usage_error() {
        check_usage_error(&["--frobnicate"], &[], "unknown flag --frobnicate");
        check_usage_error(&["-x"], &[], "unknown flag -x");
        check_usage_error(&["get"], &[], "get needs IMAGE, such as");
        check_usage_error(&["get", "a", "b"], &[], "get: unexpected argument \"b\"");
        check_usage_error(&["--v"], &[], "--v needs a value");
        check_usage_error(&["--show-password"], &[], "goes with get only");
        check_usage_error(&["get", "x", "--json"], &[], "--json goes with check only");
        check_usage_error(
            &["get", "x", "--format=json"],
            &[],
            "the only format is dockerconfigjson",
        );
        check_usage_error(&["get", "x", "--format"], &[], "--format needs a value");
        check_usage_error(
            &["--format=dockerconfigjson"],
            &[],
            "--format goes with get only",
        );
        check_usage_error(&["check"], &[], "check needs IMAGE");
        check_usage_error(&["help", "frob"], &[], "no command \"frob\"");
    }

    /// Issue 9: booleans take no value, and a missing value never swallows the next flag.
    #[test]
    fn flags_take_exactly_what_they_say() {
        check_usage_error(
            &["check", "x", "--json=false"],
            &[],
            "--json takes no value",
        );
        check_usage_error(
            &["get", "x", "--show-password=false"],
            &[],
            "--show-password takes no value",
        );
        check_usage_error(&["--timeout", "--json"], &[], "--timeout needs a value");
        check_usage_error(
            &["--timeout"],
            &[],
            "--timeout needs a value: --timeout=DURATION",
        );
        check_usage_error(
            &["check", "x", "--registry-endpoint", "--json"],
            &[],
            "--registry-endpoint needs a value",
        );
        check_usage_error(&["--help=yes"], &[], "--help takes no value");
    }

    /// Issue 19: the ECR token goes to a --registry-endpoint in clear only on loopback.
    #[test]
    fn a_plain_http_registry_endpoint_is_loopback_only() {
        for endpoint in [
            "http://10.0.0.1:5000",
            "http://registry.example",
            "ftp://127.0.0.1",
        ] {
            check_usage_error(
                &["check", "x", "--registry-endpoint", endpoint],
                &[],
                &format!("--registry-endpoint {endpoint:?}: "),
            );
        }
        for endpoint in [
            "http://127.0.0.1:5000",
            "http://[::1]:5000",
            "https://r.example",
        ] {
            assert!(
                parse_args(&["check", "x", "--registry-endpoint", endpoint], &[]).is_ok(),
                "{endpoint}"
            );
        }
    }

    /// Go's time.ParseDuration: a unit is required except for "0"; "0" is no timeout.
    #[test]
    fn timeouts_are_go_durations_named_by_where_they_came_from() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
        let table: &[Case] = &[
            (
                &["--timeout=2"],
                &[],
                "--timeout=\"2\": a duration needs a unit, as in Go: 2s",
            ),
            (&["--timeout", "2.5"], &[], "needs a unit"),
            (
                &["--timeout=0"],
                &[],
                "--timeout=\"0\": the timeout must be more than 0",
            ),
            (&["--timeout=0s"], &[], "more than 0"),
            (&["--timeout=2h"], &[], "at most 1h"),
            (
                &["--timeout=soon"],
                &[],
                "--timeout=\"soon\" is not a Go duration",
            ),
            (
                &[],
                &[(TIMEOUT_ENV, "zzz")],
                "ECR_CREDENTIAL_PROVIDER_TIMEOUT=\"zzz\" is not a Go duration",
            ),
            (
                &[],
                &[(TIMEOUT_ENV, "5")],
                "ECR_CREDENTIAL_PROVIDER_TIMEOUT=\"5\": a duration needs a unit",
            ),
            (
                &[],
                &[(TIMEOUT_ENV, "-1s")],
                "ECR_CREDENTIAL_PROVIDER_TIMEOUT=\"-1s\" is out of range: the timeout must be more than 0",
            ),
            // Valid Go durations out of range are said to be so, not to be no duration.
            (
                &["--timeout=2562047h"],
                &[],
                "--timeout=\"2562047h\" is out of range: the timeout must be at most 1h",
            ),
            (
                &["--timeout=2562048h"],
                &[],
                "--timeout=\"2562048h\" is not a Go duration",
            ),
        ];
        for (args, env, needle) in table {
            check_usage_error(args, env, needle);
        }
    }

    #[test]
    fn cache_dir_from_flag_then_env_off_by_default() {
        let dir = |args: &[&str], env: &[(&str, &str)]| parse_args(args, env).unwrap().cache_dir;
        assert_eq!(dir(&[], &[]), None);
        assert_eq!(dir(&[], &[(CACHE_DIR_ENV, "")]), None);
        assert_eq!(
            dir(&[], &[(CACHE_DIR_ENV, "/run/ecr")]),
            Some(PathBuf::from("/run/ecr"))
        );
        assert_eq!(
            dir(&["--cache-dir=/a"], &[(CACHE_DIR_ENV, "/b")]),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(
            dir(&["get", "x", "--cache-dir", "/a"], &[]),
            Some(PathBuf::from("/a"))
        );
        check_usage_error(&["--cache-dir"], &[], "--cache-dir needs a value");
        check_usage_error(&["--cache-dir", "--json"], &[], "--cache-dir needs a value");
    }

    #[test]
    fn timeout_from_flag_then_env_then_default() {
        assert_eq!(parse_args(&[], &[]).unwrap().timeout, DEFAULT_TIMEOUT);
        assert_eq!(
            parse_args(&[], &[(TIMEOUT_ENV, "5s")]).unwrap().timeout,
            Duration::from_secs(5)
        );
        let cli = parse_args(&["--timeout", "1m"], &[(TIMEOUT_ENV, "5s")]).unwrap();
        assert_eq!(cli.timeout, Duration::from_secs(60));
        assert!(cli.warnings.is_empty(), "{:?}", cli.warnings);
        let cli = parse_args(&["--timeout=90s"], &[]).unwrap();
        assert_eq!(cli.timeout, Duration::from_secs(90));
        assert!(
            cli.warnings[0].contains("kills a provider after 1m0s"),
            "{:?}",
            cli.warnings
        );
    }

    #[test]
    fn trace_from_flag_env_and_verbosity() {
        let trace = |args: &[&str], env: &[(&str, &str)]| parse_args(args, env).unwrap().trace;
        assert_eq!(trace(&[], &[]), None);
        assert_eq!(trace(&[], &[(TRACE_ENV, "0")]), None);
        assert_eq!(trace(&["--v=0"], &[]), None);
        assert_eq!(
            trace(&["--trace"], &[]),
            Some((TraceFormat::Text, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&["--trace=json"], &[]),
            Some((TraceFormat::Json, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&[], &[(TRACE_ENV, "json")]),
            Some((TraceFormat::Json, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&[], &[(TRACE_ENV, "1")]),
            Some((TraceFormat::Text, TraceLevel::Debug))
        );
        assert_eq!(
            trace(&["--v=2"], &[]),
            Some((TraceFormat::Text, TraceLevel::Info))
        );
        assert_eq!(
            trace(&["--v", "6"], &[]),
            Some((TraceFormat::Text, TraceLevel::Debug))
        );
    }

    /// Issue 9: a typo in a debug setting never fails a pull.
    #[test]
    fn bad_debug_flags_are_warnings_and_no_trace() {
        for (args, needle) in [
            (&["-v=loud"][..], "--v=\"loud\" is not a verbosity"),
            (&["--v=x"], "--v=\"x\" is not a verbosity"),
            (
                &["--trace=xml"],
                "--trace=\"xml\" is not a trace format (text, json)",
            ),
        ] {
            let cli = parse_args(args, &[]).unwrap();
            assert_eq!(cli.trace, None, "{args:?}");
            assert!(
                cli.warnings[0].contains(needle),
                "{args:?}: {:?}",
                cli.warnings
            );
        }
        assert_eq!(
            parse_args(&["--v=12"], &[]).unwrap().trace,
            Some((TraceFormat::Text, TraceLevel::Debug))
        );
    }

    #[test]
    fn an_unknown_trace_value_is_a_warning_and_no_trace() {
        let cli = parse_args(&[], &[(TRACE_ENV, "yes")]).unwrap();
        assert_eq!(cli.trace, None);
        assert_eq!(
            cli.warnings,
            [
                "ECR_CREDENTIAL_PROVIDER_TRACE=\"yes\" is not a trace setting (1, text, json, or 0 for off): not tracing"
            ]
        );
    }

    /// Every help fits a screen of 80 columns and 30 lines, and names every flag it accepts.
    #[test]
    fn every_help_fits_a_screen_and_lists_its_flags() {
        let topics = std::iter::once(None).chain(COMMANDS.iter().map(|s| Some(s.name)));
        for topic in topics {
            let text = help(topic);
            assert!(text.lines().count() <= 30, "{topic:?}:\n{text}");
            for line in text.lines() {
                assert!(line.chars().count() <= 80, "{topic:?}: {line}");
            }
            assert!(
                text.contains("Example:") && text.contains("Exit codes:"),
                "{text}"
            );
            let flags = topic.and_then(spec).map_or(&[][..], |s| s.flags);
            for flag in GLOBAL_FLAGS.iter().chain(flags) {
                assert!(
                    text.contains(&format!("--{}", flag.long)),
                    "{topic:?}: {flag:?}"
                );
            }
        }
    }
}
