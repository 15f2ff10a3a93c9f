//! The whole run is bounded: the kubelet kills a provider after a hard-coded minute and then
//! logs only "context deadline exceeded". We give up first, and say what we were waiting for.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Gives up well inside the kubelet's minute, leaving it time to log our message.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const TIMEOUT_ENV: &str = "ECR_CREDENTIAL_PROVIDER_TIMEOUT";

/// What the run is waiting for right now; updated as it goes, read when the deadline passes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress(Arc<Mutex<State>>);

/// Who is to write what the run reads on stdin: what to do when it never ends is theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stdin {
    /// The kubelet's CredentialProviderRequest.
    Kubelet,
    /// Docker's (or podman's, skopeo's) server URL or credentials, for the Docker helper.
    DockerClient,
}

#[derive(Debug, Default)]
struct State {
    step: String,
    /// The step reads stdin, written by this.
    stdin: Option<Stdin>,
    endpoint: Option<String>,
    attempt: u32,
    /// The attempt in progress has its answer's head: the endpoint speaks HTTP.
    answering: bool,
}

impl Progress {
    pub(crate) fn step(&self, step: impl Into<String>) {
        let mut state = self.lock();
        *state = State {
            step: step.into(),
            ..State::default()
        };
    }

    /// A step that reads stdin, which `writer` is to write and close.
    pub(crate) fn reading_stdin(&self, step: impl Into<String>, writer: Stdin) {
        self.step(step);
        self.lock().stdin = Some(writer);
    }

    /// Whose stdin the step in progress waits for, if it reads stdin.
    pub(crate) fn stdin(&self) -> Option<Stdin> {
        self.lock().stdin
    }

    /// Called by the AWS client as each attempt of a call is sent. The endpoint is shown in
    /// errors: never with user info an endpoint setting may carry.
    pub(crate) fn sending(&self, endpoint: &str) {
        let mut state = self.lock();
        state.endpoint = Some(crate::sanitize::without_userinfo(endpoint));
        state.attempt += 1;
        state.answering = false;
    }

    /// Called by the AWS client when an attempt's answer begins to arrive.
    pub(crate) fn answering(&self) {
        self.lock().answering = true;
    }

    /// Whether the attempt in progress has begun to answer (its head arrived).
    pub(crate) fn answer_started(&self) -> bool {
        self.lock().answering
    }

    /// The endpoint of the call in progress, once the first attempt has been sent.
    pub(crate) fn endpoint(&self) -> Option<String> {
        self.lock().endpoint.clone()
    }

    /// How many attempts the call in progress has sent: more than one means retries.
    pub(crate) fn attempts(&self) -> u32 {
        self.lock().attempt
    }

    pub(crate) fn describe(&self) -> String {
        let state = self.lock();
        let step = if state.step.is_empty() {
            "start-up"
        } else {
            &state.step
        };
        match (&state.endpoint, state.attempt) {
            (Some(endpoint), 1) => format!("{step} at {endpoint}"),
            (Some(endpoint), n) => format!("{step} at {endpoint} (attempt {n})"),
            (None, _) => step.to_owned(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_step_and_the_attempt_in_progress() {
        let progress = Progress::default();
        assert_eq!(progress.describe(), "start-up");
        progress.step("ECR GetAuthorizationToken in us-west-2");
        assert_eq!(
            progress.describe(),
            "ECR GetAuthorizationToken in us-west-2"
        );
        progress.sending("https://api.ecr.us-west-2.amazonaws.com");
        assert_eq!(
            progress.describe(),
            "ECR GetAuthorizationToken in us-west-2 at https://api.ecr.us-west-2.amazonaws.com"
        );
        progress.sending("https://u:p@api.ecr.us-west-2.amazonaws.com");
        assert!(progress.describe().ends_with("(attempt 2)"));
        assert_eq!(
            progress.endpoint().as_deref(),
            Some("https://***@api.ecr.us-west-2.amazonaws.com")
        );
        progress.step("next");
        assert_eq!(progress.describe(), "next");
        assert_eq!(progress.stdin(), None);
        progress.reading_stdin("the request on stdin", Stdin::Kubelet);
        assert_eq!(progress.stdin(), Some(Stdin::Kubelet));
        progress.step("after");
        assert_eq!(progress.stdin(), None);
    }
}
