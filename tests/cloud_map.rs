//! Cloud Map namespaces (docs/cloud-map.md) end to end: the real binary against
//! the local AWS, with Cloud Map instances registered as ECS and scripts register
//! them, EC2 hosts in the namespace's VPC and real listeners on loopback
//! addresses. Every test checks what is left in Cloud Map (ListInstances,
//! GetInstancesHealthStatus), not only the report.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::cloud_map::{
    cm_dry_run, cm_env, cm_invoke, cm_sweep, errors, reaper, task_stopped_event, Fate, Namespace,
    ACCOUNT,
};
use support::{Behaviour, Estate, LocalAws};
use Fate::{Deregistered, Foreign, Held, Kept};

const HOUR: Duration = Duration::from_secs(3600);
const NS: &str = "cm.internal";
/// Every negative deregistration goes through: these tests are about each
/// instance's decision, not about the sweep-wide safety rules.
const PLAIN: &[(&str, &str)] = &[("MAX_DELETE_PERCENT", "100"), ("KEEP_LAST_RECORD", "false")];
/// The port scripts register their hosts' services on.
const PORT: u16 = 8080;

/// A host of the estate outside any cluster at 127.<net>.2.`last`, launched an
/// hour ago (so past any grace period).
async fn old_host(e: &mut Estate<'_>, last: u8) -> usize {
    let h = e.host(None, 2, last).await;
    e.launched(h, HOUR).await;
    h
}

