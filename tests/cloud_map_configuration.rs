//! What the configuration selects for a Cloud Map sweep (docs/cloud-map.md), end
//! to end: namespaces by name or by id, beside a zone or alone, an unknown one,
//! malformed `CLOUD_MAP_NAMESPACES`, and `ECS_CLUSTERS`. The real binary against
//! the local AWS; every test checks what is left in Cloud Map, not only the
//! report.

mod support;

use serde_json::{json, Value};
use support::cloud_map::{cm_env, cm_sweep, errors, estate_with_namespace, reaper, HOUR, PLAIN};
use support::{Behaviour, LocalAws, Outcome};
use Outcome::{Kept, Removed};

const NS: &str = "cm.internal";

/// One sweep covers the zone and the namespace, each in its own part of the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_beside_a_zone_is_swept_in_the_same_sweep() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let web = e.cluster("web").await;
    let h = e.host(Some(&web), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h, &t, Some(Kept("healthy")));
    let ghost = e.unknown_host(9);
    e.srv_raw("calc", &ghost, 80, None, Some(Removed("host-unknown")));
    e.commit().await;
    let legacy = ns.service("legacy", false, false).await;
    ns.live_script(&mut e, &legacy, "live", 1).await;
    let nowhere = e.unknown_ip(8);
    ns.script(&legacy, "nowhere", nowhere, Removed("host-unknown"))
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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    ns.live_script(&mut e, &legacy, "live", 1).await;
    let leaving = e.old_host(2).await;
    let leaving_id = e.hosts[leaving].instance_id.clone();
    ns.register_script(
        &legacy,
        "leaving",
        e.hosts[leaving].ip,
        None,
        Some(leaving_id.as_str()),
        Some(Removed("instance-gone")),
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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    let nowhere = e.unknown_ip(1);
    ns.register_script(
        &legacy,
        "nowhere",
        nowhere,
        None,
        None,
        Some(Removed("host-unknown")),
    )
    .await;
    ns.live_script(&mut e, &legacy, "live", 1).await;

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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
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
        Some(Removed("task-gone")),
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
