//! The zone's judge: each owned record judged from the inventory (the decision
//! table's first pass, [`assess`]), then through the one judge
//! ([`super::decide`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::SystemTime;

use super::backing::{backing, in_grace, recently_starting};
use super::estate::Estate;
use super::judge::{Assessment, Judge, OnFailedCheck, Verdict};
use super::policy::Listed;
use super::ties::Ties;
use super::{plain_target, Decision, DeleteReason, Evidence, KeepReason, PlanSettings, TaskRef};
use crate::classify::{OwnedRecord, Target};
use crate::model::health::Endpoint;
use crate::model::Inventory;

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
                task: Some(TaskRef {
                    arn: task.arn.clone(),
                    cluster: task.cluster.clone(),
                }),
            },
            evidence: None,
        },
        // Checks off, or nothing to check against (no address, or a CNAME whose task
        // declares no reachable port): backed by a running task, so it stays.
        _ => decided(target, Keep(KeepReason::Healthy)),
    }
}

/// The zone's side of the judge: what was read of ECS and EC2, and every record
/// set of the zone by name (foreign ones included: last-record protection is
/// about the name answering at all).
pub struct ZoneJudge<'a> {
    pub inventory: &'a Inventory,
    pub name_counts: &'a HashMap<String, usize>,
}

impl Judge for ZoneJudge<'_> {
    type Item = OwnedRecord;

    fn assess(
        &self,
        records: &[OwnedRecord],
        settings: &PlanSettings,
        now: SystemTime,
    ) -> Vec<Assessment> {
        assess(records, self.inventory, settings, now)
    }

    /// A record whose every check failed is deleted: the zone has no marks.
    fn on_failed_check(&self, _: &OwnedRecord) -> OnFailedCheck {
        OnFailedCheck::Delete
    }

    fn listed(&self) -> Listed<'_> {
        Listed {
            group_counts: Cow::Borrowed(self.name_counts),
            members: Vec::new(),
        }
    }
}
