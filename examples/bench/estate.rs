//! The bench's estate: clusters, container instances, tasks with two listeners
//! each (a share of them dead), and their records, built fast (StartTask in
//! batches, records written directly).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_ecs::operation::start_task::StartTaskOutput;
use aws_sdk_route53::types::{ResourceRecordSet, RrType};
use serde_json::{json, Value};

use super::support::tasks::host_port;
use super::support::{ago, record, Behaviour, Estate, LocalAws};
use super::{Args, Built, APEX, SEED, START_BATCH};

/// One started task, as the estate (and the event storm) needs it.
pub(super) struct BuiltTask {
    pub cluster: usize,
    pub host: usize,
    pub service: usize,
    pub arn: String,
    pub runtime_id: String,
    pub srv_port: u16,
    pub www_port: u16,
}

/// Deterministic pseudo-random numbers (splitmix64) for spreading the dead tasks.
pub(super) struct SplitMix(pub(super) u64);

impl SplitMix {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Builds the estate `args` describes on `estate` (see the top of bench.rs).
pub(super) async fn build(aws: &LocalAws, estate: &mut Estate<'_>, args: &Args) -> Built {
    let started = Instant::now();
    let n_tasks = args.task_count();
    let (clusters, hosts_of) = create_hosts(estate, args).await;

    let mut definitions = Vec::new();
    for s in 0..args.services {
        // `SERVICE_80_NAME` (the SRV record), `SERVICE_81_NAME=<svc>-www` (the CNAME).
        definitions.push(estate.definition(&service_name(s)).await);
    }

    eprintln!("bench: {n_tasks} tasks");
    let started_tasks = start_tasks(estate, args, &clusters, &hosts_of, &definitions).await;
    let tasks = &started_tasks.tasks;
    backdate(aws, &clusters, tasks).await;

    let behaviour = dead_tasks(n_tasks, args.dead_percent);
    let n_dead = behaviour
        .iter()
        .filter(|b| **b != Behaviour::Healthy)
        .count();
    let hang_endpoints = 2 * behaviour.iter().filter(|b| **b == Behaviour::Hang).count();
    eprintln!("bench: {} listeners", 2 * n_tasks);
    for (t, b) in tasks.iter().zip(&behaviour) {
        let ip = estate.hosts[t.host].ip;
        estate.listen(ip, t.srv_port, *b).await;
        estate.listen(ip, t.www_port, *b).await;
    }

    let sets = record_sets(estate, tasks);
    eprintln!("bench: {} records", sets.len());
    aws.create_records(&estate.zone_id, &sets).await;

    Built {
        zone_id: estate.zone_id.clone(),
        instances_per_cluster: hosts_of.iter().map(Vec::len).collect(),
        clusters,
        tasks_per_cluster: started_tasks.per_cluster,
        instances: args.instances,
        tasks: n_tasks,
        definitions: args.services.min(started_tasks.calls),
        records: sets.len(),
        dead_tasks: n_dead,
        hang_endpoints,
        value_chars: value_chars(&sets),
        started: started_tasks.tasks,
        sets,
        build_secs: started.elapsed().as_secs_f64(),
    }
}

/// The clusters, and the container instances of each: hosts round-robin over the
/// clusters, on 127.230.<i/200>.<10 + i%200>.
async fn create_hosts(estate: &mut Estate<'_>, args: &Args) -> (Vec<String>, Vec<Vec<usize>>) {
    let mut clusters = Vec::new();
    for c in 0..args.clusters {
        clusters.push(estate.cluster(&format!("bench-{c}")).await);
    }
    eprintln!("bench: {} container instances", args.instances);
    let mut hosts_of: Vec<Vec<usize>> = vec![Vec::new(); args.clusters];
    for i in 0..args.instances {
        let c = i % args.clusters;
        let subnet = u8::try_from(i / 200).expect("at most 51,200 instances");
        let last = u8::try_from(10 + i % 200).expect("host byte");
        let h = estate.host(Some(&clusters[c]), subnet, last).await;
        hosts_of[c].push(h);
    }
    (clusters, hosts_of)
}

/// The tasks started, per cluster, and the StartTask calls it took.
struct StartedTasks {
    tasks: Vec<BuiltTask>,
    per_cluster: Vec<usize>,
    calls: usize,
}

/// Starts the tasks, spread evenly over the clusters: rounds of one task per
/// instance, each StartTask call (up to `START_BATCH` instances) one service.
async fn start_tasks(
    estate: &Estate<'_>,
    args: &Args,
    clusters: &[String],
    hosts_of: &[Vec<usize>],
    definitions: &[String],
) -> StartedTasks {
    let n_tasks = args.task_count();
    let ecs = estate.aws.ecs();
    let ci_host: HashMap<String, usize> = estate
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.container_instance_arn.clone().map(|a| (a, i)))
        .collect();
    let mut started = StartedTasks {
        tasks: Vec::with_capacity(n_tasks),
        per_cluster: vec![0usize; args.clusters],
        calls: 0,
    };
    for (c, hosts) in hosts_of.iter().enumerate() {
        let mut remaining = n_tasks / args.clusters + usize::from(c < n_tasks % args.clusters);
        started.per_cluster[c] = remaining;
        while remaining > 0 {
            let round = &hosts[..remaining.min(hosts.len())];
            for chunk in round.chunks(START_BATCH) {
                let service = started.calls % args.services;
                started.calls += 1;
                let out =
                    start_batch(&ecs, estate, &clusters[c], &definitions[service], chunk).await;
                for t in out.tasks() {
                    let host = ci_host[t.container_instance_arn().expect("ci arn")];
                    started.tasks.push(built_task(t, c, host, service));
                }
                remaining -= chunk.len();
            }
        }
    }
    started
}

