//! `EC2 Instance State-change Notification` to a gone state: re-check with EC2,
//! list the names where the instance's records are (the whole zone only when ECS
//! cannot say), delete the records that name the instance.

use crate::aws::Aws;
use crate::decide;
use crate::report::Report;

use super::{Halt, Run};

/// A terminated instance may no longer report its private address or DNS name
/// (EC2 deletes its network interface); then only records that name its instance
/// id are tied to it, and the next full sweep judges the rest.
pub async fn instance_gone<A: Aws>(
    run: &Run<'_, A>,
    instance_id: &str,
    report: &mut Report,
) -> Result<(), Halt> {
    let deps = run.deps;
    if deps.config.zone.is_none() {
        return Err(Halt::Ignored(
            "no hosted zone is configured; Cloud Map instances of a gone EC2 instance are left to the next sweep".into(),
        ));
    }
    let read = deps.aws.instance(instance_id);
    let mut inventory = run.within(run.timed(|t| &mut t.inventory_ms, read)).await?;
    if !inventory.is_complete() {
        return Err(Halt::Unconfirmed(inventory.failures));
    }
    if let Some(why) = decide::ec2_says_not_gone(&inventory, instance_id) {
        return Err(Halt::Ignored(why));
    }
    let addressless = inventory
        .instances
        .iter()
        .any(|i| i.id == instance_id && i.private_ip.is_none() && i.private_dns.is_none());
    if addressless {
        tracing::info!(
            instance_id,
            "instance reports no address any more: only records that name its id are \
             tied to it; the next sweep judges the rest"
        );
    }
    let (zone, zone_vpcs) = run.zone().await?;
    inventory.zone_vpcs = zone_vpcs;
    let scope = deps.cluster_scope();
    let read = deps.aws.instance_tasks(&scope, instance_id);
    let ecs = run.within(run.timed(|t| &mut t.inventory_ms, read)).await?;
    // A failed ECS read only costs a listing of the whole zone: ECS says where to
    // look, EC2 alone says what is gone.
    let names = match ecs.is_complete() {
        true => decide::instance_record_names(&inventory, &ecs, instance_id, &zone.apex),
        false => Vec::new(),
    };
    let view = if names.is_empty() {
        run.within(run.load_zone(zone, report)).await??
    } else {
        run.within(run.load_names(zone, &names, report)).await??
    };
    let plan =
        decide::decide_instance_gone(&view.owned, instance_id, &inventory, &deps.plan_settings());
    run.write(&view.zone, &plan, report).await;
    Ok(())
}
