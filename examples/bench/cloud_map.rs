//! The Cloud Map namespace measurement: a private DNS namespace in the estate's
//! VPC, filled the way ECS and scripts fill one, and ONE sweep of the release
//! binary with only `CLOUD_MAP_NAMESPACES` set — a process of its own, after
//! everything else (the zone's sweep, start-to-ready, the event storm), so the
//! zone's figures are measured on the estate exactly as before.
//!
//! The namespace (`--cloud-map-instances`, 2,000; 0 skips it) has
//! `--cloud-map-services` (20) services: half ECS services (SRV records), a fifth
//! with `HealthCheckCustomConfig`, the rest plain script services (A records).
//! Its instances (`cloud_map/plan.rs` has the arithmetic):
//!
//! - ECS registrations (task id as instance id, `ECS_*` attributes and
//!   `EC2_INSTANCE_ID`) of tasks started for the purpose on the estate's container
//!   instances: running (kept `healthy`), stopped in ECS (`task-stopped`), and
//!   task ids ECS never knew (`task-gone`);
//! - script registrations (`AWS_INSTANCE_IPV4`, `AWS_INSTANCE_PORT`, half with
//!   `EC2_INSTANCE_ID`), eight ports a host, on EC2 hosts of the VPC at
//!   127.230.240+.x launched an hour ago with a real listener per instance
//!   (answering: kept `healthy`; HTTP 500: `unhealthy`, or in a custom-health
//!   service kept and marked UNHEALTHY), on terminated hosts (`instance-gone`)
//!   and on addresses nothing has (127.230.250+.x: `host-unknown`).
//!
//! `--dead-percent` of the instances are dead, split evenly over those five
//! reasons; three of them are negative evidence, so at 10 % the guard's share
//! stays far below 50 % (at 50 % or more the bench sets `MAX_DELETE_PERCENT=100`,
//! as for the zone). Every service keeps live instances, so last-record
//! protection holds nothing.
//!
//! Measured: wall time, the phases of the summary line, peak RSS and CPU, the
//! AWS calls by operation against the fewest the namespace allows; then the
//! report and Cloud Map itself are checked (`cloud_map/verify.rs`): exactly the
//! dead instances deregistered, exactly the live ones still registered.

#[path = "cloud_map/estate.rs"]
mod estate;
#[path = "cloud_map/plan.rs"]
pub(super) mod plan;
#[path = "cloud_map/register.rs"]
mod register;
#[path = "cloud_map/verify.rs"]
mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_sdk_ecs::types::DesiredStatus;
use ecs_dns_reaper::aws::ec2::{describe_instances, InstanceQuery};

use super::minimum::{pages, Minimums};
use super::support::{Estate, LocalAws};
use super::sweep::{cpu_snapshot, run_measured, Sweep};
use super::Args;
pub(super) use estate::ScriptHosts;
use plan::{Group, ServicePlan};
pub(super) use verify::Verdict;

/// The namespace's name (its private zone `apps.bench.internal.` is in the
/// estate's VPC, next to the swept zone).
pub(super) const NAMESPACE: &str = "apps.bench.internal";
/// At most this many instances (the script hosts' subnets hold them).
const MAX_INSTANCES: usize = 10_000;
/// Cloud Map pages (ListNamespaces, ListServices, ListInstances,
/// GetInstancesHealthStatus) and EC2 pages (DescribeInstances,
/// DescribeNetworkInterfaces) at their maximum.
const SD_PAGE: usize = 100;
const EC2_PAGE: usize = 1000;
const ECS_DESCRIBE: usize = 100;
const ECS_PAGE: usize = 100;

/// What the sweep must do with an instance the bench registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    /// Kept `healthy`: a running task's, or an answering listener's.
    Live,
    /// Kept `unhealthy` and marked UNHEALTHY (custom health, HTTP 500).
    Sick,
    /// Deregistered with this reason.
    Dead(&'static str),
}

/// One registered instance.
#[derive(Debug, Clone)]
pub(super) struct CmInstance {
    /// Index in the plans (and the namespace's services).
    pub service: usize,
    pub id: String,
    /// `ip:port`, as the report names it.
    pub target: String,
    pub fate: Fate,
}

