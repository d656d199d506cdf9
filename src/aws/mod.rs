//! The AWS edges: every `aws_sdk_*` import lives under this module, and nothing
//! here decides anything. Each edge turns API answers into the plain types of
//! [`crate::model`]; [`SdkAws`] puts them behind the three seams the flows use,
//! [`ZoneApi`] (Route 53), [`EstateApi`] (ECS and EC2) and [`RegistryApi`] (Cloud
//! Map, and what ECS and EC2 say of its instances), so that the flows' own logic
//! is tested against an in-memory fake.

pub mod changes;
pub mod cloud_map;
mod clusters;
pub mod deregistration;
pub mod ec2;
pub mod ecs;
pub mod evidence;
mod host;
pub mod route53;
mod sdk;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use std::net::Ipv4Addr;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_ec2::error::DisplayErrorContext;
use tokio::time::Instant;

use crate::model::cloud_map::{
    CloudMapService, HealthStatus, Namespace, Registration, RegistryEvidence, RegistryListing,
};
use crate::model::{
    ClusterScope, Ec2Read, Inventory, ReadFailure, RecordSet, Task, TaskDefinition, TaskRef, Vpc,
    WriteOutcome, ZoneInfo,
};
use route53::{Listing, ZoneError};
pub use sdk::SdkAws;

/// Route 53, as the flows use it.
pub trait ZoneApi: Sync {
    /// The id of the one private zone named `namespace`.
    fn find_zone(&self, namespace: &str) -> impl Future<Output = Result<String, ZoneError>> + Send;
    /// The zone's name and the VPCs it is associated with.
    fn zone_info(&self, zone_id: &str) -> impl Future<Output = Result<ZoneInfo, ZoneError>> + Send;
    /// Every record set of the zone (or as far as the listing got).
    fn list_zone(&self, zone_id: &str) -> impl Future<Output = Listing> + Send;
    /// Every record set at each of `names` (fully qualified), of every type.
    fn list_names(&self, zone_id: &str, names: &[String]) -> impl Future<Output = Listing> + Send;
    /// Deletes `sets` exactly as listed; one outcome per set, in order.
    fn delete_records(
        &self,
        zone_id: &str,
        sets: &[RecordSet],
        stop_at: Option<Instant>,
    ) -> impl Future<Output = Vec<WriteOutcome>> + Send;
}

