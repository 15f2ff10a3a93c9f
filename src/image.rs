//! Image reference → registry host → which ECR registry, if any, serves it.
//! Pure: no IO, no clock, no environment. The host rules are upstream's (see PROTOCOL.md),
//! applied to the lowercased host so that DNS case does not change the answer.

use std::fmt;

use crate::sanitize;

/// Longer than any real reference; bounds the work and the size of error messages.
pub(crate) const MAX_IMAGE_LEN: usize = 4096;

pub(crate) const ECR_PUBLIC_HOSTS: [&str; 2] = ["public.ecr.aws", "ecr-public.aws.com"];

/// The domains that end upstream's private ECR host pattern, one per partition form.
const PRIVATE_ECR_DOMAINS: [&str; 9] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "on.aws",
    "on.amazonwebservices.com.cn",
    "sc2s.sgov.gov",
    "c2s.ic.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

/// The parts of a private ECR host that upstream's pattern captures.
#[derive(Debug, PartialEq, Eq)]
struct PrivateEcrHost<'a> {
    registry_id: &'a str,
    fips: bool,
    region: &'a str,
    domain: &'a str,
}

/// Upstream's private ECR host pattern on the lowercased host,
/// `^([0-9]{12})\.dkr[.-]ecr(-fips)?\.([a-z0-9][a-z0-9_-]*)\.(DOMAIN)$`, matched by hand: the
/// region holds no `.`, so each part ends where the next `.` is and nothing needs to backtrack.
/// A regular expression engine for this one pattern was over 200 KiB of a binary that must stay
/// under 5 MiB; a test holds this to the pattern.
fn match_private_ecr_host(host: &str) -> Option<PrivateEcrHost<'_>> {
    let (registry_id, rest) = host.split_at_checked(12)?;
    if !registry_id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest
        .strip_prefix(".dkr.ecr")
        .or_else(|| rest.strip_prefix(".dkr-ecr"))?;
    let (fips, rest) = match rest.strip_prefix("-fips.") {
        Some(rest) => (true, rest),
        None => (false, rest.strip_prefix('.')?),
    };
    let (region, domain) = rest.split_once('.')?;
    let mut region_bytes = region.bytes();
    let region_ok = region_bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && region_bytes
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    (region_ok && PRIVATE_ECR_DOMAINS.contains(&domain)).then_some(PrivateEcrHost {
        registry_id,
        fips,
        region,
        domain,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryHost {
    /// `host[:port]` exactly as the image spells it: the key of `auth` in the response,
    /// which the kubelet matches against the image (ports included).
    pub host: String,
    pub kind: RegistryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryKind {
    Private(PrivateEcr),
    /// ECR Public: one API, in us-east-1.
    Public,
    /// Not an ECR host. Upstream still asks private ECR in the SDK's default region
    /// (pull-through and custom DNS setups rely on it), and so do we, with a warning.
    Unrecognized,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateEcr {
    pub(crate) registry_id: String,
    pub(crate) region: String,
    pub(crate) partition: Partition,
    /// The host is a `dkr.ecr-fips` host: the API call should use the FIPS endpoint too.
    pub(crate) fips: bool,
    /// The host is a dual-stack (`on.aws`) host: the API call should be dual-stack too.
    pub(crate) dual_stack: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
    AwsIso,
    AwsIsoB,
    AwsIsoE,
    AwsIsoF,
    AwsEusc,
}

impl Partition {
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::AwsCn => "aws-cn",
            Self::AwsUsGov => "aws-us-gov",
            Self::AwsIso => "aws-iso",
            Self::AwsIsoB => "aws-iso-b",
            Self::AwsIsoE => "aws-iso-e",
            Self::AwsIsoF => "aws-iso-f",
            Self::AwsEusc => "aws-eusc",
        }
    }

    fn from_domain(domain: &str, region: &str) -> Self {
        match domain {
            "amazonaws.com.cn" | "on.amazonwebservices.com.cn" => Self::AwsCn,
            "amazonaws.eu" => Self::AwsEusc,
            "c2s.ic.gov" => Self::AwsIso,
            "sc2s.sgov.gov" => Self::AwsIsoB,
            "cloud.adc-e.uk" => Self::AwsIsoE,
            "csp.hci.ic.gov" => Self::AwsIsoF,
            _ if region.starts_with("us-gov-") => Self::AwsUsGov,
            _ => Self::Aws,
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// The request's `image` is the empty string.
    #[error("the request's image is empty")]
    Empty,
    /// Longer than any real image reference.
    #[error("the request's image is {len} bytes long, more than the {MAX_IMAGE_LEN} allowed")]
    TooLong { len: usize },
    /// Whitespace or control characters never appear in an image reference. Every variant holds
    /// its text escaped and bounded (`sanitize::value`): the image is a tenant's.
    #[error("image \"{image}\" contains whitespace or a control character")]
    InvalidCharacter { image: String },
    /// Nothing before the first `/` to take a registry host from.
    #[error("image \"{image}\" names no registry host")]
    NoHost { image: String },
    #[error("image \"{image}\" has an invalid registry host \"{host}\"")]
    InvalidHost { image: String, host: String },
    #[error("image \"{image}\" has an invalid port \"{port}\"")]
    InvalidPort { image: String, port: String },
}

/// Takes the registry host from an image reference (with or without scheme, tag, digest,
/// port and path) and classifies it.
pub fn parse(image: &str) -> Result<RegistryHost, ImageError> {
    if image.is_empty() {
        return Err(ImageError::Empty);
    }
    if image.len() > MAX_IMAGE_LEN {
        return Err(ImageError::TooLong { len: image.len() });
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ImageError::InvalidCharacter {
            image: sanitize::value(image),
        });
    }
    let no_host = || ImageError::NoHost {
        image: sanitize::value(image),
    };
    let invalid_host = |host: &str| ImageError::InvalidHost {
        image: sanitize::value(image),
        host: sanitize::value(host),
    };

    let rest = strip_scheme(image).ok_or_else(no_host)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Like a URL, `user@host` names the host after the `@`.
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.is_empty() {
        return Err(no_host());
    }

    let (hostname, port) = split_port(host).ok_or_else(|| invalid_host(host))?;
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0);
        if !valid {
            return Err(ImageError::InvalidPort {
                image: sanitize::value(image),
                port: sanitize::value(port),
            });
        }
    }
    if !is_valid_hostname(hostname) {
        return Err(invalid_host(host));
    }

    Ok(RegistryHost {
        host: host.to_owned(),
        kind: classify(&hostname.to_ascii_lowercase()),
    })
}

/// The part of an image reference after the host: what a pull asks the registry for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub(crate) repository: String,
    /// A tag or a digest (`sha256:…`); `latest` when the image names neither, as a pull does.
    pub(crate) tag_or_digest: String,
}

