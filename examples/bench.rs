//! `make bench`: a synthetic estate on the local AWS, one sweep of the release
//! binary, and a report of where the time, the API calls and the memory went.
//!
//! It is a benchmark, not a test: it measures and reports, it asserts nothing.
//! Every figure in the table comes from the one run it prints.
//!
//! ```text
//! cargo build --release --bin ecs-dns-reaper
//! cargo run --example bench -- [--records N] [--dead-percent P] [--clusters C]
//!     [--instances I] [--tasks T] [--services S] [--timeout-ms MS] [--attempts N]
//!     [--startup-runs N] [--storm-events N] [--storm-extra N]
//!     [--cloud-map-instances N] [--cloud-map-services S] [--binary PATH]
//!     [--out FILE | --no-write] [--dry-run] [--hold-secs N]
//! ```
//!
//! The estate: `--clusters` ECS clusters sharing `--instances` container instances
//! on 127.230.x.y (a net no test uses), `--services` task definitions, and running
//! tasks each with one container that has two dynamic host ports: port 80 behind a
//! weighted SRV record `<svc>.<apex>`, port 81 behind a weighted CNAME record
//! `<svc>-www.<apex>`, both with a real listener. Every host also has its A record.
//! So records = instances + 2 × tasks; `--records` picks the task count.
//! `--dead-percent` of the tasks (spread at random, seeded) are dead: half answer
//! HTTP 500, half accept and never answer.
//!
//! Then the zone's pages are walked once as the sweep walks them (`list_zone`)
//! with nothing else running (a reference for the listing phase), the call
//! counters are reset and ONE `ecs-dns-reaper sweep` runs (the release
//! build, `RUST_LOG=info`, the documented default health settings, under Lambda's
//! open-file limit of 1,024), timed from spawn to exit, its peak RSS read by GNU
//! time (or from /proc). The phases come from its `sweep summary` log line (the
//! JSON object of its `summary=` field). Then the same binary is started ~10
//! times as a Lambda runtime against the tests' Runtime API
//! (`tests/support/runtime_api.rs`), timed from spawn to its first
//! `GET …/invocation/next`.
//!
//! Last, the event storm (`bench/storm.rs`): `--storm-events` tasks of the estate
//! are stopped in ECS and their `ECS Task State Change` STOPPED events delivered
//! one after the other to ONE warm process of the release binary through the same
//! Runtime API (as Lambda does with reserved concurrency 1), with Route 53's rate
//! limit on (5 requests a second, burst 5), then `--storm-extra` events of tasks
//! declaring one name and as many of tasks declaring none ECS can show (the whole
//! zone is listed: the behaviour before). Per event: the AWS calls by operation,
//! the throttled replies, the round trip, and what the report deleted.
//!
//! Last of all, a Cloud Map namespace (`bench/cloud_map.rs`): a private DNS
//! namespace in the estate's VPC with `--cloud-map-instances` instances over
//! `--cloud-map-services` services (ECS registrations of running, stopped and
//! unknown tasks; script registrations on running hosts with listeners, on
//! terminated hosts and on unknown addresses; a few custom-health services), and
//! ONE sweep of the release binary with only `CLOUD_MAP_NAMESPACES` set — a
//! process of its own, after the zone's figures were taken: its time, memory and
//! AWS calls against the minimum, and whether exactly the dead instances went.
//!
//! `bench/estate.rs` builds the estate, `bench/minimum.rs` counts the fewest calls
//! a sweep (and an event) of it can make, `bench/storm.rs` runs the event storm,
//! `bench/report.rs` writes the report. `bench/sweep.rs` runs and measures the
//! sweep (`bench/timed.rs` the process, `bench/summary.rs` its summary line),
//! `bench/startup.rs` times start-to-ready, `bench/stats.rs` has the median and
//! percentile; `bench/cloud_map.rs` builds, sweeps and checks the namespace.
//!
//! The table goes to stdout and into `BENCHMARKS.md`, between the markers
//! `<!-- bench:begin -->` and `<!-- bench:end -->` (the rest of the file is kept);
//! the sweep's stderr and report, and the storm's logs, go to `target/bench/`.
//! `--dry-run` measures `sweep --dry-run` and runs no storm (the estate stays as
//! built), and `--hold-secs` keeps the estate up afterwards, for profiling against
//! it; everything stops by itself.

#[path = "bench/cloud_map.rs"]
mod cloud_map;
#[path = "bench/estate.rs"]
mod estate;
#[path = "bench/minimum.rs"]
mod minimum;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/startup.rs"]
mod startup;
#[path = "bench/stats.rs"]
mod stats;
#[path = "bench/storm.rs"]
mod storm;
#[path = "bench/summary.rs"]
mod summary;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "bench/sweep.rs"]
mod sweep;
#[path = "bench/timed.rs"]
mod timed;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_route53::types::ResourceRecordSet;
use clap::Parser;
use startup::startup;
use support::{Estate, LocalAws};
use sweep::{measure_sweep, sweep_env, Sweep};

