//! `check IMAGE`: can this identity really pull this image? Tries each thing a pull depends
//! on — credentials, identity, token, repository and layer permissions, the registry itself —
//! and for any that fails says why in plain words and how to fix it. GetAuthorizationToken
//! alone proves little: pulling needs `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer` too.

use std::fmt::Write as _;
use std::time::SystemTime;

use serde::Serialize;

use crate::aws::{AuthorizationData, CallerIdentity, ImageLookup, Session, Settings};
use crate::deadline::Progress;
use crate::diagnose;
use crate::error::Error;
use crate::image::{self, PrivateEcr, Reference, RegistryKind};
use crate::registry::RegistryClient;
use crate::token::{self, RegistryLogin};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub image: String,
    pub pullable: bool,
    pub steps: Vec<Step>,
}

impl Report {
    pub fn to_text(&self) -> String {
        let mut text = format!("Can this identity pull {}?\n", self.image);
        for step in &self.steps {
            let mark = match step.status {
                Status::Pass => "✓",
                Status::Fail => "✗",
                Status::Skip => "–",
            };
            let _ = writeln!(text, "{mark} {:<11} {}", step.name, step.detail);
            if let Some(cause) = &step.cause {
                let _ = writeln!(text, "    cause: {cause}");
            }
            if let Some(fix) = &step.fix {
                let _ = writeln!(text, "    fix:   {fix}");
            }
        }
        let verdict = match self.steps.iter().find(|s| s.status == Status::Fail) {
            None if self.pullable => "yes: every step a pull takes succeeded".to_owned(),
            None => "not shown: the registry was not reached".to_owned(),
            Some(step) => format!("no: {} failed", step.name),
        };
        let _ = write!(text, "result: {verdict}");
        text
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|_| unreachable!("a report of strings always serializes"))
    }
}

struct Steps(Vec<Step>);

impl Steps {
    fn pass(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Pass, detail, None, None);
    }

    fn skip(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Skip, detail, None, None);
    }

    fn fail(
        &mut self,
        name: &'static str,
        detail: impl Into<String>,
        cause: Option<String>,
        fix: Option<String>,
    ) {
        self.push(name, Status::Fail, detail, cause, fix);
    }

    fn push(
        &mut self,
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        cause: Option<String>,
        fix: Option<String>,
    ) {
        self.0.push(Step {
            name,
            status,
            detail: detail.into(),
            cause,
            fix,
        });
    }

    /// No HTTP answer at all from the registry.
    fn unreachable(&mut self, name: &'static str, detail: String) {
        let cause = Some("the registry could not be reached".to_owned());
        self.fail(name, detail, cause, Some(diagnose::NETWORK.into()));
    }

    fn report(self, image: &str, pullable: bool) -> Report {
        let pullable = pullable && self.0.iter().all(|s| s.status != Status::Fail);
        Report {
            image: image.to_owned(),
            pullable,
            steps: self.0,
        }
    }
}

/// Runs every step it can; a failed step stops only the steps that depend on it.
pub async fn check(
    image: &str,
    registry_endpoint: Option<&str>,
    settings: &Settings,
    progress: &Progress,
    now: SystemTime,
) -> Result<Report, Error> {
    let registry = image::parse(image)?;
    let mut steps = Steps(Vec::new());
    let Some(reference) = image::reference(image) else {
        steps.fail(
            "image",
            format!("{image} names no repository"),
            None,
            Some("give the whole image, such as HOST/REPOSITORY:TAG".into()),
        );
        return Ok(steps.report(image, false));
    };
    steps.pass(
        "image",
        describe_host(&registry.kind, &registry.host, &reference),
    );

    let session = match Session::open(&registry, None, settings, progress).await {
        Ok(session) => session,
        Err(error) => {
            let error = Error::Aws(error);
            steps.fail(
                "credentials",
                error.to_string(),
                None,
                diagnose::hint(&error),
            );
            return Ok(steps.report(image, false));
        }
    };
    steps.pass(
        "credentials",
        format!("{} (region {})", session.credential_source, session.region),
    );

    let caller = match session.caller_identity().await {
        Ok(caller) => {
            steps.pass(
                "identity",
                format!("{} (account {})", caller.arn, caller.account),
            );
            Some(caller)
        }
        Err(failure) => {
            let fix = diagnose::failure_hint(&failure, "sts:GetCallerIdentity");
            steps.fail(
                "identity",
                format!("STS GetCallerIdentity failed: {failure}"),
                None,
                fix,
            );
            None
        }
    };

    let Some((data, credentials)) = token_step(&session, now, &mut steps).await else {
        return Ok(steps.report(image, false));
    };

    let layers = match &registry.kind {
        RegistryKind::Private(ecr) => {
            repository_access(&session, ecr, &reference, caller.as_ref(), &mut steps).await
        }
        RegistryKind::Public => {
            steps.skip(
                "repository",
                "ECR Public repositories are public: the token only raises anonymous rate limits",
            );
            Vec::new()
        }
        RegistryKind::Unrecognized => {
            steps.skip(
                "repository",
                format!(
                    "{} is not an ECR host: no ECR repository to check",
                    registry.host
                ),
            );
            Vec::new()
        }
    };

    let endpoint = registry_endpoint
        .map(str::to_owned)
        .or(data.proxy_endpoint)
        .unwrap_or_else(|| format!("https://{}", registry.host));
    progress.step(format!("the registry at {endpoint}"));
    let client = RegistryClient::new(
        &endpoint,
        &credentials.username,
        &credentials.password,
        &settings.trust,
        &settings.proxies,
        settings.attempt_timeout,
    );
    let pulled = registry_access(
        &client,
        &reference,
        layers.first(),
        pull_fix(&registry.kind, &reference, caller.as_ref()),
        &mut steps,
    )
    .await;
    Ok(steps.report(image, pulled))
}

