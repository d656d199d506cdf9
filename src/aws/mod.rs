//! The AWS edges: every `aws_sdk_*` import lives under this module, and nothing
//! here decides anything. Each edge turns API answers into the plain types of
//! [`crate::model`]; [`SdkAws`] puts them behind the two seams the flows use,
//! [`ZoneApi`] (Route 53) and [`EstateApi`] (ECS and EC2), so that the flows' own
//! logic is tested against an in-memory fake.

pub mod changes;
pub mod ec2;
pub mod ecs;
pub mod route53;
mod sdk;

use std::future::Future;

use aws_sdk_ec2::error::DisplayErrorContext;
use tokio::time::Instant;

use crate::model::{
    ClusterScope, Ec2Instance, Inventory, ReadFailure, RecordSet, Task, TaskDefinition, TaskRef,
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
    /// Every EC2 instance of the region (the decisions keep the zone's VPCs').
    fn instances(&self) -> impl Future<Output = Result<Vec<Ec2Instance>, ReadFailure>> + Send;
    /// The container instances, running tasks and task definitions of the clusters.
    fn clusters(&self, scope: &ClusterScope) -> impl Future<Output = Inventory> + Send;
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
    /// One container instance now: itself, its EC2 instance and its running tasks
    /// (no task definitions).
    fn host(
        &self,
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
    /// One EC2 instance, and any other that holds its private address now.
    fn instance(&self, instance_id: &str) -> impl Future<Output = Inventory> + Send;
    /// Stops each task once; the stopped ARNs and the errors.
    fn stop_tasks(
        &self,
        tasks: &[TaskRef],
    ) -> impl Future<Output = (Vec<String>, Vec<String>)> + Send;
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