fn health_updates(entry: &Value) -> Vec<(String, String, String)> {
    entry["health_updates"]
        .as_array()
        .unwrap_or_else(|| panic!("health_updates in {entry:#}"))
        .iter()
        .map(|u| {
            (
                u["service"].as_str().unwrap_or_default().to_string(),
                u["instance_id"].as_str().unwrap_or_default().to_string(),
                u["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn update(service: &str, instance: &str, status: &str) -> (String, String, String) {
    (service.into(), instance.into(), status.into())
}

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
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let net = e.net;

    // ECS registrations. Nothing listens on the tasks' ports, and the service has
    // custom health: the reaper never checks or marks ECS's own registrations.
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
    ns.register_task(&api, &stopped, "api", Some(Deregistered("task-stopped")))
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
        Some(Deregistered("task-gone")),
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
        Some(Deregistered("task-gone")),
    )
    .await;
    aws.ecs()
        .delete_cluster()
        .cluster(&retired)
        .send()
        .await
        .expect("DeleteCluster");
    e.stop_ecs_task(&stopped).await;

    // Script registrations, in a service without custom health.
    let legacy = ns.service("legacy", false, false).await;
    let live = old_host(&mut e, 1).await;
    let live_ip = e.hosts[live].ip;
    e.listen(live_ip, PORT, Behaviour::Healthy).await;
    let live_id = e.hosts[live].instance_id.clone();
    ns.register_script(
        &legacy,
        "live",
        live_ip,
        Some(PORT),
        Some(live_id.as_str()),
        Some(Kept("healthy")),
    )
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
    let sick = old_host(&mut e, 2).await;
    ns.register_script(
        &legacy,
        "sick",
        e.hosts[sick].ip,
        Some(PORT),
        None,
        Some(Deregistered("unhealthy")),
    )
    .await;
    // Launched just now: not checked yet (nothing listens there either).
    let fresh = e.host(None, 2, 3).await;
    ns.register_script(
        &legacy,
        "fresh",
        e.hosts[fresh].ip,
        Some(PORT),
        None,
        Some(Kept("grace")),
    )
    .await;
    // Terminated: EC2 no longer reports its address, only its id names it.
    let terminated = old_host(&mut e, 4).await;
    let terminated_id = e.hosts[terminated].instance_id.clone();
    ns.register_script(
        &legacy,
        "terminated",
        e.hosts[terminated].ip,
        Some(PORT),
        Some(terminated_id.as_str()),
        Some(Deregistered("instance-gone")),
    )
    .await;
    // Shutting down, still answering on its address: named by its address only.
    let leaving = old_host(&mut e, 5).await;
    e.listen(e.hosts[leaving].ip, PORT, Behaviour::Healthy)
        .await;
    ns.register_script(
        &legacy,
        "leaving",
        e.hosts[leaving].ip,
        Some(PORT),
        None,
        Some(Deregistered("instance-gone")),
    )
    .await;
    // In the VPC's range, but no network interface has it.
    let nowhere = std::net::Ipv4Addr::new(127, net, 9, 7);
    ns.register_script(
        &legacy,
        "nowhere",
        nowhere,
        Some(PORT),
        None,
        Some(Deregistered("host-unknown")),
    )
    .await;
    // Terminated and registered by address only: the address is released, no
    // interface has it any more.
    let released = old_host(&mut e, 6).await;
    ns.register_script(
        &legacy,
        "released",
        e.hosts[released].ip,
        Some(PORT),
        None,
        Some(Deregistered("host-unknown")),
    )
    .await;
    // An address only another VPC with the same CIDR has (staging), answering
    // there: not evidence for this namespace.
    let staging = e.staging_host(None, 2, 9).await;
    let staging_ip = e.hosts[staging].ip;
    e.listen(staging_ip, PORT, Behaviour::Healthy).await;
    ns.register_script(
        &legacy,
        "staging",
        staging_ip,
        Some(PORT),
        None,
        Some(Deregistered("host-unknown")),
    )
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
    for id in [
        "0123456789abcdef0123456789abcdef",
        "fedcba9876543210fedcba9876543210",
    ] {
        ns.forget(id);
    }
    ns.forget(&stopped.id);
    for id in [
        "sick",
        "terminated",
        "leaving",
        "nowhere",
        "released",
        "staging",
    ] {
        ns.forget(id);
    }
    let again = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&again, false).await;
    assert_eq!(ns.entry(&again)["deregistered"], json!([]));
}

/// In a service with HealthCheckCustomConfig the reaper is the health checker:
/// a script instance that stops answering is marked UNHEALTHY (once), not
/// deregistered, and HEALTHY again once it answers; only host-unknown or
/// instance-gone deregister there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_health_is_marked_unhealthy_then_healthy_again_never_deregistered() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let web = ns.service("web", false, true).await;
    let ok = old_host(&mut e, 1).await;
    let down = old_host(&mut e, 2).await;
    let (ok_ip, down_ip) = (e.hosts[ok].ip, e.hosts[down].ip);
    e.listen(ok_ip, PORT, Behaviour::Healthy).await;
    let down_id = e.hosts[down].instance_id.clone();
    ns.register_script(
        &web,
        "web-1",
        ok_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
    ns.register_script(
        &web,
        "web-2",
        down_ip,
        Some(PORT),
        Some(down_id.as_str()),
        Some(Kept("unhealthy")),
    )
    .await;
    ns.register_script(
        &web,
        "web-4",
        ok_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
    let nowhere = std::net::Ipv4Addr::new(127, e.net, 9, 3);
    ns.register_script(
        &web,
        "web-3",
        nowhere,
        Some(PORT),
        None,
        Some(Deregistered("host-unknown")),
    )
    .await;

    // Default safety settings: a deregistration and a mark of four, at the 50 %
    // limit; the service keeps three, two of them answering.
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    assert_eq!(
        health_updates(&entry),
        vec![update("web", "web-2", "UNHEALTHY")]
    );
    assert_eq!(
        entry["guard"]["negative"], 2,
        "a mark takes an instance out of answers: it counts toward the guard: {entry:#}"
    );
    let health = ns.health(&web).await;
    assert_eq!(
        (health["web-1"].as_str(), health["web-2"].as_str()),
        ("HEALTHY", "UNHEALTHY")
    );

    // Still down: already UNHEALTHY, nothing to update.
    ns.forget("web-3");
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(health_updates(&ns.entry(&report)), vec![]);
    assert_eq!(
        aws.count("servicediscovery:UpdateInstanceCustomHealthStatus")
            .await,
        1
    );
    assert_eq!(ns.health(&web).await["web-2"], "UNHEALTHY");

    // It answers again: HEALTHY.
    e.listen(down_ip, PORT, Behaviour::Healthy).await;
    ns.expect("web-2", Some(Kept("healthy")));
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(
        health_updates(&ns.entry(&report)),
        vec![update("web", "web-2", "HEALTHY")]
    );
    let health = ns.health(&web).await;
    assert_eq!(
        (health["web-1"].as_str(), health["web-2"].as_str()),
        ("HEALTHY", "HEALTHY")
    );
    assert_eq!(
        aws.count("servicediscovery:UpdateInstanceCustomHealthStatus")
            .await,
        2
    );
}

/// The last instance of a Cloud Map service is never deregistered on negative
/// evidence (foreign instances count), positive evidence always goes through,
/// and `KEEP_LAST_RECORD=false` turns the protection off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_instance_of_a_service_is_held_on_negative_evidence() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let net = e.net;
    let nowhere = |last: u8| std::net::Ipv4Addr::new(127, net, 9, last);
    let gone = old_host(&mut e, 1).await;
    let gone_id = e.hosts[gone].instance_id.clone();
    let gone_ip = e.hosts[gone].ip;

    let solo = ns.service("solo", false, false).await;
    ns.register_script(
        &solo,
        "solo-1",
        nowhere(1),
        Some(PORT),
        None,
        Some(Held("last-record", "host-unknown")),
    )
    .await;
    // A positive deregistration first, then the negative one would empty the service.
    let pair = ns.service("pair", false, false).await;
    ns.register_script(
        &pair,
        "pair-gone",
        gone_ip,
        Some(PORT),
        Some(gone_id.as_str()),
        Some(Deregistered("instance-gone")),
    )
    .await;
    ns.register_script(
        &pair,
        "pair-unknown",
        nowhere(2),
        None,
        None,
        Some(Held("last-record", "host-unknown")),
    )
    .await;
    // Positive evidence on the last instance goes through.
    let last = ns.service("last", false, false).await;
    ns.register_script(
        &last,
        "last-gone",
        gone_ip,
        Some(PORT),
        Some(gone_id.as_str()),
        Some(Deregistered("instance-gone")),
    )
    .await;
    // A foreign instance keeps the name answering.
    let mixed = ns.service("mixed", false, false).await;
    ns.register_script(
        &mixed,
        "mixed-unknown",
        nowhere(3),
        Some(PORT),
        None,
        Some(Deregistered("host-unknown")),
    )
    .await;
    ns.register(
        &mixed,
        "mixed-http",
        &[("stage", "blue".to_string())],
        Some(Foreign),
    )
    .await;
    e.terminate(gone).await;

    let env = [("MAX_DELETE_PERCENT", "100")];
    let report = cm_sweep(&aws, NS, &env).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(
        ns.entry(&report)["guard"]["negative"],
        3,
        "counted before last-record"
    );
    assert_eq!(ns.ids(&solo).await, vec!["solo-1"]);
    assert_eq!(ns.ids(&pair).await, vec!["pair-unknown"]);

    // Protection off: the held ones go.
    for id in ["pair-gone", "last-gone", "mixed-unknown"] {
        ns.forget(id);
    }
    ns.expect("solo-1", Some(Deregistered("host-unknown")));
    ns.expect("pair-unknown", Some(Deregistered("host-unknown")));
    let report = cm_sweep(
        &aws,
        NS,
        &[("MAX_DELETE_PERCENT", "100"), ("KEEP_LAST_RECORD", "false")],
    )
    .await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(ns.ids(&solo).await, Vec::<String>::new());
}

/// Two negative candidates in one service of another namespace, swept together:
/// exactly one goes, the other is held as the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_dead_instances_one_is_kept_as_the_last_and_namespaces_are_judged_apart() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let mut other = Namespace::create(&e, "other.internal").await;
    let net = e.net;
    let live = old_host(&mut e, 1).await;
    let live_ip = e.hosts[live].ip;
    e.listen(live_ip, PORT, Behaviour::Healthy).await;
    let calc = ns.service("calc", false, false).await;
    ns.register_script(
        &calc,
        "calc-1",
        live_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
    let jobs = other.service("jobs", false, false).await;
    for i in 1..=2u8 {
        other
            .register_script(
                &jobs,
                &format!("jobs-{i}"),
                std::net::Ipv4Addr::new(127, net, 9, i),
                Some(PORT),
                None,
                None,
            )
            .await;
    }

    let report = cm_sweep(
        &aws,
        "cm.internal, other.internal",
        &[("MAX_DELETE_PERCENT", "100")],
    )
    .await;
    assert_eq!(
        report["cloud_map"].as_array().map(Vec::len),
        Some(2),
        "{report:#}"
    );
    ns.assert_outcome(&report, false).await;
    let entry = other.entry(&report);
    assert_eq!(entry["instances"]["owned"], 2, "{entry:#}");
    let deregistered = entry["deregistered"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let held = entry["held"].as_array().cloned().unwrap_or_default();
    assert_eq!((deregistered.len(), held.len()), (1, 1), "{entry:#}");
    assert_eq!(deregistered[0]["reason"], "host-unknown");
    assert_eq!(
        (held[0]["reason"].as_str(), held[0]["decided"].as_str()),
        (Some("last-record"), Some("host-unknown"))
    );
    assert_ne!(deregistered[0]["instance_id"], held[0]["instance_id"]);
    assert_eq!(
        other.ids(&jobs).await,
        vec![held[0]["instance_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()]
    );
}

/// The mass-deletion guard, per namespace: too many negative deregistrations
/// hold them all (`guard`); positive evidence still goes through; just under the
/// limit they go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_holds_a_namespaces_negative_deregistrations_and_lets_positive_ones_through() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let net = e.net;
    let fleet = ns.service("fleet", false, false).await;
    for last in 1..=2u8 {
        let h = old_host(&mut e, last).await;
        let ip = e.hosts[h].ip;
        e.listen(ip, PORT, Behaviour::Healthy).await;
        ns.register_script(
            &fleet,
            &format!("ok-{last}"),
            ip,
            Some(PORT),
            None,
            Some(Kept("healthy")),
        )
        .await;
    }
    for last in 1..=4u8 {
        let ip = std::net::Ipv4Addr::new(127, net, 9, last);
        ns.register_script(
            &fleet,
            &format!("ghost-{last}"),
            ip,
            Some(PORT),
            None,
            Some(Held("guard", "host-unknown")),
        )
        .await;
    }
    let leaving = old_host(&mut e, 3).await;
    ns.register_script(
        &fleet,
        "leaving",
        e.hosts[leaving].ip,
        Some(PORT),
        None,
        Some(Deregistered("instance-gone")),
    )
    .await;
    e.shutting_down(leaving).await;

    // 4 negative of 7 owned: 57% > 50%.
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(
        ns.entry(&report)["guard"],
        json!({"tripped": true, "limit_percent": 50, "negative": 4, "owned": 7})
    );
    assert_eq!(
        report["complete"], true,
        "a tripped guard is a success: {report:#}"
    );

    // 4 of the 6 left, 67%, is not more than 70%: they go.
    ns.forget("leaving");
    for last in 1..=4u8 {
        ns.expect(&format!("ghost-{last}"), Some(Deregistered("host-unknown")));
    }
    let report = cm_sweep(&aws, NS, &[("MAX_DELETE_PERCENT", "70")]).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(
        ns.entry(&report)["guard"],
        json!({"tripped": false, "limit_percent": 70, "negative": 4, "owned": 6})
    );
}

/// ListInstances failing for one service: the namespace's inventory is
/// incomplete, every negative deregistration in it is held, positive ones go,
/// and the entry's errors name the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_instance_listing_holds_the_namespaces_negative_deregistrations() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let net = e.net;
    let nowhere = |last: u8| std::net::Ipv4Addr::new(127, net, 9, last);

    // Unlistable: these would be host-unknown.
    let dark = ns.service("dark", false, false).await;
    for last in 1..=2u8 {
        ns.register_script(
            &dark,
            &format!("dark-{last}"),
            nowhere(last),
            Some(PORT),
            None,
            None,
        )
        .await;
    }
    let apps = e.cluster("apps").await;
    let ecs_host = e.host(Some(&apps), 1, 1).await;
    let api = ns.service("api", true, false).await;
    let running = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &running, "api", Some(Kept("healthy")))
        .await;
    let stopped = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &stopped, "api", Some(Deregistered("task-stopped")))
        .await;
    let ip = e.hosts[ecs_host].ip;
    ns.register_ecs(
        &api,
        "0123456789abcdef0123456789abcdef",
        &apps,
        "api",
        "api",
        ip,
        32799,
        None,
        Some(Held("inventory-incomplete", "task-gone")),
    )
    .await;
    let legacy = ns.service("legacy", false, false).await;
    let live = old_host(&mut e, 1).await;
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
    ns.register_script(
        &legacy,
        "nowhere",
        nowhere(7),
        Some(PORT),
        None,
        Some(Held("inventory-incomplete", "host-unknown")),
    )
    .await;
    e.stop_ecs_task(&stopped).await;
    aws.faults(json!([{
        "service": "servicediscovery", "operation": "ListInstances", "status": 500,
        "code": "InternalFailure", "count": -1, "match": {"ServiceId": dark.id}
    }]))
    .await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    aws.clear_faults().await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    let errs = errors(&entry);
    assert!(
        errs.iter().any(|e| e.contains("ListInstances")),
        "{entry:#}"
    );
    assert_eq!(ns.ids(&dark).await, vec!["dark-1", "dark-2"]);
}

