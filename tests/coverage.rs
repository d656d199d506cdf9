//! An absence is evidence only where the reaper looked (docs/coverage.md): a
//! zone shared by two Regions, another account's VPC, ECS answering with its
//! eventual consistency, a scale-in EC2 has half forgotten, a host that moved to
//! a cluster `ECS_CLUSTERS` leaves out — and the events, which must keep whatever
//! a sweep of the same estate would keep.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::Outcome::{Held, Kept, Removed};
use support::{Behaviour, Estate, LocalAws};

const HOUR: Duration = Duration::from_secs(3600);
/// Every negative deletion goes through unless coverage holds it: these tests
/// are about what each absence proves, not about the sweep-wide safety rules.
const PLAIN: &[(&str, &str)] = &[("MAX_DELETE_PERCENT", "100"), ("KEEP_LAST_RECORD", "false")];

fn ec2_event(instance_id: &str, state: &str) -> Value {
    json!({"version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-11-22T06:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"instance-id": instance_id, "state": state}})
}

fn stopped_event(cluster: &str, task: &support::StartedTask, with_runtime_id: bool) -> Value {
    let mut container = json!({"name": "app", "networkBindings": [
        {"containerPort": 80, "hostPort": task.host_port}]});
    if with_runtime_id {
        container["runtimeId"] = json!(task.runtime_id);
    }
    json!({"version": "0", "id": "x", "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "account": "123456789012", "time": "2026-11-22T06:00:00Z", "region": "us-east-1",
        "resources": [task.arn],
        "detail": {"clusterArn": format!("arn:aws:ecs:us-east-1:123456789012:cluster/{cluster}"),
            "taskArn": task.arn, "containerInstanceArn": task.container_instance_arn,
            "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "containers": [container]}})
}

fn errors(report: &Value) -> String {
    report["errors"].to_string()
}

/// A DR Region's agents write into the same private zone, associated with a VPC
/// of each Region: EC2 is read in both, so the DR host's records are kept (its
/// cluster is not this Region's: out of scope), while a host of no Region is
/// still unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_host_of_the_zones_second_region_keeps_its_records() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    e.cluster("web").await;
    let dr = e.region_host("us-west-2", 5, 1).await;
    let dns = e.hosts[dr].dns.clone();
    assert!(dns.contains("us-west-2"), "{dns}");
    let cid = "abcdefabcdef0123456789abcdef0123456789abcdef0123456789abcdef0123";
    e.srv_raw("calc", &dns, 32768, Some(cid), Some(Kept("out-of-scope")));
    e.host_a(dr, Some(Kept("healthy")));
    let ghost = e.unknown_host(9);
    e.srv_raw("calc", &ghost, 8080, None, Some(Removed("host-unknown")));
    e.commit().await;

    let report = e.sweep(PLAIN).await;
    e.assert_outcome(&report, false).await;
    assert_eq!(report["complete"], true, "{report:#}");
}

/// A VPC of another account, associated with the zone through an authorization:
/// this account cannot see its instances, so no absence proves anything. Every
/// negative deletion is held, the error names the VPC; EC2's positive word still
/// goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_vpc_makes_every_absence_unproven() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let live = e.host(Some(&c), 1, 1).await;
    let leaving = e.host(Some(&c), 1, 2).await;
    let t = e.task(live, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", live, &t, Some(Kept("healthy")));
    let live_dns = e.hosts[live].dns.clone();
    e.srv_raw(
        "calc",
        &live_dns,
        40000,
        None,
        Some(Held("inventory-incomplete", None)),
    );
    e.host_a(leaving, Some(Removed("instance-gone")));
    let ghost = e.unknown_host(9);
    e.srv_raw(
        "calc",
        &ghost,
        8080,
        None,
        Some(Held("inventory-incomplete", None)),
    );
    let vpc = e.foreign_vpc().await;
    e.commit().await;
    e.shutting_down(leaving).await;

    let report = e.sweep(PLAIN).await;
    e.assert_outcome(&report, false).await;
    assert!(
        errors(&report).contains(&vpc) && errors(&report).contains("cannot see"),
        "{report:#}"
    );
}

/// ECS reads are eventually consistent: DescribeTasks may answer `MISSING` for a
/// task ListTasks listed a moment before. That is a failed read, not an absence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_for_a_just_listed_task_is_a_failed_read() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h, &t, Some(Held("inventory-incomplete", None)));
    e.commit().await;
    aws.ecs_missing(&[&t.arn], 1).await;

    let report = e.sweep(PLAIN).await;
    e.assert_outcome(&report, false).await;
    assert!(
        errors(&report).contains("ecs:DescribeTasks") && errors(&report).contains("MISSING"),
        "{report:#}"
    );
    // Consistent again: the task backs its record.
    let report = e.sweep(PLAIN).await;
    assert_eq!(report["kept"]["healthy"], 1, "{report:#}");
}

/// A scale-in: the host is terminated, EC2 forgets its address, but ECS still
/// lists its container instance and tasks (the agent disconnected). The records
/// carrying its containers' ids, and the other records of that host name, its
/// host A record among them, are `instance-gone` — positive evidence, so the
/// guard does not hold them — in the EC2 event and in a sweep alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_tied_through_ecs_to_a_terminated_host_are_instance_gone() {
    for trigger in ["event", "sweep"] {
        let aws = LocalAws::start().await;
        let mut e = Estate::new(&aws, "sd.internal").await;
        let c = e.cluster("web").await;
        let gone = e.host(Some(&c), 1, 1).await;
        let live = e.host(Some(&c), 1, 2).await;
        let t = e.task(gone, "calc", HOUR, Behaviour::Healthy).await;
        e.srv("calc", gone, &t, Some(Removed("instance-gone")));
        let dns = e.hosts[gone].dns.clone();
        e.srv_raw("calc", &dns, 40000, None, Some(Removed("instance-gone")));
        e.host_a(gone, Some(Removed("instance-gone")));
        let u = e.task(live, "calc", HOUR, Behaviour::Healthy).await;
        e.srv("calc", live, &u, Some(Kept("healthy")));
        e.host_a(live, Some(Kept("healthy")));
        e.commit().await;
        e.terminate(gone).await;

        // The guard at its strictest: only positive evidence may pass.
        let strict = [("MAX_DELETE_PERCENT", "0"), ("KEEP_LAST_RECORD", "true")];
        let report = match trigger {
            "event" => {
                let id = e.hosts[gone].instance_id.clone();
                e.invoke(&ec2_event(&id, "terminated"), &strict).await
            }
            _ => e.sweep(&strict).await,
        };
        assert_eq!(
            report["deleted"].as_array().map(Vec::len),
            Some(3),
            "{trigger}: {report:#}"
        );
        // An event reports only the records it judged; the live host's stay.
        let only_deletions =
            json!({"deleted": report["deleted"], "held": [], "kept": {"healthy": 2}});
        if trigger == "event" {
            e.assert_outcome(&only_deletions, false).await;
        } else {
            e.assert_outcome(&report, false).await;
        }
    }
}

/// A late STOPPED event must keep what a sweep would keep: a record matched by
/// host port that a task under the host's other registration now serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_event_keeps_a_record_a_task_under_another_registration_serves() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let web = e.cluster("web").await;
    let api = e.cluster("api").await;
    let h = e.host(Some(&web), 1, 1).await;
    let again = e.register_again(h, &api).await;
    let old = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    let dns = e.hosts[h].dns.clone();
    e.srv_raw("calc", &dns, old.host_port, None, Some(Kept("healthy")));
    e.commit().await;
    e.stop_task(&old).await;
    // The replacement runs under the host's other registration, on the same port.
    e.hosts[h].cluster = Some(api.clone());
    e.hosts[h].container_instance_arn = Some(again);
    // Its listener is the one on the old port, still answering.
    let new = e.task(h, "calc", HOUR, Behaviour::Closed).await;
    aws.control(
        reqwest::Method::POST,
        "ecs/tasks",
        json!({"tasks": [{"cluster": new.cluster, "taskArn": new.arn,
            "containers": [{"name": "app", "runtimeId": new.runtime_id,
            "networkBindings": [{"containerPort": 80, "hostPort": old.host_port, "protocol": "tcp", "bindIP": "0.0.0.0"}]}]}]}),
    )
    .await;
    let report = e.invoke(&stopped_event(&web, &old, false), &[]).await;
    assert_eq!(report["deleted"], json!([]), "{report:#}");
    e.assert_outcome(
        &json!({"deleted": [], "held": [], "kept": {"healthy": 1}}),
        false,
    )
    .await;
}

/// A host that moved to a cluster `ECS_CLUSTERS` leaves out, while its old
/// registration is still ACTIVE in a swept one: its new tasks are never read, so
/// their records are out of scope, not `task-gone`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_registered_in_an_unswept_cluster_keeps_its_records() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let web = e.cluster("web").await;
    let batch = e.cluster("batch").await;
    let h = e.host(Some(&web), 1, 1).await;
    let moved = e.register_again(h, &batch).await;
    e.hosts[h].cluster = Some(batch.clone());
    e.hosts[h].container_instance_arn = Some(moved);
    let t = e.task(h, "report", HOUR, Behaviour::Healthy).await;
    e.srv("report", h, &t, Some(Kept("out-of-scope")));
    e.commit().await;

    let mut env = PLAIN.to_vec();
    env.push(("ECS_CLUSTERS", "web"));
    let report = e.sweep(&env).await;
    e.assert_outcome(&report, false).await;
}

/// Reports name the zone they are about, even when an event is ignored after its
/// re-check or cannot be confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_report_names_the_zone() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let t = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", h, &t, Some(Kept("healthy")));
    e.commit().await;

    // ECS reports the task RUNNING: the STOPPED event is not believed.
    let report = e.invoke(&stopped_event(&c, &t, true), &[]).await;
    assert!(report["ignored"].is_string(), "{report:#}");
    assert_eq!(report["hosted_zone_id"], e.zone_id.as_str(), "{report:#}");

    // The re-check cannot be read: unconfirmed.
    aws.faults(json!([{"service": "ecs", "operation": "DescribeTasks", "code": "ServerException", "status": 500, "count": 20}]))
        .await;
    let report = e.invoke(&stopped_event(&c, &t, true), &[]).await;
    assert_eq!(report["complete"], false, "{report:#}");
    assert_eq!(report["hosted_zone_id"], e.zone_id.as_str(), "{report:#}");
    e.assert_outcome(
        &json!({"deleted": [], "held": [], "kept": {"healthy": 1}}),
        false,
    )
    .await;
}
