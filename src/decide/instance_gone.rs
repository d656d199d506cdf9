//! An `EC2 Instance State-change Notification` to a gone state, re-checked
//! against EC2 before anything is deleted.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use super::estate::Estate;
use super::judge::Verdict;
use super::sweep::assess;
use super::ties::Ties;
use super::{event_plan, plain_target, Decision, DeleteReason, Plan, PlanSettings, Planned};
use crate::classify::{OwnedRecord, Target};
use crate::names::HostName;

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

/// The host names that listed records tied to an instance through ECS target:
/// what else the event must read before it judges them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TiedHosts {
    /// Their host A names (`ip-a-b-c-d.<apex>.`: the agent names its host A
    /// record after the first label of the host name) not listed yet. EC2 no
    /// longer reports a terminated instance's address: only its records say where
    /// its host A record is.
    pub host_a_names: Vec<String>,
    /// The addresses their names spell: whoever holds one now, in any Region of
    /// the zone's VPCs, holds the name — and unties it.
    pub addresses: Vec<Ipv4Addr>,
}

/// The hosts that `records` tie to `instance_id` through ECS; `listed`: the names
/// listed so far.
pub fn tied_hosts(
    records: &[OwnedRecord],
    instance_id: &str,
    inventory: &Inventory,
    apex: &str,
    listed: &[String],
) -> TiedHosts {
    let estate = Estate::new(inventory);
    let ties = Ties::new(records, &estate);
    let hosts: Vec<&HostName> = ties
        .hosts()
        .filter(|(_, gone)| gone.id == instance_id)
        .map(|(host, _)| host)
        .collect();
    let names: BTreeSet<String> = hosts
        .iter()
        .map(|host| format!("{}.{apex}.", host.first_label()))
        .filter(|name| !listed.contains(name))
        .collect();
    let addresses: BTreeSet<Ipv4Addr> = hosts.iter().filter_map(|h| h.embedded_ip()).collect();
    TiedHosts {
        host_a_names: names.into_iter().collect(),
        addresses: addresses.into_iter().collect(),
    }
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

/// The records of `instance_id`, which EC2 reports gone: those whose target names
/// it, and those tied to it through ECS (a container of one of its tasks, and the
/// other records of the host names those target). Each is judged by the sweep's
/// judge ([`assess`]) on what the event read (`inventory`: the instance, whoever
/// holds its address now in the zone's VPCs, its registrations and their tasks),
/// and only `instance-gone` — positive evidence — is acted on: a record whose name
/// or address another live instance holds now is not the gone instance's any more;
/// everything the event cannot tie to it is left to a full sweep.
pub fn decide_instance_gone(
    records: &[OwnedRecord],
    instance_id: &str,
    inventory: &Inventory,
    settings: &PlanSettings,
    now: SystemTime,
) -> Plan {
    let estate = Estate::new(inventory);
    let Some(gone) = estate.by_id.get(instance_id).copied() else {
        return event_plan(Vec::new(), records.len(), settings);
    };
    let ties = Ties::new(records, &estate);
    let is_the_instances = |record: &OwnedRecord| {
        let named = match &record.target {
            Target::HostA { host, .. } => gone.is(host),
            Target::Srv { host, .. } | Target::Cname { host, .. } => gone.is_named_by(host),
        };
        named
            || ties
                .gone_instance(record, &estate)
                .is_some_and(|i| i.id == gone.id)
    };
    let gone_verdict = Verdict::Decided(Decision::Delete(DeleteReason::InstanceGone));
    let items = records
        .iter()
        .zip(assess(records, inventory, settings, now))
        .filter(|(record, a)| a.verdict == gone_verdict && is_the_instances(record))
        .map(|(record, a)| Planned {
            item: record.clone(),
            target: plain_target(record),
            decision: Decision::Delete(DeleteReason::InstanceGone),
            task: None,
            evidence: a.evidence,
        })
        .collect();
    event_plan(items, records.len(), settings)
}