impl Reference {
    pub(crate) fn is_digest(&self) -> bool {
        self.tag_or_digest.contains(':')
    }
}

/// The repository and tag or digest of `image`; `None` when it names no repository.
pub fn reference(image: &str) -> Option<Reference> {
    let (_, path) = strip_scheme(image)?.split_once('/')?;
    let (name, digest) = match path.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (path, None),
    };
    let (repository, tag) = match name.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
        _ => (name, None),
    };
    if repository.is_empty() || repository.starts_with('/') || repository.ends_with('/') {
        return None;
    }
    let tag_or_digest = digest.or(tag).filter(|r| !r.is_empty()).unwrap_or("latest");
    Some(Reference {
        repository: repository.to_owned(),
        tag_or_digest: tag_or_digest.to_owned(),
    })
}

/// `https://host/…` → `host/…`; an image with no scheme is returned as it is.
/// `None` when a `://` follows something that is not a scheme.
fn strip_scheme(image: &str) -> Option<&str> {
    let Some((scheme, rest)) = image.split_once("://") else {
        return Some(image);
    };
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(rest)
}

/// `host:port` → (`host`, Some(`port`)); `[v6]:port` → (`v6`, Some(`port`)).
fn split_port(host: &str) -> Option<(&str, Option<&str>)> {
    if let Some(bracketed) = host.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']')?;
        return match after {
            "" => Some((address, None)),
            _ => Some((address, Some(after.strip_prefix(':')?))),
        };
    }
    match host.split_once(':') {
        None => Some((host, None)),
        Some((_, port)) if port.contains(':') => None,
        Some((name, port)) => Some((name, Some(port))),
    }
}

