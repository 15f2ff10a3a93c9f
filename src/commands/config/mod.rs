//! `config`: print a CredentialProviderConfig for ECR, and `config check`: lint one by the
//! kubelet's rules (`kubelet::config`) and by what ECR needs (every host form, the node role kept
//! for KEP-4412 tokens, sane cache durations). Owns its own arguments; reads files only in
//! `run`; everything else is pure and table-tested.

pub(crate) mod binary;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::cli::CACHE_DIR_ENV;
use crate::duration;
use crate::error::Error;
use crate::image::{self, RegistryKind};
use crate::kubelet::config::{
    self as kubelet_config, Config, Decoded, Match, Provider, REQUEST_API_VERSIONS, SchemelessUrl,
};
use crate::sanitize::is_secret_name;
use binary::Binary;

pub(crate) const PROVIDER_NAME: &str = "ecr-credential-provider";
pub(crate) const ROLE_ANNOTATION: &str = "eks.amazonaws.com/ecr-role-arn";
pub(crate) const AUDIENCE: &str = "sts.amazonaws.com";
pub(crate) const DEFAULT_CACHE_DURATION: &str = "12h0m0s";
/// ECR tokens live 12 hours: a longer default cache would outlive them.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// What `run` prints on stdout, and whether the answer is yes (no errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) stdout: String,
    pub(crate) success: bool,
}

// --- ECR's host forms ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partition {
    Aws,
    Cn,
    Eusc,
    Iso,
    IsoB,
    IsoE,
    IsoF,
    /// ECR Public: one host for every partition.
    Public,
}

/// One ECR registry host form: its glob (`*` for the registry id, `*` for the region), a
/// sample host, and the partition whose regions use it.
#[derive(Debug, Clone, Copy)]
struct HostForm {
    name: &'static str,
    glob: &'static str,
    sample: &'static str,
    partition: Partition,
}

const FORMS: [HostForm; 13] = [
    HostForm {
        name: "commercial and GovCloud",
        glob: "*.dkr.ecr.*.amazonaws.com",
        sample: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        partition: Partition::Aws,
    },
    HostForm {
        name: "dual-stack",
        glob: "*.dkr-ecr.*.on.aws",
        sample: "123456789012.dkr-ecr.us-east-1.on.aws",
        partition: Partition::Aws,
    },
    HostForm {
        name: "FIPS",
        glob: "*.dkr.ecr-fips.*.amazonaws.com",
        sample: "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
        partition: Partition::Aws,
    },
    HostForm {
        name: "dual-stack FIPS",
        glob: "*.dkr-ecr-fips.*.on.aws",
        sample: "123456789012.dkr-ecr-fips.us-east-1.on.aws",
        partition: Partition::Aws,
    },
    HostForm {
        name: "China",
        glob: "*.dkr.ecr.*.amazonaws.com.cn",
        sample: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
        partition: Partition::Cn,
    },
    HostForm {
        name: "China dual-stack",
        glob: "*.dkr-ecr.*.on.amazonwebservices.com.cn",
        sample: "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
        partition: Partition::Cn,
    },
    HostForm {
        name: "European Sovereign Cloud",
        glob: "*.dkr.ecr.*.amazonaws.eu",
        sample: "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
        partition: Partition::Eusc,
    },
    HostForm {
        name: "ISO",
        glob: "*.dkr.ecr.*.c2s.ic.gov",
        sample: "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
        partition: Partition::Iso,
    },
    HostForm {
        name: "ISO-B",
        glob: "*.dkr.ecr.*.sc2s.sgov.gov",
        sample: "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
        partition: Partition::IsoB,
    },
    HostForm {
        name: "ISO-E",
        glob: "*.dkr.ecr.*.cloud.adc-e.uk",
        sample: "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
        partition: Partition::IsoE,
    },
    HostForm {
        name: "ISO-F",
        glob: "*.dkr.ecr.*.csp.hci.ic.gov",
        sample: "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
        partition: Partition::IsoF,
    },
    HostForm {
        name: "ECR Public",
        glob: "public.ecr.aws",
        sample: "public.ecr.aws",
        partition: Partition::Public,
    },
    HostForm {
        name: "ECR Public's second host",
        glob: "ecr-public.aws.com",
        sample: "ecr-public.aws.com",
        partition: Partition::Public,
    },
];

/// What a label of a form's glob stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot<'a> {
    Account,
    Region,
    Literal(&'a str),
}

