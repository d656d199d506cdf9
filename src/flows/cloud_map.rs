//! Cloud Map namespaces: a sweep of each configured namespace (list, read ECS
//! and EC2, check, decide, deregister and mark), and the deregistration a
//! `task-stopped` event makes when ECS has not.
//!
//! The reaper acts through Cloud Map only: Cloud Map writes the namespace's
//! Route 53 records, and Route 53 refuses direct changes to them.

use std::collections::{BTreeMap, HashMap};

use crate::aws::Aws;
use crate::classify::{OwnedInstance, Registrar};
use crate::decide::cloud_map::{self as decide, RegistryContext};
use crate::decide::endpoints;
use crate::model::cloud_map::{task_id, Registration, RegistryListing, SweptNamespace};
use crate::model::{vpc_ids, ClusterScope, ReadFailure, Task, TaskStatus, TaskStoppedEvent};
use crate::progress::Phase;
use crate::report::cloud_map::NamespaceReport;
use crate::report::{RecordCounts, Report};

use super::{Halt, Run};

/// Why a namespace's entry is incomplete when the deadline came before its reads
/// finished.
const READS_OUT_OF_TIME: &str = "deadline near: Cloud Map or inventory reads did not finish in time; nothing was decided or deregistered in this namespace";

/// Sweeps every configured namespace, one entry each in the report's `cloud_map`.
/// The deadline never drops an entry nor undoes what the zone's sweep did: a
/// namespace not resolved or not read in time gets an entry with `complete:
/// false` that says so, and the sweep goes on (nothing is returned as
/// [`Halt::OutOfTime`]).
pub async fn sweep_namespaces<A: Aws>(run: &Run<'_, A>, report: &mut Report) -> Result<(), Halt> {
    let deps = run.deps;
    let limit = deps.config.max_delete_percent;
    let Ok(resolved) = run.within(deps.namespaces()).await else {
        for configured in &deps.config.cloud_map_namespaces {
            let mut entry = NamespaceReport::new(configured, limit);
            entry.incomplete(
                "deadline near: the namespace was not resolved in time; nothing in it was decided or deregistered",
            );
            report.add_namespace(entry);
        }
        report.errors.push(
            "deadline near: the Cloud Map namespaces were not resolved in time (see cloud_map)"
                .to_string(),
        );
        return Ok(());
    };
    for (configured, namespace) in resolved {
        let entry = match namespace {
            Err(why) => {
                tracing::error!(namespace = %configured, %why, "Cloud Map namespace not swept");
                let mut entry = NamespaceReport::new(&configured, limit);
                entry.incomplete(why.to_string());
                entry
            }
            Ok(namespace) => {
                let mut entry = namespace_entry(&namespace, limit);
                match sweep_namespace(run, &namespace, &mut entry).await {
                    Ok(()) => {}
                    Err(Halt::OutOfTime) => {
                        entry.incomplete(READS_OUT_OF_TIME);
                        report.errors.push(format!(
                            "deadline near: Cloud Map namespace {} was not swept to the end (see cloud_map)",
                            namespace.namespace.name
                        ));
                    }
                    Err(other) => return Err(other),
                }
                entry
            }
        };
        report.add_namespace(entry);
    }
    Ok(())
}

/// One namespace. Its listing happens-before the ECS and EC2 reads it is judged
/// against, as for the zone.
async fn sweep_namespace<A: Aws>(
    run: &Run<'_, A>,
    namespace: &SweptNamespace,
    entry: &mut NamespaceReport,
) -> Result<(), Halt> {
    let deps = run.deps;
    let list = deps.aws.registry(&namespace.namespace.id);
    let listing = run.within(run.timed(Phase::Listing, list)).await?;
    let owned = owned_instances(&listing, namespace.namespace.owner.as_deref());
    entry.instances = RecordCounts {
        scanned: listing.instances.len(),
        owned: owned.len(),
        foreign: listing.instances.len() - owned.len(),
    };
    let scope = deps.cluster_scope();
    let tasks = ecs_tasks(&owned, &scope);
    let read = deps.aws.registry_evidence(&tasks, &namespace.vpcs);
    let evidence = run.within(run.timed(Phase::Inventory, read)).await?;
    let failures = listing.failures.iter().chain(&evidence.failures);
    entry.errors.extend(failures.map(ToString::to_string));

    let settings = deps.plan_settings();
    let vpcs = vpc_ids(&namespace.vpcs);
    let context = RegistryContext {
        evidence: &evidence,
        vpcs: &vpcs,
        scope: &scope,
    };
    let assessed =
        decide::assess_instances(&owned, &context, &settings, std::time::SystemTime::now());
    let (health, unchecked) = run.check_before_deadline(&endpoints(&assessed)).await;
    if let Some(why) = unchecked {
        entry.incomplete(why);
    }
    let complete = listing.failures.is_empty() && evidence.failures.is_empty();
    let plan = decide::decide_instances(&owned, assessed, &health, &listing, complete, &settings);
    if plan.guard.tripped {
        tracing::error!(
            namespace = %namespace.namespace.name,
            negative = plan.guard.negative,
            owned = plan.guard.owned,
            limit_percent = plan.guard.limit_percent,
            "mass-deletion guard tripped: no negative-evidence deregistration made"
        );
    }
    let written = run.write(namespace, &plan).await;
    entry.record(&plan, &written);
    Ok(())
}

