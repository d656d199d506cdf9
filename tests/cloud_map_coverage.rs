//! Cloud Map coverage (docs/coverage.md) end to end: the real binary against the
//! local AWS. An absence is evidence only where the reaper read everything that
//! could hold the instance — every Region and account of the namespace's VPCs,
//! ECS listings as well as describes — and the guard counts only what a sweep
//! would newly do. Every test checks what is left in Cloud Map, not only the report.

mod support;

use std::net::Ipv4Addr;

use serde_json::json;
// PLAIN: every negative deregistration goes through unless coverage holds it.
use support::cloud_map::{cm_sweep, errors, Namespace, HOUR, PLAIN, PORT};
use support::{Behaviour, Estate, LocalAws, Outcome};
use Outcome::{Held, Kept, Removed};

const NS: &str = "cov.internal";

/// Item 4 of the issue: instances an earlier sweep marked `UNHEALTHY` whose checks
/// fail again are no new marks: they do not count toward the guard, which would
/// otherwise stay tripped on every sweep; the plain `host-unknown` instance beside
/// them is deregistered, and they stay registered and marked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_already_marked_unhealthy_do_not_keep_the_guard_tripped() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let fleet = ns.service("fleet", false, true).await;
    let sd = aws.servicediscovery();
    for last in 1..=6u8 {
        // Long dead: the host is there, nothing answers; marked by an earlier sweep.
        let h = e.old_host(last).await;
        let id = format!("dead-{last}");
        let ip = e.hosts[h].ip;
        ns.register_script(&fleet, &id, ip, Some(PORT), None, Some(Kept("unhealthy")))
            .await;
        sd.update_instance_custom_health_status()
            .service_id(&fleet.id)
            .instance_id(&id)
            .status(aws_sdk_servicediscovery::types::CustomHealthStatus::Unhealthy)
            .send()
            .await
            .expect("UpdateInstanceCustomHealthStatus");
    }
    for last in 7..=8u8 {
        let h = e.old_host(last).await;
        let ip = e.hosts[h].ip;
        e.listen(ip, PORT, Behaviour::Healthy).await;
        let id = format!("ok-{last}");
        ns.register_script(&fleet, &id, ip, Some(PORT), None, Some(Kept("healthy")))
            .await;
    }
    let nowhere = Ipv4Addr::new(127, e.net, 9, 1);
    ns.register_script(
        &fleet,
        "ghost",
        nowhere,
        Some(PORT),
        None,
        Some(Removed("host-unknown")),
    )
    .await;

    // Default guard (50 %): 1 new candidate of 9 owned; the 6 marked ones are not.
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    assert_eq!(
        entry["guard"],
        json!({"tripped": false, "limit_percent": 50, "negative": 1, "owned": 9}),
        "{entry:#}"
    );
    assert_eq!(entry["health_updates"], json!([]), "marked already");
    let health = ns.health(&fleet).await;
    for last in 1..=6u8 {
        assert_eq!(health[&format!("dead-{last}")], "UNHEALTHY", "{health:?}");
    }
}

/// Item 8: the namespace's zone is associated with two VPCs of the same CIDR. A
/// network interface with no instance (a Fargate task's) holds an address in the
/// first, a stopped instance of the second has it too: the address says nothing
/// about which registered the instance, so it is not `instance-gone`; it is
/// checked, answers and is kept. An address only the second VPC's stopped
/// instance holds is still `instance-gone`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_two_namespace_vpcs_hold_is_no_positive_evidence() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    e.old_host(1).await;
    let twin = e.staging_host(None, 2, 9).await;
    let twin_ip = e.hosts[twin].ip;
    e.launched(twin, HOUR).await;
    e.stop(twin).await;
    e.bare_interface(2, twin_ip).await;
    e.listen(twin_ip, PORT, Behaviour::Healthy).await;
    ns.register_script(
        &legacy,
        "shared",
        twin_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
    let stopped = e.staging_host(None, 2, 10).await;
    e.launched(stopped, HOUR).await;
    e.stop(stopped).await;
    let stopped_ip = e.hosts[stopped].ip;
    ns.register_script(
        &legacy,
        "only-twin",
        stopped_ip,
        Some(PORT),
        None,
        Some(Removed("instance-gone")),
    )
    .await;
    ns.associate_vpc(&e.staging_vpc(), "us-east-1").await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(errors(&ns.entry(&report)), Vec::<String>::new());
}

