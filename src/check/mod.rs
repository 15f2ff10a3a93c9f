//! `check IMAGE`: can this identity really pull this image? Tries each thing a pull depends
//! on — the role for a pod, credentials, identity, token, repository and layer permissions
//! (and the pull-through cache rule that would create a missing repository), the image's own
//! registry with the login its challenge asks for — and for any that fails says why and how to
//! fix it (texts in `diagnose`). Each step has a share of the deadline: a slow one is reported
//! as timed out, the steps that need it as not tried, and the report always prints in time.

pub mod kubelet;
mod pod;
mod provider_config;
mod report;

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

pub use pod::Pod;
pub use report::{Report, Status, Step};

use crate::aws::{AwsError, CallerIdentity, ImageLookup, Session, Settings};
use crate::deadline::Progress;
use crate::diagnose::{self, Advice, Endpoint, Place, Refusal, TokenClaims};
use crate::duration;
use crate::error::Error;
use crate::image::{self, PrivateEcr, Reference, RegistryHost, RegistryKind};
use crate::registry::{Challenge, Login, LoginFailure, RegistryClient};
use crate::token::{self, RegistryLogin};
use report::Steps;

/// What to check, and as whom.
#[derive(Debug)]
pub struct Options {
    pub image: String,
    pub registry_endpoint: Option<String>,
    pub pod: Option<Pod>,
    /// `AWS_ECR_ROLE_ARN`, for a pod's role.
    pub role_arn_env: Option<String>,
    /// The whole check's deadline; the report is printed within it.
    pub timeout: Duration,
}

/// The steps after `credentials`, in order: what is not tried when credentials fail.
const AFTER_CREDENTIALS: [&str; 6] = [
    "identity",
    "token",
    "repository",
    "layers",
    "registry",
    "download",
];

/// Runs every step it can; a failed step stops only the steps that depend on it.
pub async fn check(
    options: &Options,
    settings: &Settings,
    progress: &Progress,
    now: SystemTime,
) -> Result<Report, Error> {
    let budget = Budget::new(options.timeout);
    let image = options.image.as_str();
    let registry = image::parse(image)?;
    let mut steps = Steps::default();
    let Some(reference) = image::reference(image) else {
        steps.fail(
            "image",
            format!("{image} names no repository"),
            diagnose::no_repository(),
        );
        return Ok(steps.report(image, false));
    };
    steps.pass(
        "image",
        describe_host(&registry.kind, &registry.host, &reference),
    );

    let (region, partition) = place_of(&registry);
    let mut place = Place {
        region: &region,
        partition,
    };
    let opening = Opening {
        registry: &registry,
        options,
        settings,
        place,
    };
    let Some(session) = opening.open(&budget, progress, &mut steps).await else {
        return Ok(steps.report(image, false));
    };
    let session_region = session.region.clone();
    if matches!(registry.kind, RegistryKind::Unrecognized) {
        place.region = &session_region;
    }

    let caller = identity_step(&session, &budget, progress, place, &mut steps).await;

    let api = api_endpoint(&registry.kind);
    let token = token_step(&session, now, &budget, progress, place, api, &mut steps).await;

    let repository = match &registry.kind {
        RegistryKind::Private(ecr) => {
            let context = Repository {
                session: &session,
                ecr,
                reference: &reference,
                caller: caller.as_ref(),
                place,
            };
            context.check(&budget, progress, &mut steps).await
        }
        other => {
            let why = match other {
                RegistryKind::Public => "ECR Public repositories are public: the token only raises anonymous rate limits".to_owned(),
                _ => format!("{} is not an ECR host: no ECR repository to check", registry.host),
            };
            steps.skip("repository", why);
            steps.skip("layers", "checked at the registry");
            RepositoryOutcome::default()
        }
    };

    let Some((data_expired, login)) = token else {
        steps.not_tried(&["registry", "download"], "no token");
        return Ok(steps.report(image, false));
    };
    let endpoint = options
        .registry_endpoint
        .clone()
        .unwrap_or_else(|| format!("https://{}", registry.host));
    let client = RegistryClient::new(
        &endpoint,
        &login.username,
        &login.password,
        &settings.trust,
        &settings.proxies,
        settings.attempt_timeout,
    );
    let context = RegistryCheck {
        client: &client,
        reference: &reference,
        endpoint: registry_endpoint(&registry.kind),
        place,
        token_expired: data_expired,
        issuer: format!("{} in {}", session.service_name(), session.region),
        pull_fix: pull_fix(&registry.kind, &reference, caller.as_ref()),
        pull_through: repository.pull_through,
    };
    let pulled = context
        .check(
            repository.layers.first().cloned(),
            &budget,
            progress,
            &mut steps,
        )
        .await;
    Ok(steps.report(image, pulled))
}

