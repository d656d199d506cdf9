//! The storm's set-up, with the rate limit off: the sweep's deletions written
//! back, the extra tasks started and their records queued, and every task of the
//! storm stopped in ECS with its `ECS Task State Change` event.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, SystemTime};

use aws_sdk_ecs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_route53::types::ResourceRecordSet;
use serde_json::{json, Value};

use super::{Key, Kind, Planned};
use crate::estate::service_name;
use crate::support::{Behaviour, Estate, LocalAws};
use crate::sweep::Sweep;
use crate::{Built, APEX};

/// The definition of the one-name tasks, and the name it declares.
const ONE_NAME_FAMILY: &str = "storm-one-name";
/// The definition of the tasks that declare no name ECS can show, and the
/// service their records are named after (declared in the image).
const NO_NAME_FAMILY: &str = "storm-name-in-image";
const NO_NAME_SERVICE: &str = "img";
const HOUR: Duration = Duration::from_secs(3600);

/// Writes back the record sets the sweep deleted: the storm runs on the estate as
/// built. How many.
pub(super) async fn restore(aws: &LocalAws, built: &Built, sweep: &Sweep) -> usize {
    let deleted: HashSet<Key> = sweep.report["deleted"]
        .as_array()
        .into_iter()
        .flatten()
        .map(report_key)
        .collect();
    let sets: Vec<ResourceRecordSet> = built
        .sets
        .iter()
        .filter(|s| deleted.contains(&set_key(s)))
        .cloned()
        .collect();
    if !sets.is_empty() {
        aws.create_records(&built.zone_id, &sets).await;
    }
    sets.len()
}

fn set_key(s: &ResourceRecordSet) -> Key {
    (
        s.name().to_string(),
        s.r#type().as_str().to_string(),
        s.set_identifier().map(String::from),
    )
}

pub(super) fn report_key(entry: &Value) -> Key {
    (
        entry["name"].as_str().unwrap_or_default().to_string(),
        entry["type"].as_str().unwrap_or_default().to_string(),
        entry["set_identifier"].as_str().map(String::from),
    )
}

/// `n` of the estate's tasks, evenly spaced in the order they were started (so
/// spread over the clusters, hosts and services).
pub(super) fn estate_tasks(estate: &Estate<'_>, built: &Built, n: usize) -> Vec<Planned> {
    if n == 0 {
        return Vec::new();
    }
    let stride = (built.started.len() / n).max(1);
    built
        .started
        .iter()
        .step_by(stride)
        .take(n)
        .map(|t| {
            let host = &estate.hosts[t.host];
            let svc = service_name(t.service);
            let (srv, www) = (format!("{svc}.{APEX}."), format!("{svc}-www.{APEX}."));
            let expected = BTreeSet::from([
                (
                    srv.clone(),
                    "SRV".to_string(),
                    Some(format!("{}:{}", host.dns, t.runtime_id)),
                ),
                (
                    www.clone(),
                    "CNAME".to_string(),
                    Some(t.runtime_id[..12].to_string()),
                ),
            ]);
            Planned {
                kind: Kind::TwoNames,
                cluster: built.clusters[t.cluster].clone(),
                arn: t.arn.clone(),
                container_instance_arn: host.container_instance_arn.clone().expect("ci"),
                runtime_id: t.runtime_id.clone(),
                bindings: vec![(80, t.srv_port), (81, t.www_port)],
                expected,
                names: vec![srv, www],
            }
        })
        .collect()
}

