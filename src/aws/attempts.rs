//! What each AWS call's attempts did, for the run's `Progress`: the endpoint an attempt was
//! sent to, and whether its answer began. A deadline then names what it was waiting for.

use std::error::Error as StdError;

use aws_sdk_ecr::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_ecr::config::{ConfigBag, Intercept, RuntimeComponents};

use crate::deadline::Progress;

/// Reports each attempt's endpoint to `Progress`, and when its answer begins, so that a
/// timeout or an unreachable endpoint can be named.
#[derive(Debug)]
pub(super) struct AttemptRecorder(pub(super) Progress);

impl Intercept for AttemptRecorder {
    fn name(&self) -> &'static str {
        "AttemptRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn StdError + Send + Sync>> {
        let uri = context.request().uri();
        let endpoint = uri.split('?').next().unwrap_or(uri).trim_end_matches('/');
        self.0.sending(endpoint);
        Ok(())
    }

    /// The answer's head arrived: a deadline from now on is a body that never ends.
    fn read_before_deserialization(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn StdError + Send + Sync>> {
        self.0.answering();
        Ok(())
    }
}
