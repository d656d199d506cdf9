//! An `EC2 Instance State-change Notification` to a gone state, re-checked
//! against EC2 before anything is deleted.

use super::estate::Estate;
use super::{event_plan, plain_target, Decision, DeleteReason, Plan, PlanSettings, Planned};
use crate::classify::{OwnedRecord, Target};
use std::collections::BTreeSet;

use super::task_stopped::declared_names;
use crate::model::Inventory;

/// The names an instance-gone event lists: the names the instance's tasks
/// declared (`ecs`: its registrations' tasks, stopped ones included, with their
/// definitions), and its host A record's names (after its address, its private
/// DNS name and its id). Empty — list the whole zone — when its tasks declare no
/// name ECS can show: then nothing says where its records are.
pub fn instance_record_names(
    ec2: &Inventory,
    ecs: &Inventory,
    instance_id: &str,
    apex: &str,
) -> Vec<String> {
    let mut names: BTreeSet<String> = ecs
        .tasks
        .iter()
        .flat_map(|t| {
            let definition = t
                .task_definition_arn
                .as_deref()
                .and_then(|arn| ecs.task_definitions.get(arn));
            declared_names(Some(t), definition, apex)
        })
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let host_a = |label: &str| format!("{label}.{apex}.");
    names.insert(host_a(instance_id));
    if let Some(gone) = ec2.instances.iter().find(|i| i.id == instance_id) {
        if let Some(ip) = gone.private_ip {
            let [a, b, c, d] = ip.octets();
            names.insert(host_a(&format!("ip-{a}-{b}-{c}-{d}")));
        }
        if let Some(dns) = &gone.private_dns {
            names.insert(host_a(dns.first_label()));
        }
    }
    names.into_iter().collect()
}

/// Why the event is ignored when EC2 does not know the instance or reports it
/// in a state that is not gone; `None` when EC2 agrees it is gone.
pub fn ec2_says_not_gone(inventory: &Inventory, instance_id: &str) -> Option<String> {
    match inventory.instances.iter().find(|i| i.id == instance_id) {
        None => Some(format!(
            "EC2 does not know instance {instance_id}: nothing deleted"
        )),
        Some(i) if !i.state.is_gone() => Some(format!(
            "EC2 reports instance {instance_id} as {}: nothing deleted",
            i.state.name()
        )),
        Some(_) => None,
    }
}

/// The records whose target is `instance_id`, which EC2 reports gone. A record
/// whose name or address another live instance of the zone's VPCs holds now is
/// not the gone instance's any more and is left alone; so is everything when the
/// gone instance is in another VPC.
pub fn decide_instance_gone(
    records: &[OwnedRecord],
    instance_id: &str,
    inventory: &Inventory,
    settings: &PlanSettings,
) -> Plan {
    let estate = Estate::new(inventory);
    let Some(gone) = estate.by_id.get(instance_id).copied() else {
        return event_plan(Vec::new(), records.len(), settings);
    };
    let targets_gone = |record: &OwnedRecord| match &record.target {
        Target::HostA { host, .. } => gone.is(host),
        Target::Srv { host, .. } | Target::Cname { host, .. } => gone.is_named_by(host),
    };
    let holder_is_gone = |record: &OwnedRecord| {
        let holder = match &record.target {
            Target::HostA { host, .. } => estate.instance_for(host),
            Target::Srv { host, .. } | Target::Cname { host, .. } => estate.instance_for_host(host),
        };
        holder.is_none_or(|i| i.state.is_gone())
    };
    let items = records
        .iter()
        .filter(|r| targets_gone(r) && holder_is_gone(r))
        .map(|record| Planned {
            item: record.clone(),
            target: plain_target(record),
            decision: Decision::Delete(DeleteReason::InstanceGone),
            task: None,
            detail: None,
        })
        .collect();
    event_plan(items, records.len(), settings)
}