impl HostForm {
    fn slots(&self) -> Vec<Slot<'static>> {
        self.glob
            .split('.')
            .enumerate()
            .map(|(i, label)| match (i, label) {
                (0, "*") => Slot::Account,
                (_, "*") => Slot::Region,
                (_, literal) => Slot::Literal(literal),
            })
            .collect()
    }

    /// The labels after the region: the domain that tells the partition.
    fn domain(&self) -> String {
        let labels: Vec<&str> = self.glob.split('.').collect();
        match labels.iter().rposition(|l| *l == "*") {
            Some(i) if i > 0 => labels[i + 1..].join("."),
            _ => self.glob.into(),
        }
    }

    fn glob_for(&self, account: &str, region: &str) -> String {
        self.slots()
            .iter()
            .map(|slot| match slot {
                Slot::Account => account,
                Slot::Region => region,
                Slot::Literal(l) => l,
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn partition_of(region: &str) -> Partition {
    [
        ("cn-", Partition::Cn),
        ("eusc-", Partition::Eusc),
        ("us-isob-", Partition::IsoB),
        ("us-isof-", Partition::IsoF),
        ("eu-isoe-", Partition::IsoE),
        ("us-iso-", Partition::Iso),
    ]
    .into_iter()
    .find(|(prefix, _)| region.starts_with(prefix))
    .map_or(Partition::Aws, |(_, p)| p)
}

/// Whether `glob` (host labels) could match some host of `form`: literal labels must match,
/// a literal registry id must be 12 digits, a literal region must look like one.
fn could_match(glob: &[&str], form: &HostForm) -> bool {
    let slots = form.slots();
    glob.len() == slots.len()
        && glob.iter().zip(&slots).all(|(g, slot)| {
            let literal = !g.contains(['*', '?', '[', '\\']);
            match slot {
                Slot::Literal(l) => kubelet_config::glob_match(g, l).unwrap_or(false),
                Slot::Account => {
                    !literal || (g.len() == 12 && g.bytes().all(|b| b.is_ascii_digit()))
                }
                Slot::Region => {
                    !literal
                        || (g.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                            && g.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
                }
            }
        })
}

/// Hosts that are not ECR's, to find globs that reach beyond ECR.
const OTHER_HOSTS: [&str; 16] = [
    "docker.io",
    "registry-1.docker.io",
    "registry.k8s.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "mcr.microsoft.com",
    "localhost",
    "registry.example.com",
    "s3.us-east-1.amazonaws.com",
    "api.ecr.us-east-1.amazonaws.com",
    "ecr.us-east-1.amazonaws.com",
    "sts.us-east-1.amazonaws.com",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com.example.com",
    "public.ecr.aws.example.com",
    "my-registry.us-east-1.on.aws",
];

/// A non-ECR host that the glob (host labels) matches, if one is found: the usual registries,
/// then every ECR form with one fixed label changed (the registry id and region stay).
fn non_ecr_witness(glob: &[&str]) -> Option<String> {
    let host = glob.join(".");
    let matches = |candidate: &str| {
        kubelet_config::url_match(&host, candidate) == Match::Yes
            && image::parse(candidate).is_ok_and(|r| r.kind == RegistryKind::Unrecognized)
    };
    if let Some(found) = OTHER_HOSTS.iter().find(|h| matches(h)) {
        return Some((*found).into());
    }
    for form in &FORMS {
        let slots = form.slots();
        if slots.len() != glob.len() {
            continue;
        }
        let sample: Vec<&str> = form.sample.split('.').collect();
        // Keep the glob's own registry id or region when it names one.
        let base: Vec<String> = slots
            .iter()
            .zip(glob)
            .zip(&sample)
            .map(|((slot, g), s)| match slot {
                Slot::Account | Slot::Region if !g.contains(['*', '?', '[', '\\']) => {
                    (*g).to_owned()
                }
                _ => (*s).to_owned(),
            })
            .collect();
        for (i, slot) in slots.iter().enumerate() {
            let Slot::Literal(label) = slot else { continue };
            let mut variants = vec![
                "x".to_owned(),
                format!("{label}x"),
                format!("x{label}"),
                format!("x{}", &label[1..]),
                format!("{}x", &label[..label.len() - 1]),
            ];
            variants.retain(|v| v != label);
            for variant in variants {
                let mut labels = base.clone();
                labels[i] = variant;
                let candidate = labels.join(".");
                if matches(&candidate) {
                    return Some(candidate);
                }
            }
        }
    }
    None
}

// --- the generator -------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) json: bool,
    pub(crate) accounts: Vec<String>,
    pub(crate) regions: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) args: Vec<String>,
    pub(crate) cache_dir: Option<String>,
    pub(crate) service_account: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GeneratedConfig {
    api_version: &'static str,
    kind: &'static str,
    providers: Vec<GeneratedProvider>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GeneratedProvider {
    name: &'static str,
    api_version: &'static str,
    match_images: Vec<String>,
    default_cache_duration: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_attributes: Option<GeneratedTokens>,
}

#[derive(Debug, Serialize)]
struct EnvVar {
    name: String,
    value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GeneratedTokens {
    service_account_token_audience: &'static str,
    cache_type: &'static str,
    require_service_account: bool,
    optional_service_account_annotation_keys: Vec<&'static str>,
}

/// The matchImages for these accounts and regions (none: every one), ECR Public included.
pub(crate) fn match_images(accounts: &[String], regions: &[String]) -> Vec<String> {
    let star = ["*".to_owned()];
    let accounts = if accounts.is_empty() {
        &star[..]
    } else {
        accounts
    };
    let mut globs: Vec<String> = Vec::new();
    let mut push = |glob: String| {
        if !globs.contains(&glob) {
            globs.push(glob);
        }
    };
    for form in FORMS.iter().filter(|f| f.partition != Partition::Public) {
        let wanted: Vec<&str> = if regions.is_empty() {
            vec!["*"]
        } else {
            regions
                .iter()
                .filter(|r| partition_of(r) == form.partition)
                .map(String::as_str)
                .collect()
        };
        for region in wanted {
            for account in accounts {
                push(form.glob_for(account, region));
            }
        }
    }
    for form in FORMS.iter().filter(|f| f.partition == Partition::Public) {
        push(form.glob.into());
    }
    globs
}

fn generated(options: &Options) -> GeneratedConfig {
    let mut env: Vec<EnvVar> = options
        .env
        .iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    if let Some(dir) = &options.cache_dir {
        env.push(EnvVar {
            name: CACHE_DIR_ENV.into(),
            value: dir.clone(),
        });
    }
    GeneratedConfig {
        api_version: kubelet_config::CONFIG_API_VERSIONS[0],
        kind: kubelet_config::CONFIG_KIND,
        providers: vec![GeneratedProvider {
            name: PROVIDER_NAME,
            api_version: REQUEST_API_VERSIONS[0],
            match_images: match_images(&options.accounts, &options.regions),
            default_cache_duration: DEFAULT_CACHE_DURATION,
            args: options.args.clone(),
            env,
            token_attributes: options.service_account.then(|| GeneratedTokens {
                service_account_token_audience: AUDIENCE,
                cache_type: "ServiceAccount",
                require_service_account: false,
                optional_service_account_annotation_keys: vec![ROLE_ANNOTATION],
            }),
        }],
    }
}

/// The config for `options`, as YAML (commented) or JSON.
pub(crate) fn generate(options: &Options) -> String {
    let config = generated(options);
    if options.json {
        return serde_json::to_string_pretty(&config).unwrap_or_default();
    }
    // JSON strings are YAML double-quoted scalars: every value stays a string, whatever it holds.
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut out = String::new();
    let p = &config.providers[0];
    let _ = writeln!(
        out,
        "# The kubelet's --image-credential-provider-config; {PROVIDER_NAME} goes in its"
    );
    let _ = writeln!(
        out,
        "# --image-credential-provider-bin-dir. Printed by `{PROVIDER_NAME} config`."
    );
    let _ = writeln!(out, "apiVersion: {}", config.api_version);
    let _ = writeln!(out, "kind: {}", config.kind);
    let _ = writeln!(out, "providers:");
    let _ = writeln!(out, "  - name: {}", p.name);
    let _ = writeln!(out, "    apiVersion: {}", p.api_version);
    let _ = writeln!(out, "    matchImages:");
    for glob in &p.match_images {
        let _ = writeln!(out, "      - {}", q(glob));
    }
    let _ = writeln!(
        out,
        "    defaultCacheDuration: {}",
        q(p.default_cache_duration)
    );
    if !p.args.is_empty() {
        let _ = writeln!(out, "    args:");
        for arg in &p.args {
            let _ = writeln!(out, "      - {}", q(arg));
        }
    }
    if !p.env.is_empty() {
        let _ = writeln!(out, "    env:");
        for var in &p.env {
            let _ = writeln!(out, "      - name: {}", q(&var.name));
            let _ = writeln!(out, "        value: {}", q(&var.value));
        }
    }
    if let Some(t) = &p.token_attributes {
        let _ = writeln!(
            out,
            "    # KEP-4412: a pod's service account may name a role in {ROLE_ANNOTATION};"
        );
        let _ = writeln!(
            out,
            "    # pods without one (static pods too) keep the node's role."
        );
        let _ = writeln!(out, "    tokenAttributes:");
        let _ = writeln!(
            out,
            "      serviceAccountTokenAudience: {}",
            t.service_account_token_audience
        );
        let _ = writeln!(out, "      cacheType: {}", t.cache_type);
        let _ = writeln!(
            out,
            "      requireServiceAccount: {}",
            t.require_service_account
        );
        let _ = writeln!(out, "      optionalServiceAccountAnnotationKeys:");
        for key in &t.optional_service_account_annotation_keys {
            let _ = writeln!(out, "        - {key}");
        }
    }
    out
}

// --- the linter ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    /// The kubelet refuses the config, or ECR pulls cannot work.
    Error,
    /// Works, but not as intended: pulls without credentials, extra calls, surprises.
    Warning,
    /// Worth knowing; nothing breaks.
    Note,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) severity: Severity,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<usize>,
    /// The field at fault (`providers[0].matchImages[2]`), with the pattern or value in it.
    pub(crate) field: String,
    pub(crate) message: String,
    pub(crate) fix: Option<String>,
}

/// What `--bin-dir` holds for a provider's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(
    clippy::enum_variant_names,
    reason = "NotExecutable says what the file lacks, in the words of the finding"
)]
pub(crate) enum Executable {
    Yes,
    /// `NAME.exe`: what a Windows kubelet runs for NAME.
    WindowsExe,
    NotExecutable,
    Missing,
    /// Built for another machine than this one.
    Foreign(Binary),
}

/// `--bin-dir`: the directory, and what it holds under a provider's name.
pub(crate) type BinDir<'a> = (&'a str, &'a dyn Fn(&str) -> Executable);

/// Every finding for a decoded config, errors first.
pub(crate) fn lint(decoded: &Decoded, bin_dir: Option<BinDir<'_>>) -> Vec<Finding> {
    let mut findings: Vec<Finding> = decoded
        .problems
        .iter()
        .map(|p| finding(Severity::Error, p))
        .chain(
            decoded
                .ignored
                .iter()
                .map(|p| finding(Severity::Warning, p)),
        )
        .collect();
    let config = &decoded.config;
    let mut ecr_providers = 0;
    for p in &config.providers {
        let mut push = |severity, field: &str, message: String, fix: Option<String>| {
            findings.push(Finding {
                severity,
                file: p.origin.file.clone(),
                line: Some(p.origin.line_of(field)),
                field: p.origin.field(field),
                message,
                fix,
            });
        };
        let is_ecr = p.name.to_ascii_lowercase().contains("ecr")
            || p.match_images.iter().any(|g| glob_reaches_ecr(g));
        lint_globs(p, is_ecr, &mut push);
        if let Some((dir, status)) = bin_dir {
            lint_bin_dir(p, dir, status(&p.name), &mut push);
        }
        if !is_ecr {
            continue;
        }
        ecr_providers += 1;
        lint_cache_duration(p, &mut push);
        lint_tokens(p, &mut push);
        lint_env(p, &mut push);
        // An ECR provider is taken for this program, a drop-in for upstream's: its args and env
        // are read as this program reads them.
        lint_command_line(p, &mut push);
        if REQUEST_API_VERSIONS[1..].contains(&p.api_version.as_str()) {
            push(
                Severity::Note,
                "apiVersion",
                format!(
                    "{}: upstream's {PROVIDER_NAME} answers only v1; this one answers every version",
                    p.api_version
                ),
                Some(format!(
                    "apiVersion: {} (kubelets since 1.26)",
                    REQUEST_API_VERSIONS[0]
                )),
            );
        }
    }
    if decoded.problems.is_empty() {
        if ecr_providers == 0 {
            findings.push(Finding {
                severity: Severity::Error,
                file: None,
                line: None,
                field: "providers".into(),
                message:
                    "no provider matches an ECR image: the kubelet execs nothing for ECR pulls"
                        .into(),
                fix: Some(format!("add the provider `{PROVIDER_NAME} config` prints")),
            });
        } else if findings.iter().all(|f| f.severity != Severity::Error) {
            lint_coverage(config, &mut findings);
        }
    }
    findings.sort_by_key(|f| f.severity);
    findings
}

fn finding(severity: Severity, p: &kubelet_config::Problem) -> Finding {
    Finding {
        severity,
        file: p.file.clone(),
        line: p.line,
        field: p.field.clone(),
        message: p.message.clone(),
        fix: p.fix.clone(),
    }
}

fn glob_reaches_ecr(glob: &str) -> bool {
    kubelet_config::parse_schemeless_url(glob)
        .is_ok_and(|url| FORMS.iter().any(|f| could_match(&url.labels(), f)))
}

fn lint_globs(
    p: &Provider,
    is_ecr: bool,
    push: &mut impl FnMut(Severity, &str, String, Option<String>),
) {
    for (i, glob) in p.match_images.iter().enumerate() {
        let field = format!("matchImages[{i}]");
        let Ok(url) = kubelet_config::parse_schemeless_url(glob) else {
            continue; // the kubelet refuses it; decoding said so
        };
        if let Some((scheme, rest)) = glob.split_once("://") {
            push(
                Severity::Error,
                &field,
                format!(
                    "{glob:?} never matches: the kubelet puts https:// before the pattern itself"
                ),
                Some(format!("drop {scheme}://: {rest:?}")),
            );
            continue;
        }
        let labels = url.labels();
        if let Some(bad) = labels
            .iter()
            .find(|l| kubelet_config::glob_match(l, "").is_err())
        {
            push(
                Severity::Error,
                &field,
                format!(
                    "{glob:?}: {bad:?} is not a valid glob (Go's filepath.Match); the kubelet matches nothing with it"
                ),
                Some("close the [ ] class or escape the character with \\".into()),
            );
            continue;
        }
        if url.host != url.host.to_ascii_lowercase() {
            push(
                Severity::Warning,
                &field,
                format!(
                    "{glob:?} has capitals: the kubelet compares case-sensitively and image hosts are lowercase"
                ),
                Some(format!("{:?}", glob.to_ascii_lowercase())),
            );
        }
        if !is_ecr {
            continue;
        }
        let reaches = FORMS
            .iter()
            .filter(|f| could_match(&labels, f))
            .collect::<Vec<_>>();
        if reaches.is_empty() {
            let (severity, message, fix) = never_matches_ecr(glob, &url);
            push(severity, &field, message, Some(fix));
            continue;
        }
        if let Some(witness) = non_ecr_witness(&labels) {
            let fix: Vec<&str> = reaches.iter().map(|f| f.glob).collect();
            push(
                Severity::Warning,
                &field,
                format!(
                    "{glob:?} also matches hosts that are not ECR's, such as {witness:?}: the kubelet execs the provider for those pulls too, and matching a host that is not ECR's sends the node's ECR token to it, unless containerd mirrors that host to ECR"
                ),
                Some(format!("narrow it to {}", quoted_list(&fix))),
            );
        }
        if !url.port.is_empty() {
            push(
                Severity::Warning,
                &field,
                format!(
                    "{glob:?} names port {}: the kubelet then matches only images that spell :{} (ECR images name no port), and a pattern without it never matches those",
                    url.port, url.port
                ),
                Some(format!("drop :{}", url.port)),
            );
        }
        if !url.path.is_empty() {
            push(
                Severity::Note,
                &field,
                format!("{glob:?} matches only repositories under {:?}", url.path),
                None,
            );
        }
    }
}

/// A glob that no ECR host form can match: how bad, why, and the patterns it probably meant.
fn never_matches_ecr(glob: &str, url: &SchemelessUrl) -> (Severity, String, String) {
    let labels = url.labels();
    let looks_ecr = ["ecr", "amazonaws", "aws", "c2s", "sgov", "adc-e", "hci"]
        .iter()
        .any(|w| glob.contains(w));
    let domain_forms: Vec<&str> = FORMS
        .iter()
        .filter(|f| url.host.ends_with(&f.domain()))
        .map(|f| f.glob)
        .collect();
    let why = match domain_forms
        .first()
        .and_then(|g| kubelet_config::parse_schemeless_url(g).ok())
    {
        Some(form) if form.labels().len() != labels.len() => format!(
            "the kubelet matches label by label and `*` never spans a dot: {} labels here, {} in an ECR host such as {:?}",
            labels.len(),
            form.labels().len(),
            FORMS
                .iter()
                .find(|f| f.glob == domain_forms[0])
                .map_or("", |f| f.sample),
        ),
        _ => "no ECR registry host has this shape".into(),
    };
    let fix = if domain_forms.is_empty() {
        format!("use the patterns `{PROVIDER_NAME} config` prints")
    } else {
        format!("use {}", quoted_list(&domain_forms))
    };
    let message = format!("{glob:?} never matches an ECR host: {why}");
    if looks_ecr {
        (Severity::Error, message, fix)
    } else {
        (
            Severity::Warning,
            format!(
                "{message}; matching a host that is not ECR's sends the node's ECR token to it, unless containerd mirrors that host to ECR"
            ),
            format!(
                "keep it only if containerd mirrors the hosts it matches to an ECR pull-through cache; otherwise remove it (for ECR hosts, {fix})"
            ),
        )
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn lint_bin_dir(
    p: &Provider,
    dir: &str,
    status: Executable,
    push: &mut impl FnMut(Severity, &str, String, Option<String>),
) {
    let path = format!("{}/{}", dir.trim_end_matches('/'), p.name);
    match status {
        Executable::Yes | Executable::WindowsExe => {}
        Executable::Missing => push(
            Severity::Error,
            "name",
            format!(
                "{:?}: no {path}: the kubelet execs BIN_DIR/NAME and does not start without it",
                p.name
            ),
            Some(format!(
                "install the binary as {path}, or set name to the file's name"
            )),
        ),
        Executable::NotExecutable => push(
            Severity::Error,
            "name",
            format!("{:?}: {path} is not executable", p.name),
            Some(format!("chmod 0755 {path}")),
        ),
        Executable::Foreign(binary) => push(
            Severity::Error,
            "name",
            format!(
                "{:?}: {path} is {binary}, and this machine is {}: the kubelet cannot exec it, so every pull it serves fails",
                p.name,
                std::env::consts::ARCH
            ),
            Some(format!(
                "install the {} build of the provider as {path}",
                std::env::consts::ARCH
            )),
        ),
    }
}

fn lint_cache_duration(
    p: &Provider,
    push: &mut impl FnMut(Severity, &str, String, Option<String>),
) {
    let Some(d) = p.default_cache_duration else {
        return;
    };
    let text = duration::format(d);
    let fix = Some(format!(
        "defaultCacheDuration: \"{DEFAULT_CACHE_DURATION}\" (the provider's own cacheDuration wins when it sends one)"
    ));
    if d.is_zero() {
        push(
            Severity::Warning,
            "defaultCacheDuration",
            format!(
                "{text}: an answer without cacheDuration is not cached, so every pull execs the provider and calls GetAuthorizationToken (20 calls per second per account and region)"
            ),
            fix,
        );
    } else if d < Duration::from_secs(60) {
        push(
            Severity::Warning,
            "defaultCacheDuration",
            format!(
                "{text} is very short: was 12h meant? Every pull after it execs the provider again"
            ),
            fix,
        );
    } else if d > TOKEN_LIFETIME {
        push(
            Severity::Warning,
            "defaultCacheDuration",
            format!(
                "{text} is longer than an ECR token lives (12h): a cached token would expire before the kubelet asks again, and pulls fail with 403"
            ),
            fix,
        );
    }
}

fn lint_tokens(p: &Provider, push: &mut impl FnMut(Severity, &str, String, Option<String>)) {
    let Some(t) = &p.token_attributes else { return };
    if t.require_service_account == Some(true) {
        push(
            Severity::Warning,
            "tokenAttributes.requireServiceAccount",
            "true: pods without a service account (static pods) get no credentials from this provider, not even the node role's".into(),
            Some("requireServiceAccount: false".into()),
        );
    }
    for key in &t.required_service_account_annotation_keys {
        push(
            Severity::Warning,
            "tokenAttributes.requiredServiceAccountAnnotationKeys",
            format!(
                "{key:?}: pods whose service account lacks it get no credentials from this provider; the kubelet does not fall back to the node role"
            ),
            Some(format!(
                "list {key:?} under optionalServiceAccountAnnotationKeys, with requireServiceAccount: false"
            )),
        );
    }
    if t.cache_type == "Token" {
        push(
            Severity::Warning,
            "tokenAttributes.cacheType",
            "Token: the kubelet caches per service-account token, so every new pod token execs the provider and calls STS and ECR again".into(),
            Some("cacheType: ServiceAccount (one cache entry per service account)".into()),
        );
    }
    let listed = t
        .required_service_account_annotation_keys
        .iter()
        .chain(&t.optional_service_account_annotation_keys)
        .any(|k| k == ROLE_ANNOTATION || k == "eks.amazonaws.com/role-arn");
    let role_env = p
        .env
        .iter()
        .any(|(k, _)| k == crate::commands::get::ROLE_ARN_ENV);
    if !listed && !role_env {
        push(
            Severity::Warning,
            "tokenAttributes",
            format!(
                "the kubelet sends the pod's token but no role annotation, and env names no {}: the token is never used",
                crate::commands::get::ROLE_ARN_ENV
            ),
            Some(format!(
                "optionalServiceAccountAnnotationKeys: [{ROLE_ANNOTATION}]"
            )),
        );
    }
    if !t.service_account_token_audience.is_empty() && t.service_account_token_audience != AUDIENCE
    {
        push(
            Severity::Note,
            "tokenAttributes.serviceAccountTokenAudience",
            format!(
                "{:?}: STS accepts the token only if the role's OIDC provider lists this audience (EKS uses {AUDIENCE})",
                t.service_account_token_audience
            ),
            None,
        );
    }
}

fn lint_env(p: &Provider, push: &mut impl FnMut(Severity, &str, String, Option<String>)) {
    let mut seen = HashSet::new();
    for (i, (name, _)) in p.env.iter().enumerate() {
        let field = format!("env[{i}]");
        if is_secret_name(name) {
            push(
                Severity::Warning,
                &field,
                format!("{} holds a credential in the kubelet's config, readable by anyone who can read the file", name.escape_debug()),
                Some("use the node's role, or AWS_PROFILE with AWS_SHARED_CREDENTIALS_FILE (mode 0600)".into()),
            );
        }
        if !seen.insert(name) {
            push(
                Severity::Warning,
                &field,
                format!("{} is set twice; the last one wins", name.escape_debug()),
                Some("keep one".into()),
            );
        }
    }
}

/// How the exec reads a command line and environment: through `cli::parse`, the very parser
/// every exec runs. `Err`: the exec fails (exit 2) before it reads the request.
fn exec_reads(
    args: &[String],
    env: &[&(String, String)],
    asked: &RefCell<HashSet<String>>,
) -> Result<Vec<String>, Refusal> {
    // The kubelet appends the config's env to its own: the last of a name wins.
    let lookup = |key: &str| {
        asked.borrow_mut().insert(key.to_owned());
        env.iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    };
    match crate::cli::parse(args.iter().map(OsString::from), lookup) {
        Err(error) => Err(Refusal::Usage(error.to_string())),
        Ok(cli) => match cli.command {
            crate::cli::Command::Provide => Ok(cli.warnings),
            crate::cli::Command::Help(_) => Err(Refusal::Command("print its help")),
            crate::cli::Command::Version => Err(Refusal::Command("print its version")),
            crate::cli::Command::Get { .. } => Err(Refusal::Command("run get")),
            crate::cli::Command::Check { .. } => Err(Refusal::Command("run check")),
            crate::cli::Command::Config(_) => Err(Refusal::Command("run config")),
        },
    }
}

/// Why an exec would not answer the kubelet's request.
#[derive(Clone)]
enum Refusal {
    /// A wrong command line: exit 2.
    Usage(String),
    /// Another command than the kubelet's: what it does instead.
    Command(&'static str),
}

/// One finding per warning, or one for the refusal, of `shown` (an argument or a variable).
fn report_exec(
    push: &mut impl FnMut(Severity, &str, String, Option<String>),
    field: &str,
    shown: &str,
    outcome: Result<&[String], Refusal>,
) {
    match outcome {
        Ok(warnings) => {
            for warning in warnings {
                push(
                    Severity::Warning,
                    field,
                    format!("{shown}: every exec warns: {warning}"),
                    None,
                );
            }
        }
        Err(Refusal::Usage(error)) => push(
            Severity::Error,
            field,
            format!(
                "{shown}: every exec exits 2 before it reads the request, so every pull it serves fails: {error}"
            ),
            Some(format!(
                "`{PROVIDER_NAME} --help` lists what the kubelet's exec takes"
            )),
        ),
        Err(Refusal::Command(instead)) => push(
            Severity::Error,
            field,
            format!(
                "{shown}: every exec would {instead} instead of answering the kubelet's request, so every pull it serves fails"
            ),
            Some("remove it: the kubelet's exec takes no command, or get-credentials".into()),
        ),
    }
}

/// Walking the arguments one by one costs a parse each: beyond this many, the whole command
/// line's outcome is reported once.
const MAX_ARGS_WALKED: usize = 64;

/// A provider that is this program: its `args` and `env` as every exec will read them. Each
/// error fails every pull the provider serves; each warning is said on every pull.
fn lint_command_line(p: &Provider, push: &mut impl FnMut(Severity, &str, String, Option<String>)) {
    let asked = RefCell::new(HashSet::new());
    let every_env: Vec<&(String, String)> = p.env.iter().collect();
    let whole = exec_reads(&p.args, &every_env, &asked);
    // Without the arguments too: the variables a flag in args overrides are read then.
    let bare = exec_reads(&[], &every_env, &asked);
    let clean = |outcome: &Result<Vec<String>, Refusal>| matches!(outcome, Ok(w) if w.is_empty());
    if clean(&whole) && clean(&bare) {
        return;
    }
    if p.args.len() > MAX_ARGS_WALKED {
        report_exec(
            push,
            "args",
            &format!("{} arguments", p.args.len()),
            whole.as_deref().map_err(Refusal::clone),
        );
        return;
    }
    // The arguments one at a time, each after those that passed: a flag may take the next.
    let mut kept: Vec<String> = Vec::new();
    let mut said: Vec<String> = Vec::new();
    let mut refused = false;
    let mut i = 0;
    while i < p.args.len() {
        let mut taken = 1;
        let with = |n: usize| [&kept[..], &p.args[i..i + n]].concat();
        let mut outcome = exec_reads(&with(1), &[], &asked);
        if outcome.is_err() && i + 1 < p.args.len() {
            let pair = exec_reads(&with(2), &[], &asked);
            if matches!(pair, Ok(_) | Err(Refusal::Command(_))) {
                (outcome, taken) = (pair, 2);
            }
        }
        let shown = format!("{:?}", crate::cli::bounded(&p.args[i..i + taken].join(" ")));
        match outcome {
            Ok(warnings) => {
                let new: Vec<String> = warnings
                    .iter()
                    .filter(|w| !said.contains(w))
                    .cloned()
                    .collect();
                report_exec(push, &format!("args[{i}]"), &shown, Ok(&new));
                kept.extend_from_slice(&p.args[i..i + taken]);
                said = warnings;
            }
            Err(refusal) => {
                refused = true;
                report_exec(push, &format!("args[{i}]"), &shown, Err(refusal));
            }
        }
        i += taken;
    }
    // Each variable the parser reads, alone over the arguments that passed; only the last of a
    // name counts, as the kubelet's environment keeps only it.
    let asked = asked.into_inner();
    let last: HashMap<&str, usize> = p
        .env
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.as_str(), i))
        .collect();
    for (i, var) in p.env.iter().enumerate() {
        let (name, value) = var;
        if !asked.contains(name) || last.get(name.as_str()) != Some(&i) {
            continue;
        }
        let shown = format!(
            "{}={:?}",
            name.escape_debug(),
            crate::cli::bounded(&crate::sanitize::env_value(name, value))
        );
        let field = format!("env[{i}]");
        match exec_reads(&kept, &[var], &RefCell::default()) {
            Ok(warnings) => {
                let new: Vec<String> = warnings.into_iter().filter(|w| !said.contains(w)).collect();
                report_exec(push, &field, &shown, Ok(&new));
                // A flag in args that overrides it hides a value that fails once it goes.
                if let Err(Refusal::Usage(error)) = exec_reads(&[], &[var], &RefCell::default()) {
                    push(
                        Severity::Warning,
                        &field,
                        format!(
                            "{shown}: a flag in args overrides it today, but without that flag every exec exits 2: {error}"
                        ),
                        Some("fix or remove it".into()),
                    );
                }
            }
            Err(refusal) => {
                refused = true;
                report_exec(push, &field, &shown, Err(refusal));
            }
        }
    }
    // A refusal the walk did not single out (flags that only fail together) is still one.
    if let (Err(refusal), false) = (whole, refused) {
        report_exec(push, "args", "the command line", Err(refusal));
    }
}

/// One note for the ECR host forms no provider matches.
fn lint_coverage(config: &Config, findings: &mut Vec<Finding>) {
    let covered = |form: &HostForm| {
        config.providers.iter().any(|p| {
            p.match_images.iter().any(|g| {
                kubelet_config::parse_schemeless_url(g).is_ok_and(|url| {
                    url.port.is_empty() && url.path.is_empty() && could_match(&url.labels(), form)
                })
            })
        })
    };
    let missing: Vec<&HostForm> = FORMS.iter().filter(|f| !covered(f)).collect();
    if missing.is_empty() {
        return;
    }
    let names: Vec<&str> = missing.iter().map(|f| f.name).collect();
    let globs: Vec<&str> = missing.iter().map(|f| f.glob).collect();
    findings.push(Finding {
        severity: Severity::Note,
        file: None,
        line: None,
        field: "providers[*].matchImages".into(),
        message: format!("no provider matches these ECR hosts, so their images are pulled without credentials: {}", names.join(", ")),
        fix: Some(format!("add {} if nodes pull from them", quoted_list(&globs))),
    });
}

/// The report: one block per finding, then a summary line.
pub(crate) fn report(name: &str, findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let file = f
            .file
            .as_deref()
            .map_or_else(|| name.to_owned(), |file| format!("{name}/{file}"));
        let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
        let field = if f.field.is_empty() {
            String::new()
        } else {
            format!("{}: ", f.field)
        };
        let _ = writeln!(
            out,
            "{file}{line}: {}: {field}{}",
            f.severity.label(),
            f.message
        );
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "    fix: {fix}");
        }
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "{name}: {}, {}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning"),
        plural(count(Severity::Note), "note"),
    );
    out
}

