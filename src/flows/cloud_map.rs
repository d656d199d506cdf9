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
use crate::decide::NamespaceJudge;
use crate::model::cloud_map::{task_id, Registration, RegistryListing, SweptNamespace};
use crate::model::{vpc_ids, ClusterScope, ReadFailure, Task, TaskStatus, TaskStoppedEvent};
use crate::progress::Phase;
use crate::report::{NamespaceRan, Ran, RecordCounts, Swept};

use super::{Halt, Run};

/// Why a namespace's entry is incomplete when the deadline came before its reads
/// finished.
const READS_OUT_OF_TIME: &str = "deadline near: Cloud Map or inventory reads did not finish in time; nothing was decided or deregistered in this namespace";

/// Sweeps every configured namespace: one [`NamespaceRan`] each, in
/// configuration order. The deadline never drops an entry nor undoes what the
/// zone's sweep did: a namespace not resolved or not read in time gets an entry
/// with `complete: false` that says so, and the sweep goes on.
pub async fn sweep_namespaces<A: Aws>(run: &Run<'_, A>) -> Ran {
    let deps = run.deps;
    let mut ran = Ran::new();
    let Ok(resolved) = run.within(deps.namespaces()).await else {
        for configured in &deps.config.cloud_map_namespaces {
            let mut swept = Swept::default();
            swept.incomplete(
                "deadline near: the namespace was not resolved in time; nothing in it was decided or deregistered",
            );
            ran.namespaces.push(unresolved(configured, swept));
        }
        ran.errors.push(
            "deadline near: the Cloud Map namespaces were not resolved in time (see cloud_map)"
                .to_string(),
        );
        return ran;
    };
    for (configured, namespace) in resolved {
        let namespace = match namespace {
            Ok(namespace) => namespace,
            Err(why) => {
                tracing::error!(namespace = %configured, %why, "Cloud Map namespace not swept");
                let mut swept = Swept::default();
                swept.incomplete(why.to_string());
                ran.namespaces.push(unresolved(&configured, swept));
                continue;
            }
        };
        let swept = match sweep_namespace(run, &namespace).await {
            Ok(swept) => swept,
            Err(halt) => {
                let mut swept = Swept::default();
                swept.incomplete(READS_OUT_OF_TIME);
                if !matches!(halt, Halt::OutOfTime) {
                    tracing::error!(?halt, "Cloud Map namespace halted");
                }
                ran.errors.push(format!(
                    "deadline near: Cloud Map namespace {} was not swept to the end (see cloud_map)",
                    namespace.namespace.name
                ));
                swept
            }
        };
        ran.namespaces.push(resolved_entry(&namespace, swept));
    }
    ran
}