/// A dry run decides everything, reports what it would deregister and mark,
/// and changes nothing in Cloud Map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_what_it_would_do_and_changes_nothing() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let apps = e.cluster("apps").await;
    let ecs_host = e.host(Some(&apps), 1, 1).await;
    let api = ns.service("api", true, true).await;
    let running = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &running, "api", Some(Kept("healthy")))
        .await;
    let stopped = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &stopped, "api", Some(Deregistered("task-stopped")))
        .await;
    let legacy = ns.service("legacy", false, false).await;
    let live = old_host(&mut e, 1).await;
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
    let sick = old_host(&mut e, 2).await;
    let sick_ip = e.hosts[sick].ip;
    ns.register_script(
        &legacy,
        "sick",
        sick_ip,
        Some(PORT),
        None,
        Some(Deregistered("unhealthy")),
    )
    .await;
    let web = ns.service("web", false, true).await;
    ns.register_script(
        &web,
        "web-1",
        live_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
    ns.register_script(
        &web,
        "web-2",
        sick_ip,
        Some(PORT),
        None,
        Some(Kept("unhealthy")),
    )
    .await;
    e.stop_ecs_task(&stopped).await;
    aws.reset_calls().await;

    let report = cm_dry_run(&aws, NS, PLAIN).await;
    assert_eq!(report["dry_run"], true);
    ns.assert_outcome(&report, true).await;
    assert_eq!(
        health_updates(&ns.entry(&report)),
        vec![update("web", "web-2", "UNHEALTHY")]
    );
    assert_eq!(ns.health(&web).await["web-2"], "HEALTHY");
    let calls = aws.calls().await;
    for write in [
        "DeregisterInstance",
        "UpdateInstanceCustomHealthStatus",
        "RegisterInstance",
    ] {
        assert_eq!(
            calls.get(&format!("servicediscovery:{write}")),
            None,
            "{calls:?}"
        );
    }
    assert_eq!(aws.sd_operations().await["operations"], json!([]));
}