/// Which providers the kubelet would exec for `image`, how, and why the others do not match.
/// Returns the text and whether any provider matched.
pub(crate) fn explain_image(config: &Config, image: &str, bin_dir: Option<&str>) -> (String, bool) {
    let mut out = String::new();
    let chosen = config.providers_for(image);
    let request_image = kubelet_config::request_image(image);
    let _ = match chosen.len() {
        0 => writeln!(
            out,
            "image {image}: no provider matches; the kubelet pulls it with no credentials from a provider"
        ),
        1 => writeln!(out, "image {image}: the kubelet execs 1 provider"),
        n => writeln!(
            out,
            "image {image}: the kubelet execs {n} providers and tries each one's credentials"
        ),
    };
    for p in &config.providers {
        let place = p.origin.file.as_ref().map_or_else(
            || p.origin.field(""),
            |f| format!("{f}: {}", p.origin.field("")),
        );
        if let Some(glob) = p.matched_by(image) {
            let bin = bin_dir.unwrap_or("BIN_DIR").trim_end_matches('/');
            let _ = writeln!(
                out,
                "  {} ({place}), matched by {glob:?}",
                p.name.escape_debug()
            );
            let command: Vec<String> = std::iter::once(format!("{bin}/{}", p.name))
                .chain(p.args.iter().cloned())
                .collect();
            let _ = writeln!(out, "    exec:    {}", command.join(" "));
            for (name, value) in &p.env {
                let _ = writeln!(
                    out,
                    "    env:     {}={}",
                    name.escape_debug(),
                    crate::sanitize::env_value(name, value).escape_debug()
                );
            }
            let request = serde_json::json!({"apiVersion": p.api_version, "kind": "CredentialProviderRequest", "image": request_image});
            let _ = writeln!(out, "    request: {request}");
            if let Some(t) = &p.token_attributes {
                let keys: Vec<&str> = t
                    .required_service_account_annotation_keys
                    .iter()
                    .chain(&t.optional_service_account_annotation_keys)
                    .map(String::as_str)
                    .collect();
                let _ = writeln!(
                    out,
                    "    plus the pod's service-account token (audience {}) and its annotations {}",
                    t.service_account_token_audience,
                    if keys.is_empty() {
                        "(none listed)".into()
                    } else {
                        keys.join(", ")
                    }
                );
            }
        } else {
            let why: Vec<String> = p
                .match_images
                .iter()
                .map(|glob| format!("{glob:?}: {}", kubelet_config::url_match(glob, image)))
                .collect();
            let _ = writeln!(out, "  not {} ({place}):", p.name.escape_debug());
            for line in why {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    (out, !chosen.is_empty())
}

// --- the command line ------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Generate(Options),
    Check {
        path: String,
        bin_dir: Option<String>,
        images: Vec<String>,
    },
    Help,
}

fn usage(message: impl std::fmt::Display) -> Error {
    Error::Usage(format!("config: {message}"))
}

#[allow(clippy::too_many_lines, reason = "one match arm per flag")]
fn parse_args(args: &[String]) -> Result<Command, Error> {
    let mut args = args.iter();
    let mut check = false;
    let mut path = None;
    let mut options = Options::default();
    let mut bin_dir = None;
    let mut images = Vec::new();
    let mut seen_format = false;
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |flag: &str| -> Result<String, Error> {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| usage(format!("{flag} needs a value")))
        };
        let generate_only = |flag: &str| -> Result<(), Error> {
            if check {
                Err(usage(format!("{flag} goes with config, not config check")))
            } else {
                Ok(())
            }
        };
        match name {
            "-h" | "--help" => return Ok(Command::Help),
            "check"
                if !check && path.is_none() && !seen_format && options == Options::default() =>
            {
                check = true;
            }
            "--bin-dir" | "--image" if !check => {
                return Err(usage(format!("{name} goes with config check FILE")));
            }
            "--bin-dir" => bin_dir = Some(value(name)?),
            "--image" => images.push(value(name)?),
            "--format" => {
                generate_only(name)?;
                seen_format = true;
                options.json = match value(name)?.as_str() {
                    "yaml" => false,
                    "json" => true,
                    other => return Err(usage(format!("--format {other}: yaml or json"))),
                };
            }
            "--account" => {
                generate_only(name)?;
                let account = value(name)?;
                if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(usage(format!(
                        "--account {account:?}: a registry id is 12 digits"
                    )));
                }
                options.accounts.push(account);
            }
            "--region" => {
                generate_only(name)?;
                let region = value(name)?;
                let valid = region.starts_with(|c: char| c.is_ascii_lowercase())
                    && region.contains('-')
                    && region
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !valid {
                    return Err(usage(format!(
                        "--region {region:?}: a region such as us-east-1"
                    )));
                }
                options.regions.push(region);
            }
            "--env" => {
                generate_only(name)?;
                let pair = value(name)?;
                let Some((key, val)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
                    return Err(usage("--env needs NAME=VALUE"));
                };
                if is_secret_name(key) || key == "AWS_ACCESS_KEY_ID" {
                    return Err(usage(format!(
                        "--env {key}: a credential in the kubelet's config is readable by anyone who can read the file; use the node's role, or AWS_PROFILE with AWS_SHARED_CREDENTIALS_FILE"
                    )));
                }
                options.env.push((key.into(), val.into()));
            }
            "--arg" => {
                generate_only(name)?;
                options.args.push(value(name)?);
            }
            "--cache-dir" => {
                generate_only(name)?;
                options.cache_dir = Some(value(name)?);
            }
            "--service-account" => {
                generate_only(name)?;
                options.service_account = true;
            }
            flag if flag.starts_with('-') => return Err(usage(format!("unknown flag {flag}"))),
            _ if check && path.is_none() => path = Some(arg.clone()),
            other => return Err(usage(format!("unexpected argument {other:?}"))),
        }
    }
    if check {
        let path = path.ok_or_else(|| usage("check needs a FILE or directory"))?;
        return Ok(Command::Check {
            path,
            bin_dir,
            images,
        });
    }
    Ok(Command::Generate(options))
}

