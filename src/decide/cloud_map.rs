//! A Cloud Map namespace's decisions: each owned instance judged by its task
//! (ECS-registered) or by EC2, the network interfaces of the namespace's VPCs and
//! the health check (every other instance); then the zone's safety rules, per
//! namespace, with the Cloud Map service in place of the record name.
//!
//! ECS owns the health of what it registers (it deregisters a task that fails its
//! health checks), so an ECS-registered instance is never checked or marked. For
//! an instance of a service with `HealthCheckCustomConfig`, the reaper is the
//! health checker: a failed check marks it `UNHEALTHY` (Cloud Map stops answering
//! with it), a passing one marks it `HEALTHY` again; it is deregistered only on
//! `instance-gone` or `host-unknown`.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use super::backing::in_grace;
use super::estate::Estate;
use super::judge::{Assessment, Judge, OnFailedCheck, Verdict};
use super::policy::Listed;
use super::{
    Decision, DeleteReason, Evidence, HealthUpdate, KeepReason, Plan, PlanItem, PlanSettings,
};
use crate::classify::{OwnedInstance, Registrar};
use crate::model::cloud_map::{task_id, HealthStatus, RegistryEvidence, RegistryListing};
use crate::model::health::Endpoint;
use crate::model::{ClusterScope, Ec2Instance, Inventory, Task, TaskStatus};
use crate::names::Ec2Host;

impl PlanItem for OwnedInstance {
    fn group(&self) -> &str {
        &self.service_id
    }

    fn answers_for_group(&self) -> bool {
        true
    }

    fn identity(&self) -> Option<&str> {
        Some(&self.id)
    }

    fn health_update(&self, status: HealthStatus) -> Option<HealthUpdate> {
        Some(HealthUpdate {
            service_id: self.service_id.clone(),
            service: self.service.clone(),
            instance_id: self.id.clone(),
            status,
        })
    }
}

fn keep(target: String, reason: KeepReason) -> Assessment {
    Assessment {
        target,
        verdict: Verdict::Decided(Decision::Keep(reason)),
        evidence: None,
    }
}

fn deregister(target: String, reason: DeleteReason, evidence: Evidence) -> Assessment {
    Assessment {
        target,
        verdict: Verdict::Decided(Decision::Delete(reason)),
        evidence: Some(evidence),
    }
}

/// Where the evidence for a namespace's instances comes from.
pub struct RegistryContext<'a> {
    pub evidence: &'a RegistryEvidence,
    /// The VPCs the namespace's hosted zone is associated with.
    pub vpcs: &'a BTreeSet<String>,
    pub scope: &'a ClusterScope,
}

/// Judges each instance from ECS and EC2 alone (the first pass of the decision
/// table, docs/cloud-map.md).
pub fn assess_instances(
    instances: &[OwnedInstance],
    context: &RegistryContext,
    settings: &PlanSettings,
    now: SystemTime,
) -> Vec<Assessment> {
    let inventory = Inventory {
        instances: context.evidence.instances.clone(),
        zone_vpcs: context.vpcs.clone(),
        ..Inventory::default()
    };
    let estate = Estate::new(&inventory);
    instances
        .iter()
        .map(|i| {
            let host = ec2_host(i, &estate, context.evidence);
            if let Some(gone) = host.filter(|h| h.state.is_gone()) {
                let evidence = Evidence::gone(gone);
                return deregister(i.target(), DeleteReason::InstanceGone, evidence);
            }
            match &i.registrar {
                Registrar::Ecs { cluster } => assess_ecs(i, cluster, context, settings, now),
                Registrar::Other => assess_other(i, host, context, settings, now),
            }
        })
        .collect()
}

/// The EC2 instance behind an instance: the one `EC2_INSTANCE_ID` names, when EC2
/// knows it (an id is unique, while its address may since belong to another
/// instance); else the instance of the namespace's VPCs with that address — the
/// live one, when a gone one still reports the address too. As for the zone's
/// records, EC2's word counts only for the namespace's VPCs. VPCs may share a
/// CIDR: an address that a network interface of another of the namespace's VPCs
/// holds as well does not say which instance registered it, so an instance found
/// by such an address is no evidence.
fn ec2_host<'a>(
    instance: &OwnedInstance,
    estate: &Estate<'a>,
    evidence: &RegistryEvidence,
) -> Option<&'a Ec2Instance> {
    let by_id = instance
        .ec2_instance_id
        .as_ref()
        .and_then(|id| estate.instance_for(&Ec2Host::Instance(id.clone())));
    by_id.or_else(|| {
        let found = estate.instance_for(&Ec2Host::Address(instance.ipv4))?;
        let vpc = found.vpc_id.as_deref();
        (!evidence.held_elsewhere(instance.ipv4, vpc)).then_some(found)
    })
}

