//! What an event costs in AWS calls, under Route 53's real rate limit (five
//! requests a second per account), on two zones, one ten times the other: the
//! counts must not grow with the zone.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::{invoke_with, Behaviour, Estate, LocalAws, StartedTask};

const HOUR: Duration = Duration::from_secs(3600);

/// An estate whose zone holds `filler` record sets besides those of one host with
/// three `calc` tasks (each with its SRV record; the task declares the one service
/// `SERVICE_80_NAME=calc`) and the host's A record. The filler names other
/// services on hosts of their own.
async fn estate(aws: &LocalAws, filler: usize) -> (Estate<'_>, usize, Vec<StartedTask>) {
    let mut e = Estate::new(aws, "sd.internal").await;
    let c = e.cluster("web").await;
    let h = e.host(Some(&c), 1, 1).await;
    e.host_a(h, None);
    let env = [("SERVICE_80_NAME".to_string(), "calc".to_string())];
    let definition = e.register_definition("calc-one", &env, &[(80, 0)]).await;
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let t = e.start(h, &definition, HOUR, Behaviour::Healthy).await;
        e.srv("calc", h, &t, None);
        tasks.push(t);
    }
    for i in 0..filler {
        let host = format!("ip-127-{}-5-{}.ec2.internal", e.net, i % 250 + 1);
        let service = format!("svc{}", i % 60);
        e.srv_raw(
            &service,
            &host,
            30000 + i as u16,
            Some(&format!("{i:012x}")),
            None,
        );
    }
    e.commit().await;
    (e, h, tasks)
}

fn stopped_event(e: &Estate<'_>, task: &StartedTask) -> Value {
    let containers = json!([{"name": "app", "runtimeId": task.runtime_id, "networkBindings": [
        {"containerPort": 80, "hostPort": task.host_port}]}]);
    json!({"version": "0", "id": task.arn, "detail-type": "ECS Task State Change", "source": "aws.ecs",
        "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1", "resources": [task.arn],
        "detail": {"taskArn": task.arn, "clusterArn": task.cluster, "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED", "containerInstanceArn": e.hosts[0].container_instance_arn,
            "containers": containers}})
}

/// AWS calls answered (throttled replies not counted), by `service:Operation`.
async fn answered(aws: &LocalAws) -> BTreeMap<String, u64> {
    let mut calls = aws.calls().await;
    let throttled = aws
        .control(reqwest::Method::GET, "throttled", Value::Null)
        .await;
    for (op, n) in throttled.as_object().into_iter().flatten() {
        if let Some(count) = calls.get_mut(op) {
            *count -= n.as_u64().unwrap_or(0);
        }
    }
    calls.retain(|_, n| *n > 0);
    calls
}

fn route53(calls: &BTreeMap<String, u64>) -> u64 {
    calls
        .iter()
        .filter(|(op, _)| op.starts_with("route53:"))
        .map(|(_, n)| n)
        .sum()
}

/// Three tasks of one host stop, one event each, through one process (one
/// `Deps`, as a warm Lambda): the calls of each event, and what was deleted.
async fn stop_three(filler: usize) -> Vec<(BTreeMap<String, u64>, Vec<String>)> {
    let aws = LocalAws::start().await;
    let (e, _, tasks) = estate(&aws, filler).await;
    for t in &tasks {
        e.stop_task(t).await;
    }
    let limit = json!({"route53": {"rate": 5, "burst": 5}});
    aws.control(reqwest::Method::POST, "limits", limit).await;
    let deps = e.deps(&[]);
    let mut per_event = Vec::new();
    for t in &tasks {
        aws.reset_calls().await;
        let report = invoke_with(&deps, &stopped_event(&e, t)).await;
        assert_eq!(report["trigger"], "ecs-task-stopped");
        let deleted = report["deleted"]
            .as_array()
            .expect("deleted")
            .iter()
            .map(|d| format!("{} {}", d["reason"], d["set_identifier"]))
            .collect();
        per_event.push((answered(&aws).await, deleted));
    }
    // Each task's record went, and nothing else: the host's A record and every
    // filler record are still there.
    let zone = e.zone().await;
    let owned_left = zone
        .iter()
        .filter(|(_, t, _)| t != "SOA" && t != "NS")
        .count();
    assert_eq!(owned_left, filler + 1, "only the stopped tasks' records go");
    per_event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_stopped_event_costs_the_same_on_a_zone_ten_times_larger() {
    let small = stop_three(30).await;
    let large = stop_three(600).await;
    for (i, ((small_calls, small_deleted), (large_calls, large_deleted))) in
        small.iter().zip(&large).enumerate()
    {
        assert_eq!(
            small_calls, large_calls,
            "event {i}: calls differ with the zone size"
        );
        assert_eq!(small_deleted.len(), 1, "event {i}: {small_deleted:?}");
        assert_eq!(large_deleted.len(), 1, "event {i}: {large_deleted:?}");
        assert!(small_deleted
            .iter()
            .all(|d| d.starts_with("\"task-stopped\"")));
    }
    // A warm process: the task's name (one listing) and one change. The first
    // event also looks the zone up (GetHostedZone), once per process.
    let (cold, _) = &large[0];
    assert_eq!(cold.get("route53:GetHostedZone"), Some(&1), "{cold:?}");
    assert_eq!(route53(cold), 3, "{cold:?}");
    for (calls, _) in &large[1..] {
        assert_eq!(route53(calls), 2, "{calls:?}");
        assert_eq!(
            calls.get("route53:ListResourceRecordSets"),
            Some(&1),
            "{calls:?}"
        );
        assert_eq!(
            calls.get("route53:ChangeResourceRecordSets"),
            Some(&1),
            "{calls:?}"
        );
        // The definition was described for the first event; it is immutable.
        assert_eq!(calls.get("ecs:DescribeTaskDefinition"), None, "{calls:?}");
    }
    assert_eq!(cold.get("ecs:DescribeTaskDefinition"), Some(&1), "{cold:?}");
}

async fn instance_gone(filler: usize) -> (BTreeMap<String, u64>, usize) {
    let aws = LocalAws::start().await;
    let (e, h, _) = estate(&aws, filler).await;
    e.shutting_down(h).await;
    let limit = json!({"route53": {"rate": 5, "burst": 5}});
    aws.control(reqwest::Method::POST, "limits", limit).await;
    aws.reset_calls().await;
    let event = json!({"version": "0", "id": "1", "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {"instance-id": e.hosts[h].instance_id, "state": "shutting-down"}});
    let report = invoke_with(&e.deps(&[]), &event).await;
    let deleted = report["deleted"].as_array().map_or(0, Vec::len);
    (answered(&aws).await, deleted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_gone_event_costs_the_same_on_a_zone_ten_times_larger() {
    let (small, small_deleted) = instance_gone(30).await;
    let (large, large_deleted) = instance_gone(600).await;
    assert_eq!(small, large, "calls differ with the zone size");
    // Three SRV records and the host's A record.
    assert_eq!((small_deleted, large_deleted), (4, 4));
    // GetHostedZone; the names calc, and the host A name by address and by id;
    // one change.
    assert_eq!(route53(&large), 1 + 3 + 1, "{large:?}");
}
