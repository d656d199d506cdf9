//! A full sweep's decisions: each owned record judged from the inventory, then
//! from the health checks of the endpoints that need one.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use super::backing::{backing, in_grace, recently_starting};
use super::estate::Estate;
use super::policy;
use super::ties::Ties;
use super::{
    plain_target, Decision, DeleteReason, KeepReason, Plan, PlanSettings, Planned, TaskRef,
};
use crate::classify::{OwnedRecord, Target};
use crate::model::Inventory;
use crate::net::health::{Endpoint, HealthResult};

/// What [`assess`] concluded for one record before health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Where the record points, for the report (`host:port`, or an address).
    pub target: String,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Decided(Decision),
    /// Backed by a running task past its grace period: the endpoint decides.
    Check {
        endpoint: Endpoint,
        task: TaskRef,
    },
}

fn decided(target: String, decision: Decision) -> Assessment {
    Assessment {
        target,
        verdict: Verdict::Decided(decision),
    }
}

/// Judges each record from the inventory alone (the decision table, first pass).
/// The one judge of every trigger: a sweep judges the zone with it, and each event
/// the records it listed, on what it read.
pub fn assess(
    records: &[OwnedRecord],
    inventory: &Inventory,
    settings: &PlanSettings,
    now: SystemTime,
) -> Vec<Assessment> {
    let estate = Estate::new(inventory);
    let ties = Ties::new(records, &estate);
    records
        .iter()
        .map(|r| match ties.gone_instance(r, &estate) {
            Some(_) => decided(
                plain_target(r),
                Decision::Delete(DeleteReason::InstanceGone),
            ),
            None => assess_one(r, &estate, settings, now),
        })
        .collect()
}

fn assess_one(
    record: &OwnedRecord,
    estate: &Estate,
    settings: &PlanSettings,
    now: SystemTime,
) -> Assessment {
    use Decision::{Delete, Keep};
    let (host, instance) = match &record.target {
        Target::HostA { ip, host } => {
            let decision = match estate.instance_for(host) {
                None => Delete(DeleteReason::HostUnknown),
                Some(i) if i.state.is_gone() => Delete(DeleteReason::InstanceGone),
                Some(_) => Keep(KeepReason::Healthy),
            };
            return decided(ip.to_string(), decision);
        }
        Target::Srv { host, .. } | Target::Cname { host, .. } => {
            (host, estate.instance_for_host(host))
        }
    };
    let srv_port = match &record.target {
        Target::Srv { port, .. } => Some(*port),
        _ => None,
    };
    let target_with = |port: Option<u16>| match port {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let Some(instance) = instance else {
        return decided(target_with(srv_port), Delete(DeleteReason::HostUnknown));
    };
    if instance.state.is_gone() {
        return decided(target_with(srv_port), Delete(DeleteReason::InstanceGone));
    }
    let Some(tasks) = estate.running_on(instance) else {
        return decided(target_with(srv_port), Keep(KeepReason::OutOfScope));
    };
    let Some((task, port)) = backing(record, &tasks, estate) else {
        let reason = if tasks.iter().any(|t| recently_starting(t, settings, now)) {
            Keep(KeepReason::Grace)
        } else if estate.registered_elsewhere(instance) {
            Keep(KeepReason::OutOfScope)
        } else {
            Delete(DeleteReason::TaskGone)
        };
        return decided(target_with(srv_port), reason);
    };
    let target = target_with(port);
    if in_grace(task, settings, now) {
        return decided(target, Keep(KeepReason::Grace));
    }
    let ip = instance.private_ip.or_else(|| host.embedded_ip());
    match (settings.checks_off, ip, port) {
        (false, Some(ip), Some(port)) => Assessment {
            target,
            verdict: Verdict::Check {
                endpoint: Endpoint { ip, port },
                task: TaskRef {
                    arn: task.arn.clone(),
                    cluster: task.cluster.clone(),
                },
            },
        },
        // Checks off, or nothing to check against (no address, or a CNAME whose task
        // declares no reachable port): backed by a running task, so it stays.
        _ => decided(target, Keep(KeepReason::Healthy)),
    }
}

/// The distinct endpoints the assessments need checked.
pub fn endpoints(assessments: &[Assessment]) -> BTreeSet<Endpoint> {
    assessments
        .iter()
        .filter_map(|a| match &a.verdict {
            Verdict::Check { endpoint, .. } => Some(*endpoint),
            Verdict::Decided(_) => None,
        })
        .collect()
}

/// The tasks with at least one checked endpoint that answered: never stopped,
/// whatever their other endpoints did.
fn tasks_answering(
    assessments: &[Assessment],
    health: &HashMap<Endpoint, HealthResult>,
) -> HashSet<String> {
    assessments
        .iter()
        .filter_map(|a| match &a.verdict {
            Verdict::Check { endpoint, task }
                if health.get(endpoint).is_some_and(HealthResult::is_healthy) =>
            {
                Some(task.arn.clone())
            }
            _ => None,
        })
        .collect()
}

/// Final decisions: health results, then the safety rules ([`policy`]).
///
/// `name_counts` counts every record set in the zone by name, foreign ones
/// included: last-record protection is about the name answering at all.
pub fn decide(
    records: &[OwnedRecord],
    assessments: Vec<Assessment>,
    health: &HashMap<Endpoint, HealthResult>,
    inventory_complete: bool,
    name_counts: &HashMap<String, usize>,
    settings: &PlanSettings,
) -> Plan {
    let answering = tasks_answering(&assessments, health);
    let items: Vec<Planned> = records
        .iter()
        .zip(assessments)
        .map(|(record, a)| {
            let (decision, task, detail) = match a.verdict {
                Verdict::Decided(d) => (d, None, None),
                Verdict::Check { endpoint, task } => match health.get(&endpoint) {
                    Some(HealthResult::Healthy) => {
                        (Decision::Keep(KeepReason::Healthy), None, None)
                    }
                    Some(HealthResult::Unhealthy { last_error }) => (
                        Decision::Delete(DeleteReason::Unhealthy),
                        (!answering.contains(&task.arn)).then_some(task),
                        Some(last_error.clone()),
                    ),
                    None => (Decision::Keep(KeepReason::Unchecked), None, None),
                },
            };
            Planned {
                item: record.clone(),
                target: a.target,
                decision,
                task,
                detail,
            }
        })
        .collect();

    let mut plan = Plan {
        items,
        guard: Default::default(),
    };
    policy::apply_safety_rules(&mut plan, inventory_complete, name_counts, settings);
    plan
}