/// GetAuthorizationToken and the token's decoding, as the kubelet path does them.
async fn token_step(
    session: &Session,
    now: SystemTime,
    steps: &mut Steps,
) -> Option<(AuthorizationData, RegistryLogin)> {
    let service = session.service_name();
    let data = match session.authorization_token().await {
        Ok((data, _)) => data,
        Err(error) => {
            let error = Error::Aws(error);
            steps.fail("token", error.to_string(), None, diagnose::hint(&error));
            return None;
        }
    };
    let credentials = match token::decode(&data.token) {
        Ok(credentials) => credentials,
        Err(source) => {
            let error = Error::Token { service, source };
            steps.fail("token", error.to_string(), None, diagnose::hint(&error));
            return None;
        }
    };
    let expiry = match data.expires_at {
        None => "an unknown time (the kubelet will not cache it)".to_owned(),
        Some(at) if at <= now => format!(
            "{}, already past by this node's clock (the kubelet will not cache it: check the clock)",
            crate::plugin::rfc3339(at)
        ),
        Some(at) => crate::plugin::rfc3339(at),
    };
    steps.pass(
        "token",
        format!("{service} GetAuthorizationToken: a token valid until {expiry}"),
    );
    Some((data, credentials))
}

fn describe_host(kind: &RegistryKind, host: &str, reference: &Reference) -> String {
    let what = match kind {
        RegistryKind::Private(ecr) => {
            let mut flavour = String::new();
            if ecr.fips {
                flavour.push_str(", FIPS");
            }
            if ecr.dual_stack {
                flavour.push_str(", dual-stack");
            }
            format!(
                "private ECR registry {} in {} ({}{flavour})",
                ecr.registry_id, ecr.region, ecr.partition
            )
        }
        RegistryKind::Public => "ECR Public".to_owned(),
        RegistryKind::Unrecognized => {
            format!("{host}: not an ECR host, asked of private ECR in the default region")
        }
    };
    format!(
        "{}:{} — {what}",
        reference.repository, reference.tag_or_digest
    )
}

fn repository_arn(ecr: &PrivateEcr, repository: &str) -> String {
    format!(
        "arn:{}:ecr:{}:{}:repository/{repository}",
        ecr.partition, ecr.region, ecr.registry_id
    )
}

fn pull_fix(
    kind: &RegistryKind,
    reference: &Reference,
    caller: Option<&CallerIdentity>,
) -> Option<String> {
    let RegistryKind::Private(ecr) = kind else {
        return None;
    };
    Some(diagnose::pull_fix(
        &repository_arn(ecr, &reference.repository),
        &ecr.registry_id,
        caller,
    ))
}