/// An ECS-registered instance whose host is not gone: its task decides. ECS keeps
/// a stopped task visible for at least an hour after it stopped, so a task ECS
/// does not know at all has been gone for long (`task-gone`, negative); a cluster
/// that no longer exists has no tasks.
fn assess_ecs(
    instance: &OwnedInstance,
    cluster: &str,
    context: &RegistryContext,
    settings: &PlanSettings,
    now: SystemTime,
) -> Assessment {
    let target = instance.target();
    if !context.scope.includes(cluster) {
        return keep(target, KeepReason::OutOfScope);
    }
    let cluster = cluster.to_string();
    if context.evidence.clusters_gone.contains(&cluster) {
        let evidence = Evidence::ClusterGone { cluster };
        return deregister(target, DeleteReason::TaskGone, evidence);
    }
    let task = task_id(&instance.id);
    match context.evidence.tasks.get(task) {
        None => {
            let task = task.to_string();
            let evidence = Evidence::TaskMissing { task, cluster };
            deregister(target, DeleteReason::TaskGone, evidence)
        }
        Some(t) if matches!(t.last_status, TaskStatus::Stopped | TaskStatus::Deleted) => {
            deregister(target, DeleteReason::TaskStopped, Evidence::stopped(t))
        }
        Some(t) if in_grace(t, settings, now) => keep(target, KeepReason::Grace),
        Some(_) => keep(target, KeepReason::Healthy),
    }
}

/// An instance registered by anything but ECS, whose host is not gone: whether
/// any network interface of the namespace's VPCs holds the address, then the
/// health check.
fn assess_other(
    instance: &OwnedInstance,
    host: Option<&Ec2Instance>,
    context: &RegistryContext,
    settings: &PlanSettings,
    now: SystemTime,
) -> Assessment {
    let target = instance.target();
    if !context.evidence.has_address(instance.ipv4) {
        let evidence = Evidence::NoInterface {
            vpcs: context.vpcs.iter().cloned().collect(),
            ip: instance.ipv4,
        };
        return deregister(target, DeleteReason::HostUnknown, evidence);
    }
    let launched_recently = host
        .and_then(|h| h.launched_at)
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age < settings.startup_grace);
    if launched_recently {
        return keep(target, KeepReason::Grace);
    }
    match (settings.checks_off, instance.port) {
        (false, Some(port)) => Assessment {
            target,
            verdict: Verdict::Check {
                endpoint: Endpoint {
                    ip: instance.ipv4,
                    port,
                },
                task: None,
            },
            evidence: None,
        },
        // Checks off, or no port to check: nothing says it is gone.
        _ => keep(target, KeepReason::Healthy),
    }
}

/// A namespace's side of the judge: what was read of ECS, EC2 and the network
/// interfaces, and the namespace's listing (every instance by Cloud Map service,
/// for last-record protection; each one's custom health status now).
pub struct NamespaceJudge<'a> {
    pub context: RegistryContext<'a>,
    pub listing: &'a RegistryListing,
}

impl Judge for NamespaceJudge<'_> {
    type Item = OwnedInstance;

    fn assess(
        &self,
        instances: &[OwnedInstance],
        settings: &PlanSettings,
        now: SystemTime,
    ) -> Vec<Assessment> {
        assess_instances(instances, &self.context, settings, now)
    }

    /// In a service with custom health the reaper is the health checker: a failed
    /// check marks the instance, it does not deregister it.
    fn on_failed_check(&self, instance: &OwnedInstance) -> OnFailedCheck {
        let service = self.listing.service(&instance.service_id);
        match service.is_some_and(|s| s.custom_health) {
            false => OnFailedCheck::Delete,
            true => {
                let key = (instance.service_id.clone(), instance.id.clone());
                let now = self.listing.health.get(&key).copied();
                OnFailedCheck::Mark { now }
            }
        }
    }

    fn listed(&self) -> Listed<'_> {
        let mut group_counts: HashMap<String, usize> = HashMap::new();
        for r in &self.listing.instances {
            *group_counts.entry(r.service_id.clone()).or_default() += 1;
        }
        let members = self
            .listing
            .instances
            .iter()
            .map(|r| {
                let key = (r.service_id.clone(), r.id.clone());
                let now = self.listing.health.get(&key).copied();
                (r.service_id.clone(), r.id.clone(), now)
            })
            .collect();
        Listed {
            group_counts: Cow::Owned(group_counts),
            members,
        }
    }
}

/// A `task-stopped` event's decision on the stopped task's registration: the
/// namespace's judge on what the event read — the task, as ECS reports it now
/// (`task`, which ECS has confirmed STOPPED) — so the event deregisters only what a
/// sweep would (`task-stopped`, positive evidence; an instance of a cluster the
/// sweep leaves out is kept `out-of-scope`).
pub fn decide_task_stopped_instance(
    instance: OwnedInstance,
    task: &Task,
    scope: &ClusterScope,
    settings: &PlanSettings,
    now: SystemTime,
) -> Plan<OwnedInstance> {
    let evidence = RegistryEvidence {
        tasks: HashMap::from([(task_id(&instance.id).to_string(), task.clone())]),
        ..RegistryEvidence::default()
    };
    let vpcs = BTreeSet::new();
    let context = RegistryContext {
        evidence: &evidence,
        vpcs: &vpcs,
        scope,
    };
    let assessed = assess_instances(std::slice::from_ref(&instance), &context, settings, now);
    let items = assessed
        .into_iter()
        .map(|a| {
            let decision = match a.verdict {
                Verdict::Decided(d) => d,
                Verdict::Check { .. } => Decision::Keep(KeepReason::Healthy),
            };
            super::Planned {
                item: instance.clone(),
                target: a.target,
                decision,
                task: None,
                evidence: a.evidence,
            }
        })
        .collect();
    super::event_plan(items, 1, settings)
}

#[cfg(test)]
#[path = "cloud_map_tests.rs"]
mod tests;