/// The `role` (for a pod) and `credentials` steps.
struct Opening<'a> {
    registry: &'a RegistryHost,
    options: &'a Options,
    settings: &'a Settings,
    place: Place<'a>,
}

impl Opening<'_> {
    /// The session, or `None` when the rest cannot run (and is written as not tried).
    async fn open(
        &self,
        budget: &Budget,
        progress: &Progress,
        steps: &mut Steps,
    ) -> Option<Session> {
        let (web_identity, claims) = match &self.options.pod {
            None => (None, None),
            Some(pod) => {
                let Ok(chosen) = pod::role_step(pod, self.options.role_arn_env.as_deref(), steps)
                else {
                    steps.not_tried(&["credentials"], "role failed");
                    steps.not_tried(&AFTER_CREDENTIALS, "role failed");
                    return None;
                };
                chosen
            }
        };
        let opening = Box::pin(Session::open(
            self.registry,
            web_identity.as_ref(),
            self.settings,
            progress,
        ));
        match budget.run(progress, opening).await {
            Timed::Done(Ok(session)) => {
                steps.pass(
                    "credentials",
                    format!("{} (region {})", session.credential_source, session.region),
                );
                return Some(session);
            }
            Timed::Done(Err(error)) => {
                let advice = credentials_advice(&error, claims.as_ref(), self.place);
                steps.fail("credentials", Error::Aws(error).to_string(), advice);
            }
            timed => {
                let advice = diagnose::timed_out(Endpoint::Sts, self.place);
                budget.record(timed, "credentials", steps, advice);
            }
        }
        steps.not_tried(&AFTER_CREDENTIALS, "no credentials");
        None
    }
}

/// Each step's share of the deadline, and the deadline itself, which keeps a little back so
/// that the report is written before the run's own deadline passes.
struct Budget {
    total: Duration,
    deadline: Instant,
    per_step: Duration,
}

enum Timed<T> {
    Done(T),
    /// The step's budget ran out while waiting for this.
    Expired {
        after: Duration,
        waiting_for: String,
    },
    /// No time was left to start the step.
    NoTime,
}

impl Budget {
    fn new(total: Duration) -> Self {
        let reserve = (total / 20).clamp(Duration::from_millis(50), Duration::from_secs(1));
        let usable = total.saturating_sub(reserve);
        Self {
            total,
            deadline: Instant::now() + usable,
            per_step: (usable / 4).max(usable.min(Duration::from_secs(1))),
        }
    }

    async fn run<T>(&self, progress: &Progress, step: impl Future<Output = T>) -> Timed<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(10) {
            return Timed::NoTime;
        }
        let budget = self.per_step.min(left);
        match tokio::time::timeout(budget, step).await {
            Ok(done) => Timed::Done(done),
            Err(_) => Timed::Expired {
                after: budget,
                waiting_for: progress.describe(),
            },
        }
    }

    /// Writes a step that did not finish: ✗ when it ran out of time, – when it never started.
    fn record<T>(&self, timed: Timed<T>, name: &'static str, steps: &mut Steps, advice: Advice) {
        match timed {
            Timed::Done(_) => {}
            Timed::Expired { after, waiting_for } => steps.fail(
                name,
                format!(
                    "timed out after {} waiting for {waiting_for}",
                    duration::format(after)
                ),
                advice,
            ),
            Timed::NoTime => steps.skip(
                name,
                format!(
                    "not tried: no time left of the {} deadline",
                    duration::format(self.total)
                ),
            ),
        }
    }
}

fn credentials_advice(error: &AwsError, claims: Option<&TokenClaims>, place: Place<'_>) -> Advice {
    match error {
        AwsError::AssumeRole {
            role_arn, failure, ..
        } => diagnose::assume_role(failure, role_arn, claims, place),
        other => Advice::fix(diagnose::aws_hint(other)),
    }
}