const APEX: &str = "servicediscovery.internal";
/// 127.NET.0.0/16: tests use 127.1–219 (tests/support/estate.rs), the bench its own.
const NET: u8 = 230;
const SEED: u64 = 5;
/// Lambda's open-file limit; the sweep runs under it.
const LAMBDA_NOFILE: u64 = 1024;
/// StartTask places one task per listed container instance; at most this many per call.
const START_BATCH: usize = 100;

/// A sweep still running after this is stopped (the bench must end by itself).
const SWEEP_LIMIT: Duration = Duration::from_secs(1800);

#[derive(Parser, Debug, Clone)]
#[command(about = "Benchmark one sweep of the release build against a synthetic estate.")]
struct Args {
    /// Owned records to build: one A record per instance, an SRV and a CNAME per task.
    #[arg(long, default_value_t = 10_000)]
    records: usize,
    /// Share of tasks whose targets are dead (half HTTP 500, half never answer).
    #[arg(long, default_value_t = 10)]
    dead_percent: u8,
    /// ECS clusters.
    #[arg(long, default_value_t = 2)]
    clusters: usize,
    /// Container instances (EC2 instances on loopback addresses), across the clusters.
    #[arg(long, default_value_t = 100)]
    instances: usize,
    /// Running tasks; overrides the count `--records` implies.
    #[arg(long)]
    tasks: Option<usize>,
    /// Distinct services (task definitions).
    #[arg(long, default_value_t = 20)]
    services: usize,
    /// HEALTH_CHECK_TIMEOUT_MS for the sweep (the documented default).
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// HEALTH_CHECK_ATTEMPTS for the sweep (the documented default).
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    /// Starts of the Lambda runtime timed for start-to-ready.
    #[arg(long, default_value_t = 10)]
    startup_runs: usize,
    /// The binary to measure (default: target/release/ecs-dns-reaper).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Where the table goes (between the bench markers).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Print the table only.
    #[arg(long)]
    no_write: bool,
    /// Measure a `sweep --dry-run` (decides, deletes nothing: the estate stays as built).
    #[arg(long)]
    dry_run: bool,
    /// Task-stopped events of the estate's tasks in the event storm (at most one a
    /// task; 0 and `--storm-extra 0`: no storm).
    #[arg(long, default_value_t = 100)]
    storm_events: usize,
    /// Events of each extra kind in the storm: tasks declaring one name, and tasks
    /// declaring none that ECS can show (the whole zone is listed, as before).
    #[arg(long, default_value_t = 5)]
    storm_extra: usize,
    /// Instances of the Cloud Map namespace swept last, on its own (0: no namespace).
    #[arg(long, default_value_t = 2000)]
    cloud_map_instances: usize,
    /// Cloud Map services of the namespace (half ECS, a fifth custom health, the
    /// rest script services; at least 3).
    #[arg(long, default_value_t = 20)]
    cloud_map_services: usize,
    /// The order the local AWS's ListOperations walks operations in
    /// (`oldest-first`, its default, or `newest-first`; AWS does not document it).
    #[arg(long, default_value = "oldest-first")]
    cloud_map_list_order: String,
    /// After the report, keep the estate up this many seconds (at most an hour) and
    /// print the environment for more sweeps against it: `sweep --dry-run` leaves it
    /// as built, for profiling (with `--dry-run`, no event storm changes it first).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3600))]
    hold_secs: u64,
}

impl Args {
    fn task_count(&self) -> usize {
        self.tasks
            .unwrap_or_else(|| self.records.saturating_sub(self.instances) / 2)
    }
}

/// What was built, for the minimum call counts and the expected outcome.
struct Built {
    zone_id: String,
    clusters: Vec<String>,
    /// Container instances per cluster.
    instances_per_cluster: Vec<usize>,
    /// Running tasks per cluster.
    tasks_per_cluster: Vec<usize>,
    instances: usize,
    tasks: usize,
    definitions: usize,
    records: usize,
    dead_tasks: usize,
    hang_endpoints: usize,
    /// (name, type, set identifier) → characters in the value, for the delete batches.
    value_chars: HashMap<(String, String, Option<String>), usize>,
    /// The tasks started, in order (the event storm stops some of them).
    started: Vec<estate::BuiltTask>,
    /// Every record set written (the event storm writes back what the sweep deleted).
    sets: Vec<ResourceRecordSet>,
    build_secs: f64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let binary = check_args(&args);

