//! A Cloud Map namespace swept end to end (docs/cloud-map.md): the real binary
//! against the local AWS, with Cloud Map instances registered as ECS and scripts
//! register them, EC2 hosts in the namespace's VPC and real listeners on loopback
//! addresses: every row of the decision table, and the reads a sweep makes.
//! Every test checks what is left in Cloud Map (ListInstances,
//! GetInstancesHealthStatus), not only the report.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::cloud_map::{
    cm_sweep, errors, estate_with_namespace, health_updates, CmService, EcsTask, Namespace, HOUR,
    PLAIN, PORT,
};
use support::{Behaviour, Estate, LocalAws, Outcome};
use Outcome::{Foreign, Kept, Removed};

const NS: &str = "cm.internal";

/// Every row of the Cloud Map decision table in one namespace: ECS registrations (task running,
/// starting, stopped, unknown to ECS, in a deleted cluster) and script
/// registrations (answering, not answering, on a new host, without a port, on a
/// terminated host named by EC2_INSTANCE_ID, on a host shutting down named only
/// by its address, on an address no interface has: never had, released by a
/// terminated host, or had only in another VPC with the same CIDR), and a
/// foreign instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_decision_table_in_one_namespace() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let (api, stopped) = ecs_rows(&mut e, &mut ns).await;
    script_rows(&mut e, &mut ns).await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    assert_eq!(report["trigger"], "manual");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["hosted_zone_id"], Value::Null, "{report:#}");
    assert_eq!(report["complete"], true, "{report:#}");
    let entry = ns.entry(&report);
    assert_eq!(entry["namespace_id"], ns.id.as_str());
    assert_eq!(entry["namespace"], NS);
    assert_eq!(entry["complete"], true, "{entry:#}");
    assert_eq!(errors(&entry), Vec::<String>::new());
    ns.assert_outcome(&report, false).await;
    assert_eq!(
        (
            entry["guard"]["tripped"].as_bool(),
            entry["guard"]["negative"].as_u64(),
            entry["guard"]["owned"].as_u64()
        ),
        (Some(false), Some(6), Some(14)),
        "task-gone ×2, unhealthy, host-unknown ×3 of 14 owned: {entry:#}"
    );
    assert_eq!(entry["guard"]["limit_percent"], 100);
    let target = |id: &str| {
        entry["deregistered"]
            .as_array()
            .and_then(|l| l.iter().find(|d| d["instance_id"] == id))
            .map(|d| d["target"].clone())
    };
    assert_eq!(
        target(&stopped.id),
        Some(json!(format!("{}:{}", stopped.ip, stopped.port)))
    );
    // ECS's registrations were neither checked nor marked.
    assert_eq!(health_updates(&entry), vec![]);
    assert_eq!(
        aws.count("servicediscovery:UpdateInstanceCustomHealthStatus")
            .await,
        0
    );
    let health = ns.health(&api).await;
    assert!(health.values().all(|s| s == "HEALTHY"), "{health:?}");
    // It acts through Cloud Map only.
    assert_eq!(aws.count("route53:ChangeResourceRecordSets").await, 0);

    // A second sweep finds nothing more to do.
    ns.forget_deregistered();
    let again = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&again, false).await;
    assert_eq!(ns.entry(&again)["deregistered"], json!([]));
}

