//! `check IMAGE`: can this identity really pull this image? Tries each thing a pull depends
//! on — the role for a pod, credentials, identity, token, repository and layer permissions
//! (and the pull-through cache rule that would create a missing repository), the image's own
//! registry with the login its challenge asks for — and for any that fails says why and how to
//! fix it (texts in `diagnose`). Each step has a share of the deadline: a slow one is reported
//! as timed out, the steps that need it as not tried, and the report always prints in time.

mod budget;
pub(crate) mod kubelet;
mod pod;
mod pull;
mod report;
mod repository;

use std::time::{Duration, SystemTime};

pub(crate) use pod::Pod;
pub(crate) use report::Report;

use crate::aws::TokenClaims;
use crate::aws::{AwsError, CallerIdentity, Session, Settings};
use crate::deadline::Progress;
use crate::diagnose::{self, Advice, Endpoint, Place};
use crate::error::Error;
use crate::image::{self, Reference, RegistryHost, RegistryKind};
use crate::registry::RegistryClient;
use crate::token::{self, RegistryLogin};
use budget::{Budget, Timed};
use pull::RegistryCheck;
use report::Steps;
use repository::{Repository, RepositoryOutcome};

/// What to check, and as whom.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) image: String,
    pub(crate) registry_endpoint: Option<String>,
    pub(crate) pod: Option<Pod>,
    /// `AWS_ECR_ROLE_ARN`, for a pod's role.
    pub(crate) role_arn_env: Option<String>,
    /// The whole check's deadline; the report is printed within it.
    pub(crate) timeout: Duration,
}

/// Runs every step it can; a failed step stops only the steps that depend on it.
pub(crate) async fn check(
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

    let repository = if let RegistryKind::Private(ecr) = &registry.kind {
        let context = Repository {
            session: &session,
            ecr,
            reference: &reference,
            caller: caller.as_ref(),
            place,
        };
        context.check(&budget, progress, &mut steps).await
    } else if skip_repository(&registry, &mut steps) {
        RepositoryOutcome::default()
    } else {
        return Ok(steps.report(image, false));
    };

    let Some((data_expired, login)) = token else {
        steps.not_tried_from("registry", "no token");
        return Ok(steps.report(image, false));
    };
    let client = match RegistryClient::new(
        &registry,
        options.registry_endpoint.as_deref(),
        &login,
        &settings.trust,
        &settings.proxies,
        settings.attempt_timeout,
    ) {
        Ok(client) => client,
        Err(why) => {
            steps.not_tried_from("registry", &why);
            return Ok(steps.report(image, false));
        }
    };
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

/// The steps an image outside private ECR skips: there is no repository to ask, and for a host
/// that is not ECR's at all no registry either, as the ECR token goes to ECR only (issue 19).
/// Returns whether the registry steps are still to run.
fn skip_repository(registry: &RegistryHost, steps: &mut Steps) -> bool {
    let host = &registry.host;
    let Some(why) = crate::registry::not_ecr(registry) else {
        steps.skip(
            "repository",
            "ECR Public repositories are public: the token only raises anonymous rate limits",
        );
        steps.skip("layers", "checked at the registry");
        return true;
    };
    steps.skip(
        "repository",
        format!("{host} is not an ECR host: no ECR repository to check"),
    );
    steps.skip("layers", "no ECR repository");
    let advice = diagnose::not_ecr_registry(host, why);
    steps.note("registry", "not an ECR registry: not tried", advice);
    steps.not_tried("download", "not an ECR registry");
    false
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
                    steps.not_tried_from("credentials", "role failed");
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
        steps.not_tried_from("identity", "no credentials");
        None
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
    let call = session.authorization_token_by(budget.step_deadline());
    let data = match budget.run(progress, call).await {
        Timed::Done(Ok((data, _))) => data,
        Timed::Done(Err(error)) => {
            let advice = match &error {
                AwsError::Call {
                    failure,
                    endpoint_override,
                    ..
                } => diagnose::token_call(service, failure, endpoint_override.as_ref(), place),
                other => Advice::fix(diagnose::aws_hint(other)),
            };
            steps.fail("token", Error::Aws(error).to_string(), advice);
            return None;
        }
        timed => {
            let advice =
                diagnose::token_timed_out(api, place, session.endpoint_override().as_ref());
            budget.record(timed, "token", steps, advice);
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
            crate::commands::get::rfc3339(at)
        ),
        Some(at) => crate::commands::get::rfc3339(at),
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

fn pull_fix(
    kind: &RegistryKind,
    reference: &Reference,
    caller: Option<&CallerIdentity>,
) -> Option<String> {
    let RegistryKind::Private(ecr) = kind else {
        return None;
    };
    Some(diagnose::pull_fix(
        &repository::repository_arn(ecr, &reference.repository),
        &ecr.registry_id,
        caller,
    ))
}
