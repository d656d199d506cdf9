//! `ECS Task State Change` to STOPPED: re-check with ECS, list only the names the
//! task declares, and delete the task's records that nothing running backs.
//!
//! Route 53 allows five requests a second per account, shared with every agent
//! registering the containers a deployment starts, and a deployment stops tasks by
//! the hundred. So an event reads what its decision needs and no more: the task;
//! its definition, once per process; the record sets at the names it declares
//! (the whole zone only when ECS shows none); and the host's running tasks only
//! when a listed record can be the task's.

use crate::aws::Aws;
use crate::classify::OwnedRecord;
use crate::decide::{self, StoppedTask};
use crate::model::{vpc_ids, Inventory, Task, TaskDefinition, TaskStoppedEvent};
use crate::progress::Phase;
use crate::report::{Ran, Swept};

use super::{Halt, Run};

/// The zone's part, then the Cloud Map part. When the Cloud Map part halts, what
/// the zone's part did stands, and the halt is said beside it.
pub async fn task_stopped<A: Aws>(
    run: &Run<'_, A>,
    detail: &TaskStoppedEvent,
) -> Result<Ran, Halt> {
    let deps = run.deps;
    let cluster = detail.cluster_arn.as_str();
    let read = deps.aws.task(cluster, &detail.task_arn);
    let task = run
        .within(run.timed(Phase::Inventory, read))
        .await?
        .map_err(|f| Halt::Unconfirmed(vec![f]))?;
    if let Some(why) = decide::ecs_says_not_stopped(task.as_ref()) {
        return Err(Halt::Ignored(why));
    }
    let mut ran = Ran::new();
    if deps.config.zone.is_some() {
        let (id, swept) = stopped_task_records(run, detail, task.as_ref()).await?;
        ran.hosted_zone_id = Some(id);
        ran.zone = Some(swept);
    }
    match super::cloud_map::deregister_stopped_task(run, detail, task.as_ref()).await {
        Ok(cloud_map) => {
            ran.merge(cloud_map);
            Ok(ran)
        }
        Err(halt) => halt.settle(ran).map_err(Halt::Failed),
    }
}

/// The zone's part: the records of the task's containers.
async fn stopped_task_records<A: Aws>(
    run: &Run<'_, A>,
    detail: &TaskStoppedEvent,
    task: Option<&Task>,
) -> Result<(String, Swept<OwnedRecord>), Halt> {
    let deps = run.deps;
    let cluster = detail.cluster_arn.as_str();
    let definition = match task.and_then(|t| t.task_definition_arn.as_deref()) {
        Some(arn) => definition(run, arn).await?,
        None => None,
    };
    let (zone, zone_vpcs) = run.zone().await?;
    let names = decide::declared_names(task, definition.as_ref(), &zone.apex);
    let view = if names.is_empty() {
        run.within(run.load_zone(zone)).await??
    } else {
        run.within(run.load_names(zone, &names)).await??
    };

    let mut stopped = StoppedTask::new(detail, task);
    let mut inventory = Inventory::default();
    let ci = task
        .and_then(|t| t.container_instance_arn.as_deref())
        .or(detail.container_instance_arn.as_deref());
    if let (true, Some(ci)) = (decide::needs_host(&view.owned, &stopped), ci) {
        let scope = deps.cluster_scope();
        let read = deps.aws.host(&scope, cluster, ci);
        let read = run.within(run.timed(Phase::Inventory, read)).await;
        inventory = read.map_err(|halt| view.halted(halt))?;
        if !inventory.is_complete() {
            return Err(view.halted(Halt::Unconfirmed(inventory.failures)));
        }
    }
    inventory.zone_vpcs = vpc_ids(&zone_vpcs);
    stopped.instance_id = inventory.instances.first().map(|i| i.id.clone());
    let now = std::time::SystemTime::now();
    let settings = deps.plan_settings();
    let plan = decide::decide_task_stopped(&view.owned, &stopped, &inventory, &settings, now);
    Ok(run.write_zone(&view, plan).await)
}

/// The task's definition, for the names it declares. One that cannot be read only
/// costs a listing of the whole zone.
async fn definition<A: Aws>(run: &Run<'_, A>, arn: &str) -> Result<Option<TaskDefinition>, Halt> {
    let read = run.deps.aws.task_definition(arn);
    match run.within(run.timed(Phase::Inventory, read)).await? {
        Ok(definition) => Ok(Some(definition)),
        Err(failure) => {
            tracing::warn!(%failure, "task definition unreadable: listing the whole zone");
            Ok(None)
        }
    }
}
