//! The registry side of a pull, made for real: the manifest and the first layer, asked of the
//! registry with the token the way a container runtime asks. Used by `check` only; the kubelet
//! path never talks to the registry. TLS trust and proxies are those of the AWS calls (`http`, `proxy`).

use std::time::Duration;

use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use base64::Engine as _;

use crate::aws::MANIFEST_MEDIA_TYPES;
use crate::http::Trust;
use crate::limits::CappedConnector;
use crate::proxy::{Proxies, Routed};
use crate::secret::Secret;

/// What the registry answered, with nothing of the body.
#[derive(Debug)]
pub struct RegistryReply {
    pub status: u16,
    pub content_type: Option<String>,
    pub digest: Option<String>,
}

pub struct RegistryClient {
    endpoint: String,
    authorization: Secret,
    connector: CappedConnector<Routed>,
}

impl RegistryClient {
    /// `endpoint` is `https://host[:port]` (or `http://` for a local test registry).
    pub fn new(
        endpoint: &str,
        username: &str,
        password: &Secret,
        trust: &Trust,
        proxies: &Proxies,
        timeout: Duration,
    ) -> Self {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{username}:{}", password.expose()));
        let connector = CappedConnector(proxies.connector(trust, timeout));
        Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            authorization: Secret::new(format!("Basic {basic}")),
            connector,
        }
    }

    pub fn manifest_url(&self, repository: &str, reference: &str) -> String {
        format!("{}/v2/{repository}/manifests/{reference}", self.endpoint)
    }

    pub fn blob_url(&self, repository: &str, digest: &str) -> String {
        format!("{}/v2/{repository}/blobs/{digest}", self.endpoint)
    }

    /// GET the manifest, accepting what a runtime accepts.
    pub async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<RegistryReply, String> {
        let url = self.manifest_url(repository, reference);
        self.send("GET", &url, &MANIFEST_MEDIA_TYPES.join(", "))
            .await
    }

    /// HEAD a blob: ECR answers with a redirect to the layer's storage, a registry with 200.
    pub async fn blob(&self, repository: &str, digest: &str) -> Result<RegistryReply, String> {
        self.send("HEAD", &self.blob_url(repository, digest), "*/*")
            .await
    }

    async fn send(&self, method: &str, url: &str, accept: &str) -> Result<RegistryReply, String> {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header("accept", accept)
            .header("authorization", self.authorization.expose())
            .header(
                "user-agent",
                concat!("ecr-credential-provider/", env!("CARGO_PKG_VERSION")),
            )
            .body(SdkBody::empty())
            .map_err(|error| format!("invalid registry URL {url}: {error}"))?;
        let request = HttpRequest::try_from(request).map_err(|error| error.to_string())?;
        let response = self
            .connector
            .call(request)
            .await
            .map_err(|error| crate::aws::error_chain(&error))?;
        let header = |name: &str| response.headers().get(name).map(crate::sanitize::value);
        Ok(RegistryReply {
            status: response.status().as_u16(),
            content_type: header("content-type"),
            digest: header("docker-content-digest"),
        })
    }
}