/// STS GetCallerIdentity: who the credentials are, for naming them in a policy.
async fn identity_step(
    session: &Session,
    budget: &Budget,
    progress: &Progress,
    place: Place<'_>,
    steps: &mut Steps,
) -> Option<CallerIdentity> {
    match budget.run(progress, session.caller_identity()).await {
        Timed::Done(Ok(caller)) => {
            steps.pass(
                "identity",
                format!("{} (account {})", caller.arn, caller.account),
            );
            Some(caller)
        }
        Timed::Done(Err(failure)) => {
            let advice =
                diagnose::api_failure(&failure, "sts:GetCallerIdentity", Endpoint::Sts, place);
            steps.fail(
                "identity",
                format!("STS GetCallerIdentity failed: {failure}"),
                advice,
            );
            None
        }
        timed => {
            budget.record(
                timed,
                "identity",
                steps,
                diagnose::timed_out(Endpoint::Sts, place),
            );
            None
        }
    }
}

/// GetAuthorizationToken and the token's decoding, as the kubelet path does them. Returns
/// whether the token's expiry is already past by this node's clock, and the login.
async fn token_step(
    session: &Session,
    now: SystemTime,
    budget: &Budget,
    progress: &Progress,
    place: Place<'_>,
    api: Endpoint,
    steps: &mut Steps,
) -> Option<(bool, RegistryLogin)> {
    let service = session.service_name();
    let data = match budget.run(progress, session.authorization_token()).await {
        Timed::Done(Ok((data, _))) => data,
        Timed::Done(Err(error)) => {
            let advice = match &error {
                AwsError::Call { failure, .. } => diagnose::api_failure(
                    failure,
                    if service == "ECR" {
                        "ecr:GetAuthorizationToken"
                    } else {
                        "ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken"
                    },
                    api,
                    place,
                ),
                other => Advice::fix(diagnose::aws_hint(other)),
            };
            steps.fail("token", Error::Aws(error).to_string(), advice);
            return None;
        }
        timed => {
            budget.record(timed, "token", steps, diagnose::timed_out(api, place));
            return None;
        }
    };
    let login = match token::decode(&data.token) {
        Ok(login) => login,
        Err(source) => {
            let error = Error::Token { service, source };
            let advice = Advice::fix(diagnose::hint(&error));
            steps.fail("token", error.to_string(), advice);
            return None;
        }
    };
    let expired = data.expires_at.is_some_and(|at| at <= now);
    let expiry = match data.expires_at {
        None => "an unknown time (the kubelet will not cache it)".to_owned(),
        Some(at) if expired => format!(
            "{}, already past by this node's clock (the kubelet will not cache it: check the clock)",
            crate::plugin::rfc3339(at)
        ),
        Some(at) => crate::plugin::rfc3339(at),
    };
    steps.pass(
        "token",
        format!("{service} GetAuthorizationToken: a token valid until {expiry}"),
    );
    Some((expired, login))
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

fn place_of(registry: &RegistryHost) -> (String, &'static str) {
    match &registry.kind {
        RegistryKind::Private(ecr) => (ecr.region.clone(), ecr.partition.id()),
        RegistryKind::Public => (crate::aws::ECR_PUBLIC_REGION.to_owned(), "aws"),
        RegistryKind::Unrecognized => ("REGION".to_owned(), "aws"),
    }
}

fn api_endpoint(kind: &RegistryKind) -> Endpoint {
    match kind {
        RegistryKind::Public => Endpoint::EcrPublic,
        _ => Endpoint::EcrApi,
    }
}

fn registry_endpoint(kind: &RegistryKind) -> Endpoint {
    match kind {
        RegistryKind::Private(_) => Endpoint::EcrDkr,
        RegistryKind::Public => Endpoint::EcrPublic,
        RegistryKind::Unrecognized => Endpoint::Other,
    }
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

#[derive(Default)]
struct RepositoryOutcome {
    /// Layer digests of the image, when the manifest is an image manifest.
    layers: Vec<String>,
    /// The repository does not exist yet; this rule creates it on the first pull.
    pull_through: Option<Advice>,
}

struct Repository<'a> {
    session: &'a Session,
    ecr: &'a PrivateEcr,
    reference: &'a Reference,
    caller: Option<&'a CallerIdentity>,
    place: Place<'a>,
}

impl Repository<'_> {
    /// BatchGetImage and GetDownloadUrlForLayer, as a pull makes them; for a repository that
    /// does not exist, the pull-through cache rule that would create it.
    async fn check(
        &self,
        budget: &Budget,
        progress: &Progress,
        steps: &mut Steps,
    ) -> RepositoryOutcome {
        let mut outcome = RepositoryOutcome::default();
        let arn = repository_arn(self.ecr, &self.reference.repository);
        let (registry_id, reference) = (&self.ecr.registry_id, self.reference);
        let lookup = budget
            .run(
                progress,
                self.session.batch_get_image(registry_id, reference),
            )
            .await;
        let layers = match lookup {
            Timed::Done(Ok(ImageLookup::Found {
                media_type,
                digest,
                layers,
            })) => {
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
            Timed::Done(Ok(ImageLookup::Missing { code, reason })) => {
                steps.fail(
                    "repository",
                    format!("BatchGetImage: {code} {reason}")
                        .trim_end()
                        .to_owned(),
                    diagnose::image_missing(
                        &reference.repository,
                        &reference.tag_or_digest,
                        registry_id,
                        &self.ecr.region,
                    ),
                );
                steps.not_tried(&["layers"], "no image");
                return outcome;
            }
            Timed::Done(Err(failure)) if failure.code() == Some("RepositoryNotFoundException") => {
                outcome.pull_through = self.pull_through(budget, progress, steps).await;
                steps.not_tried(&["layers"], "no repository yet");
                return outcome;
            }
            Timed::Done(Err(failure)) => {
                let advice = match failure.code() {
                    Some(code) if diagnose::is_access_denied(code) => {
                        diagnose::repository_denied(&arn, registry_id, self.caller)
                    }
                    _ => diagnose::api_failure(
                        &failure,
                        "ecr:BatchGetImage",
                        Endpoint::EcrApi,
                        self.place,
                    ),
                };
                steps.fail(
                    "repository",
                    format!("BatchGetImage on {arn} failed: {failure}"),
                    advice,
                );
                steps.not_tried(&["layers"], "repository failed");
                return outcome;
            }
            timed => {
                let advice = diagnose::timed_out(Endpoint::EcrApi, self.place);
                budget.record(timed, "repository", steps, advice);
                steps.not_tried(&["layers"], "repository failed");
                return outcome;
            }
        };
        self.layers(&layers, budget, progress, steps).await;
        outcome.layers = layers;
        outcome
    }

    /// GetDownloadUrlForLayer for the first layer.
    async fn layers(
        &self,
        layers: &[String],
        budget: &Budget,
        progress: &Progress,
        steps: &mut Steps,
    ) {
        let arn = repository_arn(self.ecr, &self.reference.repository);
        let (registry_id, reference) = (&self.ecr.registry_id, self.reference);
        let Some(layer) = layers.first() else {
            steps.skip(
                "layers",
                "the manifest is an index: layers are checked per platform when pulled",
            );
            return;
        };
        let download = budget
            .run(
                progress,
                self.session
                    .layer_download(registry_id, &reference.repository, layer),
            )
            .await;
        match download {
            Timed::Done(Ok(())) => steps.pass("layers", format!("GetDownloadUrlForLayer: {layer}")),
            Timed::Done(Err(failure)) if failure.code().is_some_and(diagnose::is_access_denied) => {
                steps.fail(
                    "layers",
                    format!("GetDownloadUrlForLayer on {arn} failed: {failure}"),
                    diagnose::layers_denied(&arn, registry_id, self.caller),
                );
            }
            Timed::Done(Err(failure)) => steps.skip(
                "layers",
                format!("GetDownloadUrlForLayer could not be checked: {failure}"),
            ),
            timed => {
                let advice = diagnose::timed_out(Endpoint::EcrApi, self.place);
                budget.record(timed, "layers", steps, advice);
            }
        }
    }

    /// The repository does not exist: a pull-through cache rule may create it on first pull.
    async fn pull_through(
        &self,
        budget: &Budget,
        progress: &Progress,
        steps: &mut Steps,
    ) -> Option<Advice> {
        let (registry_id, repository) = (&self.ecr.registry_id, &self.reference.repository);
        let missing = format!("there is no repository {repository} in registry {registry_id}");
        let rule = budget
            .run(
                progress,
                self.session.pull_through_rule(registry_id, repository),
            )
            .await;
        match rule {
            Timed::Done(Ok(Some(rule))) => {
                let prefix_arn = repository_arn(self.ecr, &format!("{}/*", rule.prefix));
                let advice = diagnose::pull_through(&rule, &prefix_arn, self.caller);
                // The fix goes where the first pull fails, if it does.
                let what_it_needs = Advice {
                    cause: advice.cause.clone(),
                    fix: None,
                };
                steps.note(
                    "repository",
                    format!(
                        "{missing} yet: the pull-through cache rule for {}/ ({}) creates it on the first pull",
                        rule.prefix, rule.upstream
                    ),
                    what_it_needs,
                );
                Some(advice)
            }
            Timed::Done(Ok(None)) => {
                steps.fail(
                    "repository",
                    format!("BatchGetImage: RepositoryNotFoundException: {missing}"),
                    diagnose::repository_missing(repository, registry_id, &self.ecr.region),
                );
                None
            }
            Timed::Done(Err(failure)) => {
                steps.fail(
                    "repository",
                    format!("BatchGetImage: RepositoryNotFoundException: {missing}"),
                    diagnose::pull_through_unknown(&failure),
                );
                None
            }
            timed => {
                let advice = diagnose::timed_out(Endpoint::EcrApi, self.place);
                budget.record(timed, "repository", steps, advice);
                None
            }
        }
    }
}

struct RegistryCheck<'a> {
    client: &'a RegistryClient,
    reference: &'a Reference,
    endpoint: Endpoint,
    place: Place<'a>,
    token_expired: bool,
    issuer: String,
    pull_fix: Option<String>,
    pull_through: Option<Advice>,
}

