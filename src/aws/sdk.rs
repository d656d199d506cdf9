//! [`SdkAws`]: the real clients behind the seams, built once per process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_ecs::types::DesiredStatus;
use tokio::time::Instant;

use super::changes::delete_records;
use super::ec2::{describe_instances, InstanceQuery};
use super::ecs::{
    clusters_in, describe_all_tasks, describe_container_instances, describe_task_definition,
    describe_tasks, in_batches, list_container_instances, list_tasks, list_tasks_in, read_clusters,
    stop_tasks,
};
use super::route53::{find_zone_by_name, list_name, list_zone, zone_info, Listing, ZoneError};
use super::{cloud_map, deregistration, evidence, EstateApi, RegistryApi, ZoneApi};
use crate::model::cloud_map::{
    CloudMapService, HealthStatus, Namespace, Registration, RegistryEvidence, RegistryListing,
};
use crate::model::{
    ClusterScope, Ec2Instance, Inventory, ReadFailure, RecordSet, Task, TaskDefinition, TaskRef,
    WriteOutcome, ZoneInfo,
};

/// The Route 53, ECS, EC2 and Cloud Map clients, and the task definitions described so far
/// (they are immutable: described once per process).
#[derive(Debug, Clone)]
pub struct SdkAws {
    pub route53: aws_sdk_route53::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub servicediscovery: aws_sdk_servicediscovery::Client,
    definitions: Arc<Mutex<HashMap<String, TaskDefinition>>>,
}

impl SdkAws {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        SdkAws {
            route53: aws_sdk_route53::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            servicediscovery: aws_sdk_servicediscovery::Client::new(sdk),
            definitions: Arc::default(),
        }
    }
}

impl ZoneApi for SdkAws {
    async fn find_zone(&self, namespace: &str) -> Result<String, ZoneError> {
        find_zone_by_name(&self.route53, namespace).await
    }

    async fn zone_info(&self, zone_id: &str) -> Result<ZoneInfo, ZoneError> {
        zone_info(&self.route53, zone_id).await
    }

    async fn list_zone(&self, zone_id: &str) -> Listing {
        list_zone(&self.route53, zone_id).await
    }