/// One namespace. Its listing happens-before the ECS and EC2 reads it is judged
/// against, as for the zone.
async fn sweep_namespace<A: Aws>(
    run: &Run<'_, A>,
    namespace: &SweptNamespace,
) -> Result<Swept<OwnedInstance>, Halt> {
    let deps = run.deps;
    let list = deps.aws.registry(&namespace.namespace.id);
    let listing = run.within(run.timed(Phase::Listing, list)).await?;
    let owned = owned_instances(&listing, namespace.namespace.owner.as_deref());
    let counts = RecordCounts {
        scanned: listing.instances.len(),
        owned: owned.len(),
        foreign: listing.instances.len() - owned.len(),
    };
    let scope = deps.cluster_scope();
    let tasks = ecs_tasks(&owned, &scope);
    let read = deps.aws.registry_evidence(&tasks, &namespace.vpcs);
    let evidence = run.within(run.timed(Phase::Inventory, read)).await?;
    let failures = listing.failures.iter().chain(&evidence.failures);
    let errors: Vec<String> = failures.map(ToString::to_string).collect();

    let vpcs = vpc_ids(&namespace.vpcs);
    let context = RegistryContext {
        evidence: &evidence,
        vpcs: &vpcs,
        scope: &scope,
    };
    let judge = NamespaceJudge {
        context,
        listing: &listing,
    };
    let complete = errors.is_empty();
    let judged = run
        .judge_and_write(&judge, namespace, &owned, complete)
        .await;
    let mut all = errors;
    all.extend(judged.errors);
    Ok(Swept {
        counts,
        errors: all,
        ..judged
    })
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
/// Each registration goes through the namespace's judge on what the event read. A
/// task ECS no longer shows is left to the sweep (`task-gone`, negative).
pub async fn deregister_stopped_task<A: Aws>(
    run: &Run<'_, A>,
    detail: &TaskStoppedEvent,
    task: Option<&Task>,
) -> Result<Ran, Halt> {
    let deps = run.deps;
    let mut ran = Ran::new();
    let stopped = task.filter(|t| t.last_status == TaskStatus::Stopped);
    let (Some(ecs_service), Some(stopped)) = (detail.ecs_service.as_deref(), stopped) else {
        return Ok(ran);
    };
    if deps.config.cloud_map_namespaces.is_empty() {
        return Ok(ran);
    }
    let read = deps
        .aws
        .service_registries(&detail.cluster_arn, ecs_service);
    let registries = run
        .within(run.timed(Phase::Inventory, read))
        .await?
        .map_err(|f| Halt::Unconfirmed(vec![f]))?;
    if registries.is_empty() {
        return Ok(ran);
    }
    let namespaces = swept_namespaces(run, &mut ran).await?;
    let mut entries: BTreeMap<String, NamespaceRan> = BTreeMap::new();
    for service_id in registries {
        let found = run
            .within(stopped_instance(run, &service_id, detail))
            .await?;
        let (namespace_id, service, registration) = match found {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(failure) => {
                ran.incomplete(failure.to_string());
                continue;
            }
        };
        let Some(namespace) = namespaces.get(&namespace_id) else {
            tracing::debug!(%namespace_id, "the task's Cloud Map service is in a namespace not swept");
            continue;
        };
        let entry = entries
            .entry(namespace_id)
            .or_insert_with(|| resolved_entry(namespace, Swept::default()));
        let owner = namespace.namespace.owner.as_deref();
        let swept = &mut entry.swept;
        swept.counts.scanned += 1;
        let Some(instance) = OwnedInstance::classify(&registration, &service, owner) else {
            swept.counts.foreign += 1;
            continue;
        };
        swept.counts.owned += 1;
        let (scope, settings) = (deps.cluster_scope(), deps.plan_settings());
        let now = std::time::SystemTime::now();
        let plan = decide::decide_task_stopped_instance(instance, stopped, &scope, &settings, now);
        let written = run.write(namespace, &plan).await;
        swept.add(plan, written);
    }
    ran.namespaces.extend(entries.into_values());
    Ok(ran)
}

/// The entry of a namespace resolved.
fn resolved_entry(namespace: &SweptNamespace, swept: Swept<OwnedInstance>) -> NamespaceRan {
    NamespaceRan {
        namespace: namespace.namespace.name.clone(),
        namespace_id: Some(namespace.namespace.id.clone()),
        swept,
    }
}

/// The entry of a `CLOUD_MAP_NAMESPACES` entry not resolved.
fn unresolved(configured: &str, swept: Swept<OwnedInstance>) -> NamespaceRan {
    NamespaceRan {
        namespace: configured.to_string(),
        namespace_id: None,
        swept,
    }
}

/// The configured namespaces that resolve, by id; why the others do not goes
/// into `ran`.
async fn swept_namespaces<A: Aws>(
    run: &Run<'_, A>,
    ran: &mut Ran,
) -> Result<HashMap<String, SweptNamespace>, Halt> {
    let mut swept = HashMap::new();
    for (_, namespace) in run.within(run.deps.namespaces()).await? {
        match namespace {
            Ok(n) => {
                swept.insert(n.namespace.id.clone(), n);
            }
            Err(why) => ran.incomplete(why.to_string()),
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
