//! One host as the events read it: an EC2 instance, every registration of it as a
//! container instance, and their tasks — the narrowed view an event hands to the
//! sweep's judge. An EC2 instance may be registered more than once (a
//! re-registered agent, a move between clusters), so a host is found by its EC2
//! instance id in every cluster (ListContainerInstances' `ec2InstanceId == …`
//! filter: one call per cluster, however large it is), never by one registration.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use aws_sdk_ecs::types::DesiredStatus;

use super::clusters::{clusters_in, unswept_clusters};
use super::ec2::{describe_instances, regional, InstanceQuery};
use super::ecs::{
    describe_all_tasks, describe_container_instances, in_batches, list_container_instances,
    list_tasks_in, Missing,
};
use super::SdkAws;
use crate::model::{ClusterScope, ContainerInstance, Inventory, Vpc};

/// The registrations of EC2 instance `instance_id` in the swept clusters, and
/// whether it is registered in a cluster `scope` leaves out.
async fn registrations_of(clients: &SdkAws, scope: &ClusterScope, instance_id: &str) -> Inventory {
    let ecs = &clients.ecs;
    let mut inventory = Inventory::default();
    let (swept, unswept) = tokio::join!(clusters_in(ecs, scope), unswept_clusters(ecs, scope));
    let (swept, unswept) = match (swept, unswept) {
        (Ok(swept), Ok(unswept)) => (swept, unswept),
        (Err(f), _) | (_, Err(f)) => {
            inventory.failures.push(f);
            return inventory;
        }
    };
    for cluster in &swept {
        let arns = match list_container_instances(ecs, cluster, Some(instance_id)).await {
            Ok(arns) => arns,
            Err(f) => {
                inventory.failures.push(f);
                continue;
            }
        };
        for batch in in_batches(&arns) {
            match describe_container_instances(ecs, cluster, batch, Missing::Failed).await {
                Ok(cis) => inventory.container_instances.extend(cis),
                Err(f) => inventory.failures.push(f),
            }
        }
    }
    for cluster in &unswept {
        match list_container_instances(ecs, cluster, Some(instance_id)).await {
            Ok(arns) if !arns.is_empty() => {
                inventory.unswept_hosts.insert(instance_id.to_string());
            }
            Ok(_) => {}
            Err(f) => inventory.failures.push(f),
        }
    }
    inventory
}

/// Adds the tasks of `desired` status of every registration in `inventory`.
async fn add_tasks(clients: &SdkAws, inventory: &mut Inventory, desired: DesiredStatus) {
    let registrations: Vec<ContainerInstance> = inventory.container_instances.clone();
    for ci in &registrations {
        let listed = list_tasks_in(&clients.ecs, &ci.cluster, Some(&ci.arn), desired.clone()).await;
        match listed {
            Ok(arns) => {
                let mut failures = Vec::new();
                let tasks = describe_all_tasks(&clients.ecs, &ci.cluster, &arns, &mut failures);
                inventory.tasks.extend(tasks.await);
                inventory.failures.append(&mut failures);
            }
            Err(f) => inventory.failures.push(f),
        }
    }
}

/// A task-stopped event's host: the EC2 instance behind the container instance the
/// task ran on, every registration of that instance and their running tasks.
pub(super) async fn read_host(
    clients: &SdkAws,
    scope: &ClusterScope,
    cluster: &str,
    ci_arn: &str,
) -> Inventory {
    let ecs = &clients.ecs;
    let ci = vec![ci_arn.to_string()];
    let this = match describe_container_instances(ecs, cluster, ci, Missing::Absent).await {
        Ok(cis) => cis,
        Err(f) => {
            return Inventory {
                failures: vec![f],
                ..Inventory::default()
            }
        }
    };
    let Some(ec2_id) = this.first().and_then(|ci| ci.ec2_instance_id.clone()) else {
        return Inventory::default();
    };
    // The registrations a sweep would read (ACTIVE or DRAINING, in the swept
    // clusters), so that the event and the sweep judge the host alike.
    let (instances, mut inventory) = tokio::join!(
        describe_instances(&clients.ec2, InstanceQuery::Id(ec2_id.clone())),
        registrations_of(clients, scope, &ec2_id)
    );
    match instances {
        Ok(i) => inventory.instances = i,
        Err(f) => inventory.failures.push(f),
    }
    add_tasks(clients, &mut inventory, DesiredStatus::Running).await;
    inventory
}

/// An instance-gone event's ECS view: the registrations of the EC2 instance in the
/// swept clusters, their tasks (running, and stopped ones ECS still lists) and the
/// tasks' definitions.
pub(super) async fn instance_tasks(
    clients: &SdkAws,
    scope: &ClusterScope,
    instance_id: &str,
) -> Inventory {
    let mut inventory = registrations_of(clients, scope, instance_id).await;
    add_tasks(clients, &mut inventory, DesiredStatus::Running).await;
    add_tasks(clients, &mut inventory, DesiredStatus::Stopped).await;
    let arns: BTreeSet<String> = inventory
        .tasks
        .iter()
        .filter_map(|t| t.task_definition_arn.clone())
        .collect();
    for arn in arns {
        match super::EstateApi::task_definition(clients, &arn).await {
            Ok(definition) => {
                inventory.task_definitions.insert(arn, definition);
            }
            Err(f) => inventory.failures.push(f),
        }
    }
    inventory
}

/// The state of one instance now, for an `EC2 Instance State-change Notification`
/// (EventBridge delivers it in the instance's own Region, the function's): the
/// instance, and every other instance that holds its private address now in any
/// Region of the zone's VPCs (`vpcs`) — a DR Region often reuses the CIDR.
pub(super) async fn read_instance(
    clients: &SdkAws,
    instance_id: &str,
    vpcs: &BTreeSet<Vpc>,
) -> Inventory {
    let mut inventory = Inventory::default();
    match describe_instances(&clients.ec2, InstanceQuery::Id(instance_id.to_string())).await {
        Ok(found) => inventory.instances = found,
        Err(f) => {
            inventory.failures.push(f);
            return inventory;
        }
    }
    let address: Option<Ipv4Addr> = inventory
        .instances
        .iter()
        .find(|i| i.id == instance_id)
        .and_then(|i| {
            i.private_ip
                .or_else(|| i.private_dns.as_ref()?.embedded_ip())
        });
    if let Some(ip) = address {
        let mut holders = read_holders(clients, &[ip], vpcs).await;
        holders.instances.retain(|h| h.id != instance_id);
        inventory.instances.append(&mut holders.instances);
        inventory.failures.append(&mut holders.failures);
    }
    inventory
}

/// The instances that hold any of `addresses` now, in every Region of `vpcs`.
pub(super) async fn read_holders(
    clients: &SdkAws,
    addresses: &[Ipv4Addr],
    vpcs: &BTreeSet<Vpc>,
) -> Inventory {
    let mut inventory = Inventory::default();
    if addresses.is_empty() {
        return inventory;
    }
    let found = clients
        .in_regions(vpcs, |ec2, region, _| async move {
            let query = InstanceQuery::Addresses(addresses.to_vec());
            describe_instances(&ec2, query).await.map_err(|mut f| {
                f.call = regional(&f.call, &region);
                f
            })
        })
        .await;
    for holders in found {
        match holders {
            Ok(mut holders) => inventory.instances.append(&mut holders),
            Err(f) => inventory.failures.push(f),
        }
    }
    inventory
}
