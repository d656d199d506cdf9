//! `ECS Task State Change` to STOPPED: re-check with ECS, list the zone, delete
//! the task's records that nothing running backs.

use crate::aws::{EstateApi, ZoneApi};
use crate::decide::{self, StoppedTask};
use crate::events::EcsTaskStateChange;
use crate::report::Report;

use super::{Halt, Run};

pub async fn task_stopped<A: ZoneApi + EstateApi>(
    run: &Run<'_, A>,
    detail: &EcsTaskStateChange,
    report: &mut Report,
) -> Result<(), Halt> {
    let deps = run.deps;
    let read = deps.aws.around_task(
        &detail.cluster_arn,
        &detail.task_arn,
        detail.container_instance_arn.as_deref(),
    );
    let (task, mut inventory) = run.within(run.timed(|t| &mut t.inventory_ms, read)).await?;
    if !inventory.is_complete() {
        return Err(Halt::Unconfirmed(inventory.failures));
    }
    if let Some(why) = decide::ecs_says_not_stopped(task.as_ref()) {
        return Err(Halt::Ignored(why));
    }
    let (zone_id, zone_vpcs) = run.within(deps.zone()).await??;
    inventory.zone_vpcs = zone_vpcs;
    let view = run.within(run.load_zone(zone_id, report)).await??;
    let stopped = StoppedTask::new(detail, task.as_ref(), &inventory);
    let plan =
        decide::decide_task_stopped(&view.owned, &stopped, &inventory, &deps.plan_settings());
    run.write(&view.zone, &plan, report).await;
    Ok(())
}