/// A registry exchange that ended the step: the detail line and the advice.
type Stop = (String, Advice);

impl RegistryCheck<'_> {
    /// Where layers come from: S3 behind private ECR, a CDN behind ECR Public.
    fn storage(&self) -> Endpoint {
        match self.endpoint {
            Endpoint::EcrDkr => Endpoint::LayerStorage,
            other => other,
        }
    }

    fn refused(&self, status: u16) -> Advice {
        diagnose::registry_refused(Refusal {
            status,
            repository: &self.reference.repository,
            reference: &self.reference.tag_or_digest,
            token_expired: self.token_expired,
            issuer: self.issuer.clone(),
            pull_fix: self.pull_fix.clone(),
            pull_through: self.pull_through.clone(),
        })
    }

    /// The `registry` and `download` steps. Returns whether both passed.
    async fn check(
        &self,
        layer: Option<String>,
        budget: &Budget,
        progress: &Progress,
        steps: &mut Steps,
    ) -> bool {
        let pulled = budget.run(progress, self.manifest(progress)).await;
        let (login, manifest_layers) = match pulled {
            Timed::Done(Ok((detail, login, layers))) => {
                steps.pass("registry", detail);
                (login, layers)
            }
            Timed::Done(Err((detail, advice))) => {
                steps.fail("registry", detail, advice);
                steps.not_tried(&["download"], "registry failed");
                return false;
            }
            timed => {
                let advice = diagnose::timed_out(self.endpoint, self.place);
                budget.record(timed, "registry", steps, advice);
                steps.not_tried(&["download"], "registry failed");
                return false;
            }
        };
        let Some(layer) = layer.or_else(|| manifest_layers.into_iter().next()) else {
            steps.skip(
                "download",
                "the manifest is an index: layers are fetched per platform when pulled",
            );
            return true;
        };
        match budget
            .run(progress, self.download(&login, &layer, progress))
            .await
        {
            Timed::Done(Ok(detail)) => {
                steps.pass("download", detail);
                true
            }
            Timed::Done(Err((detail, advice))) => {
                steps.fail("download", detail, advice);
                false
            }
            timed => {
                let advice = diagnose::timed_out(self.storage(), self.place);
                budget.record(timed, "download", steps, advice);
                false
            }
        }
    }

    /// Ping, log in as the challenge asks, GET the manifest.
    async fn manifest(&self, progress: &Progress) -> Result<(String, Login, Vec<String>), Stop> {
        let client = self.client;
        let (repository, reference) = (&self.reference.repository, &self.reference.tag_or_digest);
        let ping_url = client.ping_url();
        progress.step(format!("the registry at {ping_url}"));
        let ping = client.ping().await.map_err(|unreached| {
            let advice = diagnose::unreached(&unreached, self.endpoint, self.place);
            (format!("GET {ping_url}: {unreached}"), advice)
        })?;
        let challenge = match (ping.status, ping.challenge) {
            (200, _) => None,
            (401, None) => Some(Challenge::Basic),
            (401, Some(Challenge::Other(scheme))) => {
                let advice = diagnose::unknown_challenge(&scheme);
                return Err((format!("GET {ping_url}: HTTP 401 {scheme}"), advice));
            }
            (401, Some(challenge)) => Some(challenge),
            (status, _) => {
                let advice = diagnose::not_a_registry(status);
                return Err((format!("GET {ping_url}: HTTP {status}"), advice));
            }
        };
        if let Some(Challenge::Bearer { realm, .. }) = &challenge {
            progress.step(format!("a Bearer token from {realm}"));
        }
        let login = client
            .login(challenge.as_ref(), repository)
            .await
            .map_err(|failure| match failure {
                LoginFailure::Unreached(unreached) => (
                    format!("Bearer token: {unreached}"),
                    diagnose::unreached(&unreached, self.endpoint, self.place),
                ),
                LoginFailure::Refused { realm, status } => (
                    format!("GET {realm}: HTTP {status}"),
                    diagnose::login_refused(&realm, status, self.token_expired, &self.issuer),
                ),
                LoginFailure::NoToken { realm } => (
                    format!("GET {realm}: no token in the answer"),
                    diagnose::no_bearer_token(&realm),
                ),
            })?;
        let url = client.manifest_url(repository, reference);
        progress.step(format!("the manifest at {url}"));
        let answer = client
            .manifest(repository, reference, &login)
            .await
            .map_err(|unreached| {
                let advice = diagnose::unreached(&unreached, self.endpoint, self.place);
                (format!("GET {url}: {unreached}"), advice)
            })?;
        if answer.status != 200 {
            let how = login.describe();
            let detail = format!("GET {url}: HTTP {} ({how})", answer.status);
            return Err((detail, self.refused(answer.status)));
        }
        let detail = format!(
            "GET {url}: 200 {} {} ({})",
            answer.digest.unwrap_or_default(),
            answer.content_type.unwrap_or_default(),
            login.describe()
        );
        Ok((detail.replace("  ", " "), login, answer.layers))
    }

    /// HEAD the first layer; ECR redirects to its storage, which must be reachable too.
    async fn download(
        &self,
        login: &Login,
        layer: &str,
        progress: &Progress,
    ) -> Result<String, Stop> {
        let client = self.client;
        let url = client.blob_url(&self.reference.repository, layer);
        progress.step(format!("the layer at {url}"));
        let answer = client
            .blob(&self.reference.repository, layer, login)
            .await
            .map_err(|unreached| {
                let advice = diagnose::unreached(&unreached, self.endpoint, self.place);
                (format!("HEAD {url}: {unreached}"), advice)
            })?;
        match (answer.status, answer.location) {
            (200, _) => Ok(format!("HEAD {url}: 200")),
            (302 | 307, Some(location)) => {
                let storage = location
                    .split("://")
                    .nth(1)
                    .and_then(|rest| rest.split(['/', '?']).next())
                    .unwrap_or_default()
                    .to_owned();
                if client.proxied(&location) {
                    return Ok(format!(
                        "HEAD {url}: {} to {storage} (not connected: a proxy is configured)",
                        answer.status
                    ));
                }
                progress.step(format!("the layer storage at {storage}"));
                client.reach(&location).await.map_err(|unreached| {
                    let advice = diagnose::unreached(&unreached, self.storage(), self.place);
                    (
                        format!(
                            "HEAD {url}: {} to {storage}, which {unreached}",
                            answer.status
                        )
                        .replace(&format!("which {storage} "), "which "),
                        advice,
                    )
                })?;
                Ok(format!(
                    "HEAD {url}: {} to {storage}, which is reachable",
                    answer.status
                ))
            }
            (status, _) => {
                let advice = diagnose::layer_refused(status, self.pull_fix.clone());
                Err((format!("HEAD {url}: HTTP {status}"), advice))
            }
        }
    }
}
