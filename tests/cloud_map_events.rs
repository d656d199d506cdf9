//! Events against Cloud Map namespaces (docs/cloud-map.md) end to end: an ECS
//! task stopped deregisters its instance; an EC2 instance event, with no zone
//! configured, leaves Cloud Map to the sweep. The real binary against the local
//! AWS; every test checks what is left in Cloud Map, not only the report.

mod support;

use serde_json::{json, Value};
use support::cloud_map::{
    cm_env, cm_invoke, cm_sweep, errors, estate_with_namespace, task_stopped_event, Namespace,
    ACCOUNT, HOUR,
};
use support::{LocalAws, Outcome};
use Outcome::Removed;

const NS: &str = "cm.internal";

/// An ECS `Task State Change` STOPPED event deregisters the task's instance from
/// the Cloud Map service its ECS service registers into (serviceRegistries), if
/// that namespace is swept; a second delivery finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_task_event_deregisters_its_cloud_map_instance() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
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

/// An event never deregisters what a sweep of the same estate keeps: a stopped
/// task of a cluster that `ECS_CLUSTERS` leaves out is kept `out-of-scope` by the
/// sweep, and so by its `task-stopped` event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_task_of_an_unswept_cluster_is_kept_by_its_event_as_by_the_sweep() {
    let aws = LocalAws::start().await;
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let apps = e.cluster("apps").await;
    e.cluster("batch").await;
    let h = e.host(Some(&apps), 1, 1).await;
    let web = ns.service("web", true, false).await;
    e.ecs_service(&apps, "web", "web", &web).await;
    let done = e.ecs_task(h, "web", "service:web", HOUR).await;
    let running = e.ecs_task(h, "web", "service:web", HOUR).await;
    ns.register_task(&web, &done, "web", None).await;
    ns.register_task(&web, &running, "web", None).await;
    e.stop_ecs_task(&done).await;
    let only_batch = [("ECS_CLUSTERS", "batch")];

    let swept = cm_sweep(&aws, NS, &only_batch).await;
    let entry = ns.entry(&swept);
    assert_eq!(entry["deregistered"], json!([]), "{swept:#}");
    assert_eq!(entry["kept"]["out-of-scope"], 2, "{swept:#}");

    let report = cm_invoke(&aws, NS, &only_batch, &task_stopped_event(&done)).await;
    let entry = ns.entry(&report);
    assert_eq!(entry["deregistered"], json!([]), "{report:#}");
    assert_eq!(entry["kept"]["out-of-scope"], 1, "{report:#}");
    assert_eq!(errors(&entry), Vec::<String>::new());
    let mut ids = ns.ids(&web).await;
    ids.sort();
    let mut both = vec![done.id.clone(), running.id.clone()];
    both.sort();
    assert_eq!(ids, both);
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
    let (mut e, mut ns) = estate_with_namespace(&aws, NS).await;
    let legacy = ns.service("legacy", false, false).await;
    ns.live_script(&mut e, &legacy, "live", 1).await;
    let gone = e.old_host(2).await;
    let gone_id = e.hosts[gone].instance_id.clone();
    ns.script_of(
        &legacy,
        "gone",
        &e.hosts[gone],
        Some(Removed("instance-gone")),
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
