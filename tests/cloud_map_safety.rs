//! The safety rules of a Cloud Map sweep (docs/cloud-map.md) end to end: the
//! last instance of a service, the mass-deletion guard per namespace, an
//! incomplete inventory, and the dry run. The real binary against the local
//! AWS; every test checks what is left in Cloud Map (ListInstances,
//! GetInstancesHealthStatus), not only the report.

mod support;

use serde_json::json;
use support::cloud_map::{
    cm_dry_run, cm_sweep, errors, estate_with_namespace, health_updates, update, Namespace, HOUR,
    PLAIN, PORT,
};
use support::{LocalAws, Outcome};
use Outcome::{Foreign, Held, Kept, Removed};

const NS: &str = "cm.internal";

/// The last instance of a Cloud Map service is never deregistered on negative
/// evidence (foreign instances count), positive evidence always goes through,
/// and `KEEP_LAST_RECORD=false` turns the protection off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_instance_of_a_service_is_held_on_negative_evidence() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let gone = e.old_host(1).await;

    let solo = ns.service("solo", false, false).await;
    ns.script(
        &solo,
        "solo-1",
        e.unknown_ip(1),
        Held("last-record", Some("host-unknown")),
    )
    .await;
    // A positive deregistration first, then the negative one would empty the service.
    let pair = ns.service("pair", false, false).await;
    ns.script_of(
        &pair,
        "pair-gone",
        &e.hosts[gone],
        Some(Removed("instance-gone")),
    )
    .await;
    ns.register_script(
        &pair,
        "pair-unknown",
        e.unknown_ip(2),
        None,
        None,
        Some(Held("last-record", Some("host-unknown"))),
    )
    .await;
    // Positive evidence on the last instance goes through.
    let last = ns.service("last", false, false).await;
    ns.script_of(
        &last,
        "last-gone",
        &e.hosts[gone],
        Some(Removed("instance-gone")),
    )
    .await;
    // A foreign instance keeps the name answering.
    let mixed = ns.service("mixed", false, false).await;
    ns.script(
        &mixed,
        "mixed-unknown",
        e.unknown_ip(3),
        Removed("host-unknown"),
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
    ns.expect("solo-1", Some(Removed("host-unknown")));
    ns.expect("pair-unknown", Some(Removed("host-unknown")));
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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let mut other = Namespace::create(&e, "other.internal").await;
    let calc = ns.service("calc", false, false).await;
    ns.live_script(&mut e, &calc, "calc-1", 1).await;
    let jobs = other.service("jobs", false, false).await;
    for i in 1..=2u8 {
        other
            .register_script(
                &jobs,
                &format!("jobs-{i}"),
                e.unknown_ip(i),
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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let fleet = ns.service("fleet", false, false).await;
    for last in 1..=2u8 {
        ns.live_script(&mut e, &fleet, &format!("ok-{last}"), last)
            .await;
    }
    for last in 1..=4u8 {
        let ip = e.unknown_ip(last);
        ns.script(
            &fleet,
            &format!("ghost-{last}"),
            ip,
            Held("guard", Some("host-unknown")),
        )
        .await;
    }
    let leaving = e.old_host(3).await;
    ns.script(
        &fleet,
        "leaving",
        e.hosts[leaving].ip,
        Removed("instance-gone"),
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
        ns.expect(&format!("ghost-{last}"), Some(Removed("host-unknown")));
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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;

    // Unlistable: these would be host-unknown.
    let dark = ns.service("dark", false, false).await;
    for last in 1..=2u8 {
        ns.register_script(
            &dark,
            &format!("dark-{last}"),
            e.unknown_ip(last),
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
    ns.register_task(&api, &stopped, "api", Some(Removed("task-stopped")))
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
        Some(Held("inventory-incomplete", Some("task-gone"))),
    )
    .await;
    let legacy = ns.service("legacy", false, false).await;
    ns.live_script(&mut e, &legacy, "live", 1).await;
    ns.script(
        &legacy,
        "nowhere",
        e.unknown_ip(7),
        Held("inventory-incomplete", Some("host-unknown")),
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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let apps = e.cluster("apps").await;
    let ecs_host = e.host(Some(&apps), 1, 1).await;
    let api = ns.service("api", true, true).await;
    let running = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &running, "api", Some(Kept("healthy")))
        .await;
    let stopped = e.ecs_task(ecs_host, "api", "service:api", HOUR).await;
    ns.register_task(&api, &stopped, "api", Some(Removed("task-stopped")))
        .await;
    let legacy = ns.service("legacy", false, false).await;
    let live_ip = ns.live_script(&mut e, &legacy, "live", 1).await;
    let sick = e.old_host(2).await;
    let sick_ip = e.hosts[sick].ip;
    ns.script(&legacy, "sick", sick_ip, Removed("unhealthy"))
        .await;
    let web = ns.service("web", false, true).await;
    ns.script(&web, "web-1", live_ip, Kept("healthy")).await;
    ns.script(&web, "web-2", sick_ip, Kept("unhealthy")).await;
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