/// ECS and EC2, as the flows use them.
pub trait EstateApi: Sync {
    /// Every EC2 instance of every Region of `vpcs` (the decisions keep those VPCs'
    /// instances), and which of `vpcs` this account cannot read.
    fn instances(&self, vpcs: &BTreeSet<Vpc>) -> impl Future<Output = Ec2Read> + Send;
    /// The container instances, running tasks and task definitions of the clusters;
    /// and the stopped tasks ECS still lists on the registrations of `gone` (EC2
    /// instances EC2 reports gone), whose container ids tie records to them.
    fn clusters(
        &self,
        scope: &ClusterScope,
        gone: &BTreeSet<String>,
    ) -> impl Future<Output = Inventory> + Send;
    /// One task as ECS describes it now (`None` when ECS no longer knows it).
    fn task(
        &self,
        cluster: &str,
        task_arn: &str,
    ) -> impl Future<Output = Result<Option<Task>, ReadFailure>> + Send;
    /// One task definition; definitions are immutable, so each is described
    /// once per process.
    fn task_definition(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<TaskDefinition, ReadFailure>> + Send;
    /// One container instance's host now: its EC2 instance, every registration of
    /// that instance in the swept clusters (an agent may have registered it more
    /// than once) with their running tasks, and whether it is registered in a
    /// cluster `scope` leaves out (no task definitions).
    fn host(
        &self,
        scope: &ClusterScope,
        cluster: &str,
        container_instance: &str,
    ) -> impl Future<Output = Inventory> + Send;
    /// The container instances of one EC2 instance in the swept clusters, their
    /// tasks (running, and stopped ones ECS still lists) and the tasks'
    /// definitions.
    fn instance_tasks(
        &self,
        scope: &ClusterScope,
        instance_id: &str,
    ) -> impl Future<Output = Inventory> + Send;
    /// One EC2 instance, and any other that holds its private address now in a
    /// Region of `vpcs`.
    fn instance(
        &self,
        instance_id: &str,
        vpcs: &BTreeSet<Vpc>,
    ) -> impl Future<Output = Inventory> + Send;
    /// The instances that hold any of `addresses` now, in every Region of `vpcs`.
    fn holders(
        &self,
        addresses: &[Ipv4Addr],
        vpcs: &BTreeSet<Vpc>,
    ) -> impl Future<Output = Inventory> + Send;
    /// Stops each task once, none started after `stop_at`; the stopped ARNs and
    /// the errors (a task not attempted among them).
    fn stop_tasks(
        &self,
        tasks: &[TaskRef],
        stop_at: Option<Instant>,
    ) -> impl Future<Output = (Vec<String>, Vec<String>)> + Send;
}

/// AWS Cloud Map, and what ECS and EC2 say about its instances, as the flows use them.
pub trait RegistryApi: Sync {
    /// Every namespace of the account and Region.
    fn namespaces(&self) -> impl Future<Output = Result<Vec<Namespace>, ReadFailure>> + Send;
    /// A namespace's services, their instances and custom health statuses.
    fn registry(&self, namespace_id: &str) -> impl Future<Output = RegistryListing> + Send;
    /// ECS's tasks (task ids by `ECS_CLUSTER_NAME`), EC2's instances in every
    /// Region of `vpcs`, which of `vpcs` this account cannot read, and the
    /// addresses of the network interfaces in `vpcs`.
    fn registry_evidence(
        &self,
        tasks: &BTreeMap<String, Vec<String>>,
        vpcs: &BTreeSet<Vpc>,
    ) -> impl Future<Output = RegistryEvidence> + Send;
    /// Deregisters instances (service id, instance id) and follows their
    /// operations to their end (or `stop_at`); one outcome each, in order.
    fn deregister(
        &self,
        instances: &[(String, String)],
        stop_at: Option<Instant>,
    ) -> impl Future<Output = Vec<WriteOutcome>> + Send;
    /// Sets an instance's custom health status; the call ends by `stop_at` (and
    /// the grace a write started before it has).
    fn set_health(
        &self,
        service_id: &str,
        instance_id: &str,
        status: HealthStatus,
        stop_at: Option<Instant>,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// The Cloud Map service ids an ECS service registers its tasks into.
    fn service_registries(
        &self,
        cluster: &str,
        ecs_service: &str,
    ) -> impl Future<Output = Result<Vec<String>, ReadFailure>> + Send;
    /// A Cloud Map service and its namespace id (`None`: Cloud Map does not know it).
    fn cloud_map_service(
        &self,
        service_id: &str,
    ) -> impl Future<Output = Result<Option<(String, CloudMapService)>, ReadFailure>> + Send;
    /// One registered instance (`None`: not registered).
    fn registration(
        &self,
        service_id: &str,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<Registration>, ReadFailure>> + Send;
}

/// All three seams: what the handler and the flows take.
pub trait Aws: ZoneApi + EstateApi + RegistryApi {}

impl<T: ZoneApi + EstateApi + RegistryApi> Aws for T {}

/// How long one attempt of an AWS call may take (the SDK's
/// `operation_attempt_timeout`).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Time after the stop point that a write started before it may still take, all
/// its attempts and backoff included. The stop point is kept well before the
/// Lambda deadline; what is left after this is the reply's, so the function is
/// never stopped mid-write with its report and log lines lost.
pub const WRITE_GRACE: Duration = Duration::from_secs(2);

/// The timeouts of a write started now, derived from the time left: its attempts,
/// retries and backoff all end `WRITE_GRACE` after `stop_at` (none without a
/// deadline: the command line). Applied per call as a configuration override.
pub(crate) fn write_timeouts(stop_at: Option<Instant>) -> Option<TimeoutConfig> {
    let left = (stop_at? + WRITE_GRACE).saturating_duration_since(Instant::now());
    Some(
        TimeoutConfig::builder()
            .operation_timeout(left)
            .operation_attempt_timeout(left.min(ATTEMPT_TIMEOUT))
            .build(),
    )
}

/// Whether the stop point has passed: no new write is started then.
pub(crate) fn past(stop_at: Option<Instant>) -> bool {
    stop_at.is_some_and(|at| Instant::now() >= at)
}

pub(crate) fn failure<E: std::error::Error>(call: impl Into<String>, err: E) -> ReadFailure {
    ReadFailure {
        call: call.into(),
        message: DisplayErrorContext(&err).to_string(),
    }
}

/// Walks a token-paginated list call. The SDK's paginators stop silently on a
/// repeated token, which would pass a truncated list off as complete; here a token
/// that does not advance is an error.
pub(crate) async fn paginate<T, F, Fut>(call: &str, mut page: F) -> Result<Vec<T>, ReadFailure>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), ReadFailure>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (mut got, next) = page(token.clone()).await?;
        items.append(&mut got);
        match next.filter(|t| !t.is_empty()) {
            None => return Ok(items),
            Some(next) if Some(&next) == token.as_ref() => {
                return Err(ReadFailure {
                    call: call.to_string(),
                    message: "page token did not advance; stopped listing".to_string(),
                })
            }
            Some(next) => token = Some(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn pagination_follows_tokens_and_stops_on_a_stuck_cursor() {
        let pages = ["a", "b", "c"];
        let got = paginate("test:List", |token| async move {
            let i = token.map(|t| t.parse::<usize>().unwrap()).unwrap_or(0);
            let next = (i + 1 < pages.len()).then(|| (i + 1).to_string());
            Ok((vec![pages[i]], next))
        })
        .await
        .unwrap();
        assert_eq!(got, vec!["a", "b", "c"]);

        let calls = Cell::new(0);
        let err = paginate("test:List", |_| {
            calls.set(calls.get() + 1);
            async { Ok((vec![1], Some("same".to_string()))) }
        })
        .await
        .unwrap_err();
        assert_eq!(calls.get(), 2, "stops as soon as the token repeats");
        assert!(err.to_string().contains("did not advance"), "{err}");
    }
}
