//! [`SdkAws`]: the real clients behind the seams, built once per process.

use std::collections::BTreeSet;

use tokio::time::Instant;

use super::changes::delete_records;
use super::ec2::{describe_instances, InstanceQuery};
use super::ecs::{
    describe_all_tasks, describe_container_instances, describe_definitions, describe_tasks,
    list_tasks, read_clusters, stop_tasks,
};
use super::route53::{find_zone_by_name, list_zone, zone_vpcs, Listing, ZoneError};
use super::{EstateApi, ZoneApi};
use crate::model::{
    ClusterScope, Ec2Instance, Inventory, ReadFailure, RecordSet, Task, TaskRef, WriteOutcome,
};

/// The Route 53, ECS and EC2 clients.
#[derive(Debug, Clone)]
pub struct SdkAws {
    pub route53: aws_sdk_route53::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
}

impl SdkAws {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        SdkAws {
            route53: aws_sdk_route53::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
        }
    }
}

impl ZoneApi for SdkAws {
    async fn find_zone(&self, namespace: &str) -> Result<String, ZoneError> {
        find_zone_by_name(&self.route53, namespace).await
    }

    async fn zone_vpcs(&self, zone_id: &str) -> Result<BTreeSet<String>, ZoneError> {
        zone_vpcs(&self.route53, zone_id).await
    }

    async fn list_zone(&self, zone_id: &str) -> Listing {
        list_zone(&self.route53, zone_id).await
    }

    async fn delete_records(
        &self,
        zone_id: &str,
        sets: &[RecordSet],
        stop_at: Option<Instant>,
    ) -> Vec<WriteOutcome> {
        delete_records(&self.route53, zone_id, sets, stop_at).await
    }
}

impl EstateApi for SdkAws {
    async fn instances(&self) -> Result<Vec<Ec2Instance>, ReadFailure> {
        describe_instances(&self.ec2, InstanceQuery::All).await
    }

    async fn clusters(&self, scope: &ClusterScope) -> Inventory {
        read_clusters(&self.ecs, scope).await
    }

    async fn around_task(
        &self,
        cluster: &str,
        task_arn: &str,
        container_instance: Option<&str>,
    ) -> (Option<Task>, Inventory) {
        read_around_task(self, cluster, task_arn, container_instance).await
    }

    async fn instance(&self, instance_id: &str) -> Inventory {
        read_instance(self, instance_id).await
    }

    async fn stop_tasks(&self, tasks: &[TaskRef]) -> (Vec<String>, Vec<String>) {
        stop_tasks(&self.ecs, tasks).await
    }
}

/// The state around one task now, for an `ECS Task State Change` event: the task
/// as ECS describes it (`None` when ECS no longer knows it), and the container
/// instance it ran on with its EC2 instance, running tasks and their definitions.
async fn read_around_task(
    clients: &SdkAws,
    cluster: &str,
    task_arn: &str,
    container_instance_hint: Option<&str>,
) -> (Option<Task>, Inventory) {
    let ecs = &clients.ecs;
    let mut inventory = Inventory::default();
    let task = match describe_tasks(ecs, cluster, vec![task_arn.to_string()]).await {
        Ok(mut tasks) => tasks.pop(),
        Err(f) => {
            inventory.failures.push(f);
            return (None, inventory);
        }
    };
    let ci_arn = task
        .as_ref()
        .and_then(|t| t.container_instance_arn.clone())
        .or_else(|| container_instance_hint.map(String::from));
    let Some(ci_arn) = ci_arn else {
        return (task, inventory);
    };
    match describe_container_instances(ecs, cluster, vec![ci_arn.clone()]).await {
        Ok(cis) => inventory.container_instances = cis,
        Err(f) => inventory.failures.push(f),
    }
    let ec2_id = inventory
        .container_instances
        .first()
        .and_then(|ci| ci.ec2_instance_id.clone());
    let (instances, arns) = tokio::join!(
        async {
            match ec2_id {
                Some(id) => describe_instances(&clients.ec2, InstanceQuery::Id(id)).await,
                None => Ok(Vec::new()),
            }
        },
        list_tasks(ecs, cluster, Some(&ci_arn))
    );
    match instances {
        Ok(i) => inventory.instances = i,
        Err(f) => inventory.failures.push(f),
    }
    match arns {
        Ok(arns) => {
            let mut failures = Vec::new();
            inventory.tasks = describe_all_tasks(ecs, cluster, &arns, &mut failures).await;
            inventory.failures.append(&mut failures);
        }
        Err(f) => inventory.failures.push(f),
    }
    describe_definitions(ecs, &mut inventory).await;
    (task, inventory)
}

/// The state of one instance now, for an `EC2 Instance State-change Notification`:
/// the instance, and any other instance that holds its private address now.
async fn read_instance(clients: &SdkAws, instance_id: &str) -> Inventory {
    let mut inventory = Inventory::default();
    match describe_instances(&clients.ec2, InstanceQuery::Id(instance_id.to_string())).await {
        Ok(found) => inventory.instances = found,
        Err(f) => {
            inventory.failures.push(f);
            return inventory;
        }
    }
    let address = inventory
        .instances
        .iter()
        .find(|i| i.id == instance_id)
        .and_then(|i| {
            i.private_ip
                .or_else(|| i.private_dns.as_ref()?.embedded_ip())
        });
    if let Some(ip) = address {
        match describe_instances(&clients.ec2, InstanceQuery::Address(ip)).await {
            Ok(holders) => inventory
                .instances
                .extend(holders.into_iter().filter(|h| h.id != instance_id)),
            Err(f) => inventory.failures.push(f),
        }
    }
    inventory
}