/// BatchGetImage and GetDownloadUrlForLayer, as a pull makes them. Returns the layer digests.
async fn repository_access(
    session: &Session,
    ecr: &PrivateEcr,
    reference: &Reference,
    caller: Option<&CallerIdentity>,
    steps: &mut Steps,
) -> Vec<String> {
    let arn = repository_arn(ecr, &reference.repository);
    let fix = || Some(diagnose::pull_fix(&arn, &ecr.registry_id, caller));
    let layers = match session.batch_get_image(&ecr.registry_id, reference).await {
        Ok(ImageLookup::Found {
            media_type,
            digest,
            layers,
        }) => {
            let digest = digest.unwrap_or_default();
            let media_type = media_type.unwrap_or_default();
            steps.pass(
                "repository",
                format!(
                    "BatchGetImage: {} is {digest} ({media_type})",
                    reference.tag_or_digest
                ),
            );
            layers
        }
        Ok(ImageLookup::Missing { code, reason }) => {
            steps.fail(
                "repository",
                format!("BatchGetImage: {code} {reason}").trim_end().to_owned(),
                Some(format!("repository {} has no image {}", reference.repository, reference.tag_or_digest)),
                Some(format!("check the tag or digest; list them with `aws ecr describe-images --registry-id {} --repository-name {} --region {}`", ecr.registry_id, reference.repository, ecr.region)),
            );
            return Vec::new();
        }
        Err(failure) => {
            let (cause, fix) = match failure.code() {
                Some(code) if diagnose::is_access_denied(code) => (
                    Some("these credentials may get a token but not read this repository: a token does not grant pull rights".to_owned()),
                    fix(),
                ),
                Some("RepositoryNotFoundException") => (
                    Some(format!("there is no repository {} in registry {} in {}", reference.repository, ecr.registry_id, ecr.region)),
                    Some("check the repository name, and the account and region in the image's host".to_owned()),
                ),
                _ => (None, diagnose::failure_hint(&failure, "ecr:BatchGetImage")),
            };
            steps.fail(
                "repository",
                format!("BatchGetImage on {arn} failed: {failure}"),
                cause,
                fix,
            );
            return Vec::new();
        }
    };
    let Some(layer) = layers.first() else {
        steps.skip(
            "layers",
            "the manifest is an index: layers are checked per platform when pulled",
        );
        return layers;
    };
    match session
        .layer_download(&ecr.registry_id, &reference.repository, layer)
        .await
    {
        Ok(()) => steps.pass("layers", format!("GetDownloadUrlForLayer: {layer}")),
        Err(failure) if failure.code().is_some_and(diagnose::is_access_denied) => steps.fail(
            "layers",
            format!("GetDownloadUrlForLayer on {arn} failed: {failure}"),
            Some("these credentials may read the manifest but not download its layers".into()),
            fix(),
        ),
        Err(failure) => steps.skip(
            "layers",
            format!("GetDownloadUrlForLayer could not be checked: {failure}"),
        ),
    }
    layers
}

/// The registry request a runtime makes first, with the token; then the first layer.
async fn registry_access(
    client: &RegistryClient,
    reference: &Reference,
    layer: Option<&String>,
    pull_fix: Option<String>,
    steps: &mut Steps,
) -> bool {
    let url = client.manifest_url(&reference.repository, &reference.tag_or_digest);
    let answer = match client
        .manifest(&reference.repository, &reference.tag_or_digest)
        .await
    {
        Ok(answer) => answer,
        Err(cause) => {
            steps.unreachable("registry", format!("GET {url}: {cause}"));
            return false;
        }
    };
    let (cause, fix) = match answer.status {
        200 => {
            let digest = answer.digest.unwrap_or_default();
            let media_type = answer.content_type.unwrap_or_default();
            steps.pass("registry", format!("GET {url}: 200 {digest} {media_type}").trim_end().to_owned());
            return blob_access(client, reference, layer, pull_fix, steps).await;
        }
        401 => (
            "the registry refused the token".to_owned(),
            Some("the token is for another registry, or expired: check the node's clock and that the image's host is the registry the token was issued for".to_owned()),
        ),
        403 => ("the registry denied this identity".to_owned(), pull_fix),
        404 => (format!("the registry has no {}:{}", reference.repository, reference.tag_or_digest), Some("check the repository name and the tag or digest".to_owned())),
        status => (format!("the registry answered HTTP {status}"), None),
    };
    steps.fail(
        "registry",
        format!("GET {url}: HTTP {}", answer.status),
        Some(cause),
        fix,
    );
    false
}

async fn blob_access(
    client: &RegistryClient,
    reference: &Reference,
    layer: Option<&String>,
    pull_fix: Option<String>,
    steps: &mut Steps,
) -> bool {
    let Some(layer) = layer else { return true };
    let url = client.blob_url(&reference.repository, layer);
    match client.blob(&reference.repository, layer).await {
        Ok(answer) if matches!(answer.status, 200 | 307 | 302) => {
            steps.pass("download", format!("HEAD {url}: {}", answer.status));
            true
        }
        Ok(answer) => {
            let cause = match answer.status {
                401 | 403 => "the registry refused the layer download",
                _ => "the layer could not be fetched",
            };
            steps.fail(
                "download",
                format!("HEAD {url}: HTTP {}", answer.status),
                Some(cause.into()),
                pull_fix,
            );
            false
        }
        Err(cause) => {
            steps.unreachable("download", format!("HEAD {url}: {cause}"));
            false
        }
    }
}