    async fn list_names(&self, zone_id: &str, names: &[String]) -> Listing {
        let mut listing = Listing::default();
        for name in names {
            let mut one = list_name(&self.route53, zone_id, name).await;
            listing.records.append(&mut one.records);
            listing.pages += one.pages;
            if one.failure.is_some() {
                listing.failure = one.failure;
                break;
            }
        }
        listing
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

impl RegistryApi for SdkAws {
    async fn namespaces(&self) -> Result<Vec<Namespace>, ReadFailure> {
        cloud_map::list_namespaces(&self.servicediscovery).await
    }

    async fn registry(&self, namespace_id: &str) -> RegistryListing {
        cloud_map::list_registry(&self.servicediscovery, namespace_id).await
    }

    async fn registry_evidence(
        &self,
        tasks: &BTreeMap<String, Vec<String>>,
        vpcs: &BTreeSet<String>,
    ) -> RegistryEvidence {
        evidence::read_evidence(&self.ecs, &self.ec2, tasks, vpcs).await
    }

    async fn deregister(
        &self,
        instances: &[(String, String)],
        stop_at: Option<Instant>,
    ) -> Vec<WriteOutcome> {
        deregistration::deregister_all(&self.servicediscovery, instances, stop_at).await
    }

    async fn set_health(
        &self,
        service_id: &str,
        instance_id: &str,
        status: HealthStatus,
    ) -> Result<(), String> {
        cloud_map::set_health(&self.servicediscovery, service_id, instance_id, status).await
    }

    async fn service_registries(
        &self,
        cluster: &str,
        ecs_service: &str,
    ) -> Result<Vec<String>, ReadFailure> {
        evidence::service_registries(&self.ecs, cluster, ecs_service).await
    }

    async fn cloud_map_service(
        &self,
        service_id: &str,
    ) -> Result<Option<(String, CloudMapService)>, ReadFailure> {
        cloud_map::service(&self.servicediscovery, service_id).await
    }

    async fn registration(
        &self,
        service_id: &str,
        instance_id: &str,
    ) -> Result<Option<Registration>, ReadFailure> {
        cloud_map::instance(&self.servicediscovery, service_id, instance_id).await
    }
}

impl EstateApi for SdkAws {
    async fn instances(&self) -> Result<Vec<Ec2Instance>, ReadFailure> {
        describe_instances(&self.ec2, InstanceQuery::All).await
    }

    async fn clusters(&self, scope: &ClusterScope) -> Inventory {
        read_clusters(&self.ecs, scope).await
    }

    async fn task(&self, cluster: &str, task_arn: &str) -> Result<Option<Task>, ReadFailure> {
        let mut tasks = describe_tasks(&self.ecs, cluster, vec![task_arn.to_string()]).await?;
        Ok(tasks.pop())
    }

    async fn task_definition(&self, arn: &str) -> Result<TaskDefinition, ReadFailure> {
        let cached = self
            .definitions
            .lock()
            .ok()
            .and_then(|d| d.get(arn).cloned());
        if let Some(definition) = cached {
            return Ok(definition);
        }
        let definition = describe_task_definition(&self.ecs, arn).await?;
        if let Ok(mut cache) = self.definitions.lock() {
            cache.insert(arn.to_string(), definition.clone());
        }
        Ok(definition)
    }

    async fn host(&self, cluster: &str, container_instance: &str) -> Inventory {
        read_host(self, cluster, container_instance).await
    }

    async fn instance_tasks(&self, scope: &ClusterScope, instance_id: &str) -> Inventory {
        let mut inventory = registrations_of(self, scope, instance_id).await;
        let registrations = inventory.container_instances.clone();
        for ci in &registrations {
            for desired in [DesiredStatus::Running, DesiredStatus::Stopped] {
                let listed = list_tasks_in(&self.ecs, &ci.cluster, Some(&ci.arn), desired).await;
                match listed {
                    Ok(arns) => {
                        let mut failures = Vec::new();
                        let tasks =
                            describe_all_tasks(&self.ecs, &ci.cluster, &arns, &mut failures).await;
                        inventory.tasks.extend(tasks);
                        inventory.failures.append(&mut failures);
                    }
                    Err(f) => inventory.failures.push(f),
                }
            }
        }
        let arns: BTreeSet<String> = inventory
            .tasks
            .iter()
            .filter_map(|t| t.task_definition_arn.clone())
            .collect();
        for arn in arns {
            match self.task_definition(&arn).await {
                Ok(definition) => {
                    inventory.task_definitions.insert(arn, definition);
                }
                Err(f) => inventory.failures.push(f),
            }
        }
        inventory
    }

    async fn instance(&self, instance_id: &str) -> Inventory {
        read_instance(self, instance_id).await
    }

    async fn stop_tasks(&self, tasks: &[TaskRef]) -> (Vec<String>, Vec<String>) {
        stop_tasks(&self.ecs, tasks).await
    }
}

/// The container instances of EC2 instance `instance_id` in the swept clusters.
async fn registrations_of(clients: &SdkAws, scope: &ClusterScope, instance_id: &str) -> Inventory {
    let ecs = &clients.ecs;
    let mut inventory = Inventory::default();
    let clusters = match clusters_in(ecs, scope).await {
        Ok(clusters) => clusters,
        Err(f) => {
            inventory.failures.push(f);
            return inventory;
        }
    };
    for cluster in &clusters {
        let arns = match list_container_instances(ecs, cluster).await {
            Ok(arns) => arns,
            Err(f) => {
                inventory.failures.push(f);
                continue;
            }
        };
        for batch in in_batches(&arns) {
            match describe_container_instances(ecs, cluster, batch).await {
                Ok(cis) => inventory.container_instances.extend(
                    cis.into_iter()
                        .filter(|ci| ci.ec2_instance_id.as_deref() == Some(instance_id)),
                ),
                Err(f) => inventory.failures.push(f),
            }
        }
    }
    inventory
}

/// A container instance now: itself, its EC2 instance and its running tasks.
async fn read_host(clients: &SdkAws, cluster: &str, ci_arn: &str) -> Inventory {
    let ecs = &clients.ecs;
    let mut inventory = Inventory::default();
    match describe_container_instances(ecs, cluster, vec![ci_arn.to_string()]).await {
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
        list_tasks(ecs, cluster, Some(ci_arn))
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
    inventory
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