fn is_valid_hostname(hostname: &str) -> bool {
    if hostname.contains(':') {
        return hostname.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !hostname.is_empty()
        && hostname.len() <= 253
        && hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn classify(hostname: &str) -> RegistryKind {
    if ECR_PUBLIC_HOSTS.contains(&hostname) {
        return RegistryKind::Public;
    }
    let Some(host) = match_private_ecr_host(hostname) else {
        return RegistryKind::Unrecognized;
    };
    RegistryKind::Private(PrivateEcr {
        registry_id: host.registry_id.to_owned(),
        region: host.region.to_owned(),
        partition: Partition::from_domain(host.domain, host.region),
        fips: host.fips,
        dual_stack: host.domain.starts_with("on."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand matcher against upstream's pattern itself, on hosts made from every part's
    /// valid and invalid forms.
    #[test]
    fn the_host_matcher_is_upstreams_pattern() {
        let pattern = regex::Regex::new(concat!(
            r"^([0-9]{12})\.dkr[.-]ecr(-fips)?\.([a-z0-9][a-z0-9_-]*)\.",
            r"(amazonaws\.(?:com(?:\.cn)?|eu)|on\.(?:aws|amazonwebservices\.com\.cn)",
            r"|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$",
        ))
        .unwrap();
        let ids = [
            "123456789012",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "",
        ];
        let services = [
            ".dkr.ecr",
            ".dkr-ecr",
            ".dkr_ecr",
            ".dkrecr",
            ".dkr.ecr-fips",
            ".dkr-ecr-fips",
            ".dkr.ecr-fip",
            ".dkr.ecrfips",
            "dkr.ecr",
            ".dkr.ec",
        ];
        let regions = [
            ".us-east-1",
            ".us-gov-west-1",
            ".cn-north-1",
            ".eu_x",
            ".1a",
            ".-us",
            "._us",
            ".",
            "",
            ".us.east",
            ".us-east-1.",
            ".US-east-1",
            ".eusc-de-east-1",
        ];
        let mut domains: Vec<String> = PRIVATE_ECR_DOMAINS
            .iter()
            .map(|d| format!(".{d}"))
            .collect();
        domains.extend(
            [
                ".amazonaws.com.",
                ".amazonaws.co",
                ".amazonaws.com.cnx",
                ".on.aws.",
                ".aws",
                ".amazonaws.com\n",
                "",
                ".",
                ".amazonaws.com.evil.example",
                ".xamazonaws.com",
            ]
            .map(str::to_owned),
        );
        let mut hosts = 0;
        for id in ids {
            for service in services {
                for region in regions {
                    for domain in &domains {
                        let host = format!("{id}{service}{region}{domain}");
                        let expected = pattern.captures(&host).map(|c| PrivateEcrHost {
                            registry_id: c.get(1).unwrap().as_str(),
                            fips: c.get(2).is_some(),
                            region: c.get(3).unwrap().as_str(),
                            domain: c.get(4).unwrap().as_str(),
                        });
                        assert_eq!(match_private_ecr_host(&host), expected, "{host}");
                        hosts += 1;
                    }
                }
            }
        }
        assert!(hosts > 10_000, "{hosts}");
    }

    const ID: &str = "123456789012";

    #[track_caller]
    fn check_private(
        image: &str,
        host: &str,
        region: &str,
        partition: Partition,
        fips: bool,
        dual_stack: bool,
    ) {
        let registry = parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        assert_eq!(registry.host, host, "{image}");
        let expected = RegistryKind::Private(PrivateEcr {
            registry_id: ID.into(),
            region: region.into(),
            partition,
            fips,
            dual_stack,
        });
        assert_eq!(registry.kind, expected, "{image}");
    }

    #[test]
    #[allow(clippy::too_many_lines, reason = "one table")]
    fn private_ecr_in_every_partition() {
        use Partition::*;
        let table = [
            (
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app:v1.2",
                "us-west-2",
                Aws,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.eu-central-1.amazonaws.com/app",
                "eu-central-1",
                Aws,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.ap-southeast-7.amazonaws.com/app",
                "ap-southeast-7",
                Aws,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app",
                "cn-north-1",
                AwsCn,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/app",
                "cn-northwest-1",
                AwsCn,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/app",
                "us-gov-west-1",
                AwsUsGov,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com/app",
                "us-gov-east-1",
                AwsUsGov,
                true,
                false,
            ),
            (
                "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app",
                "us-east-1",
                Aws,
                true,
                false,
            ),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov/app",
                "us-iso-east-1",
                AwsIso,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/app",
                "us-isob-east-1",
                AwsIsoB,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk/app",
                "eu-isoe-west-1",
                AwsIsoE,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov/app",
                "us-isof-south-1",
                AwsIsoF,
                false,
                false,
            ),
            (
                "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu/app",
                "eusc-de-east-1",
                AwsEusc,
                false,
                false,
            ),
            (
                "123456789012.dkr-ecr.us-east-1.on.aws/app",
                "us-east-1",
                Aws,
                false,
                true,
            ),
            (
                "123456789012.dkr-ecr-fips.us-east-1.on.aws/app",
                "us-east-1",
                Aws,
                true,
                true,
            ),
            (
                "123456789012.dkr-ecr.us-gov-west-1.on.aws/app",
                "us-gov-west-1",
                AwsUsGov,
                false,
                true,
            ),
            (
                "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn/app",
                "cn-north-1",
                AwsCn,
                false,
                true,
            ),
        ];
        for (image, region, partition, fips, dual_stack) in table {
            let host = image.split('/').next().unwrap();
            check_private(image, host, region, partition, fips, dual_stack);
        }
    }

    #[test]
    fn tags_digests_ports_paths_and_schemes() {
        let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        for image in [
            host.to_owned(),
            format!("{host}/app"),
            format!("{host}/a/b/c/app:latest"),
            format!("{host}/app@sha256:{}", "a".repeat(64)),
            format!("{host}/app:v1@sha256:{}", "b".repeat(64)),
            format!("https://{host}/app"),
            format!("http://{host}"),
            format!("oci://{host}/app"),
            format!("user@{host}/app"),
            format!("{host}/public.ecr.aws/app:latest"),
        ] {
            check_private(&image, host, "us-east-1", Partition::Aws, false, false);
        }
        let with_port = format!("{host}:443");
        check_private(
            &format!("{with_port}/app:1"),
            &with_port,
            "us-east-1",
            Partition::Aws,
            false,
            false,
        );
    }

    #[test]
    fn uppercase_hosts_classify_like_lowercase_and_keep_their_spelling() {
        let image = "123456789012.DKR.ECR.US-WEST-2.AMAZONAWS.COM/App";
        check_private(
            image,
            "123456789012.DKR.ECR.US-WEST-2.AMAZONAWS.COM",
            "us-west-2",
            Partition::Aws,
            false,
            false,
        );
        assert_eq!(
            parse("PUBLIC.ECR.AWS/x").unwrap().kind,
            RegistryKind::Public
        );
    }

    #[test]
    fn ecr_public_hosts() {
        for image in [
            "public.ecr.aws/nginx/nginx:latest",
            "public.ecr.aws",
            "ecr-public.aws.com/a/b",
            "https://public.ecr.aws/x",
        ] {
            assert_eq!(parse(image).unwrap().kind, RegistryKind::Public, "{image}");
        }
    }

    #[test]
    fn other_hosts_are_unrecognized() {
        for (image, host) in [
            ("docker.io/library/busybox", "docker.io"),
            ("registry.k8s.io/pause:3.9", "registry.k8s.io"),
            ("localhost:5000/app", "localhost:5000"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000"),
            ("[::1]:5000/app", "[::1]:5000"),
            ("[::1]/app", "[::1]"),
            ("my-mirror.example.com/ecr/app", "my-mirror.example.com"),
            // Near misses: eleven or thirteen digits, a wrong service, a foreign domain, a prefix.
            (
                "12345678901.dkr.ecr.us-east-1.amazonaws.com/app",
                "12345678901.dkr.ecr.us-east-1.amazonaws.com",
            ),
            (
                "1234567890123.dkr.ecr.us-east-1.amazonaws.com/app",
                "1234567890123.dkr.ecr.us-east-1.amazonaws.com",
            ),
            (
                "123456789012.dkr.ecs.us-east-1.amazonaws.com/app",
                "123456789012.dkr.ecs.us-east-1.amazonaws.com",
            ),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/app",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            ),
            (
                "x123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
                "x123456789012.dkr.ecr.us-east-1.amazonaws.com",
            ),
            (
                "public.ecr.aws.evil.example/app",
                "public.ecr.aws.evil.example",
            ),
        ] {
            let registry = parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
            assert_eq!(
                registry,
                RegistryHost {
                    host: host.into(),
                    kind: RegistryKind::Unrecognized
                },
                "{image}"
            );
        }
    }

    #[test]
    fn garbage_is_rejected_with_the_reason() {
        type Expected = fn(&ImageError) -> bool;
        let long = format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/{}",
            "a".repeat(MAX_IMAGE_LEN)
        );
        let table: [(&str, Expected); 14] = [
            ("", |e| *e == ImageError::Empty),
            (&long, |e| matches!(e, ImageError::TooLong { .. })),
            ("foobar  ", |e| {
                matches!(e, ImageError::InvalidCharacter { .. })
            }),
            (" 123456789012.dkr.ecr.us-east-1.amazonaws.com/app", |e| {
                matches!(e, ImageError::InvalidCharacter { .. })
            }),
            ("host/app\n", |e| {
                matches!(e, ImageError::InvalidCharacter { .. })
            }),
            ("/app", |e| matches!(e, ImageError::NoHost { .. })),
            ("https:///app", |e| matches!(e, ImageError::NoHost { .. })),
            ("1http://host/app", |e| {
                matches!(e, ImageError::NoHost { .. })
            }),
            ("host:notaport/app", |e| {
                matches!(e, ImageError::InvalidPort { .. })
            }),
            ("host:99999/app", |e| {
                matches!(e, ImageError::InvalidPort { .. })
            }),
            ("host:/app", |e| matches!(e, ImageError::InvalidPort { .. })),
            ("ho%st/app", |e| matches!(e, ImageError::InvalidHost { .. })),
            ("a:b:c/app", |e| matches!(e, ImageError::InvalidHost { .. })),
            ("[zz::1]:5000/app", |e| {
                matches!(e, ImageError::InvalidHost { .. })
            }),
        ];
        for (image, expected) in table {
            let error = parse(image).expect_err(image);
            assert!(expected(&error), "{image:?} gave {error:?}");
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn repository_and_tag_or_digest() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let table = [
            ("h/app", Some(("app", "latest"))),
            ("h/team/app:v1.2", Some(("team/app", "v1.2"))),
            ("h:5000/team/app", Some(("team/app", "latest"))),
            ("https://h/app:v1", Some(("app", "v1"))),
            ("h", None),
            ("h/", None),
        ];
        for (image, expected) in table {
            let got = reference(image);
            let got = got
                .as_ref()
                .map(|r| (r.repository.as_str(), r.tag_or_digest.as_str()));
            assert_eq!(got, expected, "{image}");
        }
        let pinned = reference(&format!("h/app:v1@{digest}")).unwrap();
        assert_eq!(
            (pinned.repository.as_str(), pinned.tag_or_digest.as_str()),
            ("app", digest.as_str())
        );
        assert!(pinned.is_digest());
    }

    #[test]
    fn non_ascii_hosts_are_invalid_not_a_panic() {
        for image in [
            "ü.example/app",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com\u{0}/x",
            "ｐublic.ecr.aws/x",
        ] {
            assert!(parse(image).is_err(), "{image}");
        }
    }
}