/// What was built.
pub(super) struct CmBuilt {
    pub namespace_id: String,
    pub plans: Vec<ServicePlan>,
    pub instances: Vec<CmInstance>,
    /// ECS task ids registered (running, stopped, unknown), by cluster.
    pub tasks_per_cluster: BTreeMap<String, usize>,
    /// The clusters with task ids ECS never knew: DescribeTasks answers
    /// `MISSING` there, and the sweep lists them to confirm the absence.
    pub clusters_with_unknown_tasks: BTreeSet<String>,
    /// Tasks started for the namespace (running and then stopped).
    pub tasks_started: usize,
    pub hosts: ScriptHosts,
    pub listeners: usize,
    pub build_secs: f64,
}

impl CmBuilt {
    pub(super) fn count(&self, f: impl Fn(&ServicePlan) -> usize) -> usize {
        self.plans.iter().map(f).sum()
    }

    pub(super) fn services(&self, group: Group) -> usize {
        self.plans.iter().filter(|p| p.group == group).count()
    }
}

/// The measurement: what was built, the sweep, its calls, what the checks found.
pub(super) struct CloudMap {
    pub built: CmBuilt,
    pub sweep: Sweep,
    pub calls: BTreeMap<String, u64>,
    /// EC2 instances of the Region and network interfaces of the VPC at the sweep.
    pub ec2_instances: usize,
    pub network_interfaces: usize,
    /// The tasks ListTasks shows in each cluster with unknown task ids, desired
    /// RUNNING and STOPPED, at the sweep: (cluster, running, stopped).
    pub task_listings: Vec<(String, usize, usize)>,
    /// CPU seconds the local AWS and the listeners (this process) used alongside.
    pub localaws_cpu_s: Option<f64>,
    pub listeners_cpu_s: f64,
    /// The deregistration operations the local AWS saw: observations (a
    /// GetOperation of it, or a ListOperations page holding it) each took to end
    /// → how many operations; and the statuses the local AWS answers before an
    /// operation ends (`GET /_localaws/servicediscovery/operations`).
    pub operation_polls: BTreeMap<u64, usize>,
    pub pending_statuses: Vec<String>,
    /// The order ListOperations walked the operations in, and how many operations
    /// of every kind (registrations too) the Region held after the sweep.
    pub list_order: String,
    pub operations_held: usize,
    pub verdict: Verdict,
}

/// Why `args` cannot build the namespace, if they cannot.
pub(super) fn check_args(args: &Args) -> Result<(), String> {
    if args.cloud_map_instances > MAX_INSTANCES {
        return Err(format!("--cloud-map-instances is at most {MAX_INSTANCES}"));
    }
    if args.cloud_map_instances > 0 && args.instances > 240 * 200 {
        return Err("with a Cloud Map namespace, --instances is at most 48,000 (its script hosts are on 127.230.240+.x)".into());
    }
    plan::plan(args).map(|_| ())
}

