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

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

mod marks;

use marks::{changes, keep_one_answering};

use super::backing::in_grace;
use super::estate::Estate;
use super::policy;
use super::{Decision, DeleteReason, Evidence, KeepReason, Plan, PlanItem, PlanSettings, Planned};
use crate::classify::{OwnedInstance, Registrar};
use crate::model::cloud_map::{task_id, HealthStatus, RegistryEvidence, RegistryListing};
use crate::model::health::{Endpoint, HealthResult};
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
}

/// What [`assess_instances`] concluded for one instance before health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceVerdict {
    Decided(Decision),
    /// Not ECS-registered, its address is in use, nothing says it is gone: the
    /// check of `AWS_INSTANCE_IPV4:AWS_INSTANCE_PORT` decides.
    Check(Endpoint),
}

/// An instance's verdict, with what a decided deletion rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceAssessment {
    pub verdict: InstanceVerdict,
    pub evidence: Option<Evidence>,
}

impl From<InstanceVerdict> for InstanceAssessment {
    /// A verdict that rests on nothing said (a keep, or a check to make).
    fn from(verdict: InstanceVerdict) -> Self {
        InstanceAssessment {
            verdict,
            evidence: None,
        }
    }
}

fn deregister(reason: DeleteReason, evidence: Evidence) -> InstanceAssessment {
    InstanceAssessment {
        verdict: InstanceVerdict::Decided(Decision::Delete(reason)),
        evidence: Some(evidence),
    }
}

/// A custom health status to set (UpdateInstanceCustomHealthStatus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthUpdate {
    pub service_id: String,
    pub service: String,
    pub instance_id: String,
    pub status: HealthStatus,
}

/// A namespace's plan: the deregistrations (and what is kept or held), and the
/// custom health statuses to set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryPlan {
    pub plan: Plan<OwnedInstance>,
    pub health_updates: Vec<HealthUpdate>,
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
) -> Vec<InstanceAssessment> {
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
                return deregister(DeleteReason::InstanceGone, Evidence::gone(gone));
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
) -> InstanceAssessment {
    let keep = |reason| InstanceVerdict::Decided(Decision::Keep(reason)).into();
    if !context.scope.includes(cluster) {
        return keep(KeepReason::OutOfScope);
    }
    let cluster = cluster.to_string();
    if context.evidence.clusters_gone.contains(&cluster) {
        return deregister(DeleteReason::TaskGone, Evidence::ClusterGone { cluster });
    }
    let task = task_id(&instance.id);
    match context.evidence.tasks.get(task) {
        None => {
            let task = task.to_string();
            deregister(
                DeleteReason::TaskGone,
                Evidence::TaskMissing { task, cluster },
            )
        }
        Some(t) if matches!(t.last_status, TaskStatus::Stopped | TaskStatus::Deleted) => {
            deregister(DeleteReason::TaskStopped, Evidence::stopped(t))
        }
        Some(t) if in_grace(t, settings, now) => keep(KeepReason::Grace),
        Some(_) => keep(KeepReason::Healthy),
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
) -> InstanceAssessment {
    use InstanceVerdict::Decided;
    if !context.evidence.has_address(instance.ipv4) {
        let evidence = Evidence::NoInterface {
            vpcs: context.vpcs.iter().cloned().collect(),
            ip: instance.ipv4,
        };
        return deregister(DeleteReason::HostUnknown, evidence);
    }
    let launched_recently = host
        .and_then(|h| h.launched_at)
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age < settings.startup_grace);
    if launched_recently {
        return Decided(Decision::Keep(KeepReason::Grace)).into();
    }
    match (settings.checks_off, instance.port) {
        (false, Some(port)) => InstanceVerdict::Check(Endpoint {
            ip: instance.ipv4,
            port,
        })
        .into(),
        // Checks off, or no port to check: nothing says it is gone.
        _ => Decided(Decision::Keep(KeepReason::Healthy)).into(),
    }
}

/// The distinct endpoints the assessments need checked.
pub fn instance_endpoints(assessed: &[InstanceAssessment]) -> BTreeSet<Endpoint> {
    assessed
        .iter()
        .filter_map(|a| match &a.verdict {
            InstanceVerdict::Check(e) => Some(*e),
            InstanceVerdict::Decided(_) => None,
        })
        .collect()
}