/// The listing's owned instances, with their service's name.
fn owned_instances(listing: &RegistryListing, owner: Option<&str>) -> Vec<OwnedInstance> {
    listing
        .instances
        .iter()
        .filter_map(|r| {
            let service = listing.service(&r.service_id).map(|s| s.name.as_str());
            OwnedInstance::classify(r, service.unwrap_or(&r.service_id), owner)
        })
        .collect()
}

/// The task ids ECS registered, by `ECS_CLUSTER_NAME`, in the swept clusters
/// (an instance of another cluster is kept out of scope without a read).
fn ecs_tasks(owned: &[OwnedInstance], scope: &ClusterScope) -> BTreeMap<String, Vec<String>> {
    let mut tasks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for instance in owned {
        if let Registrar::Ecs { cluster } = &instance.registrar {
            if scope.includes(cluster) {
                tasks
                    .entry(cluster.clone())
                    .or_default()
                    .push(task_id(&instance.id).to_string());
            }
        }
    }
    tasks
}

/// `ECS Task State Change` to STOPPED: when ECS reports the task STOPPED,
/// deregisters its instance from each Cloud Map service its ECS service registers
/// into, when that service is in a configured namespace and the instance is still
/// registered (ECS deregisters its tasks itself, but not when it was interrupted).
/// A task ECS no longer shows is left to the sweep (`task-gone`, negative).
pub async fn deregister_stopped_task<A: Aws>(
    run: &Run<'_, A>,
    detail: &TaskStoppedEvent,
    task: Option<&Task>,
    report: &mut Report,
) -> Result<(), Halt> {
    let deps = run.deps;
    let stopped = task.filter(|t| t.last_status == TaskStatus::Stopped);
    let (Some(ecs_service), Some(stopped)) = (detail.ecs_service.as_deref(), stopped) else {
        return Ok(());
    };
    if deps.config.cloud_map_namespaces.is_empty() {
        return Ok(());
    }
    let read = deps
        .aws
        .service_registries(&detail.cluster_arn, ecs_service);
    let registries = run
        .within(run.timed(Phase::Inventory, read))
        .await?
        .map_err(|f| Halt::Unconfirmed(vec![f]))?;
    if registries.is_empty() {
        return Ok(());
    }
    let namespaces = swept_namespaces(run, report).await?;
    let mut entries: BTreeMap<String, NamespaceReport> = BTreeMap::new();
    for service_id in registries {
        let found = run
            .within(stopped_instance(run, &service_id, detail))
            .await?;
        let (namespace_id, service, registration) = match found {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(failure) => {
                report.incomplete(failure.to_string());
                continue;
            }
        };
        let Some(namespace) = namespaces.get(&namespace_id) else {
            tracing::debug!(%namespace_id, "the task's Cloud Map service is in a namespace not swept");
            continue;
        };
        let entry = entries
            .entry(namespace_id)
            .or_insert_with(|| namespace_entry(namespace, deps.config.max_delete_percent));
        let owner = namespace.namespace.owner.as_deref();
        entry.instances.scanned += 1;
        match OwnedInstance::classify(&registration, &service, owner) {
            Some(instance) => {
                entry.instances.owned += 1;
                let (scope, settings) = (deps.cluster_scope(), deps.plan_settings());
                let now = std::time::SystemTime::now();
                let plan =
                    decide::decide_task_stopped_instance(instance, stopped, &scope, &settings, now);
                let written = run.write(namespace, &plan).await;
                entry.record(&plan, &written);
            }
            None => entry.instances.foreign += 1,
        }
    }
    for entry in entries.into_values() {
        report.add_namespace(entry);
    }
    Ok(())
}

fn namespace_entry(namespace: &SweptNamespace, limit_percent: u8) -> NamespaceReport {
    let mut entry = NamespaceReport::new(&namespace.namespace.name, limit_percent);
    entry.namespace_id = Some(namespace.namespace.id.clone());
    entry
}

/// The configured namespaces that resolve, by id; why the others do not goes
/// into the report.
async fn swept_namespaces<A: Aws>(
    run: &Run<'_, A>,
    report: &mut Report,
) -> Result<HashMap<String, SweptNamespace>, Halt> {
    let mut swept = HashMap::new();
    for (_, namespace) in run.within(run.deps.namespaces()).await? {
        match namespace {
            Ok(n) => {
                swept.insert(n.namespace.id.clone(), n);
            }
            Err(why) => report.incomplete(why.to_string()),
        }
    }
    Ok(swept)
}

/// The stopped task's registration in one Cloud Map service, with the service's
/// namespace id and name; `None` when the service or the registration is not there.
async fn stopped_instance<A: Aws>(
    run: &Run<'_, A>,
    service_id: &str,
    detail: &TaskStoppedEvent,
) -> Result<Option<(String, String, Registration)>, ReadFailure> {
    let aws = &run.deps.aws;
    let Some((namespace_id, service)) = aws.cloud_map_service(service_id).await? else {
        return Ok(None);
    };
    let read = aws.registration(&service.id, task_id(&detail.task_arn));
    let registration = run.timed(Phase::Inventory, read).await?;
    Ok(registration.map(|r| (namespace_id, service.name, r)))
}