/// `ecr-credential-provider config ARGS`: the only function here that touches files.
pub(crate) fn run(args: &[String]) -> Result<Outcome, Error> {
    match parse_args(args)? {
        Command::Help => Ok(Outcome {
            stdout: crate::cli::help(Some("config")),
            success: true,
        }),
        Command::Generate(options) => Ok(Outcome {
            stdout: generate(&options),
            success: true,
        }),
        Command::Check {
            path,
            bin_dir,
            images,
        } => {
            let decoded = kubelet_config::read(Path::new(&path))?;
            if let Some(dir) = bin_dir.as_ref().filter(|dir| !Path::new(dir).is_dir()) {
                return Err(usage(format!("--bin-dir {dir}: not a directory")));
            }
            let status =
                |name: &str| executable(Path::new(bin_dir.as_deref().unwrap_or(".")), name);
            let findings = lint(
                &decoded,
                bin_dir
                    .as_deref()
                    .map(|d| (d, &status as &dyn Fn(&str) -> Executable)),
            );
            let mut stdout = report(path.trim_end_matches('/'), &findings);
            let mut success = findings.iter().all(|f| f.severity != Severity::Error);
            for image in &images {
                let (text, matched) = explain_image(&decoded.config, image, bin_dir.as_deref());
                stdout.push_str(&text);
                success &= matched;
            }
            Ok(Outcome { stdout, success })
        }
    }
}

