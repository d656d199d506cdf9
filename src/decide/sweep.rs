//! A full sweep's decisions: each owned record judged from the inventory, then
//! from the health checks of the endpoints that need one.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::SystemTime;

use super::backing::{backing, in_grace, recently_starting};
use super::estate::Estate;
use super::policy;
use super::ties::Ties;
use super::{
    plain_target, Decision, DeleteReason, Evidence, KeepReason, Plan, PlanSettings, Planned,
    TaskRef,
};
use crate::classify::{OwnedRecord, Target};
use crate::model::health::{Endpoint, HealthResult};
use crate::model::Inventory;

/// What [`assess`] concluded for one record before health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Where the record points, for the report (`host:port`, or an address).
    pub target: String,
    pub verdict: Verdict,
    /// What a decided deletion rests on.
    pub evidence: Option<Evidence>,
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
        evidence: None,
    }
}

fn deleted(target: String, reason: DeleteReason, evidence: Evidence) -> Assessment {
    Assessment {
        target,
        verdict: Verdict::Decided(Decision::Delete(reason)),
        evidence: Some(evidence),
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
        .map(|r| match ties.tie(r, &estate) {
            Some((tied, host)) => deleted(
                plain_target(r),
                DeleteReason::InstanceGone,
                tied.evidence(host),
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
    use Decision::Keep;
    let (host, instance) = match &record.target {
        Target::HostA { ip, host } => {
            let target = ip.to_string();
            return match estate.instance_for(host) {
                None => deleted(
                    target,
                    DeleteReason::HostUnknown,
                    Evidence::address_unknown(host, estate.vpcs()),
                ),
                Some(i) if i.state.is_gone() => {
                    deleted(target, DeleteReason::InstanceGone, Evidence::gone(i))
                }
                Some(_) => decided(target, Keep(KeepReason::Healthy)),
            };
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
        let evidence = Evidence::host_unknown(host, estate.vpcs());
        return deleted(target_with(srv_port), DeleteReason::HostUnknown, evidence);
    };
    if instance.state.is_gone() {
        let evidence = Evidence::gone(instance);
        return deleted(target_with(srv_port), DeleteReason::InstanceGone, evidence);
    }
    let Some(tasks) = estate.running_on(instance) else {
        return decided(target_with(srv_port), Keep(KeepReason::OutOfScope));
    };
    let Some((task, port)) = backing(record, &tasks, estate) else {
        let target = target_with(srv_port);
        return if tasks.iter().any(|t| recently_starting(t, settings, now)) {
            decided(target, Keep(KeepReason::Grace))
        } else if estate.registered_elsewhere(instance) {
            decided(target, Keep(KeepReason::OutOfScope))
        } else {
            let on = estate.registration_arns(instance);
            deleted(
                target,
                DeleteReason::TaskGone,
                Evidence::not_backed(on, record),
            )
        };
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
            evidence: None,
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
            let (decision, task, evidence) = match a.verdict {
                Verdict::Decided(d) => (d, None, a.evidence),
                Verdict::Check { endpoint, task } => match health.get(&endpoint) {
                    Some(HealthResult::Healthy) => {
                        (Decision::Keep(KeepReason::Healthy), None, None)
                    }
                    Some(HealthResult::Unhealthy { failures }) => (
                        Decision::Delete(DeleteReason::Unhealthy),
                        (!answering.contains(&task.arn)).then_some(task),
                        Some(Evidence::ChecksFailed {
                            endpoint,
                            failures: failures.clone(),
                        }),
                    ),
                    None => (Decision::Keep(KeepReason::Unchecked), None, None),
                },
            };
            Planned {
                item: record.clone(),
                target: a.target,
                decision,
                task,
                evidence,
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
