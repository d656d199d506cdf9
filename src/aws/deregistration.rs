//! Cloud Map deregistrations: every DeregisterInstance submitted first, then
//! every operation followed together to its end.
//!
//! DeregisterInstance is asynchronous: it answers with an operation id and Cloud
//! Map removes the instance (and its Route 53 records) afterwards; GetOperation
//! says `SUBMITTED` or `PENDING`, then `SUCCESS` or `FAIL` (Cloud Map API
//! reference, DeregisterInstance and GetOperation). An operation takes seconds,
//! so a sweep with many stale instances waits once for all of them, not once
//! for each.

use std::time::Duration;

use aws_sdk_servicediscovery::error::{DisplayErrorContext, SdkError};
use aws_sdk_servicediscovery::operation::deregister_instance::DeregisterInstanceError;
use aws_sdk_servicediscovery::types::OperationStatus;
use aws_sdk_servicediscovery::Client;
use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use crate::model::WriteOutcome;

/// Calls (DeregisterInstance, GetOperation) in flight at once.
const CONCURRENCY: usize = 8;

/// How long to follow the operations when the invocation has no deadline (the
/// command line): Cloud Map usually finishes a deregistration in seconds.
const PATIENCE: Duration = Duration::from_secs(120);

/// One instance to deregister: (service id, instance id).
pub type Target = (String, String);

/// What one poll of an operation said.
enum Poll {
    Done(WriteOutcome),
    Pending(String),
}

/// Deregisters `targets` and follows their operations until each succeeds or
/// fails, or `stop_at` comes; one outcome per target, in order. None is
/// submitted once `stop_at` has passed (`Skipped`).
pub async fn deregister_all(
    sd: &Client,
    targets: &[Target],
    stop_at: Option<Instant>,
) -> Vec<WriteOutcome> {
    let submitted: Vec<Result<String, WriteOutcome>> = stream::iter(targets.to_vec())
        .map(|(service, instance)| async move {
            if stop_at.is_some_and(|at| Instant::now() >= at) {
                return Err(WriteOutcome::Skipped);
            }
            submit(sd, &service, &instance).await
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut outcomes: Vec<Option<WriteOutcome>> = submitted
        .iter()
        .map(|s| s.as_ref().err().cloned())
        .collect();
    let give_up = stop_at.unwrap_or_else(|| Instant::now() + PATIENCE);
    let mut last: Vec<String> = vec!["SUBMITTED".to_string(); targets.len()];
    let mut pause = Duration::from_millis(250);
    loop {
        let pending: Vec<(usize, Target, String)> = submitted
            .iter()
            .enumerate()
            .filter(|(i, _)| outcomes[*i].is_none())
            .filter_map(|(i, s)| Some((i, targets[i].clone(), s.clone().ok()?)))
            .collect();
        if pending.is_empty() {
            break;
        }
        let polled: Vec<(usize, Poll)> = stream::iter(pending)
            .map(|(i, target, operation)| async move { (i, poll(sd, &target, &operation).await) })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        for (i, p) in polled {
            match p {
                Poll::Done(outcome) => outcomes[i] = Some(outcome),
                Poll::Pending(status) => last[i] = status,
            }
        }
        if Instant::now() + pause >= give_up {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| {
            outcome.unwrap_or_else(|| {
                let operation = submitted[i].as_deref().unwrap_or_default();
                WriteOutcome::Unconfirmed(format!(
                    "{}: operation {operation} still {} when the reaper had to stop following it",
                    what(&targets[i]),
                    last[i]
                ))
            })
        })
        .collect()
}

fn what((service, instance): &Target) -> String {
    format!("servicediscovery:DeregisterInstance service={service} instance={instance}")
}

/// Submits one deregistration: its operation id, or what already became of it.
/// A deregistration already under way (`DuplicateRequest`: an earlier attempt
/// of this very call, retried) is followed through the operation it names. An
/// instance or service that is not there any more is gone already (`Vanished`).
async fn submit(sd: &Client, service: &str, instance: &str) -> Result<String, WriteOutcome> {
    let what = what(&(service.to_string(), instance.to_string()));
    let failed = |e: &dyn std::fmt::Display| WriteOutcome::Failed(format!("{what} failed: {e}"));
    let answer = sd
        .deregister_instance()
        .service_id(service)
        .instance_id(instance)
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
        Err(e) => return Err(failed(&DisplayErrorContext(&e))),
    };
    operation.filter(|o| !o.is_empty()).ok_or_else(|| {
        WriteOutcome::Failed(format!(
            "{what}: Cloud Map answered without an operation id"
        ))
    })
}

/// One GetOperation. A GetOperation that fails (after the SDK's retries) ends
/// the following of that operation: its outcome is unconfirmed, not waited out
/// until the deadline.
async fn poll(sd: &Client, target: &Target, operation: &str) -> Poll {
    let out = match sd.get_operation().operation_id(operation).send().await {
        Ok(out) => out,
        Err(e) => {
            return Poll::Done(WriteOutcome::Unconfirmed(format!(
                "{}: operation {operation} could not be followed: servicediscovery:GetOperation failed: {}",
                what(target),
                DisplayErrorContext(&e)
            )))
        }
    };
    let op = out.operation();
    match op.and_then(|o| o.status()) {
        Some(OperationStatus::Success) => Poll::Done(WriteOutcome::Deleted),
        Some(OperationStatus::Fail) => {
            let code = op.and_then(|o| o.error_code()).unwrap_or("FAIL");
            let message = op.and_then(|o| o.error_message()).unwrap_or_default();
            Poll::Done(WriteOutcome::Failed(format!(
                "{}: operation {operation} failed: {code}: {message}",
                what(target)
            )))
        }
        Some(status) => Poll::Pending(status.as_str().to_string()),
        None => Poll::Pending("unknown".to_string()),
    }
}