/// A DeregisterInstance whose operation ends in FAIL: the error (operation id and
/// message) is reported, the instance is not reported deregistered and stays; the
/// next sweep deregisters it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deregistration_is_an_error_and_the_instance_stays() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    for last in 1..=2u8 {
        let h = old_host(&mut e, last).await;
        let (ip, id) = (e.hosts[h].ip, e.hosts[h].instance_id.clone());
        ns.register_script(
            &legacy,
            &format!("gone-{last}"),
            ip,
            Some(PORT),
            Some(id.as_str()),
            None,
        )
        .await;
        e.terminate(h).await;
    }
    ns.expect("gone-1", Some(Deregistered("instance-gone")));
    // Not reported as deregistered, still registered.
    ns.expect("gone-2", Some(Fate::Failed));
    let message = "localaws: the hosted zone is busy";
    ns.fail_deregistration("gone-2", message).await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&report, false).await;
    let entry = ns.entry(&report);
    let operations = aws.sd_operations().await;
    let failed = operations["operations"]
        .as_array()
        .and_then(|ops| ops.iter().find(|o| o["instanceId"] == "gone-2"))
        .cloned()
        .unwrap_or_else(|| panic!("no operation for gone-2: {operations:#}"));
    assert_eq!(failed["status"], "FAIL");
    let op_id = failed["id"].as_str().unwrap_or_default();
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|e| e.contains(op_id) && e.contains(message)),
        "the error names operation {op_id} and its message: {entry:#}"
    );
    assert_eq!(ns.ids(&legacy).await, vec!["gone-2"]);

    ns.forget("gone-1");
    ns.expect("gone-2", Some(Deregistered("instance-gone")));
    let report = cm_sweep(&aws, NS, PLAIN).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(errors(&ns.entry(&report)), Vec::<String>::new());
}

