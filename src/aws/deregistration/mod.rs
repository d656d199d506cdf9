//! Cloud Map deregistrations: every DeregisterInstance submitted first, then
//! every operation followed together to its end.
//!
//! DeregisterInstance is asynchronous: it answers with an operation id and Cloud
//! Map removes the instance (and its Route 53 records) afterwards; the operation
//! is `SUBMITTED` or `PENDING`, then `SUCCESS` or `FAIL` (Cloud Map API
//! reference, DeregisterInstance and GetOperation). An operation takes seconds,
//! so a sweep with many stale instances waits once for all of them, not once
//! for each. The operations are followed together with ListOperations
//! ([`follow`]).
//!
//! Every call's attempts and timeouts end by the stop point plus
//! [`WRITE_GRACE`](super::WRITE_GRACE), and nothing is started after the stop
//! point: what was not confirmed by then is reported as such.

use std::time::SystemTime;

use aws_sdk_servicediscovery::error::{DisplayErrorContext, SdkError};
use aws_sdk_servicediscovery::operation::deregister_instance::DeregisterInstanceError;
use aws_sdk_servicediscovery::Client;
use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use super::{past, write_timeouts};
use crate::model::WriteOutcome;

mod follow;

use follow::Follow;

/// Calls (DeregisterInstance, GetOperation) in flight at once.
const CONCURRENCY: usize = 8;

/// One instance to deregister: (service id, instance id).
pub type Target = (String, String);

/// The per-call configuration override that bounds a call by the time left.
pub(super) fn bounded(stop_at: Option<Instant>) -> aws_sdk_servicediscovery::config::Builder {
    let mut config = aws_sdk_servicediscovery::config::Builder::default();
    config.set_timeout_config(write_timeouts(stop_at));
    config
}

/// Deregisters `targets` and follows their operations until each succeeds or
/// fails, or `stop_at` comes; one outcome per target, in order. None is
/// submitted once `stop_at` has passed (`Skipped`).
pub async fn deregister_all(
    sd: &Client,
    targets: &[Target],
    stop_at: Option<Instant>,
) -> Vec<WriteOutcome> {
    let since = SystemTime::now();
    let submitted: Vec<Result<String, WriteOutcome>> = stream::iter(targets.to_vec())
        .map(|(service, instance)| async move {
            if past(stop_at) {
                return Err(WriteOutcome::Skipped);
            }
            submit(sd, &service, &instance, stop_at).await
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut follow = Follow::new(targets, submitted, since);
    follow.run(sd, stop_at).await;
    follow.finish()
}

fn what((service, instance): &Target) -> String {
    format!("servicediscovery:DeregisterInstance service={service} instance={instance}")
}

/// Submits one deregistration: its operation id, or what already became of it.
/// A deregistration already under way (`DuplicateRequest`: an earlier attempt
/// of this very call, retried) is followed through the operation it names. An
/// instance or service that is not there any more is gone already (`Vanished`).
async fn submit(
    sd: &Client,
    service: &str,
    instance: &str,
    stop_at: Option<Instant>,
) -> Result<String, WriteOutcome> {
    let what = what(&(service.to_string(), instance.to_string()));
    let failed = |e: &dyn std::fmt::Display| WriteOutcome::Failed(format!("{what} failed: {e}"));
    let answer = sd
        .deregister_instance()
        .service_id(service)
        .instance_id(instance)
        .customize()
        .config_override(bounded(stop_at))
        .send()
        .await;
    let operation = match answer {
        Ok(out) => out.operation_id().map(String::from),
        Err(SdkError::ServiceError(e)) => match e.err() {
            DeregisterInstanceError::InstanceNotFound(_)
            | DeregisterInstanceError::ServiceNotFound(_) => return Err(WriteOutcome::Vanished),
            DeregisterInstanceError::DuplicateRequest(d) => {
                d.duplicate_operation_id().map(String::from)
            }
            _ => {
                let e = SdkError::ServiceError(e);
                return Err(failed(&DisplayErrorContext(&e)));
            }
        },
        Err(e @ SdkError::TimeoutError(_)) => {
            return Err(WriteOutcome::Unconfirmed(format!(
                "deadline near: {what} did not answer in the time left ({}); Cloud Map may still deregister it",
                DisplayErrorContext(&e)
            )))
        }
        Err(e) => return Err(failed(&DisplayErrorContext(&e))),
    };
    operation.filter(|o| !o.is_empty()).ok_or_else(|| {
        WriteOutcome::Failed(format!(
            "{what}: Cloud Map answered without an operation id"
        ))
    })
}
