//! The `registry` and `download` steps: the image's own registry as a runtime meets it — the
//! `/v2/` ping, the login its challenge asks for, the manifest — then the first layer, and
//! whether the storage ECR redirects it to is reachable.

use super::budget::{Budget, Timed};
use super::report::Steps;
use crate::deadline::Progress;
use crate::diagnose::{self, Advice, Endpoint, Place, Refusal};
use crate::image::Reference;
use crate::registry::{Challenge, Login, LoginFailure, RegistryClient};

pub(super) struct RegistryCheck<'a> {
    pub(super) client: &'a RegistryClient,
    pub(super) reference: &'a Reference,
    pub(super) endpoint: Endpoint,
    pub(super) place: Place<'a>,
    pub(super) token_expired: bool,
    pub(super) issuer: String,
    pub(super) pull_fix: Option<String>,
    pub(super) pull_through: Option<Advice>,
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
    pub(super) async fn check(
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
                steps.not_tried_from("download", "registry failed");
                return false;
            }
            timed => {
                let advice = diagnose::timed_out(self.endpoint, self.place);
                budget.record(timed, "registry", steps, advice);
                steps.not_tried_from("download", "registry failed");
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
                LoginFailure::ForeignRealm { realm } => (
                    format!("GET {ping_url}: HTTP 401, a Bearer login at {realm}: not sent"),
                    diagnose::foreign_realm(&realm),
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