/// An ECS `Task State Change` STOPPED event deregisters the task's instance from
/// the Cloud Map service its ECS service registers into (serviceRegistries), if
/// that namespace is swept; a second delivery finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_task_event_deregisters_its_cloud_map_instance() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let mut other = Namespace::create(&e, "other.internal").await;
    let apps = e.cluster("apps").await;
    let h = e.host(Some(&apps), 1, 1).await;
    let web = ns.service("web", true, false).await;
    e.ecs_service(&apps, "web", "web", &web).await;
    let jobs = other.service("jobs", true, false).await;
    e.ecs_service(&apps, "jobs", "jobs", &jobs).await;
    let done = e.ecs_task(h, "web", "service:web", HOUR).await;
    let running = e.ecs_task(h, "web", "service:web", HOUR).await;
    let job = e.ecs_task(h, "jobs", "service:jobs", HOUR).await;
    ns.register_task(&web, &done, "web", None).await;
    ns.register_task(&web, &running, "web", None).await;
    other.register_task(&jobs, &job, "jobs", None).await;
    for t in [&done, &job] {
        e.stop_ecs_task(t).await;
    }
    aws.reset_calls().await;

    let report = cm_invoke(&aws, NS, &[], &task_stopped_event(&done)).await;
    assert_eq!(report["trigger"], "ecs-task-stopped", "{report:#}");
    let entry = ns.entry(&report);
    assert_eq!(
        entry["deregistered"],
        json!([{"service": "web", "instance_id": done.id, "target": format!("{}:{}", done.ip, done.port), "reason": "task-stopped",
                "evidence": format!("ECS task {} STOPPED", done.arn.split_once('/').map_or("", |(_, t)| t))}]),
        "{report:#}"
    );
    assert_eq!(errors(&entry), Vec::<String>::new());
    // The event reads what it needs: no listing of the namespace.
    let calls = aws.calls().await;
    assert_eq!(
        calls.get("servicediscovery:ListInstances"),
        None,
        "{calls:?}"
    );
    assert_eq!(ns.ids(&web).await, vec![running.id.clone()]);

    // Delivered again: nothing left to do.
    let again = cm_invoke(&aws, NS, &[], &task_stopped_event(&done)).await;
    for entry in again["cloud_map"].as_array().into_iter().flatten() {
        assert_eq!(
            (entry["deregistered"].clone(), errors(entry)),
            (json!([]), vec![]),
            "{again:#}"
        );
    }
    assert_eq!(ns.ids(&web).await, vec![running.id.clone()]);

    // A task whose service registers into a namespace that is not swept: untouched.
    let report = cm_invoke(&aws, NS, &[], &task_stopped_event(&job)).await;
    for entry in report["cloud_map"].as_array().into_iter().flatten() {
        assert_ne!(entry["namespace"], "other.internal", "{report:#}");
        assert_eq!(entry["deregistered"], json!([]), "{report:#}");
    }
    assert_eq!(other.ids(&jobs).await, vec![job.id.clone()]);
    assert_eq!(aws.count("servicediscovery:DeregisterInstance").await, 1);
}

