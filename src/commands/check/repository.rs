//! The `repository` and `layers` steps: BatchGetImage and GetDownloadUrlForLayer, as a pull
//! makes them; for a repository that does not exist, the pull-through cache rule that would
//! create it on the first pull.

use super::budget::{Budget, Timed};
use super::report::Steps;
use crate::aws::{CallerIdentity, ImageLookup, Session};
use crate::deadline::Progress;
use crate::diagnose::{self, Advice, Endpoint, Place};
use crate::image::{PrivateEcr, Reference};

#[derive(Default)]
pub(super) struct RepositoryOutcome {
    /// Layer digests of the image, when the manifest is an image manifest.
    pub(super) layers: Vec<String>,
    /// The repository does not exist yet; this rule creates it on the first pull.
    pub(super) pull_through: Option<Advice>,
}

pub(super) struct Repository<'a> {
    pub(super) session: &'a Session,
    pub(super) ecr: &'a PrivateEcr,
    pub(super) reference: &'a Reference,
    pub(super) caller: Option<&'a CallerIdentity>,
    pub(super) place: Place<'a>,
}

impl Repository<'_> {
    /// BatchGetImage and GetDownloadUrlForLayer, as a pull makes them; for a repository that
    /// does not exist, the pull-through cache rule that would create it.
    pub(super) async fn check(
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
                steps.not_tried("layers", "no image");
                return outcome;
            }
            Timed::Done(Err(failure)) if failure.code() == Some("RepositoryNotFoundException") => {
                outcome.pull_through = self.pull_through(budget, progress, steps).await;
                steps.not_tried("layers", "no repository yet");
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
                steps.not_tried("layers", "repository failed");
                return outcome;
            }
            timed => {
                let advice = diagnose::timed_out(Endpoint::EcrApi, self.place);
                budget.record(timed, "repository", steps, advice);
                steps.not_tried("layers", "repository failed");
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

/// The ARN of `repository` in the registry `ecr`: what a policy names.
pub(super) fn repository_arn(ecr: &PrivateEcr, repository: &str) -> String {
    format!(
        "arn:{}:ecr:{}:{}:repository/{repository}",
        ecr.partition, ecr.region, ecr.registry_id
    )
}
