//! [`SdkAws`]: the real clients behind the seams, built once per process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use tokio::time::Instant;

use super::changes::delete_records;
use super::clusters::read_clusters;
use super::ec2::read_region;
use super::ecs::{describe_task_definition, describe_tasks, stop_tasks, Missing};
use super::route53::{find_zone_by_name, list_name, list_zone, zone_info, Listing, ZoneError};
use super::{cloud_map, deregistration, evidence, host, EstateApi, RegistryApi, ZoneApi};
use crate::model::cloud_map::{
    CloudMapService, HealthStatus, Namespace, Registration, RegistryEvidence, RegistryListing,
};
use crate::model::{
    ClusterScope, Ec2Read, Inventory, ReadFailure, RecordSet, Task, TaskDefinition, TaskRef, Vpc,
    WriteOutcome, ZoneInfo,
};

/// The Route 53, ECS, EC2 and Cloud Map clients, and the task definitions described so far
/// (they are immutable: described once per process). EC2 is also read in the other
/// Regions of a zone's VPCs, through clients made once per Region.
#[derive(Debug, Clone)]
pub struct SdkAws {
    pub route53: aws_sdk_route53::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub servicediscovery: aws_sdk_servicediscovery::Client,
    sdk: aws_config::SdkConfig,
    regional_ec2: Arc<Mutex<HashMap<String, aws_sdk_ec2::Client>>>,
    definitions: Arc<Mutex<HashMap<String, TaskDefinition>>>,
}

impl SdkAws {
    /// The clients, built once from a loaded SDK configuration with the reaper's
    /// retries and timeouts.
    ///
    /// Retries: Route 53 allows five requests a second per account and answers
    /// `Throttling` / `PriorRequestNotComplete` beyond; ECS `ThrottlingException`,
    /// EC2 `RequestLimitExceeded`. The SDK's standard retry classifies all of them
    /// (and 5xx) as retryable; five attempts with exponential backoff ride out a burst.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let retry = RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(5));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(super::ATTEMPT_TIMEOUT)
            .build();
        let sdk = &sdk
            .to_builder()
            .retry_config(retry)
            .timeout_config(timeouts)
            .build();
        SdkAws {
            route53: aws_sdk_route53::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            servicediscovery: aws_sdk_servicediscovery::Client::new(sdk),
            sdk: sdk.clone(),
            regional_ec2: Arc::default(),
            definitions: Arc::default(),
        }
    }

    /// The EC2 client for `region` (`""`: the function's own).
    pub(super) fn ec2_in(&self, region: &str) -> aws_sdk_ec2::Client {
        let home = self.sdk.region().map(|r| r.as_ref());
        if region.is_empty() || home == Some(region) {
            return self.ec2.clone();
        }
        let make = || {
            let config = aws_sdk_ec2::config::Builder::from(&self.sdk)
                .region(aws_config::Region::new(region.to_string()))
                .build();
            aws_sdk_ec2::Client::from_conf(config)
        };
        match self.regional_ec2.lock() {
            Ok(mut cache) => cache.entry(region.to_string()).or_insert_with(make).clone(),
            Err(_) => make(),
        }
    }

    /// Runs `read` in each Region of `vpcs` at once, with that Region's client and
    /// its VPC ids.
    pub(super) async fn in_regions<T, F, Fut>(&self, vpcs: &BTreeSet<Vpc>, read: F) -> Vec<T>
    where
        F: Fn(aws_sdk_ec2::Client, String, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let mut regions: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for vpc in vpcs {
            regions.entry(&vpc.region).or_default().push(vpc.id.clone());
        }
        let reads = regions
            .into_iter()
            .map(|(region, ids)| read(self.ec2_in(region), region.to_string(), ids));
        futures::future::join_all(reads).await
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
        vpcs: &BTreeSet<Vpc>,
    ) -> RegistryEvidence {
        let regions = self.in_regions(vpcs, |ec2, region, ids| async move {
            evidence::region_evidence(&ec2, &region, &ids).await
        });
        let (mut all, regions) =
            tokio::join!(evidence::registered_tasks(&self.ecs, tasks), regions);
        for region in regions {
            all.merge(region);
        }
        all
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
        stop_at: Option<Instant>,
    ) -> Result<(), String> {
        let sd = &self.servicediscovery;
        cloud_map::set_health(sd, service_id, instance_id, status, stop_at).await
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
    async fn instances(&self, vpcs: &BTreeSet<Vpc>) -> Ec2Read {
        let reads = self
            .in_regions(vpcs, |ec2, region, ids| async move {
                read_region(&ec2, &region, &ids).await
            })
            .await;
        let mut all = Ec2Read::default();
        for mut read in reads {
            all.instances.append(&mut read.instances);
            all.failures.append(&mut read.failures);
        }
        all
    }

    async fn clusters(&self, scope: &ClusterScope, gone: &BTreeSet<String>) -> Inventory {
        read_clusters(&self.ecs, scope, gone).await
    }

    async fn task(&self, cluster: &str, task_arn: &str) -> Result<Option<Task>, ReadFailure> {
        let mut tasks = describe_tasks(
            &self.ecs,
            cluster,
            vec![task_arn.to_string()],
            Missing::Absent,
        )
        .await?;
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

    async fn host(
        &self,
        scope: &ClusterScope,
        cluster: &str,
        container_instance: &str,
    ) -> Inventory {
        host::read_host(self, scope, cluster, container_instance).await
    }

    async fn instance_tasks(&self, scope: &ClusterScope, instance_id: &str) -> Inventory {
        host::instance_tasks(self, scope, instance_id).await
    }

    async fn instance(&self, instance_id: &str, vpcs: &BTreeSet<Vpc>) -> Inventory {
        host::read_instance(self, instance_id, vpcs).await
    }

    async fn holders(&self, addresses: &[Ipv4Addr], vpcs: &BTreeSet<Vpc>) -> Inventory {
        host::read_holders(self, addresses, vpcs).await
    }

    async fn stop_tasks(
        &self,
        tasks: &[TaskRef],
        stop_at: Option<Instant>,
    ) -> (Vec<String>, Vec<String>) {
        stop_tasks(&self.ecs, tasks, stop_at).await
    }
}
