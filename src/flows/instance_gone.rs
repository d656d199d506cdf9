//! `EC2 Instance State-change Notification` to a gone state: re-check with EC2,
//! list the names where the instance's records are (the whole zone only when ECS
//! cannot say), delete the records that name the instance.

use crate::aws::Aws;
use crate::decide;
use crate::model::{vpc_ids, Ec2Instance, Inventory};
use crate::progress::Phase;
use crate::report::Ran;

use super::{Halt, Run};

/// A terminated instance may no longer report its private address or DNS name
/// (EC2 deletes its network interface); then the records that name its instance
/// id, and those ECS ties to it (the containers of its tasks, and the other records
/// of the host names those target), are its; the next full sweep judges the rest.
pub async fn instance_gone<A: Aws>(run: &Run<'_, A>, instance_id: &str) -> Result<Ran, Halt> {
    let deps = run.deps;
    if deps.config.zone.is_none() {
        return Err(Halt::Ignored(
            "no hosted zone is configured; Cloud Map instances of a gone EC2 instance are left to the next sweep".into(),
        ));
    }
    let (zone, zone_vpcs) = run.zone().await?;
    let read = deps.aws.instance(instance_id, &zone_vpcs);
    let mut inventory = run.within(run.timed(Phase::Inventory, read)).await?;
    if !inventory.is_complete() {
        return Err(Halt::Unconfirmed(inventory.failures));
    }
    if let Some(why) = decide::ec2_says_not_gone(&inventory, instance_id) {
        return Err(Halt::Ignored(why));
    }
    log_if_addressless(&inventory, instance_id);
    inventory.zone_vpcs = vpc_ids(&zone_vpcs);
    let scope = deps.cluster_scope();
    let read = deps.aws.instance_tasks(&scope, instance_id);
    let ecs = run.within(run.timed(Phase::Inventory, read)).await?;
    // A failed ECS read only costs a listing of the whole zone: ECS says where to
    // look, EC2 alone says what is gone.
    let names = match ecs.is_complete() {
        true => decide::instance_record_names(&inventory, &ecs, instance_id, &zone.apex),
        false => Vec::new(),
    };
    let mut view = if names.is_empty() {
        run.within(run.load_zone(zone)).await??
    } else {
        run.within(run.load_names(zone, &names)).await??
    };
    // What ECS ties to the instance (its tasks' container ids) is positive
    // evidence too; a failed ECS read only leaves those records to the sweep.
    if ecs.is_complete() {
        inventory.container_instances = ecs.container_instances;
        inventory.tasks = ecs.tasks;
    }
    let tied = decide::tied_hosts(
        &view.owned,
        instance_id,
        &inventory,
        &view.zone.apex,
        &names,
    );
    if !tied.addresses.is_empty() {
        let read = deps.aws.holders(&tied.addresses, &zone_vpcs);
        let read = run.within(run.timed(Phase::Inventory, read)).await;
        let holders = read.map_err(|halt| view.halted(halt))?;
        if !holders.is_complete() {
            return Err(view.halted(Halt::Unconfirmed(holders.failures)));
        }
        add_new(&mut inventory.instances, holders.instances);
    }
    if !names.is_empty() && !tied.host_a_names.is_empty() {
        let listed = run.load_names(view.zone.clone(), &tied.host_a_names);
        let listed = run.within(listed).await.and_then(|more| more);
        view.absorb(listed.map_err(|halt| view.halted(halt))?);
    }
    let now = std::time::SystemTime::now();
    let settings = deps.plan_settings();
    let plan = decide::decide_instance_gone(&view.owned, instance_id, &inventory, &settings, now);
    let (id, swept) = run.write_zone(&view, plan).await;
    let mut ran = Ran::new();
    ran.hosted_zone_id = Some(id);
    ran.zone = Some(swept);
    Ok(ran)
}

/// Says so when EC2 no longer reports the instance's address or DNS name.
fn log_if_addressless(inventory: &Inventory, instance_id: &str) {
    let addressless = inventory
        .instances
        .iter()
        .any(|i| i.id == instance_id && i.private_ip.is_none() && i.private_dns.is_none());
    if addressless {
        tracing::info!(
            instance_id,
            "instance reports no address any more: only records that name its id or \
             that ECS ties to it are its; the next sweep judges the rest"
        );
    }
}

/// Adds the `holders` not known yet to `instances`.
fn add_new(instances: &mut Vec<Ec2Instance>, holders: Vec<Ec2Instance>) {
    let new: Vec<Ec2Instance> = holders
        .into_iter()
        .filter(|h| !instances.iter().any(|i| i.id == h.id))
        .collect();
    instances.extend(new);
}