/// Builds the namespace on the estate, runs the one sweep and checks it.
pub(super) async fn run<'a>(
    aws: &'a LocalAws,
    estate: &mut Estate<'a>,
    args: &Args,
    binary: &Path,
) -> CloudMap {
    let plans = plan::plan(args).expect("checked with the arguments");
    eprintln!(
        "bench: Cloud Map namespace {NAMESPACE}: {} instances over {} services",
        args.cloud_map_instances,
        plans.len()
    );
    let (ns, built) = estate::build(aws, estate, plans).await;
    eprintln!(
        "bench: Cloud Map namespace built in {:.1} s",
        built.build_secs
    );
    let (ec2_instances, network_interfaces) = ec2_counts(aws).await;
    let task_listings = task_listings(aws, &built.clusters_with_unknown_tasks).await;

    let mut env = aws.env();
    env.push(("CLOUD_MAP_NAMESPACES", NAMESPACE.to_string()));
    env.push(("HEALTH_CHECK_TIMEOUT_MS", args.timeout_ms.to_string()));
    env.push(("HEALTH_CHECK_ATTEMPTS", args.attempts.to_string()));
    env.push(("RUST_LOG", "info".into()));
    let max_delete_percent = (args.dead_percent >= 50).then_some(100u8);
    if let Some(p) = max_delete_percent {
        env.push(("MAX_DELETE_PERCENT", p.to_string()));
    }
    aws.set_sd_operations(serde_json::json!({"list_order": args.cloud_map_list_order}))
        .await;
    aws.reset_calls().await;
    eprintln!("bench: one sweep of the namespace (CLOUD_MAP_NAMESPACES only)");
    let before = cpu_snapshot();
    let sweep = run_measured(binary, args, env, max_delete_percent, "cloud-map-sweep").await;
    let after = cpu_snapshot();
    let calls = aws.calls().await;
    let operations = aws.sd_operations().await;
    let mut operation_polls = BTreeMap::new();
    for op in operations["operations"].as_array().into_iter().flatten() {
        *operation_polls
            .entry(op["polls"].as_u64().unwrap_or(0))
            .or_default() += 1;
    }
    let pending_statuses = operations["pending"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect();
    eprintln!("bench: checking the namespace after the sweep");
    let verdict = verify::verify(&ns, &built, &sweep.report, args.dry_run).await;
    let operations_held = operations_held(aws).await;
    CloudMap {
        built,
        sweep,
        calls,
        ec2_instances,
        network_interfaces,
        task_listings,
        localaws_cpu_s: after.localaws.zip(before.localaws).map(|(a, b)| a - b),
        listeners_cpu_s: after.own - before.own,
        operation_polls,
        pending_statuses,
        list_order: args.cloud_map_list_order.clone(),
        operations_held,
        verdict,
    }
}

/// Every operation of the Region (ListOperations without filters, after the
/// sweep): what a listing that walks them all pages through.
async fn operations_held(aws: &LocalAws) -> usize {
    let sd = aws.servicediscovery();
    let (mut held, mut token) = (0, None);
    loop {
        let Ok(page) = sd.list_operations().set_next_token(token).send().await else {
            return held;
        };
        held += page.operations().len();
        match page.next_token() {
            Some(next) => token = Some(next.to_string()),
            None => return held,
        }
    }
}

/// For each of `clusters`: how many tasks ListTasks shows desired RUNNING and
/// desired STOPPED (what the sweep pages through to confirm a `MISSING` task).
async fn task_listings(aws: &LocalAws, clusters: &BTreeSet<String>) -> Vec<(String, usize, usize)> {
    let ecs = aws.ecs();
    let mut out = Vec::new();
    for cluster in clusters {
        let mut counts = [0usize; 2];
        for (n, status) in [DesiredStatus::Running, DesiredStatus::Stopped]
            .into_iter()
            .enumerate()
        {
            let mut token = None;
            loop {
                let Ok(page) = ecs
                    .list_tasks()
                    .cluster(cluster)
                    .desired_status(status.clone())
                    .max_results(100)
                    .set_next_token(token)
                    .send()
                    .await
                else {
                    break;
                };
                counts[n] += page.task_arns().len();
                match page.next_token() {
                    Some(next) => token = Some(next.to_string()),
                    None => break,
                }
            }
        }
        out.push((cluster.clone(), counts[0], counts[1]));
    }
    out
}

/// EC2 instances of the Region (what the sweep's DescribeInstances pages through)
/// and network interfaces of the estate's VPC (its DescribeNetworkInterfaces).
async fn ec2_counts(aws: &LocalAws) -> (usize, usize) {
    let ec2 = aws.ec2();
    let instances = describe_instances(&ec2, InstanceQuery::All)
        .await
        .unwrap_or_default();
    let Some(vpc) = instances.iter().find_map(|i| i.vpc_id.clone()) else {
        return (instances.len(), 0);
    };
    let filter = aws_sdk_ec2::types::Filter::builder()
        .name("vpc-id")
        .values(vpc)
        .build();
    let interfaces = ec2
        .describe_network_interfaces()
        .filters(filter)
        .send()
        .await
        .map(|o| o.network_interfaces().len())
        .unwrap_or(0);
    (instances.len(), interfaces)
}

/// The fewest calls of each operation one sweep of the namespace can make: its
/// design reads each page and batch once, deregisters each dead instance once
/// and follows each deregistration at least once.
pub(super) fn minimum_calls(cm: &CloudMap, dry_run: bool) -> Minimums {
    let b = &cm.built;
    let mut min: Minimums = BTreeMap::new();
    let mut put = |op: &str, n: u64, how: String| {
        min.insert(op.to_string(), (n, how));
    };
    put(
        "servicediscovery:ListNamespaces",
        1,
        "once per process: 1 namespace of the account".into(),
    );
    put(
        "route53:GetHostedZone",
        1,
        "once per process: the namespace zone's VPCs".into(),
    );
    let services = b.plans.len();
    put(
        "servicediscovery:ListServices",
        pages(services, SD_PAGE),
        format!("⌈{services} services / {SD_PAGE}⌉"),
    );
    let sizes: Vec<usize> = b.plans.iter().map(ServicePlan::total).collect();
    put(
        "servicediscovery:ListInstances",
        sizes.iter().map(|&n| pages(n, SD_PAGE)).sum(),
        format!(
            "Σ ⌈instances / {SD_PAGE}⌉ over {services} services of {}–{} instances",
            sizes.iter().min().unwrap_or(&0),
            sizes.iter().max().unwrap_or(&0)
        ),
    );
    let custom: Vec<usize> = b
        .plans
        .iter()
        .filter(|p| p.group == Group::Custom)
        .map(ServicePlan::total)
        .collect();
    put(
        "servicediscovery:GetInstancesHealthStatus",
        custom.iter().map(|&n| pages(n, SD_PAGE)).sum(),
        format!(
            "Σ ⌈instances / {SD_PAGE}⌉ over {} custom-health services ({})",
            custom.len(),
            join(&custom)
        ),
    );
    let clusters = b.tasks_per_cluster.len();
    put(
        "ecs:DescribeClusters",
        clusters.div_ceil(ECS_DESCRIBE) as u64,
        format!("⌈{clusters} clusters named / {ECS_DESCRIBE}⌉"),
    );
    let tasks: Vec<usize> = b.tasks_per_cluster.values().copied().collect();
    put(
        "ecs:DescribeTasks",
        tasks.iter().map(|n| n.div_ceil(ECS_DESCRIBE) as u64).sum(),
        format!(
            "Σ ⌈({}) task ids / {ECS_DESCRIBE}⌉ per cluster",
            join(&tasks)
        ),
    );
    let listings = &cm.task_listings;
    put(
        "ecs:ListTasks",
        listings
            .iter()
            .map(|(_, running, stopped)| pages(*running, ECS_PAGE) + pages(*stopped, ECS_PAGE))
            .sum(),
        format!(
            "to confirm a MISSING task: Σ ⌈running / {ECS_PAGE}⌉ + ⌈stopped / {ECS_PAGE}⌉ over the {} cluster(s) with unknown task ids ({})",
            listings.len(),
            listings
                .iter()
                .map(|(_, r, s)| format!("{r} + {s}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    put(
        "ec2:DescribeInstances",
        pages(cm.ec2_instances, EC2_PAGE),
        format!(
            "⌈{} instances of the Region / {EC2_PAGE}⌉",
            cm.ec2_instances
        ),
    );
    put(
        "ec2:DescribeVpcs",
        1,
        "the namespace's VPCs, one Region: can this account read them".into(),
    );
    put(
        "ec2:DescribeNetworkInterfaces",
        pages(cm.network_interfaces, EC2_PAGE),
        format!(
            "⌈{} network interfaces of the VPC / {EC2_PAGE}⌉",
            cm.network_interfaces
        ),
    );
    let dead = b.count(ServicePlan::dead);
    let sick = b.count(|p| p.sick);
    let (dead, sick) = if dry_run { (0, 0) } else { (dead, sick) };
    put(
        "servicediscovery:DeregisterInstance",
        dead as u64,
        format!("{dead} dead"),
    );
    put(
        "servicediscovery:ListOperations",
        if dead == 0 { 0 } else { pages(dead, SD_PAGE) },
        format!("⌈{dead} deregistrations / {SD_PAGE}⌉: one listing answers for up to {SD_PAGE}"),
    );
    put(
        "servicediscovery:GetOperation",
        0,
        "none: only for an operation a listing does not show".into(),
    );
    put(
        "servicediscovery:UpdateInstanceCustomHealthStatus",
        sick as u64,
        format!("{sick} to mark UNHEALTHY"),
    );
    min
}

/// `a + b + c`.
fn join(counts: &[usize]) -> String {
    counts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" + ")
}