/// The table's ECS registrations, in service `api` (custom health, though
/// nothing listens on the tasks' ports: the reaper never checks or marks ECS's
/// own registrations) and `batch`: a task running, one starting, one stopped, one
/// ECS does not know, and one of a cluster since deleted. `api`, and the stopped task.
async fn ecs_rows(e: &mut Estate<'_>, ns: &mut Namespace<'_>) -> (CmService, EcsTask) {
    let apps = e.cluster("apps").await;
    let ecs_host = e.host(Some(&apps), 1, 1).await;
    e.launched(ecs_host, HOUR).await;
    let api = ns.service("api", true, true).await;
    let running = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &running, "api", Some(Kept("healthy")))
        .await;
    let starting = e
        .ecs_task(ecs_host, "api", "service:api", Duration::from_secs(5))
        .await;
    ns.register_task(&api, &starting, "api", Some(Kept("grace")))
        .await;
    let stopped = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &stopped, "api", Some(Removed("task-stopped")))
        .await;
    let ip = e.hosts[ecs_host].ip;
    let ec2_id = e.hosts[ecs_host].instance_id.clone();
    ns.register_ecs(
        &api,
        "0123456789abcdef0123456789abcdef",
        &apps,
        "api",
        "api",
        ip,
        32799,
        Some(ec2_id.as_str()),
        Some(Removed("task-gone")),
    )
    .await;
    // A service whose cluster was deleted, its instance left behind.
    let retired = e.cluster("retired").await;
    let batch = ns.service("batch", true, false).await;
    ns.register_ecs(
        &batch,
        "fedcba9876543210fedcba9876543210",
        &retired,
        "batch",
        "batch",
        ip,
        32800,
        None,
        Some(Removed("task-gone")),
    )
    .await;
    e.aws
        .ecs()
        .delete_cluster()
        .cluster(&retired)
        .send()
        .await
        .expect("DeleteCluster");
    e.stop_ecs_task(&stopped).await;
    (api, stopped)
}

/// The table's script registrations, in service `legacy` (no custom health):
/// answering (with a port and EC2_INSTANCE_ID, and without a port), not
/// answering, on a new host, on a terminated host named by EC2_INSTANCE_ID, on a
/// host shutting down named by its address only, on addresses no interface of
/// the VPC has (never had, released, another VPC's), and a foreign instance.
async fn script_rows(e: &mut Estate<'_>, ns: &mut Namespace<'_>) {
    let legacy = ns.service("legacy", false, false).await;
    let live = e.old_host(1).await;
    let live_ip = e.hosts[live].ip;
    e.listen(live_ip, PORT, Behaviour::Healthy).await;
    ns.script_of(&legacy, "live", &e.hosts[live], Some(Kept("healthy")))
        .await;
    ns.register_script(
        &legacy,
        "no-port",
        live_ip,
        None,
        None,
        Some(Kept("healthy")),
    )
    .await;
    let sick = e.old_host(2).await;
    ns.script(&legacy, "sick", e.hosts[sick].ip, Removed("unhealthy"))
        .await;
    // Launched just now: not checked yet (nothing listens there either).
    let fresh = e.host(None, 2, 3).await;
    ns.script(&legacy, "fresh", e.hosts[fresh].ip, Kept("grace"))
        .await;
    // Terminated: EC2 no longer reports its address, only its id names it.
    let terminated = e.old_host(4).await;
    ns.script_of(
        &legacy,
        "terminated",
        &e.hosts[terminated],
        Some(Removed("instance-gone")),
    )
    .await;
    // Shutting down, still answering on its address: named by its address only.
    let leaving = e.old_host(5).await;
    e.listen(e.hosts[leaving].ip, PORT, Behaviour::Healthy)
        .await;
    ns.script(
        &legacy,
        "leaving",
        e.hosts[leaving].ip,
        Removed("instance-gone"),
    )
    .await;
    // In the VPC's range, but no network interface has it.
    ns.script(&legacy, "nowhere", e.unknown_ip(7), Removed("host-unknown"))
        .await;
    // Terminated and registered by address only: the address is released, no
    // interface has it any more.
    let released = e.old_host(6).await;
    ns.script(
        &legacy,
        "released",
        e.hosts[released].ip,
        Removed("host-unknown"),
    )
    .await;
    // An address only another VPC with the same CIDR has (staging), answering
    // there: not evidence for this namespace.
    let staging = e.staging_host(None, 2, 9).await;
    let staging_ip = e.hosts[staging].ip;
    e.listen(staging_ip, PORT, Behaviour::Healthy).await;
    ns.script(&legacy, "staging", staging_ip, Removed("host-unknown"))
        .await;
    // No AWS_INSTANCE_IPV4: not the reaper's.
    ns.register(
        &legacy,
        "http-only",
        &[("stage", "blue".to_string())],
        Some(Foreign),
    )
    .await;
    e.terminate(terminated).await;
    e.terminate(released).await;
    e.shutting_down(leaving).await;
}

