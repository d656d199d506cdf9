//! What ECS and EC2 say about the instances of a Cloud Map namespace: the tasks
//! ECS registered (by task id, in their clusters), which of those clusters are
//! gone, every EC2 instance, and the addresses of the network interfaces in the
//! namespace's VPCs. Also the Cloud Map services an ECS service registers into.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use aws_sdk_ec2::types::Filter;
use aws_sdk_ecs::types::DesiredStatus;
use futures::stream::{self, StreamExt};

use super::ec2::{read_region, regional};
use super::ecs::{describe_failures, describe_tasks, in_batches, list_tasks_in, Missing};
use super::{failure, paginate};
use crate::model::cloud_map::{task_id, DelegatedPrefix, RegistryEvidence};
use crate::model::ReadFailure;

const READ_CONCURRENCY: usize = 4;

/// Addresses and the VPCs whose interfaces hold them.
type Addresses = BTreeMap<Ipv4Addr, BTreeSet<String>>;
/// DescribeNetworkInterfaces returns at most 1,000 per page.
const ENI_PAGE: i32 = 1000;

/// What EC2 says in one Region of a namespace's VPCs (`vpcs`: their ids there):
/// its instances, which of `vpcs` this account cannot see, and the addresses of
/// the network interfaces in `vpcs`.
pub async fn region_evidence(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    vpcs: &[String],
) -> RegistryEvidence {
    let (read, addresses) = tokio::join!(
        read_region(ec2, region, vpcs),
        network_addresses(ec2, region, vpcs)
    );
    let mut evidence = RegistryEvidence {
        instances: read.instances,
        failures: read.failures,
        ..RegistryEvidence::default()
    };
    match addresses {
        Ok((a, p)) => (evidence.addresses, evidence.prefixes) = (a, p),
        Err(f) => evidence.failures.push(f),
    }
    evidence
}

/// The clusters first (DescribeClusters: `MISSING`, or `INACTIVE` after
/// DeleteCluster), then the tasks of the clusters that exist, 100 ids a call.
/// DescribeTasks reports an id it does not know as a `MISSING` failure; ECS
/// keeps stopped tasks visible for at least an hour, but its reads are
/// eventually consistent, so a `MISSING` task counts as absent only once a
/// listing of its cluster does not show it either ([`confirm_absent`]).
pub async fn registered_tasks(
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
        .map(|(cluster, ids)| async move {
            let got = describe_tasks(ecs, &cluster, ids.clone(), Missing::Absent).await;
            (cluster, ids, got)
        })
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (cluster, ids, batch) in described {
        let got = match batch {
            Ok(got) => got,
            Err(f) => {
                evidence.failures.push(f);
                continue;
            }
        };
        let found: BTreeMap<String, _> = got
            .into_iter()
            .map(|t| (task_id(&t.arn).to_string(), t))
            .collect();
        let absent = ids.into_iter().filter(|id| !found.contains_key(id));
        missing.entry(cluster).or_default().extend(absent);
        evidence.tasks.extend(found);
    }
    missing.retain(|_, ids| !ids.is_empty());
    let confirmed: Vec<_> = stream::iter(missing)
        .map(|(cluster, ids)| async move { confirm_absent(ecs, &cluster, &ids).await })
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    evidence
        .failures
        .extend(confirmed.into_iter().filter_map(Result::err));
    evidence
}

/// A Cloud Map task is gone only when DescribeTasks says `MISSING` and no
/// listing of its cluster shows it (desired RUNNING or STOPPED: ECS lists a
/// stopped task for at least an hour). Only clusters with a `MISSING` answer are
/// listed. A listed task that DescribeTasks called `MISSING` is an eventually
/// consistent read (ECS API reference, RunTask: "the result of an API command
/// you run that affects your Amazon ECS resources might not be immediately
/// visible"): the read failed.
async fn confirm_absent(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    missing: &BTreeSet<String>,
) -> Result<(), ReadFailure> {
    let (running, stopped) = tokio::join!(
        list_tasks_in(ecs, cluster, None, DesiredStatus::Running),
        list_tasks_in(ecs, cluster, None, DesiredStatus::Stopped)
    );
    listed_but_missing(cluster, missing, running?.iter().chain(&stopped?))
}

