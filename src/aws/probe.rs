//! The calls only `check` makes: who the credentials are (STS GetCallerIdentity), whether
//! they may do what a pull does (ECR BatchGetImage, GetDownloadUrlForLayer), and which
//! pull-through cache rule would create a repository that does not exist yet.

use super::attempts::AttemptRecorder;
use super::failure::{Failure, one_line};
use super::session::Session;
use crate::image::Reference;
use crate::sanitize;

impl Session {
    /// STS GetCallerIdentity: who these credentials are.
    pub(crate) async fn caller_identity(&self) -> Result<CallerIdentity, Failure> {
        self.progress
            .step(format!("STS GetCallerIdentity in {}", self.region));
        let config = aws_sdk_sts::config::Builder::from(&self.sdk)
            .interceptor(AttemptRecorder(self.progress.clone()))
            .retry_classifier(crate::net::limits::NoRetryWhenTooLarge)
            .build();
        let output = aws_sdk_sts::Client::from_conf(config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|error| self.failure(&error))?;
        Ok(CallerIdentity {
            account: output.account().unwrap_or_default().to_owned(),
            arn: output.arn().unwrap_or_default().to_owned(),
        })
    }

    /// ECR BatchGetImage: what a pull does first, with the same permission check.
    pub(crate) async fn batch_get_image(
        &self,
        registry_id: &str,
        image: &Reference,
    ) -> Result<ImageLookup, Failure> {
        use aws_sdk_ecr::types::ImageIdentifier;
        self.progress
            .step(format!("ECR BatchGetImage in {}", self.region));
        let id = if image.is_digest() {
            ImageIdentifier::builder().image_digest(&image.tag_or_digest)
        } else {
            ImageIdentifier::builder().image_tag(&image.tag_or_digest)
        };
        let output = self
            .ecr()
            .batch_get_image()
            .registry_id(registry_id)
            .repository_name(&image.repository)
            .image_ids(id.build())
            .set_accepted_media_types(Some(MANIFEST_MEDIA_TYPES.map(str::to_owned).to_vec()))
            .send()
            .await
            .map_err(|error| self.failure(&error))?;
        if let Some(found) = output.images().first() {
            let manifest: serde_json::Value = found
                .image_manifest()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            let layers = manifest["layers"]
                .as_array()
                .map(|layers| {
                    layers
                        .iter()
                        .filter_map(|layer| layer["digest"].as_str().map(sanitize::value))
                        .collect()
                })
                .unwrap_or_default();
            return Ok(ImageLookup::Found {
                media_type: found.image_manifest_media_type().map(sanitize::value),
                digest: found
                    .image_id()
                    .and_then(|id| id.image_digest())
                    .map(sanitize::value),
                layers,
            });
        }
        let failure = output.failures().first();
        Ok(ImageLookup::Missing {
            code: failure.and_then(|f| f.failure_code()).map_or_else(
                || "ImageNotFound".to_owned(),
                |code| sanitize::value(code.as_str()),
            ),
            reason: one_line(failure.and_then(|f| f.failure_reason()).unwrap_or_default()),
        })
    }

    /// ECR GetDownloadUrlForLayer: the permission a pull needs for each layer.
    pub(crate) async fn layer_download(
        &self,
        registry_id: &str,
        repository: &str,
        digest: &str,
    ) -> Result<(), Failure> {
        self.progress
            .step(format!("ECR GetDownloadUrlForLayer in {}", self.region));
        self.ecr()
            .get_download_url_for_layer()
            .registry_id(registry_id)
            .repository_name(repository)
            .layer_digest(digest)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.failure(&error))
    }
}

impl Session {
    /// ECR DescribePullThroughCacheRules: the rule whose prefix is `repository`'s first
    /// segment, if any; a first pull through it creates the repository.
    pub(crate) async fn pull_through_rule(
        &self,
        registry_id: &str,
        repository: &str,
    ) -> Result<Option<PullThroughRule>, Failure> {
        self.progress.step(format!(
            "ECR DescribePullThroughCacheRules in {}",
            self.region
        ));
        let output = self
            .ecr()
            .describe_pull_through_cache_rules()
            .registry_id(registry_id)
            .send()
            .await
            .map_err(|error| self.failure(&error))?;
        Ok(output.pull_through_cache_rules().iter().find_map(|rule| {
            let prefix = rule.ecr_repository_prefix()?;
            let inside = prefix == "ROOT"
                || repository
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'));
            inside.then(|| PullThroughRule {
                prefix: prefix.to_owned(),
                upstream: rule.upstream_registry_url().unwrap_or_default().to_owned(),
            })
        }))
    }
}

/// A pull-through cache rule: repositories under `prefix` mirror `upstream`.
#[derive(Debug, Clone)]
pub(crate) struct PullThroughRule {
    pub(crate) prefix: String,
    pub(crate) upstream: String,
}

/// The manifest types a pull accepts, newest first.
pub(crate) const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

#[derive(Debug)]
pub(crate) struct CallerIdentity {
    pub(crate) account: String,
    pub(crate) arn: String,
}

#[derive(Debug)]
pub(crate) enum ImageLookup {
    Found {
        media_type: Option<String>,
        digest: Option<String>,
        /// Layer digests, when the manifest is an image manifest (not an index).
        layers: Vec<String>,
    },
    Missing {
        code: String,
        reason: String,
    },
}