    eprintln!("bench: starting the local AWS");
    let aws = LocalAws::start().await;
    aws.seed(SEED).await;
    let mut estate = Estate::with_net(&aws, APEX, NET).await;
    let built = estate::build(&aws, &mut estate, &args).await;
    eprintln!(
        "bench: estate built in {:.1} s: {} records, {} clusters, {} instances, {} tasks ({} dead), {} listeners",
        built.build_secs,
        built.records,
        built.clusters.len(),
        built.instances,
        built.tasks,
        built.dead_tasks,
        2 * built.tasks,
    );

    let (sweep, context, calls) = measure_sweep(&aws, &built, &args, &binary).await;
    eprintln!(
        "bench: timing start-to-ready ({} starts)",
        args.startup_runs
    );
    let ready = startup(&aws, &built, &binary, args.startup_runs).await;
    let storm = if args.dry_run || args.storm_events + args.storm_extra == 0 {
        None
    } else {
        Some(storm::run(&aws, &mut estate, &built, &sweep, &binary, &args).await)
    };
    let cloud_map = if args.cloud_map_instances == 0 {
        None
    } else {
        Some(cloud_map::run(&aws, &mut estate, &args, &binary).await)
    };
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);

    print_report(&report::Run {
        args: &args,
        built: &built,
        sweep: &sweep,
        context: &context,
        calls: &calls,
        ready: &ready,
        storm: storm.as_ref(),
        cloud_map: cloud_map.as_ref(),
        binary: &binary,
        size,
    });
    if args.hold_secs > 0 {
        hold(&aws, &built, &args, cloud_map.is_some()).await;
    }
    drop(estate);
    drop(aws);
}

/// The binary to measure, once the arguments, the binary and the open-file limit
/// allow a run (else exits with status 2).
fn check_args(args: &Args) -> PathBuf {
    if args.clusters == 0 || args.instances < args.clusters || args.services == 0 {
        eprintln!("bench: need at least one cluster, one instance per cluster and one service");
        std::process::exit(2);
    }
    if args.dead_percent > 100 {
        eprintln!("bench: --dead-percent is 0-100");
        std::process::exit(2);
    }
    if let Err(why) = cloud_map::check_args(args) {
        eprintln!("bench: {why}");
        std::process::exit(2);
    }
    let binary = args.binary.clone().unwrap_or_else(release_binary);
    if !binary.exists() {
        eprintln!(
            "bench: {} not found: run `cargo build --release --bin ecs-dns-reaper` (make bench does)",
            binary.display()
        );
        std::process::exit(2);
    }
    check_open_files(args);
    binary
}

/// Prints the report, and writes it into `--out` unless `--no-write`.
fn print_report(run: &report::Run) {
    let table = report::render(run);
    println!("{table}");
    if !run.args.no_write {
        match report::write_report(&run.args.out, &table) {
            Ok(()) => eprintln!("bench: wrote {}", run.args.out.display()),
            Err(e) => eprintln!("bench: cannot write {}: {e}", run.args.out.display()),
        }
    }
}

/// Keeps the estate up `--hold-secs`, printing the environment for more sweeps.
async fn hold(aws: &LocalAws, built: &Built, args: &Args, namespace: bool) {
    eprintln!(
        "bench: the estate stays up {} s (a sweep deletes its dead records; `sweep --dry-run` changes nothing). Environment:",
        args.hold_secs
    );
    for (k, v) in sweep_env(aws, built, args) {
        eprintln!("export {k}={v}");
    }
    if namespace {
        eprintln!(
            "# and the Cloud Map namespace (alone: unset HOSTED_ZONE_ID)\nexport CLOUD_MAP_NAMESPACES={}",
            cloud_map::NAMESPACE
        );
    }
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
}

/// The cargo target directory this example runs from (`target/<profile>/examples/bench`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("target/<profile>/examples")
        .to_path_buf()
}

/// `target/release/ecs-dns-reaper`.
fn release_binary() -> PathBuf {
    target_dir().join("release").join("ecs-dns-reaper")
}

/// The estate holds a listener per endpoint plus the connections the hung ones
/// keep: the soft open-file limit must allow them (`make bench` raises it).
fn check_open_files(args: &Args) {
    let tasks = args.task_count();
    let dead = tasks * usize::from(args.dead_percent) / 100;
    // The namespace adds a listener per script instance on a running host.
    let needed = 2 * tasks + 2 * dead * args.attempts as usize + args.cloud_map_instances + 2048;
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(String::from))
        })
        .and_then(|soft| soft.parse::<usize>().ok());
    if let Some(limit) = limit.filter(|&l| l < needed) {
        eprintln!(
            "bench: the open-file limit is {limit}, the estate needs about {needed}: \
             run `ulimit -n {needed}` first (make bench raises it to the hard limit)"
        );
        std::process::exit(2);
    }
}