/// Item 3 (§8): DescribeTasks answers `MISSING` for a task that ListTasks lists:
/// an inconsistent read, not an absence. The namespace's negative
/// deregistrations are held `inventory-incomplete` (the live task's instance is
/// not deregistered `task-gone`), `errors` names the call, and only the cluster
/// with a `MISSING` answer is listed (desired RUNNING and STOPPED).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_ecs_lists_but_describes_as_missing_is_a_failed_read() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let apps = e.cluster("apps").await;
    let jobs = e.cluster("jobs").await;
    let apps_host = e.host(Some(&apps), 1, 1).await;
    let jobs_host = e.host(Some(&jobs), 1, 2).await;
    let api = ns.service("api", true, false).await;
    let steady = e.ecs_task(apps_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &steady, "api", Some(Kept("healthy")))
        .await;
    let flaky = e.ecs_task(apps_host, "api", "service:api", HOUR).await;
    ns.register_task(
        &api,
        &flaky,
        "api",
        Some(Held("inventory-incomplete", Some("task-gone"))),
    )
    .await;
    let worker = ns.service("worker", true, false).await;
    let job = e
        .ecs_task(jobs_host, "worker", "service:worker", HOUR)
        .await;
    ns.register_task(&worker, &job, "worker", Some(Kept("healthy")))
        .await;
    aws.ecs_missing_until_cleared(&[flaky.arn.as_str()]).await;
    aws.reset_calls().await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    let calls = aws.calls().await;
    aws.clear_ecs_missing().await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    assert_eq!(
        entry["complete"], true,
        "an inventory failure, not a deadline: {entry:#}"
    );
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|e| e.contains("ecs:DescribeTasks cluster=apps")
                && e.contains("ListTasks")
                && e.contains(&flaky.id)),
        "{entry:#}"
    );
    // `apps` listed twice (RUNNING, STOPPED), `jobs` not at all.
    assert_eq!(calls.get("ecs:ListTasks"), Some(&2), "{calls:?}");
    assert_eq!(
        calls.get("servicediscovery:DeregisterInstance"),
        None,
        "{calls:?}"
    );
}

/// Item 1 for a namespace: its zone is also associated with a us-west-2 VPC.
/// EC2 is read there too: a script registration of a live us-west-2 host is
/// checked and kept (not `host-unknown`), one naming a terminated us-west-2
/// instance by `EC2_INSTANCE_ID` is `instance-gone`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_with_a_vpc_in_a_second_region_reads_ec2_there() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let live = e.region_host("us-west-2", 6, 5).await;
    let gone = e.region_host("us-west-2", 6, 6).await;
    e.launched(live, HOUR).await;
    e.launched(gone, HOUR).await;
    e.set_state(gone, "terminated").await;
    let (live_ip, gone_ip) = (e.hosts[live].ip, e.hosts[gone].ip);
    let gone = e.hosts[gone].instance_id.clone();
    e.listen(live_ip, PORT, Behaviour::Healthy).await;
    ns.associate_vpc(&e.region_vpc("us-west-2"), "us-west-2")
        .await;
    let dr = ns.service("dr", false, false).await;
    ns.register_script(
        &dr,
        "west-live",
        live_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
    ns.register_script(
        &dr,
        "west-gone",
        gone_ip,
        Some(PORT),
        Some(gone.as_str()),
        Some(Removed("instance-gone")),
    )
    .await;
    aws.reset_calls().await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(errors(&ns.entry(&report)), Vec::<String>::new());
}

/// Item 2 for a namespace: its zone is also associated with another account's
/// VPC (through an authorization), which this account cannot read. Negative
/// evidence is impossible: `host-unknown` is held `inventory-incomplete` and
/// `errors` names the VPC; positive evidence still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_with_another_accounts_vpc_holds_its_negative_deregistrations() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let foreign_vpc = ns.associate_foreign_vpc(e.net).await;
    let legacy = ns.service("legacy", false, false).await;
    let live = e.old_host(1).await;
    let live_ip = e.hosts[live].ip;
    e.listen(live_ip, PORT, Behaviour::Healthy).await;
    ns.register_script(
        &legacy,
        "live",
        live_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
    // Perhaps a host of the partner's VPC: this account cannot tell.
    ns.register_script(
        &legacy,
        "unseen",
        Ipv4Addr::new(127, e.net, 9, 1),
        Some(PORT),
        None,
        Some(Held("inventory-incomplete", Some("host-unknown"))),
    )
    .await;
    let leaving = e.old_host(2).await;
    let leaving_id = e.hosts[leaving].instance_id.clone();
    ns.register_script(
        &legacy,
        "leaving",
        e.hosts[leaving].ip,
        Some(PORT),
        Some(leaving_id.as_str()),
        Some(Removed("instance-gone")),
    )
    .await;
    e.terminate(leaving).await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    let errs = errors(&entry);
    assert!(
        errs.iter().any(|e| e.contains(&foreign_vpc)),
        "errors name the VPC: {entry:#}"
    );
}
