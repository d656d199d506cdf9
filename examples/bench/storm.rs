//! The event storm: ECS task-stopped events delivered one after the other to ONE
//! warm process of the release binary, through the tests' Runtime API
//! (`tests/support/runtime_api.rs`), as Lambda delivers them to a function with
//! reserved concurrency 1, with Route 53's rate limit on, on the bench's estate.
//!
//! Three kinds of event, in this order:
//!
//! 1. `--storm-events` tasks of the estate, spread over its clusters, hosts and
//!    services; each declares two names (`SERVICE_80_NAME=svc-NN` for its SRV
//!    record, `SERVICE_81_NAME=svc-NN-www` for its CNAME record);
//! 2. `--storm-extra` tasks declaring one name, `SERVICE_80_NAME=svc-00` (a SRV
//!    record among the ~250 of that name);
//! 3. `--storm-extra` tasks whose definition declares no name ECS can show (the
//!    agent read it from the image): their records (`img`, `img-www`) still carry
//!    the container id, and the event finds them by id after listing the whole
//!    zone — what every task-stopped event cost before.
//!
//! Set-up, with the rate limit off: the sweep's deletions are written back (the
//! storm runs on the estate as built), the extra tasks are started and their
//! records written, and every task of the storm is stopped in ECS (StopTask).
//! Then the function starts, the rate limit goes on, and the events follow one
//! another, the call counters reset before each. After the last, the limit goes
//! off and the zone is walked: it must have lost exactly the stopped tasks'
//! records.
//!
//! `storm/setup.rs` sets the storm up, `storm/delivery.rs` delivers its events and
//! `storm/measure.rs` checks and records what they did.

#[path = "storm/delivery.rs"]
mod delivery;
#[path = "storm/measure.rs"]
mod measure;
#[path = "storm/setup.rs"]
mod setup;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use super::support::{Estate, LocalAws};
use super::sweep::Sweep;
use super::{Args, Built};
use delivery::run_function;
use measure::zone_check;
use setup::{estate_tasks, extra_tasks, restore, stop};

/// Route 53's documented limit: five requests a second per account.
pub(super) const RATE: u32 = 5;
pub(super) const BURST: u32 = 5;
/// Each invocation's deadline: the template's default function timeout.
pub(super) const TIMEOUT: Duration = Duration::from_secs(120);

/// What kind of task stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    OneName,
    TwoNames,
    WholeZone,
}

impl Kind {
    pub(super) const ALL: [Kind; 3] = [Kind::OneName, Kind::TwoNames, Kind::WholeZone];

    pub(super) fn label(self) -> &'static str {
        match self {
            Kind::OneName => "one declared name (`SERVICE_80_NAME=svc-00`: a SRV record)",
            Kind::TwoNames => {
                "two declared names (`svc-NN` SRV + `svc-NN-www` CNAME: the estate's tasks)"
            }
            Kind::WholeZone => {
                "whole zone (the behaviour before): no name ECS can show, records found by container id"
            }
        }
    }

    pub(super) fn short(self) -> &'static str {
        match self {
            Kind::OneName => "one name",
            Kind::TwoNames => "two names",
            Kind::WholeZone => "whole zone",
        }
    }
}

/// A record set as the report names it: (name, type, set identifier).
type Key = (String, String, Option<String>);

/// A task of the storm, and what its event must delete.
struct Planned {
    kind: Kind,
    cluster: String,
    arn: String,
    container_instance_arn: String,
    runtime_id: String,
    /// (container port, host port) of the container `app`.
    bindings: Vec<(i32, u16)>,
    /// The task's records: exactly what its event must delete.
    expected: BTreeSet<Key>,
    /// The names it declares, fully qualified (none: the whole zone is listed).
    names: Vec<String>,
}