/// `n` tasks declaring one name and `n` declaring none ECS can show, on hosts
/// spread over the estate, with their records queued (written by `commit`).
pub(super) async fn extra_tasks(estate: &mut Estate<'_>, n: usize) -> Vec<Planned> {
    if n == 0 {
        return Vec::new();
    }
    let svc = service_name(0);
    let env = [("SERVICE_80_NAME".to_string(), svc.clone())];
    let one_name = estate
        .register_definition(ONE_NAME_FAMILY, &env, &[(80, 0)])
        .await;
    let no_name = estate
        .register_definition(NO_NAME_FAMILY, &[], &[(80, 0), (81, 0)])
        .await;
    let hosts = estate.hosts.len();
    let mut planned = Vec::new();
    for (kind, definition) in [(Kind::OneName, &one_name), (Kind::WholeZone, &no_name)] {
        for k in 0..n {
            let offset = usize::from(kind == Kind::WholeZone);
            let h = ((2 * k + offset) * hosts / (2 * n)).min(hosts - 1);
            let t = estate.start(h, definition, HOUR, Behaviour::Healthy).await;
            let dns = estate.hosts[h].dns.clone();
            let srv_id = Some(format!("{dns}:{}", t.runtime_id));
            let (expected, names, bindings) = if kind == Kind::OneName {
                estate.srv(&svc, h, &t, None);
                let name = format!("{svc}.{APEX}.");
                let expected = BTreeSet::from([(name.clone(), "SRV".to_string(), srv_id)]);
                (expected, vec![name], vec![(80, t.host_port)])
            } else {
                estate.srv(NO_NAME_SERVICE, h, &t, None);
                estate.cname(NO_NAME_SERVICE, h, &t, None);
                let expected = BTreeSet::from([
                    (
                        format!("{NO_NAME_SERVICE}.{APEX}."),
                        "SRV".to_string(),
                        srv_id,
                    ),
                    (
                        format!("{NO_NAME_SERVICE}-www.{APEX}."),
                        "CNAME".to_string(),
                        Some(t.runtime_id[..12].to_string()),
                    ),
                ]);
                let www = t.www_port.expect("a binding for container port 81");
                (expected, Vec::new(), vec![(80, t.host_port), (81, www)])
            };
            planned.push(Planned {
                kind,
                cluster: t.cluster.clone(),
                arn: t.arn.clone(),
                container_instance_arn: t.container_instance_arn.clone(),
                runtime_id: t.runtime_id.clone(),
                bindings,
                expected,
                names,
            });
        }
    }
    planned
}

/// Stops the task in ECS (StopTask); its `ECS Task State Change` STOPPED event,
/// shaped as ECS sends it (events/ecs-task-stopped.json), ARNs from ECS.
pub(super) async fn stop(aws: &LocalAws, p: &Planned, seq: usize) -> Value {
    let out = aws
        .ecs()
        .stop_task()
        .cluster(&p.cluster)
        .task(&p.arn)
        .reason("bench: event storm")
        .send()
        .await
        .expect("StopTask");
    let task = out.task().expect("the stopped task");
    let now = DateTime::from(SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default();
    let bindings: Vec<Value> = p
        .bindings
        .iter()
        .map(|(container, host)| {
            json!({"bindIP": "0.0.0.0", "containerPort": container, "hostPort": host, "protocol": "tcp"})
        })
        .collect();
    let container = task.containers().first();
    json!({
        "version": "0",
        "id": format!("bench-storm-{seq:04}"),
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": now,
        "region": "us-east-1",
        "resources": [p.arn],
        "detail": {
            "clusterArn": task.cluster_arn().unwrap_or(&p.cluster),
            "containerInstanceArn": p.container_instance_arn,
            "containers": [{
                "containerArn": container.and_then(|c| c.container_arn()),
                "lastStatus": "STOPPED",
                "name": "app",
                "taskArn": p.arn,
                "networkBindings": bindings,
                "runtimeId": p.runtime_id,
                "exitCode": 137
            }],
            "desiredStatus": "STOPPED",
            "lastStatus": "STOPPED",
            "launchType": "EC2",
            "taskArn": p.arn,
            "taskDefinitionArn": task.task_definition_arn(),
            "stoppedReason": "bench: event storm",
            "stopCode": "UserInitiated",
            "updatedAt": now,
            "stoppedAt": now,
            "version": 5
        }
    })
}