/// One StartTask call: a task of `definition` on each of `hosts`.
async fn start_batch(
    ecs: &aws_sdk_ecs::Client,
    estate: &Estate<'_>,
    cluster: &str,
    definition: &str,
    hosts: &[usize],
) -> StartTaskOutput {
    let arns: Vec<String> = hosts
        .iter()
        .map(|&h| estate.hosts[h].container_instance_arn.clone().expect("ci"))
        .collect();
    ecs.start_task()
        .cluster(cluster)
        .task_definition(definition)
        .set_container_instances(Some(arns))
        .send()
        .await
        .expect("StartTask")
}

fn built_task(
    t: &aws_sdk_ecs::types::Task,
    cluster: usize,
    host: usize,
    service: usize,
) -> BuiltTask {
    let container = &t.containers()[0];
    let port = |p: i32| host_port(container, p).expect("dynamic host port");
    BuiltTask {
        cluster,
        host,
        service,
        arn: t.task_arn().expect("task arn").to_string(),
        runtime_id: container.runtime_id().expect("runtime id").to_string(),
        srv_port: port(80),
        www_port: port(81),
    }
}

/// Started an hour ago: past STARTUP_GRACE_SECONDS, so every target is checked.
async fn backdate(aws: &LocalAws, clusters: &[String], tasks: &[BuiltTask]) {
    let started_at = ago(Duration::from_secs(3600));
    for chunk in tasks.chunks(500) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|t| json!({"cluster": clusters[t.cluster], "taskArn": t.arn, "startedAt": started_at}))
            .collect();
        aws.control(
            reqwest::Method::POST,
            "ecs/tasks",
            json!({ "tasks": entries }),
        )
        .await;
    }
}

/// How each task's targets behave: an exact share dead, spread at random
/// (seeded), half answering HTTP 500 and half never answering.
fn dead_tasks(n_tasks: usize, dead_percent: u8) -> Vec<Behaviour> {
    let n_dead = n_tasks * usize::from(dead_percent) / 100;
    let mut order: Vec<usize> = (0..n_tasks).collect();
    let mut rng = SplitMix(SEED);
    for i in (1..order.len()).rev() {
        let j = usize::try_from(rng.next() % (i as u64 + 1)).expect("index");
        order.swap(i, j);
    }
    let mut behaviour = vec![Behaviour::Healthy; n_tasks];
    for (k, &t) in order[..n_dead].iter().enumerate() {
        behaviour[t] = if k % 2 == 0 {
            Behaviour::Http500
        } else {
            Behaviour::Hang
        };
    }
    behaviour
}

/// Each task's SRV and CNAME record, and each host's A record.
fn record_sets(estate: &Estate<'_>, tasks: &[BuiltTask]) -> Vec<ResourceRecordSet> {
    let mut sets = Vec::new();
    for t in tasks {
        let dns = estate.hosts[t.host].dns.clone();
        let svc = service_name(t.service);
        let srv_value = format!("1 1 {} {dns}", t.srv_port);
        sets.push(record(
            &format!("{svc}.{APEX}."),
            RrType::Srv,
            Some(&format!("{dns}:{}", t.runtime_id)),
            Some(1),
            &[&srv_value],
        ));
        sets.push(record(
            &format!("{svc}-www.{APEX}."),
            RrType::Cname,
            Some(&t.runtime_id[..12]),
            Some(1),
            &[&dns],
        ));
    }
    for h in &estate.hosts {
        let [a, b, c, d] = h.ip.octets();
        sets.push(record(
            &format!("ip-{a}-{b}-{c}-{d}.{APEX}."),
            RrType::A,
            None,
            None,
            &[&h.ip.to_string()],
        ));
    }
    sets
}

/// (name, type, set identifier) → characters in the values, for the delete batches.
fn value_chars(sets: &[ResourceRecordSet]) -> HashMap<(String, String, Option<String>), usize> {
    sets.iter()
        .map(|s| {
            let key = (
                s.name().to_string(),
                s.r#type().as_str().to_string(),
                s.set_identifier().map(String::from),
            );
            (
                key,
                s.resource_records().iter().map(|r| r.value().len()).sum(),
            )
        })
        .collect()
}

/// The service (record name below the apex) of task definition `s`.
pub(super) fn service_name(s: usize) -> String {
    format!("svc-{s:02}")
}