/// One sweep covers the zone and the namespace, each in its own part of the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_beside_a_zone_is_swept_in_the_same_sweep() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let web = e.cluster("web").await;
    let h = e.host(Some(&web), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h, &t, Some(("kept", "healthy")));
    let ghost = e.unknown_host(9);
    e.srv_raw("calc", &ghost, 80, None, Some(("deleted", "host-unknown")));
    e.commit().await;
    let legacy = ns.service("legacy", false, false).await;
    let live = old_host(&mut e, 1).await;
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
    let nowhere = std::net::Ipv4Addr::new(127, e.net, 9, 8);
    ns.register_script(
        &legacy,
        "nowhere",
        nowhere,
        Some(PORT),
        None,
        Some(Deregistered("host-unknown")),
    )
    .await;

    let zone = e.zone_id.clone();
    let report = cm_sweep(&aws, NS, &[PLAIN[0], PLAIN[1], ("HOSTED_ZONE_ID", &zone)]).await;
    assert_eq!(report["hosted_zone_id"], zone.as_str(), "{report:#}");
    assert_eq!(report["records"]["owned"], 2, "{report:#}");
    assert_eq!(report["complete"], true, "{report:#}");
    e.assert_outcome(&report, false).await;
    ns.assert_outcome(&report, false).await;
    assert_eq!(report["cloud_map"].as_array().map(Vec::len), Some(1));
}

/// Only CLOUD_MAP_NAMESPACES, by namespace id: no zone is read or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_namespace_given_by_id_is_swept_without_a_zone() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    let live = old_host(&mut e, 1).await;
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
    let leaving = old_host(&mut e, 2).await;
    let leaving_id = e.hosts[leaving].instance_id.clone();
    ns.register_script(
        &legacy,
        "leaving",
        e.hosts[leaving].ip,
        None,
        Some(leaving_id.as_str()),
        Some(Deregistered("instance-gone")),
    )
    .await;
    e.set_state(leaving, "stopped").await;
    aws.reset_calls().await;

    let report = cm_sweep(&aws, &ns.id, &[]).await;
    assert_eq!(report["hosted_zone_id"], Value::Null, "{report:#}");
    assert_eq!(
        report["records"],
        json!({"scanned": 0, "owned": 0, "foreign": 0})
    );
    assert_eq!(report["deleted"], json!([]));
    let entry = ns.entry(&report);
    assert_eq!(
        (entry["namespace_id"].as_str(), entry["namespace"].as_str()),
        (Some(ns.id.as_str()), Some(NS))
    );
    ns.assert_outcome(&report, false).await;
    let calls = aws.calls().await;
    for call in [
        "route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
    ] {
        assert_eq!(calls.get(call), None, "{calls:?}");
    }
}