/// One event as delivered.
pub(super) struct Delivered {
    pub kind: Kind,
    /// Queued on the Runtime API (the function waiting on `/next`) → its response.
    pub round_trip_ms: f64,
    /// Requests the local AWS received, by operation, throttled ones included.
    pub requests: BTreeMap<String, u64>,
    /// Requests Route 53's rate limit answered with `Throttling`, by operation.
    pub throttled: BTreeMap<String, u64>,
    /// The fewest Route 53 calls the event can make (GetHostedZone included in
    /// the first event of the process).
    pub minimum_route53: u64,
    /// Record sets in the zone when the event came.
    pub zone_sets: usize,
    pub deleted: usize,
    pub expected: usize,
    /// What was wrong with the outcome, if anything.
    pub problem: Option<String>,
    /// `listing_ms` of the invocation's `sweep summary` line.
    pub listing_ms: Option<u64>,
}

impl Delivered {
    /// Calls answered (requests minus throttled replies), by operation.
    pub(super) fn answered(&self) -> BTreeMap<String, u64> {
        let mut calls = self.requests.clone();
        for (op, n) in &self.throttled {
            if let Some(c) = calls.get_mut(op) {
                *c = c.saturating_sub(*n);
            }
        }
        calls.retain(|_, n| *n > 0);
        calls
    }

    /// Route 53 calls answered.
    pub(super) fn route53(&self) -> u64 {
        self.answered()
            .iter()
            .filter(|(op, _)| op.starts_with("route53:"))
            .map(|(_, n)| n)
            .sum()
    }

    pub(super) fn throttled_total(&self) -> u64 {
        self.throttled.values().sum()
    }
}

/// The zone before and after the storm.
pub(super) struct ZoneCheck {
    pub before: usize,
    pub after: usize,
    /// Record sets the events were expected to delete.
    pub expected_gone: usize,
    /// Gone although no event should have deleted them.
    pub also_gone: usize,
    /// Still there although an event should have deleted them.
    pub left: usize,
}

/// Everything the storm measured.
pub(super) struct Storm {
    pub events: Vec<Delivered>,
    /// Events planned (all delivered unless the function stopped answering).
    pub planned: usize,
    /// Record sets the sweep had deleted, written back before the storm.
    pub restored: usize,
    /// Record sets of the storm's extra tasks.
    pub extra_sets: usize,
    pub zone: ZoneCheck,
    pub setup_secs: f64,
    pub storm_secs: f64,
}

impl Storm {
    pub(super) fn of(&self, kind: Kind) -> Vec<&Delivered> {
        self.events.iter().filter(|e| e.kind == kind).collect()
    }
}

/// Sets up, delivers and checks the storm (see the top of this file).
pub(super) async fn run(
    aws: &LocalAws,
    estate: &mut Estate<'_>,
    built: &Built,
    sweep: &Sweep,
    binary: &Path,
    args: &Args,
) -> Storm {
    let setup_started = Instant::now();
    eprintln!("bench: event storm: set-up (rate limit off)");
    let restored = restore(aws, built, sweep).await;
    let mut planned = estate_tasks(estate, built, args.storm_events);
    let extra = extra_tasks(estate, args.storm_extra).await;
    let extra_sets = extra.iter().map(|p| p.expected.len()).sum();
    planned.extend(extra);
    estate.commit().await;
    let before: HashSet<Key> = estate.zone().await.into_iter().collect();
    let mut events = Vec::with_capacity(planned.len());
    for (seq, p) in planned.iter().enumerate() {
        events.push(stop(aws, p, seq).await);
    }
    let setup_secs = setup_started.elapsed().as_secs_f64();

    let (delivered, storm_secs) = run_function(aws, built, binary, &planned, events, &before).await;

    let after: HashSet<Key> = estate.zone().await.into_iter().collect();
    let zone = zone_check(&before, &after, &planned);
    Storm {
        events: delivered,
        planned: planned.len(),
        restored,
        extra_sets,
        zone,
        setup_secs,
        storm_secs,
    }
}