/// The read failure when a listing shows a task DescribeTasks called `MISSING`.
fn listed_but_missing<'a>(
    cluster: &str,
    missing: &BTreeSet<String>,
    listed: impl Iterator<Item = &'a String>,
) -> Result<(), ReadFailure> {
    let shown: BTreeSet<&str> = listed
        .map(|arn| task_id(arn))
        .filter(|id| missing.contains(*id))
        .collect();
    if shown.is_empty() {
        return Ok(());
    }
    Err(ReadFailure {
        call: format!("ecs:DescribeTasks cluster={cluster}"),
        message: format!(
            "MISSING for task(s) that ecs:ListTasks lists ({}): an inconsistent read, not an absence",
            shown.into_iter().collect::<Vec<_>>().join(", ")
        ),
    })
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
        describe_failures(
            "ecs:DescribeClusters".into(),
            out.failures(),
            Missing::Absent,
        )?;
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
/// and also Fargate tasks', load balancers', Lambda functions' — with the VPC of
/// the interface that holds it, and the IPv4 prefixes delegated to them.
async fn network_addresses(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    vpcs: &[String],
) -> Result<(Addresses, Vec<DelegatedPrefix>), ReadFailure> {
    if vpcs.is_empty() {
        return Ok(Default::default());
    }
    let filter = Filter::builder()
        .name("vpc-id")
        .set_values(Some(vpcs.to_vec()))
        .build();
    let call = regional("ec2:DescribeNetworkInterfaces", region);
    let interfaces = paginate(&call, |token| async {
        let page = ec2
            .describe_network_interfaces()
            .filters(filter.clone())
            .max_results(ENI_PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure(&call, e))?;
        let found: Vec<Interface> = page
            .network_interfaces()
            .iter()
            .map(|n| {
                let vpc = n.vpc_id().unwrap_or_default().to_string();
                let addresses = n.private_ip_addresses().iter();
                let prefixes = n.ipv4_prefixes().iter();
                Interface {
                    addresses: addresses
                        .filter_map(|a| a.private_ip_address()?.parse().ok())
                        .collect(),
                    prefixes: prefixes
                        .filter_map(|p| prefix(p.ipv4_prefix()?, &vpc))
                        .collect(),
                    vpc,
                }
            })
            .collect();
        Ok((found, page.next_token().map(String::from)))
    })
    .await?;
    let mut addresses = Addresses::new();
    let mut prefixes = Vec::new();
    for interface in interfaces {
        for ip in interface.addresses {
            addresses
                .entry(ip)
                .or_default()
                .insert(interface.vpc.clone());
        }
        prefixes.extend(interface.prefixes);
    }
    Ok((addresses, prefixes))
}

/// One network interface's addresses and delegated prefixes, and its VPC.
struct Interface {
    vpc: String,
    addresses: Vec<Ipv4Addr>,
    prefixes: Vec<DelegatedPrefix>,
}

/// `10.0.1.16/28` → (10.0.1.16, 28).
fn prefix(cidr: &str, vpc: &str) -> Option<DelegatedPrefix> {
    let (net, len) = cidr.split_once('/')?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some(DelegatedPrefix {
        net: net.parse().ok()?,
        len,
        vpc: vpc.to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_task_that_describe_calls_missing_is_a_failed_read() {
        let missing = BTreeSet::from(["t2".to_string(), "t3".to_string()]);
        let listed = [
            "arn:aws:ecs:us-east-1:1:task/apps/t1".to_string(),
            "arn:aws:ecs:us-east-1:1:task/apps/t2".to_string(),
        ];
        let err = listed_but_missing("apps", &missing, listed.iter()).unwrap_err();
        assert_eq!(err.call, "ecs:DescribeTasks cluster=apps");
        assert!(err.message.contains("(t2)"), "{err}");
        assert!(listed_but_missing("apps", &missing, listed[..1].iter()).is_ok());
    }
}