/// A namespace that does not exist is reported incomplete with an error; the
/// others are still swept and the invocation succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_namespace_is_an_incomplete_entry_and_the_others_are_swept() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    let nowhere = std::net::Ipv4Addr::new(127, e.net, 9, 1);
    ns.register_script(
        &legacy,
        "nowhere",
        nowhere,
        None,
        None,
        Some(Deregistered("host-unknown")),
    )
    .await;
    let live = old_host(&mut e, 1).await;
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

    let report = cm_sweep(&aws, "missing.internal,cm.internal", PLAIN).await;
    assert_eq!(report["complete"], false, "{report:#}");
    ns.assert_outcome(&report, false).await;
    let missing: Vec<&Value> = report["cloud_map"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["namespace"] == "missing.internal")
        .collect();
    assert_eq!(missing.len(), 1, "{report:#}");
    assert_eq!(missing[0]["complete"], false);
    assert_eq!(missing[0]["namespace_id"], Value::Null);
    assert!(!errors(missing[0]).is_empty(), "{report:#}");
}

/// Configuration: an empty entry, or nothing to sweep at all, refuses to start
/// with a message naming the variable(s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_namespace_configuration_refuses_to_start() {
    let aws = LocalAws::start().await;
    for value in ["cm.internal,,other.internal", " , ", "cm.internal,"] {
        let (code, stdout, stderr) = reaper(&["sweep"], cm_env(&aws, value, &[]), None).await;
        assert_eq!((code, stdout.as_str()), (2, ""), "{value:?}: {stderr}");
        assert!(
            stderr.contains("CLOUD_MAP_NAMESPACES"),
            "{value:?}: {stderr}"
        );
    }
    let mut env = cm_env(&aws, "", &[]);
    env.retain(|(k, _)| k != "CLOUD_MAP_NAMESPACES");
    let (code, _, stderr) = reaper(&["sweep"], env, None).await;
    assert_eq!(code, 2, "{stderr}");
    for variable in ["HOSTED_ZONE_ID", "DNS_NAMESPACE", "CLOUD_MAP_NAMESPACES"] {
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
    let (code, _, stderr) = reaper(&["sweep"], cm_env(&aws, "", &[]), None).await;
    assert_eq!(code, 2, "an empty value counts as unset: {stderr}");
}

/// `ECS_CLUSTERS` narrows the ECS registrations a sweep judges: an instance of a
/// cluster outside it (which exists, and whose task ECS does not know) is kept
/// `out-of-scope` and stays registered; the same evidence in the swept cluster
/// deregisters `task-gone`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecs_registration_of_a_cluster_outside_ecs_clusters_is_kept_out_of_scope() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let apps = e.cluster("apps").await;
    let batch = e.cluster("batch").await;
    let apps_host = e.host(Some(&apps), 1, 1).await;
    let batch_host = e.host(Some(&batch), 1, 2).await;
    for h in [apps_host, batch_host] {
        e.launched(h, HOUR).await;
    }
    let api = ns.service("api", true, false).await;
    let running = e.ecs_task(apps_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &running, "api", Some(Kept("healthy")))
        .await;
    let (apps_ip, apps_id) = (
        e.hosts[apps_host].ip,
        e.hosts[apps_host].instance_id.clone(),
    );
    ns.register_ecs(
        &api,
        "0123456789abcdef0123456789abcdef",
        &apps,
        "api",
        "api",
        apps_ip,
        32799,
        Some(apps_id.as_str()),
        Some(Deregistered("task-gone")),
    )
    .await;
    // The same evidence in a cluster that exists but is not swept.
    let (batch_ip, batch_id) = (
        e.hosts[batch_host].ip,
        e.hosts[batch_host].instance_id.clone(),
    );
    ns.register_ecs(
        &api,
        "fedcba9876543210fedcba9876543210",
        &batch,
        "api",
        "api",
        batch_ip,
        32800,
        Some(batch_id.as_str()),
        Some(Kept("out-of-scope")),
    )
    .await;

    let report = cm_sweep(&aws, NS, &[PLAIN[0], PLAIN[1], ("ECS_CLUSTERS", &apps)]).await;
    assert_eq!(report["complete"], true, "{report:#}");
    let entry = ns.entry(&report);
    assert_eq!(errors(&entry), Vec::<String>::new());
    ns.assert_outcome(&report, false).await;
    assert_eq!(entry["kept"]["out-of-scope"], 1, "{entry:#}");
    let ids = ns.ids(&api).await;
    assert!(
        ids.contains(&"fedcba9876543210fedcba9876543210".to_string())
            && !ids.contains(&"0123456789abcdef0123456789abcdef".to_string()),
        "{ids:?}"
    );
}

