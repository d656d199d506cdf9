//! The storm's delivery: the release binary as ONE warm Lambda function, the
//! events delivered one after the other through the Runtime API with Route 53's
//! rate limit on, each event's calls counted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::measure::{check, save_events, with_listing_times};
use super::{Delivered, Key, Planned, BURST, RATE, TIMEOUT};
use crate::minimum::task_stopped_route53;
use crate::support::runtime_api::{Deadline, Outcome, RuntimeApi};
use crate::support::LocalAws;
use crate::{target_dir, Built};

/// Runs the release binary as ONE warm Lambda function, turns Route 53's rate
/// limit on, delivers `events` and turns the limit off again: the events as
/// delivered (with their listing times, also saved to `target/bench/`) and the
/// seconds the delivery took.
pub(super) async fn run_function(
    aws: &LocalAws,
    built: &Built,
    binary: &Path,
    planned: &[Planned],
    events: Vec<Value>,
    before: &HashSet<Key>,
) -> (Vec<Delivered>, f64) {
    let logs = target_dir().join("bench");
    let _ = std::fs::create_dir_all(&logs);
    let mut api = RuntimeApi::start().await;
    let mut function = spawn_function(aws, built, &api, binary, &logs);
    let limit = json!({"route53": {"rate": RATE, "burst": BURST}});
    aws.control(reqwest::Method::POST, "limits", limit).await;
    eprintln!(
        "bench: event storm: {} events to one process, Route 53 at {RATE} requests/s",
        planned.len()
    );
    let storm_started = Instant::now();
    let delivered = deliver(aws, &mut api, planned, events, before).await;
    let storm_secs = storm_started.elapsed().as_secs_f64();
    aws.control(
        reqwest::Method::POST,
        "limits",
        json!({"route53": Value::Null}),
    )
    .await;
    let _ = function.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), function.wait()).await;
    let delivered = with_listing_times(delivered, &logs.join("storm.stderr.log"));
    save_events(&delivered, &logs.join("storm.events.jsonl"));
    (delivered, storm_secs)
}

/// The release binary as a Lambda function against `api`: stdout (metrics) and
/// stderr (JSON log lines) to `target/bench/storm.*.log`; killed on drop.
fn spawn_function(
    aws: &LocalAws,
    built: &Built,
    api: &RuntimeApi,
    binary: &Path,
    logs: &Path,
) -> tokio::process::Child {
    let file = |name: &str| {
        std::fs::File::create(logs.join(name))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    };
    let mut env = aws.env();
    env.push(("HOSTED_ZONE_ID", built.zone_id.clone()));
    env.extend(api.lambda_env());
    tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .stdin(Stdio::null())
        .stdout(file("storm.stdout.log"))
        .stderr(file("storm.stderr.log"))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the Lambda function")
}

/// Record sets by name, and in the zone, as the events leave them.
struct ZoneCount {
    at_name: HashMap<String, usize>,
    sets: usize,
}

impl ZoneCount {
    fn new(before: &HashSet<Key>) -> Self {
        let mut at_name: HashMap<String, usize> = HashMap::new();
        for (name, _, _) in before {
            *at_name.entry(name.clone()).or_default() += 1;
        }
        ZoneCount {
            at_name,
            sets: before.len(),
        }
    }

    /// The fewest Route 53 calls `p`'s event can make, GetHostedZone included
    /// in the `first` event of the process.
    fn minimum_route53(&self, p: &Planned, first: bool) -> u64 {
        let sets_at: Vec<usize> = p
            .names
            .iter()
            .map(|n| self.at_name.get(n).copied().unwrap_or(0))
            .collect();
        task_stopped_route53(&sets_at, self.sets) + u64::from(first)
    }

    /// Takes `p`'s records out of the counts.
    fn remove(&mut self, p: &Planned) {
        for (name, _, _) in &p.expected {
            if let Some(n) = self.at_name.get_mut(name) {
                *n = n.saturating_sub(1);
            }
        }
        self.sets = self.sets.saturating_sub(p.expected.len());
    }
}

/// Delivers the events one after the other, each once the function waits on
/// `/next` again, with the call counters reset before each.
async fn deliver(
    aws: &LocalAws,
    api: &mut RuntimeApi,
    planned: &[Planned],
    events: Vec<Value>,
    before: &HashSet<Key>,
) -> Vec<Delivered> {
    let mut zone = ZoneCount::new(before);
    let mut delivered = Vec::with_capacity(planned.len());
    for (i, (p, event)) in planned.iter().zip(events).enumerate() {
        if api
            .poll_arrival(i + 1, Duration::from_secs(30))
            .await
            .is_none()
        {
            eprintln!("bench: event storm: the function stopped polling after {i} events");
            break;
        }
        let (round_trip_ms, outcome) = invoke(aws, api, event).await;
        let requests = aws.calls().await;
        let throttled = throttled(aws).await;
        let (deleted, problem) = check(outcome, &p.expected);
        if let Some(problem) = &problem {
            eprintln!("bench: event storm: event {i} ({}): {problem}", p.arn);
        }
        let minimum_route53 = zone.minimum_route53(p, i == 0);
        zone.remove(p);
        delivered.push(Delivered {
            kind: p.kind,
            round_trip_ms,
            requests,
            throttled,
            minimum_route53,
            zone_sets: zone.sets,
            deleted,
            expected: p.expected.len(),
            problem,
            listing_ms: None,
        });
        if (i + 1) % 25 == 0 {
            eprintln!("bench: event storm: {} of {} events", i + 1, planned.len());
        }
    }
    delivered
}

/// Resets the call counters and delivers `event`: the round trip in ms, from
/// queued to its response, and the outcome.
async fn invoke(aws: &LocalAws, api: &mut RuntimeApi, event: Value) -> (f64, Option<Outcome>) {
    aws.reset_calls().await;
    let started = Instant::now();
    let id = api.push(event, Deadline::In(TIMEOUT));
    let outcome = api
        .try_outcome(&id, TIMEOUT + Duration::from_secs(30))
        .await;
    (started.elapsed().as_secs_f64() * 1000.0, outcome)
}

/// Route 53 requests the rate limit answered with `Throttling`, by operation.
async fn throttled(aws: &LocalAws) -> BTreeMap<String, u64> {
    let v = aws
        .control(reqwest::Method::GET, "throttled", Value::Null)
        .await;
    serde_json::from_value(v).unwrap_or_default()
}
