//! Writing a plan, for every registry and every trigger: its deletions (Route 53
//! for the zone, Cloud Map deregistrations for a namespace), its custom health
//! marks, and the tasks it condemns stopped when asked — unless a dry run, and
//! never past the deadline. What became of each write is returned ([`Written`]);
//! the report is assembled from it.

use std::future::Future;

use tokio::time::Instant;

use crate::aws::Aws;
use crate::classify::{OwnedInstance, OwnedRecord};
use crate::decide::Plan;
use crate::model::cloud_map::SweptNamespace;
use crate::model::{wire_name, WriteOutcome, Zone};
use crate::progress::Phase;
use crate::report::Written;

use super::Run;

/// Where a registry's deletions go: the one part of writing a plan that is not
/// the same for the zone and a namespace.
pub(crate) trait Registry {
    type Item;

    /// The registry, for log lines.
    fn describe(&self) -> String;

    /// Deletes (deregisters) `items`, each ended by `stop_at`: one outcome each,
    /// in order.
    fn remove<A: Aws>(
        &self,
        aws: &A,
        items: Vec<&Self::Item>,
        stop_at: Option<Instant>,
    ) -> impl Future<Output = Vec<WriteOutcome>> + Send;
}

impl Registry for Zone {
    type Item = OwnedRecord;

    fn describe(&self) -> String {
        format!("hosted zone {}", self.id)
    }

    async fn remove<A: Aws>(
        &self,
        aws: &A,
        items: Vec<&OwnedRecord>,
        stop_at: Option<Instant>,
    ) -> Vec<WriteOutcome> {
        let sets: Vec<_> = items.into_iter().map(|r| r.set.clone()).collect();
        aws.delete_records(&self.id, &sets, stop_at).await
    }
}

/// Cloud Map deregistrations are asynchronous: each is followed to its end
/// within the deadline (docs/cloud-map.md).
impl Registry for SweptNamespace {
    type Item = OwnedInstance;

    fn describe(&self) -> String {
        format!("Cloud Map namespace {}", self.namespace.name)
    }

    async fn remove<A: Aws>(
        &self,
        aws: &A,
        items: Vec<&OwnedInstance>,
        stop_at: Option<Instant>,
    ) -> Vec<WriteOutcome> {
        let targets: Vec<(String, String)> = items
            .into_iter()
            .map(|i| (i.service_id.clone(), i.id.clone()))
            .collect();
        aws.deregister(&targets, stop_at).await
    }
}

impl<A: Aws> Run<'_, A> {
    /// Writes `plan` to `registry`: its deletions, then its custom health marks,
    /// then (`STOP_UNHEALTHY_TASKS`) the tasks behind its `unhealthy` deletions
    /// that went through. A dry run writes nothing and reports every deletion and
    /// mark as made.
    pub(crate) async fn write<R: Registry>(&self, registry: &R, plan: &Plan<R::Item>) -> Written {
        let deletions: Vec<&R::Item> = plan.deletions().map(|p| &p.item).collect();
        if self.dry_run {
            return Written {
                outcomes: vec![WriteOutcome::Deleted; deletions.len()],
                marks: vec![Ok(()); plan.health_updates.len()],
                ..Written::default()
            };
        }
        let aws = &self.deps.aws;
        let apply = async {
            let outcomes = registry.remove(aws, deletions, self.stop_at).await;
            let mut marks = Vec::new();
            for u in &plan.health_updates {
                let mark = match self.stop_at.is_some_and(|at| Instant::now() >= at) {
                    true => Err(format!(
                        "deadline near: custom health of {}/{} not set to {}",
                        u.service,
                        u.instance_id,
                        wire_name(&u.status)
                    )),
                    false => {
                        let set =
                            aws.set_health(&u.service_id, &u.instance_id, u.status, self.stop_at);
                        set.await
                    }
                };
                marks.push(mark);
            }
            (outcomes, marks)
        };
        let (outcomes, marks) = self.timed(Phase::Writes, apply).await;
        let mut written = Written {
            outcomes,
            marks,
            ..Written::default()
        };
        let tasks = plan.tasks_to_stop(&written.outcomes);
        if self.deps.config.stop_unhealthy_tasks && !tasks.is_empty() {
            let stop = aws.stop_tasks(&tasks, self.stop_at);
            let (stopped, errors) = self.timed(Phase::Writes, stop).await;
            written.stopped_tasks = stopped;
            written.errors = errors;
        }
        written
    }
}