/// Final decisions for a namespace: health results (and the custom health
/// statuses they change), then the safety rules ([`policy`]) per namespace, with
/// last-record protection per Cloud Map service.
pub fn decide_instances(
    instances: &[OwnedInstance],
    assessed: impl IntoIterator<Item = impl Into<InstanceAssessment>>,
    health: &HashMap<Endpoint, HealthResult>,
    listing: &RegistryListing,
    inventory_complete: bool,
    settings: &PlanSettings,
) -> RegistryPlan {
    let mut health_updates = Vec::new();
    let items = instances
        .iter()
        .zip(assessed)
        .map(|(instance, assessed)| {
            let assessed: InstanceAssessment = assessed.into();
            let (decision, evidence) = match assessed.verdict {
                InstanceVerdict::Decided(d) => (d, assessed.evidence),
                InstanceVerdict::Check(endpoint) => {
                    let (decision, evidence, update) =
                        checked(instance, endpoint, health.get(&endpoint), listing);
                    health_updates.extend(update);
                    (decision, evidence)
                }
            };
            Planned {
                item: instance.clone(),
                target: instance.target(),
                decision,
                task: None,
                evidence,
            }
        })
        .collect();
    let mut group_counts: HashMap<String, usize> = HashMap::new();
    for r in &listing.instances {
        *group_counts.entry(r.service_id.clone()).or_default() += 1;
    }
    let mut plan = Plan {
        items,
        guard: Default::default(),
    };
    let new_marks = health_updates
        .iter()
        .filter(|u| u.status == HealthStatus::Unhealthy)
        .count();
    policy::apply_safety_rules_marking(
        &mut plan,
        new_marks,
        inventory_complete,
        &group_counts,
        settings,
    );
    let mut plan = RegistryPlan {
        plan,
        health_updates,
    };
    if plan.plan.guard.tripped || !inventory_complete {
        plan.health_updates
            .retain(|u| u.status != HealthStatus::Unhealthy);
    } else if settings.keep_last_record {
        keep_one_answering(&mut plan, listing);
    }
    plan
}

/// One checked instance's decision, how its check failed, and the custom
/// health status to set, if the service has custom health and the check changes it.
fn checked(
    instance: &OwnedInstance,
    endpoint: Endpoint,
    result: Option<&HealthResult>,
    listing: &RegistryListing,
) -> (Decision, Option<Evidence>, Option<HealthUpdate>) {
    let failed = |failures: &Vec<String>| {
        Some(Evidence::ChecksFailed {
            endpoint,
            failures: failures.clone(),
        })
    };
    let custom = listing
        .service(&instance.service_id)
        .is_some_and(|s| s.custom_health);
    let (decision, detail, status) = match result {
        Some(HealthResult::Healthy) => (
            Decision::Keep(KeepReason::Healthy),
            None,
            HealthStatus::Healthy,
        ),
        Some(HealthResult::Unhealthy { failures }) if custom => (
            Decision::Keep(KeepReason::Unhealthy),
            failed(failures),
            HealthStatus::Unhealthy,
        ),
        Some(HealthResult::Unhealthy { failures }) => {
            let decision = Decision::Delete(DeleteReason::Unhealthy);
            return (decision, failed(failures), None);
        }
        None => return (Decision::Keep(KeepReason::Unchecked), None, None),
    };
    let now = listing
        .health
        .get(&(instance.service_id.clone(), instance.id.clone()))
        .copied();
    let update = (custom && changes(now, status)).then(|| HealthUpdate {
        service_id: instance.service_id.clone(),
        service: instance.service.clone(),
        instance_id: instance.id.clone(),
        status,
    });
    (decision, detail, update)
}

/// A `task-stopped` event's decision on the stopped task's registration, which
/// ECS has confirmed STOPPED (`task`, as ECS reports it): positive evidence,
/// deregistered.
pub fn decide_task_stopped_instance(
    instance: OwnedInstance,
    task: &Task,
    settings: &PlanSettings,
) -> RegistryPlan {
    let target = instance.target();
    let planned = Planned {
        item: instance,
        target,
        decision: Decision::Delete(DeleteReason::TaskStopped),
        task: None,
        evidence: Some(Evidence::stopped(task)),
    };
    RegistryPlan {
        plan: super::event_plan(vec![planned], 1, settings),
        health_updates: Vec::new(),
    }
}

#[cfg(test)]
#[path = "cloud_map_tests.rs"]
mod tests;