/// The sample `EC2 Instance State-change Notification` of `events/` for
/// `instance_id` in `state`.
fn instance_state_event(instance_id: &str, state: &str) -> Value {
    let path = format!("{}/events/ec2-terminated.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut event: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
    event["resources"] = json!([format!(
        "arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance_id}"
    )]);
    event["detail"] = json!({"instance-id": instance_id, "state": state});
    event
}

/// Only CLOUD_MAP_NAMESPACES configured: an EC2 instance event has no zone to
/// act on and leaves Cloud Map to the sweep, so it is reported `ignored` (no
/// hosted zone), succeeds and deregisters nothing, even an instance that names
/// the terminated host by EC2_INSTANCE_ID; the next sweep deregisters it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_event_without_a_zone_is_ignored_and_deregisters_nothing() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    let live = old_host(&mut e, 1).await;
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
    let gone = old_host(&mut e, 2).await;
    let gone_id = e.hosts[gone].instance_id.clone();
    ns.register_script(
        &legacy,
        "gone",
        e.hosts[gone].ip,
        Some(PORT),
        Some(gone_id.as_str()),
        Some(Deregistered("instance-gone")),
    )
    .await;
    e.terminate(gone).await;
    aws.reset_calls().await;

    let event = instance_state_event(&gone_id, "terminated");
    let env = cm_env(&aws, NS, &[]);
    assert!(
        env.iter()
            .all(|(k, _)| k != "HOSTED_ZONE_ID" && k != "DNS_NAMESPACE"),
        "no zone is configured: {env:?}"
    );
    // Exit 0 and a JSON report.
    let report = cm_invoke(&aws, NS, &[], &event).await;
    assert_eq!(report["trigger"], "ec2-instance-state", "{report:#}");
    let why = report["ignored"]
        .as_str()
        .unwrap_or_else(|| panic!("ignored is a string: {report:#}"));
    assert!(why.contains("no hosted zone"), "{why}");
    assert_eq!(report["deleted"], json!([]), "{report:#}");
    for entry in report["cloud_map"].as_array().into_iter().flatten() {
        assert_eq!(entry["deregistered"], json!([]), "{report:#}");
    }
    assert_eq!(ns.ids(&legacy).await, vec!["gone", "live"]);
    let calls = aws.calls().await;
    for write in [
        "servicediscovery:DeregisterInstance",
        "route53:ChangeResourceRecordSets",
    ] {
        assert_eq!(calls.get(write), None, "{calls:?}");
    }

    // Left to the sweep, which deregisters it.
    let report = cm_sweep(&aws, NS, &[]).await;
    ns.assert_outcome(&report, false).await;
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
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;

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
    let one = old_host(&mut e, 1).await;
    let two = old_host(&mut e, 2).await;
    let (one_ip, two_ip) = (e.hosts[one].ip, e.hosts[two].ip);
    let one_id = e.hosts[one].instance_id.clone();
    e.listen(one_ip, PORT, Behaviour::Healthy).await;
    e.listen(two_ip, PORT, Behaviour::Healthy).await;
    ns.register_script(
        &web,
        "web-1",
        one_ip,
        Some(PORT),
        Some(one_id.as_str()),
        Some(Kept("healthy")),
    )
    .await;
    ns.register_script(
        &web,
        "web-2",
        two_ip,
        Some(PORT),
        None,
        Some(Kept("healthy")),
    )
    .await;
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

/// A deregistration whose operation cannot be followed (GetOperation failing
/// after the SDK's retries) is reported unconfirmed at once — not listed as
/// deregistered, the entry incomplete — instead of being polled until the
/// deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deregistration_that_cannot_be_followed_is_unconfirmed_not_waited_out() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let mut ns = Namespace::create(&e, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    let h = old_host(&mut e, 1).await;
    let (ip, id) = (e.hosts[h].ip, e.hosts[h].instance_id.clone());
    ns.register_script(&legacy, "gone", ip, Some(PORT), Some(id.as_str()), None)
        .await;
    e.terminate(h).await;
    aws.faults(json!([{
        "service": "servicediscovery", "operation": "GetOperation", "status": 500,
        "code": "InternalFailure", "count": -1
    }]))
    .await;

    let report = cm_sweep(&aws, NS, PLAIN).await;
    aws.clear_faults().await;
    let entry = ns.entry(&report);
    assert_eq!(entry["deregistered"], json!([]), "{entry:#}");
    assert_eq!(entry["complete"], false, "{entry:#}");
    assert_eq!(report["complete"], false);
    let errs = errors(&entry);
    assert!(
        errs.iter()
            .any(|e| e.contains("could not be followed") && e.contains("GetOperation")),
        "{entry:#}"
    );
    // DeregisterInstance was accepted: Cloud Map finishes it on its own.
    assert_eq!(aws.count("servicediscovery:DeregisterInstance").await, 1);
}