/// One sweep of a namespace (CLOUD_MAP_NAMESPACES only, no zone) where nothing
/// is to be written makes exactly the reads it needs, each once: the namespace
/// (ListNamespaces, then GetHostedZone of its zone for its VPCs), its services
/// (ListServices), each service's instances (ListInstances), the custom health
/// of the one service that has it (GetInstancesHealthStatus), the ECS tasks it
/// registered, by cluster (DescribeClusters, DescribeTasks: no listing of
/// clusters, tasks or container instances: no task is `MISSING`), and EC2
/// (DescribeVpcs, whether this account can read the VPC; DescribeInstances,
/// DescribeNetworkInterfaces of the VPC). No zone is listed or changed, and no
/// instance is deregistered or marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_sweep_makes_exactly_the_reads_it_needs() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;

    // ECS registrations: three running tasks of two ECS services in one cluster.
    let apps = e.cluster("apps").await;
    let ecs_host = e.host(Some(&apps), 1, 1).await;
    e.launched(ecs_host, HOUR).await;
    let api = ns.service("api", true, false).await;
    let worker = ns.service("worker", true, false).await;
    e.ecs_service(&apps, "api", "api", &api).await;
    e.ecs_service(&apps, "worker", "worker", &worker).await;
    for _ in 0..2 {
        let t = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
        ns.register_task(&api, &t, "api", Some(Kept("healthy")))
            .await;
    }
    let t = e.ecs_task(ecs_host, "worker", "service:worker", HOUR).await;
    ns.register_task(&worker, &t, "worker", Some(Kept("healthy")))
        .await;

    // Script registrations on hosts of the namespace's VPC, answering, in the
    // service with custom health: checked, already HEALTHY, nothing to mark.
    let web = ns.service("web", false, true).await;
    let one = e.old_host(1).await;
    let two = e.old_host(2).await;
    let (one_ip, two_ip) = (e.hosts[one].ip, e.hosts[two].ip);
    e.listen(one_ip, PORT, Behaviour::Healthy).await;
    e.listen(two_ip, PORT, Behaviour::Healthy).await;
    ns.script_of(&web, "web-1", &e.hosts[one], Some(Kept("healthy")))
        .await;
    ns.script(&web, "web-2", two_ip, Kept("healthy")).await;
    aws.reset_calls().await;

    let report = cm_sweep(&aws, NS, &[]).await;
    let calls = aws.calls().await;
    assert_eq!(report["hosted_zone_id"], Value::Null, "{report:#}");
    assert_eq!(report["complete"], true, "{report:#}");
    let entry = ns.entry(&report);
    assert_eq!(errors(&entry), Vec::<String>::new());
    ns.assert_outcome(&report, false).await;
    assert_eq!(health_updates(&entry), vec![]);

    // Exactly these calls, each as many times as it says: no other Route 53
    // call (no zone listed or changed), no ListClusters, ListTasks or
    // ListContainerInstances, no DeregisterInstance, ListOperations, GetOperation or
    // UpdateInstanceCustomHealthStatus.
    let expected: std::collections::BTreeMap<String, u64> = [
        ("servicediscovery:ListNamespaces", 1),
        ("servicediscovery:ListServices", 1),
        ("servicediscovery:ListInstances", 3),
        ("servicediscovery:GetInstancesHealthStatus", 1),
        ("route53:GetHostedZone", 1),
        ("ecs:DescribeClusters", 1),
        ("ecs:DescribeTasks", 1),
        ("ec2:DescribeInstances", 1),
        ("ec2:DescribeNetworkInterfaces", 1),
        ("ec2:DescribeVpcs", 1),
    ]
    .into_iter()
    .map(|(call, n)| (call.to_string(), n))
    .collect();
    assert_eq!(calls, expected, "the calls of one sweep");
}
