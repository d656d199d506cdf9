//! Each sample event of `events/` against the demo estate it was written
//! for, and deliveries that come twice, late or out of order.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::Outcome::Kept;
use support::{demo, Behaviour, Estate, LocalAws};

const HOUR: Duration = Duration::from_secs(3600);

fn sample(name: &str) -> Value {
    let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn deleted(report: &Value) -> Vec<(String, String)> {
    report["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|d| {
            (
                d["set_identifier"].as_str().unwrap_or_default().to_string(),
                d["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// One test, in order: the demo estate lives on fixed addresses, so only one may
/// exist at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sample_event_does_what_the_spec_says_against_the_demo_estate() {
    let aws = LocalAws::start().await;
    let d = demo::build(&aws).await;
    let e = &d.estate;

    // The files are the events of this estate, ids and ARNs included.
    for (name, expected) in demo::events(&d) {
        assert_eq!(
            sample(name),
            expected,
            "events/{name} is stale: run `cargo run --example demo -- --write-events events`"
        );
    }
    let zone_at_start = e.zone().await;

    // State changes that need nothing.
    for (name, trigger) in [
        ("ecs-task-running.json", "ecs-task-stopped"),
        ("ec2-running.json", "ec2-instance-state"),
    ] {
        let report = e.invoke(&sample(name), &[]).await;
        assert_eq!(report["trigger"], trigger, "{name}");
        assert!(
            report["ignored"]
                .as_str()
                .is_some_and(|why| !why.is_empty()),
            "{name}: {report:#}"
        );
        assert_eq!(report["deleted"], json!([]), "{name}");
    }

    // A manual dry run decides everything and changes nothing: the 9 deletions
    // of the estate's stale records, and the 2 of the terminated `web` host that
    // only ECS still ties to its records (its SRV record and its host A record).
    let report = e.invoke(&sample("manual-dry-run.json"), &[]).await;
    assert_eq!(
        (report["trigger"].as_str(), report["dry_run"].as_bool()),
        (Some("manual"), Some(true))
    );
    assert_eq!(
        report["deleted"].as_array().map(Vec::len),
        Some(11),
        "{report:#}"
    );
    assert_eq!(e.zone().await, zone_at_start);

    // The stopped task's records go, with positive evidence; a second delivery finds nothing.
    let stopped_id = format!("{}:{}", e.hosts[3].dns, d.stopped_task.runtime_id);
    let report = e.invoke(&sample("ecs-task-stopped.json"), &[]).await;
    assert_eq!(report["trigger"], "ecs-task-stopped");
    assert_eq!(
        deleted(&report),
        vec![(stopped_id, "task-stopped".to_string())]
    );
    let again = e.invoke(&sample("ecs-task-stopped.json"), &[]).await;
    assert_eq!(deleted(&again), vec![]);
    assert_eq!(again["errors"], json!([]));

    // Without runtime ids: the SRV record on that host and host port.
    let report = e
        .invoke(&sample("ecs-task-stopped-no-runtime-id.json"), &[])
        .await;
    assert_eq!(
        deleted(&report),
        vec![(e.hosts[3].dns.clone(), "task-stopped".to_string())]
    );
    // Only the names the task declares were listed (`report.`, `report-www.`):
    // the three `report` SRV records there were before this delivery.
    assert_eq!(report["records"]["owned"], 3);
    assert_eq!(report["records"]["foreign"], 0);

    // The terminated instance reports no address any more; its records name its
    // instance id: its two SRV records and its A record.
    let report = e.invoke(&sample("ec2-terminated.json"), &[]).await;
    assert_eq!(report["trigger"], "ec2-instance-state");
    let gone = deleted(&report);
    assert_eq!(gone.len(), 3, "{report:#}");
    assert!(gone.iter().all(|(_, reason)| reason == "instance-gone"));
    assert_eq!(
        report["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == "A")
            .count(),
        1
    );
    assert_eq!(
        deleted(&e.invoke(&sample("ec2-terminated.json"), &[]).await),
        vec![]
    );

    // The schedule's full sweep finds only what no event covered: the terminated
    // `web` host that no event named is tied to its two records through ECS.
    let report = e.invoke(&sample("scheduled.json"), &[]).await;
    assert_eq!(report["trigger"], "schedule");
    let mut reasons: Vec<String> = deleted(&report).into_iter().map(|(_, r)| r).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "host-unknown",
            "instance-gone",
            "instance-gone",
            "unhealthy",
            "unhealthy",
            "unhealthy"
        ]
    );
    assert_eq!(report["held"][0]["reason"], "last-record");

    // The manual sweep after it has nothing left to do.
    let report = e.invoke(&sample("manual-sweep.json"), &[]).await;
    assert_eq!(report["trigger"], "manual");
    assert_eq!(report["deleted"], json!([]));
}

/// A late STOPPED event must not take the record that a live replacement on the
/// same host port now answers for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_stopped_event_spares_a_live_replacement_on_the_same_port() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    let old = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    let dns = e.hosts[h].dns.clone();
    // The agent wrote this record without a container id: only the port ties it.
    e.srv_raw("calc", &dns, old.host_port, None, Some(Kept("healthy")));
    e.commit().await;
    e.stop_task(&old).await;
    let new = e.task(h, "calc", HOUR, Behaviour::Healthy).await;
    aws.control(
        reqwest::Method::POST,
        "ecs/tasks",
        json!({"tasks": [{"cluster": c, "taskArn": new.arn, "containers": [{"name": "app", "runtimeId": new.runtime_id,
            "networkBindings": [{"containerPort": 80, "hostPort": old.host_port, "protocol": "tcp", "bindIP": "0.0.0.0"}]}]}]}),
    )
    .await;

    let event = json!({"version": "0", "id": "x", "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "account": "123456789012", "time": "2026-11-22T06:00:00Z", "region": "us-east-1", "resources": [old.arn],
        "detail": {"clusterArn": format!("arn:aws:ecs:us-east-1:123456789012:cluster/{c}"), "taskArn": old.arn,
                   "containerInstanceArn": old.container_instance_arn, "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "version": 3,
                   "containers": [{"name": "app", "networkBindings": [{"containerPort": 80, "hostPort": old.host_port}]}]}});
    for _ in 0..2 {
        let report = e.invoke(&event, &[]).await;
        assert_eq!(report["deleted"], json!([]), "{report:#}");
        // Judged as a sweep judges it: backed by a task started a moment ago.
        assert_eq!(report["kept"]["grace"], 1, "{report:#}");
    }
    e.assert_outcome(
        &json!({"deleted": [], "held": [], "kept": {"healthy": 1}}),
        false,
    )
    .await;

    // A STOPPED event for a task ECS reports RUNNING is not believed.
    let mut lying = event.clone();
    lying["detail"]["taskArn"] = json!(new.arn);
    lying["detail"]["containers"][0]["runtimeId"] = json!(new.runtime_id);
    let report = e.invoke(&lying, &[]).await;
    assert!(
        report["ignored"]
            .as_str()
            .unwrap_or_default()
            .contains("RUNNING"),
        "{report:#}"
    );
    assert_eq!(e.zone().await.len(), 3);
}

/// An EC2 event for an instance whose address a new, live instance holds now
/// leaves that address's records alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_event_spares_records_on_an_address_reused_by_a_live_instance() {
    let aws = LocalAws::start().await;
    let mut e = Estate::new(&aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let old = e.host(Some(&c), 1, 1).await;
    let other = e.host(Some(&c), 1, 2).await;
    let t = e.task(other, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", other, &t, Some(Kept("healthy")));
    e.commit().await;
    e.terminate(old).await;
    let new = e.host(Some(&c), 1, 1).await;
    let t = e.task(new, "calc", HOUR, Behaviour::Healthy).await;
    e.srv("calc", new, &t, Some(Kept("healthy")));
    e.host_a(new, Some(Kept("healthy")));
    e.commit().await;
    assert_eq!(e.hosts[old].dns, e.hosts[new].dns, "the address was reused");

    let event = json!({"version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
        "account": "123456789012", "time": "2026-11-22T06:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"instance-id": e.hosts[old].instance_id, "state": "terminated"}});
    let report = e.invoke(&event, &[]).await;
    assert_eq!(report["deleted"], json!([]), "{report:#}");
    e.assert_outcome(
        &json!({"deleted": [], "held": [], "kept": {"healthy": 3}}),
        false,
    )
    .await;

    // The same event for the new instance, which is running: ignored.
    let mut live = event.clone();
    live["detail"]["instance-id"] = json!(e.hosts[new].instance_id);
    let report = e.invoke(&live, &[]).await;
    assert!(
        report["ignored"]
            .as_str()
            .unwrap_or_default()
            .contains("running"),
        "{report:#}"
    );
}
