//! What ECS and EC2 say about the instances of a Cloud Map namespace: the tasks
//! ECS registered (by task id, in their clusters), which of those clusters are
//! gone, every EC2 instance, and the addresses of the network interfaces in the
//! namespace's VPCs. Also the Cloud Map services an ECS service registers into.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use aws_sdk_ec2::types::Filter;
use futures::stream::{self, StreamExt};

use super::ec2::{describe_instances, InstanceQuery};
use super::ecs::{describe_failures, describe_tasks, in_batches};
use super::{failure, paginate};
use crate::model::cloud_map::{task_id, RegistryEvidence};
use crate::model::ReadFailure;

const READ_CONCURRENCY: usize = 4;

/// An IPv4 prefix: network address and length.
type Prefix = (Ipv4Addr, u8);
/// DescribeNetworkInterfaces returns at most 1,000 per page.
const ENI_PAGE: i32 = 1000;

/// Reads the evidence for a namespace's instances: `tasks` holds the task ids ECS
/// registered, by `ECS_CLUSTER_NAME`; `vpcs` the namespace's VPCs.
pub async fn read_evidence(
    ecs: &aws_sdk_ecs::Client,
    ec2: &aws_sdk_ec2::Client,
    tasks: &BTreeMap<String, Vec<String>>,
    vpcs: &BTreeSet<String>,
) -> RegistryEvidence {
    let (ecs_read, instances, addresses) = tokio::join!(
        registered_tasks(ecs, tasks),
        describe_instances(ec2, InstanceQuery::All),
        network_addresses(ec2, vpcs),
    );
    let mut evidence = ecs_read;
    match instances {
        Ok(i) => evidence.instances = i,
        Err(f) => evidence.failures.push(f),
    }
    match addresses {
        Ok((a, p)) => (evidence.addresses, evidence.prefixes) = (a, p),
        Err(f) => evidence.failures.push(f),
    }
    evidence
}

/// The clusters first (DescribeClusters: `MISSING`, or `INACTIVE` after
/// DeleteCluster), then the tasks of the clusters that exist, 100 ids a call.
/// DescribeTasks reports an id it does not know as a `MISSING` failure: ECS
/// keeps stopped tasks visible for at least an hour, so such a task is long gone.
async fn registered_tasks(
    ecs: &aws_sdk_ecs::Client,
    tasks: &BTreeMap<String, Vec<String>>,
) -> RegistryEvidence {
    let mut evidence = RegistryEvidence::default();
    if tasks.is_empty() {
        return evidence;
    }
    let names: Vec<String> = tasks.keys().cloned().collect();
    match clusters_gone(ecs, &names).await {
        Ok(gone) => evidence.clusters_gone = gone,
        Err(f) => {
            evidence.failures.push(f);
            return evidence;
        }
    }
    let batches: Vec<(String, Vec<String>)> = tasks
        .iter()
        .filter(|(cluster, _)| !evidence.clusters_gone.contains(*cluster))
        .flat_map(|(cluster, ids)| in_batches(ids).into_iter().map(|b| (cluster.clone(), b)))
        .collect();
    let described: Vec<_> = stream::iter(batches)
        .map(|(cluster, ids)| async move { describe_tasks(ecs, &cluster, ids).await })
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    for batch in described {
        match batch {
            Ok(got) => evidence
                .tasks
                .extend(got.into_iter().map(|t| (task_id(&t.arn).to_string(), t))),
            Err(f) => evidence.failures.push(f),
        }
    }
    evidence
}

/// The clusters among `names` that no longer exist.
async fn clusters_gone(
    ecs: &aws_sdk_ecs::Client,
    names: &[String],
) -> Result<BTreeSet<String>, ReadFailure> {
    let mut gone = BTreeSet::new();
    for batch in in_batches(names) {
        let out = ecs
            .describe_clusters()
            .set_clusters(Some(batch))
            .send()
            .await
            .map_err(|e| failure("ecs:DescribeClusters", e))?;
        describe_failures("ecs:DescribeClusters".into(), out.failures())?;
        let missing = out.failures().iter().filter_map(|f| f.arn());
        let inactive = out
            .clusters()
            .iter()
            .filter(|c| c.status() == Some("INACTIVE"))
            .filter_map(|c| c.cluster_name().or(c.cluster_arn()));
        for name in missing.chain(inactive) {
            gone.insert(name.rsplit('/').next().unwrap_or(name).to_string());
        }
    }
    Ok(gone)
}

/// Every private address of every network interface in `vpcs` — EC2 instances',
/// and also Fargate tasks', load balancers', Lambda functions' — and the IPv4
/// prefixes delegated to them (prefix delegation hands out whole /28s).
async fn network_addresses(
    ec2: &aws_sdk_ec2::Client,
    vpcs: &BTreeSet<String>,
) -> Result<(BTreeSet<Ipv4Addr>, Vec<Prefix>), ReadFailure> {
    if vpcs.is_empty() {
        return Ok(Default::default());
    }
    let filter = Filter::builder()
        .name("vpc-id")
        .set_values(Some(vpcs.iter().cloned().collect()))
        .build();
    let interfaces = paginate("ec2:DescribeNetworkInterfaces", |token| async {
        let page = ec2
            .describe_network_interfaces()
            .filters(filter.clone())
            .max_results(ENI_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure("ec2:DescribeNetworkInterfaces", e))?;
        let found: Vec<(Vec<Ipv4Addr>, Vec<Prefix>)> = page
            .network_interfaces()
            .iter()
            .map(|n| {
                let addresses = n.private_ip_addresses().iter();
                let prefixes = n.ipv4_prefixes().iter();
                (
                    addresses
                        .filter_map(|a| a.private_ip_address()?.parse().ok())
                        .collect(),
                    prefixes.filter_map(|p| prefix(p.ipv4_prefix()?)).collect(),
                )
            })
            .collect();
        Ok((found, page.next_token().map(String::from)))
    })
    .await?;
    let mut addresses = BTreeSet::new();
    let mut prefixes = Vec::new();
    for (a, p) in interfaces {
        addresses.extend(a);
        prefixes.extend(p);
    }
    Ok((addresses, prefixes))
}

/// `10.0.1.16/28` → (10.0.1.16, 28).
fn prefix(cidr: &str) -> Option<Prefix> {
    let (net, len) = cidr.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((net.parse().ok()?, len))
}

/// The Cloud Map service ids an ECS service registers its tasks into
/// (DescribeServices `serviceRegistries[].registryArn`,
/// `arn:aws:servicediscovery:…:service/srv-…`).
pub async fn service_registries(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Vec<String>, ReadFailure> {
    let call = format!("ecs:DescribeServices cluster={cluster} service={service}");
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| failure(&call, e))?;
    Ok(out
        .services()
        .iter()
        .flat_map(|s| s.service_registries())
        .filter_map(|r| r.registry_arn())
        .map(|arn| arn.rsplit('/').next().unwrap_or(arn).to_string())
        .collect())
}