fn executable(dir: &Path, name: &str) -> Executable {
    if name.is_empty() || name.contains('/') {
        return Executable::Missing;
    }
    let path = dir.join(name);
    let (status, path) = match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o111 == 0 {
                    return Executable::NotExecutable;
                }
            }
            (Executable::Yes, path)
        }
        _ if dir.join(format!("{name}.exe")).is_file() => {
            (Executable::WindowsExe, dir.join(format!("{name}.exe")))
        }
        _ => return Executable::Missing,
    };
    match built_for(path) {
        Some(binary) if binary.runs_on(std::env::consts::ARCH) == Some(false) => {
            Executable::Foreign(binary)
        }
        _ => status,
    }
}

/// What the executable at `path` was built for, from its header alone (a script says nothing).
fn built_for(path: std::path::PathBuf) -> Option<Binary> {
    let file = crate::files::NamedFile {
        what: "the provider's executable",
        origin: "--bin-dir",
        path,
        // Only its header is read, whatever its size.
        max_bytes: u64::MAX,
        optional: false,
        contents: crate::files::Contents::Unread,
    };
    Binary::parse(&file.read_head(binary::HEAD_BYTES).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every host form `image.rs` classifies as ECR (its test tables), plus the ECR Public hosts.
    const ECR_HOSTS: [&str; 19] = [
        "123456789012.dkr.ecr.us-west-2.amazonaws.com",
        "123456789012.dkr.ecr.eu-central-1.amazonaws.com",
        "123456789012.dkr.ecr.ap-southeast-7.amazonaws.com",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
        "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn",
        "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
        "123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com",
        "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
        "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
        "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
        "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
        "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
        "123456789012.dkr-ecr.us-east-1.on.aws",
        "123456789012.dkr-ecr-fips.us-east-1.on.aws",
        "123456789012.dkr-ecr.us-gov-west-1.on.aws",
        "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
        "public.ecr.aws",
        "ecr-public.aws.com",
    ];

    /// Hosts `image.rs` does not classify as ECR, near misses included.
    const OTHER: [&str; 12] = [
        "docker.io",
        "registry.k8s.io",
        "localhost:5000",
        "127.0.0.1:5000",
        "[::1]:5000",
        "my-mirror.example.com",
        "123456789012.dkr.ecs.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
        "public.ecr.aws.evil.example",
        "s3.us-east-1.amazonaws.com",
        "api.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr.us-east-1.amazon.com",
    ];

    fn config_of(options: &Options) -> Config {
        kubelet_config::parse(&generate(options)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_generated_globs_match_every_ecr_host_and_nothing_else() {
        let config = config_of(&Options::default());
        for host in ECR_HOSTS {
            assert_ne!(
                image::parse(host).unwrap().kind,
                RegistryKind::Unrecognized,
                "{host}"
            );
            assert_eq!(
                config.providers_for(&format!("{host}/team/app:v1")).len(),
                1,
                "{host}"
            );
        }
        for host in OTHER.iter().chain(&OTHER_HOSTS) {
            assert_eq!(
                image::parse(host).unwrap().kind,
                RegistryKind::Unrecognized,
                "{host}"
            );
            assert!(
                config.providers_for(&format!("{host}/app")).is_empty(),
                "{host}"
            );
        }
        // A port the pattern does not name: the kubelet's rule, not ours.
        assert!(
            config
                .providers_for("123456789012.dkr.ecr.us-east-1.amazonaws.com:443/app")
                .is_empty()
        );
        assert_eq!(config.providers[0].match_images.len(), FORMS.len());
    }

    #[test]
    fn yaml_and_json_say_the_same() {
        let options = Options {
            env: vec![
                ("AWS_REGION".into(), "yes".into()),
                ("X".into(), "a \"quoted\": value".into()),
            ],
            args: vec!["get-credentials".into(), "--v=4".into()],
            cache_dir: Some("/var/cache/ecr".into()),
            service_account: true,
            ..Options::default()
        };
        let without_origin = |mut config: Config| {
            config.providers[0].origin = kubelet_config::Origin::default();
            config
        };
        let yaml = without_origin(config_of(&options));
        let json = without_origin(config_of(&Options {
            json: true,
            ..options
        }));
        assert_eq!(yaml, json);
        let p = &yaml.providers[0];
        assert_eq!(p.args, ["get-credentials", "--v=4"]);
        assert_eq!(p.env[0], ("AWS_REGION".into(), "yes".into()));
        assert_eq!(p.env[2], (CACHE_DIR_ENV.into(), "/var/cache/ecr".into()));
        let t = p.token_attributes.as_ref().unwrap();
        assert_eq!(
            (t.cache_type.as_str(), t.require_service_account),
            ("ServiceAccount", Some(false))
        );
        assert_eq!(
            t.optional_service_account_annotation_keys,
            [ROLE_ANNOTATION]
        );
    }

    #[test]
    fn account_and_region_narrow_the_globs() {
        let table: [(&[&str], &[&str], &[&str]); 4] = [
            (
                &["111122223333"],
                &[],
                &[
                    "111122223333.dkr.ecr.*.amazonaws.com",
                    "111122223333.dkr-ecr.*.on.aws",
                    "111122223333.dkr.ecr-fips.*.amazonaws.com",
                ],
            ),
            (
                &[],
                &["us-west-2"],
                &[
                    "*.dkr.ecr.us-west-2.amazonaws.com",
                    "*.dkr-ecr-fips.us-west-2.on.aws",
                ],
            ),
            (
                &["111122223333"],
                &["cn-north-1"],
                &[
                    "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn",
                    "111122223333.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
                ],
            ),
            (
                &[],
                &["us-isob-east-1", "eusc-de-east-1"],
                &[
                    "*.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                    "*.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                ],
            ),
        ];
        for (accounts, regions, expected) in table {
            let accounts: Vec<String> = accounts.iter().map(|s| (*s).into()).collect();
            let regions: Vec<String> = regions.iter().map(|s| (*s).into()).collect();
            let globs = match_images(&accounts, &regions);
            for glob in expected {
                assert!(
                    globs.contains(&(*glob).to_owned()),
                    "{glob} not in {globs:?}"
                );
            }
            assert!(globs.ends_with(&["public.ecr.aws".into(), "ecr-public.aws.com".into()]));
            if !regions.is_empty() {
                assert!(
                    globs.iter().all(|g| g.starts_with("public")
                        || g.starts_with("ecr-public")
                        || regions.iter().any(|r| g.contains(r.as_str()))),
                    "{globs:?}"
                );
            }
        }
        let config = config_of(&Options {
            accounts: vec!["111122223333".into()],
            regions: vec!["us-west-2".into()],
            ..Options::default()
        });
        assert_eq!(
            config
                .providers_for("111122223333.dkr.ecr.us-west-2.amazonaws.com/app")
                .len(),
            1
        );
        assert!(
            config
                .providers_for("123456789012.dkr.ecr.us-west-2.amazonaws.com/app")
                .is_empty()
        );
        assert!(
            config
                .providers_for("111122223333.dkr.ecr.us-east-1.amazonaws.com/app")
                .is_empty()
        );
    }

    fn lint_text(text: &str) -> Vec<Finding> {
        lint(
            &kubelet_config::decode(&[kubelet_config::Source {
                name: String::new(),
                text: text.into(),
            }]),
            None,
        )
    }

    fn with_globs(globs: &[&str], extra: &str) -> String {
        let globs: Vec<String> = globs.iter().map(|g| format!("\"{g}\"")).collect();
        format!(
            "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: ecr-credential-provider\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n    defaultCacheDuration: 12h\n    matchImages: [{}]\n{extra}",
            globs.join(", ")
        )
    }

    #[track_caller]
    fn check_finding(text: &str, severity: Severity, field: &str, needles: &[&str]) {
        let findings = lint_text(text);
        let found = findings.iter().any(|f| {
            let line = format!("{} {}", f.message, f.fix.as_deref().unwrap_or_default());
            f.severity == severity && f.field == field && needles.iter().all(|n| line.contains(n))
        });
        assert!(
            found,
            "wanted {severity:?} {field} {needles:?} in {findings:#?}"
        );
    }

    #[test]
    fn generated_configs_have_no_findings() {
        for options in [
            Options::default(),
            Options {
                service_account: true,
                ..Options::default()
            },
            Options {
                json: true,
                args: vec!["get-credentials".into()],
                env: vec![("AWS_REGION".into(), "us-east-1".into())],
                ..Options::default()
            },
        ] {
            assert_eq!(lint_text(&generate(&options)), [], "{options:?}");
        }
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "one table")]
    fn findings_name_the_field_the_pattern_and_the_fix() {
        use Severity::{Error, Note, Warning};
        let all = &FORMS.iter().map(|f| f.glob).collect::<Vec<_>>()[..];
        let plus = |extra: &'static str| -> Vec<&'static str> {
            let mut globs = all.to_vec();
            globs.push(extra);
            globs
        };
        let last = format!("providers[0].matchImages[{}]", FORMS.len());
        let table: Vec<(String, Severity, String, Vec<&str>)> = vec![
            (
                with_globs(&plus("*.amazonaws.com"), ""),
                Error,
                last.clone(),
                vec![
                    "\"*.amazonaws.com\" never matches an ECR host",
                    "3 labels here, 6",
                    "use \"*.dkr.ecr.*.amazonaws.com\"",
                ],
            ),
            (
                with_globs(&plus("*.*.*.*.amazonaws.com"), ""),
                Warning,
                last.clone(),
                vec![
                    "also matches hosts that are not ECR's",
                    "123456789012.x.ecr.us-east-1.amazonaws.com",
                ],
            ),
            (
                with_globs(&plus("*.*.ecr.*.amazonaws.com"), ""),
                Warning,
                last.clone(),
                vec![
                    "not ECR's",
                    "123456789012.x.ecr.us-east-1.amazonaws.com",
                    "narrow it to \"*.dkr.ecr.*.amazonaws.com\"",
                ],
            ),
            (
                with_globs(&plus("*.ecr.aws"), ""),
                Warning,
                last.clone(),
                vec!["not ECR's", "x.ecr.aws"],
            ),
            (
                with_globs(&plus("*.dkr.ecr.*.amazonaws.com:443"), ""),
                Warning,
                last.clone(),
                vec!["names port 443", "drop :443"],
            ),
            (
                with_globs(&plus("https://*.dkr.ecr.*.amazonaws.com"), ""),
                Error,
                last.clone(),
                vec!["never matches", "https://"],
            ),
            (
                with_globs(&plus("*.dkr.ecr.*.amazonaws.com/team"), ""),
                Note,
                last.clone(),
                vec!["only repositories under \"/team\""],
            ),
            (
                with_globs(&plus("*.DKR.ecr.*.amazonaws.com"), ""),
                Warning,
                last.clone(),
                vec!["capitals"],
            ),
            (
                with_globs(&plus("a[.dkr.ecr.*.amazonaws.com"), ""),
                Error,
                last.clone(),
                vec!["not a valid glob"],
            ),
            (
                with_globs(&plus("my-mirror.example.com"), ""),
                Warning,
                last.clone(),
                vec!["never matches an ECR host", "pull-through"],
            ),
            (
                with_globs(&["*.dkr.ecr.*.amazonaws.com"], ""),
                Note,
                "providers[*].matchImages".into(),
                vec![
                    "pulled without credentials: dual-stack, FIPS",
                    "\"public.ecr.aws\"",
                ],
            ),
            (
                with_globs(all, "").replace("12h", "0s"),
                Warning,
                "providers[0].defaultCacheDuration".into(),
                vec!["0s", "GetAuthorizationToken", "12h0m0s"],
            ),
            (
                with_globs(all, "").replace("12h", "12s"),
                Warning,
                "providers[0].defaultCacheDuration".into(),
                vec!["12s is very short"],
            ),
            (
                with_globs(all, "").replace("12h", "24h"),
                Warning,
                "providers[0].defaultCacheDuration".into(),
                vec!["longer than an ECR token lives"],
            ),
            (
                with_globs(
                    all,
                    "    tokenAttributes:\n      serviceAccountTokenAudience: sts.amazonaws.com\n      requireServiceAccount: true\n      cacheType: Token\n      requiredServiceAccountAnnotationKeys: [eks.amazonaws.com/ecr-role-arn]\n",
                ),
                Warning,
                "providers[0].tokenAttributes.requireServiceAccount".into(),
                vec!["static pods", "requireServiceAccount: false"],
            ),
            (
                with_globs(
                    all,
                    "    tokenAttributes:\n      serviceAccountTokenAudience: sts.amazonaws.com\n      requireServiceAccount: true\n      cacheType: Token\n      requiredServiceAccountAnnotationKeys: [eks.amazonaws.com/ecr-role-arn]\n",
                ),
                Warning,
                "providers[0].tokenAttributes.requiredServiceAccountAnnotationKeys".into(),
                vec![
                    "does not fall back to the node role",
                    "optionalServiceAccountAnnotationKeys",
                ],
            ),
            (
                with_globs(
                    all,
                    "    tokenAttributes:\n      serviceAccountTokenAudience: sts.amazonaws.com\n      requireServiceAccount: false\n      cacheType: Token\n",
                ),
                Warning,
                "providers[0].tokenAttributes.cacheType".into(),
                vec!["every new pod token", "cacheType: ServiceAccount"],
            ),
            (
                with_globs(
                    all,
                    "    tokenAttributes:\n      serviceAccountTokenAudience: sts.amazonaws.com\n      requireServiceAccount: false\n      cacheType: ServiceAccount\n",
                ),
                Warning,
                "providers[0].tokenAttributes".into(),
                vec!["never used", ROLE_ANNOTATION],
            ),
            (
                with_globs(
                    all,
                    "    env:\n      - name: AWS_SECRET_ACCESS_KEY\n        value: wJalrXUtnFEMI\n",
                ),
                Warning,
                "providers[0].env[0]".into(),
                vec!["AWS_SECRET_ACCESS_KEY holds a credential"],
            ),
            (
                with_globs(all, "").replace(
                    "credentialprovider.kubelet.k8s.io/v1",
                    "credentialprovider.kubelet.k8s.io/v1beta1",
                ),
                Note,
                "providers[0].apiVersion".into(),
                vec!["upstream's"],
            ),
            (
                with_globs(all, "").replace("matchImages", "matchimages"),
                Error,
                "providers[0].matchimages".into(),
                vec!["case-sensitive", "\"matchImages\""],
            ),
            (
                with_globs(&["*.gcr.io"], "").replace("name: ecr-credential-provider", "name: gcp"),
                Error,
                "providers".into(),
                vec!["no provider matches an ECR image"],
            ),
            (
                with_globs(all, "---\nkind: Other\n"),
                Warning,
                String::new(),
                vec!["only the first"],
            ),
        ];
        for (text, severity, field, needles) in table {
            check_finding(&text, severity, &field, &needles);
        }
        // Never the secret's value.
        let text = with_globs(
            all,
            "    env:\n      - name: AWS_SECRET_ACCESS_KEY\n        value: wJalrXUtnFEMI\n",
        );
        assert!(!report("c", &lint_text(&text)).contains("wJalrXUtnFEMI"));
        let (explained, _) = explain_image(
            &kubelet_config::parse(&text).unwrap(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/a",
            None,
        );
        assert!(
            !explained.contains("wJalrXUtnFEMI") && explained.contains("** redacted **"),
            "{explained}"
        );
    }

    #[test]
    fn bin_dir_names_the_missing_executable() {
        let decoded = kubelet_config::decode(&[kubelet_config::Source {
            name: String::new(),
            text: generate(&Options::default()),
        }]);
        for (status, expected) in [
            (
                Executable::Missing,
                Some("no /opt/bin/ecr-credential-provider"),
            ),
            (
                Executable::NotExecutable,
                Some("chmod 0755 /opt/bin/ecr-credential-provider"),
            ),
            (Executable::Yes, None),
            (Executable::WindowsExe, None),
        ] {
            let status_of = move |_: &str| status;
            let findings = lint(&decoded, Some(("/opt/bin/", &status_of)));
            let text = report("c", &findings);
            match expected {
                Some(needle) => assert!(
                    text.contains(needle) && text.contains("providers[0].name"),
                    "{text}"
                ),
                None => assert_eq!(findings, []),
            }
        }
    }

    #[test]
    fn explain_image_says_who_runs_and_why_the_others_do_not() {
        let text = with_globs(
            &["*.dkr.ecr.*.amazonaws.com"],
            "    args: [get-credentials]\n    env:\n      - name: AWS_REGION\n        value: us-east-1\n",
        );
        let config = kubelet_config::parse(&text).unwrap();
        let (out, matched) = explain_image(
            &config,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v1",
            Some("/opt/bin"),
        );
        assert!(matched);
        for needle in [
            "the kubelet execs 1 provider",
            "matched by \"*.dkr.ecr.*.amazonaws.com\"",
            "exec:    /opt/bin/ecr-credential-provider get-credentials",
            "env:     AWS_REGION=us-east-1",
            "\"image\":\"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app\"",
        ] {
            assert!(out.contains(needle), "{needle} not in {out}");
        }
        let (out, matched) = explain_image(
            &config,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com:443/app",
            None,
        );
        assert!(!matched);
        assert!(
            out.contains("no provider matches")
                && out.contains("the pattern has no port and the image port 443"),
            "{out}"
        );
    }

    #[test]
    fn arguments() {
        let parse =
            |args: &[&str]| parse_args(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            parse(&[
                "--format=json",
                "--region",
                "us-east-1",
                "--env",
                "A=b=c",
                "--service-account"
            ])
            .unwrap(),
            Command::Generate(Options {
                json: true,
                regions: vec!["us-east-1".into()],
                env: vec![("A".into(), "b=c".into())],
                service_account: true,
                ..Options::default()
            })
        );
        assert_eq!(
            parse(&["check", "f.yaml", "--image", "i", "--bin-dir=/b"]).unwrap(),
            Command::Check {
                path: "f.yaml".into(),
                bin_dir: Some("/b".into()),
                images: vec!["i".into()]
            }
        );
        for (args, needle) in [
            (&["--format", "toml"][..], "yaml or json"),
            (&["--account", "12345"], "12 digits"),
            (&["--region", "Mars"], "region"),
            (&["--env", "NOEQUALS"], "NAME=VALUE"),
            (&["--env", "AWS_SECRET_ACCESS_KEY=x"], "readable by anyone"),
            (&["check"], "needs a FILE"),
            (&["check", "a", "b"], "unexpected argument"),
            (&["check", "a", "--region", "us-east-1"], "not config check"),
            (&["--image", "x"], "goes with config check"),
            (&["--frob"], "unknown flag --frob"),
            (&["--arg"], "needs a value"),
        ] {
            match parse(args) {
                Err(Error::Usage(message)) => {
                    assert!(message.contains(needle), "{args:?}: {message}");
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
        assert_eq!(parse(&["check", "--help"]).unwrap(), Command::Help);
    }

    #[test]
    fn args_and_env_are_read_as_every_exec_reads_them() {
        use Severity::{Error, Warning};
        let all = &FORMS.iter().map(|f| f.glob).collect::<Vec<_>>()[..];
        let timeout_30 =
            "    env:\n      - name: ECR_CREDENTIAL_PROVIDER_TIMEOUT\n        value: \"30\"\n";
        let table: [(String, Severity, &str, &[&str]); 10] = [
            (
                "    args: [--bogus]\n".into(),
                Error,
                "providers[0].args[0]",
                &["\"--bogus\": every exec exits 2", "unknown flag --bogus"],
            ),
            (
                "    args: [--timeout=90s]\n".into(),
                Warning,
                "providers[0].args[0]",
                &["every exec warns", "longer than the kubelet waits"],
            ),
            (
                "    args: [--trace=xml]\n".into(),
                Warning,
                "providers[0].args[0]",
                &["not a trace format"],
            ),
            (
                "    args: [get-credentials, --timeout, 5m]\n".into(),
                Warning,
                "providers[0].args[1]",
                &["\"--timeout 5m\"", "longer than the kubelet waits"],
            ),
            (
                "    args: [check, x]\n".into(),
                Error,
                "providers[0].args[0]",
                &["would run check instead of answering the kubelet's request"],
            ),
            (
                "    args: [--version]\n".into(),
                Error,
                "providers[0].args[0]",
                &["would print its version"],
            ),
            (
                "    args: [--bogus, --v=x]\n".into(),
                Warning,
                "providers[0].args[1]",
                &["not a verbosity"],
            ),
            (
                timeout_30.into(),
                Error,
                "providers[0].env[0]",
                &[
                    "ECR_CREDENTIAL_PROVIDER_TIMEOUT=\"30\": every exec exits 2",
                    "a duration needs a unit",
                ],
            ),
            (
                format!("    args: [--timeout=20s]\n{timeout_30}"),
                Warning,
                "providers[0].env[0]",
                &["a flag in args overrides it today, but without that flag every exec exits 2"],
            ),
            (
                "    env:\n      - name: ECR_CREDENTIAL_PROVIDER_TRACE\n        value: xml\n"
                    .into(),
                Warning,
                "providers[0].env[0]",
                &["is not a trace setting"],
            ),
        ];
        for (extra, severity, field, needles) in table {
            check_finding(&with_globs(all, &extra), severity, field, needles);
        }
        let clean = "    args: [get-credentials, --timeout=20s, --v=2]\n    env:\n      - name: ECR_CREDENTIAL_PROVIDER_TIMEOUT\n        value: 20s\n";
        assert_eq!(lint_text(&with_globs(all, clean)), []);
        // Another program's provider is not read by this one's parser.
        let other = with_globs(&["*.gcr.io"], "    args: [--bogus]\n")
            .replace("name: ecr-credential-provider", "name: gcp");
        assert!(
            lint_text(&other).iter().all(|f| !f.field.contains("args")),
            "{:?}",
            lint_text(&other)
        );
    }

    #[test]
    fn patterns_beyond_ecr_say_where_the_token_goes() {
        use Severity::Warning;
        let all = &FORMS.iter().map(|f| f.glob).collect::<Vec<_>>()[..];
        let last = format!("providers[0].matchImages[{}]", FORMS.len());
        for glob in ["*", "*.io", "ghcr.io", "*.*.ecr.*.amazonaws.com"] {
            let mut globs = all.to_vec();
            globs.push(glob);
            check_finding(
                &with_globs(&globs, ""),
                Warning,
                &last,
                &["sends the node's ECR token to it, unless containerd mirrors that host to ECR"],
            );
        }
        let findings = lint_text(&with_globs(&[all, &["*"]].concat(), ""));
        let text = report("c", &findings);
        assert!(
            text.contains("fix: keep it only if containerd mirrors the hosts it matches to an ECR pull-through cache; otherwise remove it")
                && !text.contains("fine for a pull-through"),
            "{text}"
        );
    }

    #[test]
    fn bin_dir_names_a_binary_built_for_another_machine() {
        let decoded = kubelet_config::decode(&[kubelet_config::Source {
            name: String::new(),
            text: generate(&Options::default()),
        }]);
        let arm64 = Executable::Foreign(Binary {
            format: binary::Format::Elf,
            machine: 183,
            bits64: true,
        });
        let status_of = move |_: &str| arm64;
        let findings = lint(&decoded, Some(("/opt/bin", &status_of)));
        let text = report("c", &findings);
        assert!(
            text.contains(&format!(
                "c:6: error: providers[0].name: \"ecr-credential-provider\": /opt/bin/ecr-credential-provider is an ELF executable for aarch64, and this machine is {}: the kubelet cannot exec it",
                std::env::consts::ARCH
            )),
            "{text}"
        );
    }
}
