//! The swept clusters as a sweep reads them: which clusters are swept and which
//! are left out, every container instance and task in the swept ones, the stopped
//! tasks ECS still lists on the registrations of gone hosts, and each task
//! definition once.

use std::collections::BTreeSet;

use aws_sdk_ecs::types::DesiredStatus;
use futures::stream::{self, StreamExt};

use super::ecs::{
    describe_all_tasks, describe_container_instances, describe_task_definition, in_batches,
    list_container_instances, list_tasks, list_tasks_in, Missing, LIST_PAGE, READ_CONCURRENCY,
};
use super::{failure, paginate};
use crate::model::{ClusterScope, ContainerInstance, Inventory, ReadFailure, Task};

/// Distinct task definitions described at once.
const TASK_DEFINITION_CONCURRENCY: usize = 8;

/// The clusters to read: those named, or every cluster of the account and Region.
pub(super) async fn clusters_in(
    ecs: &aws_sdk_ecs::Client,
    scope: &ClusterScope,
) -> Result<Vec<String>, ReadFailure> {
    match scope {
        ClusterScope::Named(names) => Ok(names.clone()),
        ClusterScope::All => list_clusters(ecs).await,
    }
}

pub(super) async fn read_clusters(
    ecs: &aws_sdk_ecs::Client,
    scope: &ClusterScope,
    gone: &BTreeSet<String>,
) -> Inventory {
    let mut inventory = Inventory::default();
    let (clusters, unswept) = tokio::join!(clusters_in(ecs, scope), unswept_hosts(ecs, scope));
    match unswept {
        Ok(hosts) => inventory.unswept_hosts = hosts,
        Err(f) => inventory.failures.push(f),
    }
    let clusters = match clusters {
        Ok(clusters) => clusters,
        Err(f) => {
            inventory.failures.push(f);
            return inventory;
        }
    };
    let per_cluster: Vec<_> = stream::iter(clusters)
        .map(|c| async move { read_cluster(ecs, &c).await })
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    for (container_instances, tasks, mut failures) in per_cluster {
        inventory.container_instances.extend(container_instances);
        inventory.tasks.extend(tasks);
        inventory.failures.append(&mut failures);
    }
    stopped_on_gone_hosts(ecs, gone, &mut inventory).await;

    describe_definitions(ecs, &mut inventory).await;
    inventory
}

/// The clusters of the account and Region that `scope` leaves out (none when it
/// takes them all).
pub(super) async fn unswept_clusters(
    ecs: &aws_sdk_ecs::Client,
    scope: &ClusterScope,
) -> Result<Vec<String>, ReadFailure> {
    match scope {
        ClusterScope::All => Ok(Vec::new()),
        ClusterScope::Named(_) => Ok(list_clusters(ecs)
            .await?
            .into_iter()
            .filter(|arn| !scope.includes(cluster_name(arn)))
            .collect()),
    }
}

/// `arn:aws:ecs:…:cluster/web` → `web`.
fn cluster_name(arn: &str) -> &str {
    arn.rsplit_once(":cluster/").map_or(arn, |(_, name)| name)
}

/// The EC2 instances registered (ACTIVE or DRAINING) in a cluster that `scope`
/// leaves out: a host that moved to such a cluster may still have an ACTIVE
/// registration in a swept one, and its tasks there are never read.
async fn unswept_hosts(
    ecs: &aws_sdk_ecs::Client,
    scope: &ClusterScope,
) -> Result<BTreeSet<String>, ReadFailure> {
    let mut hosts = BTreeSet::new();
    for cluster in unswept_clusters(ecs, scope).await? {
        let arns = list_container_instances(ecs, &cluster, None).await?;
        for batch in in_batches(&arns) {
            let described =
                describe_container_instances(ecs, &cluster, batch, Missing::Failed).await?;
            hosts.extend(described.into_iter().filter_map(|ci| ci.ec2_instance_id));
        }
    }
    Ok(hosts)
}

/// Adds the stopped tasks ECS still lists (for at least an hour) on the
/// registrations of EC2 instances EC2 reports gone: a record carrying one of their
/// container ids is that instance's, even after EC2 forgot its address.
async fn stopped_on_gone_hosts(
    ecs: &aws_sdk_ecs::Client,
    gone: &BTreeSet<String>,
    inventory: &mut Inventory,
) {
    let registrations: Vec<(String, String)> = inventory
        .container_instances
        .iter()
        .filter(|ci| {
            ci.ec2_instance_id
                .as_ref()
                .is_some_and(|id| gone.contains(id))
        })
        .map(|ci| (ci.cluster.clone(), ci.arn.clone()))
        .collect();
    for (cluster, arn) in registrations {
        match list_tasks_in(ecs, &cluster, Some(&arn), DesiredStatus::Stopped).await {
            Ok(arns) => {
                let mut failures = Vec::new();
                let tasks = describe_all_tasks(ecs, &cluster, &arns, &mut failures).await;
                inventory.tasks.extend(tasks);
                inventory.failures.append(&mut failures);
            }
            Err(f) => inventory.failures.push(f),
        }
    }
}

/// Describes each distinct task definition of the inventory's tasks once.
pub(super) async fn describe_definitions(ecs: &aws_sdk_ecs::Client, inventory: &mut Inventory) {
    let definitions: BTreeSet<String> = inventory
        .tasks
        .iter()
        .filter_map(|t| t.task_definition_arn.clone())
        .filter(|arn| !inventory.task_definitions.contains_key(arn))
        .collect();
    let described: Vec<_> = stream::iter(definitions)
        .map(|arn| async move {
            let result = describe_task_definition(ecs, &arn).await;
            (arn, result)
        })
        .buffer_unordered(TASK_DEFINITION_CONCURRENCY)
        .collect()
        .await;
    for (arn, result) in described {
        match result {
            Ok(def) => {
                inventory.task_definitions.insert(arn, def);
            }
            Err(f) => inventory.failures.push(f),
        }
    }
}

async fn list_clusters(ecs: &aws_sdk_ecs::Client) -> Result<Vec<String>, ReadFailure> {
    paginate("ecs:ListClusters", |token| async move {
        let page = ecs
            .list_clusters()
            .max_results(LIST_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure("ecs:ListClusters", e))?;
        Ok((
            page.cluster_arns().to_vec(),
            page.next_token().map(String::from),
        ))
    })
    .await
}

/// Reads one cluster. A cluster named in `ECS_CLUSTERS` that does not exist shows
/// up here as ListContainerInstances' `ClusterNotFoundException`.
async fn read_cluster(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> (Vec<ContainerInstance>, Vec<Task>, Vec<ReadFailure>) {
    let mut failures = Vec::new();
    let (instance_arns, task_arns) = tokio::join!(
        list_container_instances(ecs, cluster, None),
        list_tasks(ecs, cluster, None)
    );
    let mut container_instances = Vec::new();
    match instance_arns {
        Ok(arns) => {
            let batches: Vec<_> = stream::iter(in_batches(&arns))
                .map(|batch| describe_container_instances(ecs, cluster, batch, Missing::Failed))
                .buffered(READ_CONCURRENCY)
                .collect()
                .await;
            for batch in batches {
                match batch {
                    Ok(mut cis) => container_instances.append(&mut cis),
                    Err(f) => failures.push(f),
                }
            }
        }
        Err(f) => failures.push(f),
    }
    let tasks = match task_arns {
        Ok(arns) => describe_all_tasks(ecs, cluster, &arns, &mut failures).await,
        Err(f) => {
            failures.push(f);
            Vec::new()
        }
    };
    (container_instances, tasks, failures)
}
