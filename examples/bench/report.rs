//! The report: the run's setting and its tables, as BENCHMARKS.md shows them
//! (between the bench markers).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::minimum::{minimum_calls, Minimums};
use super::storm::{Kind, Storm, BURST, RATE, TIMEOUT};
use super::{median, percentile, Args, Built, Context, Ready, Sweep, LAMBDA_NOFILE};

/// Targets (issue 5; the event target from the event-cost issue).
const TARGET_SWEEP_WINDOWS: f64 = 1.5;
const TARGET_RSS_MIB: f64 = 64.0;
const TARGET_READY_MS: f64 = 50.0;
const TARGET_EVENT_ROUTE53: u64 = 2;

/// Everything one run measured, for the report.
pub(super) struct Run<'a> {
    pub args: &'a Args,
    pub built: &'a Built,
    pub sweep: &'a Sweep,
    pub context: &'a Context,
    pub calls: &'a BTreeMap<String, u64>,
    pub ready: &'a Ready,
    /// The event storm, unless it was skipped.
    pub storm: Option<&'a Storm>,
    /// The binary and its size in bytes.
    pub binary: &'a Path,
    pub size: u64,
}

impl Run<'_> {
    /// A phase of the sweep's summary line, in ms.
    fn phase(&self, key: &str) -> Option<u64> {
        self.sweep.phases.get(key).copied()
    }

    /// The health-check window: timeout × attempts, in ms.
    fn window_ms(&self) -> f64 {
        self.args.timeout_ms as f64 * f64::from(self.args.attempts)
    }

    /// The listing phase in ms (0 when the summary line lacks it).
    fn listing_ms(&self) -> f64 {
        self.phase("listing_ms").unwrap_or(0) as f64
    }

    /// The AWS reads in ms, one after the other: the listing (with EC2 alongside),
    /// then the ECS read. `inventory_ms` is the EC2 read plus the ECS read, so this
    /// counts the EC2 read twice: a limit built on it errs by that much in the
    /// sweep's favour (the EC2 read alone is shown next to it).
    fn reads_ms(&self) -> f64 {
        self.listing_ms() + self.phase("inventory_ms").unwrap_or(0) as f64
    }
}

/// The report: the run's setting, then one table per section of BENCHMARKS.md.
pub(super) fn render(run: &Run) -> String {
    let mins = minimum_calls(run.built, run.sweep);
    let mut o = String::new();
    render_setting(&mut o, run);
    render_targets(&mut o, run, &mins);
    render_sweep_time(&mut o, run);
    render_calls(&mut o, run.calls, &mins);
    render_process(&mut o, run);
    if let Some(storm) = run.storm {
        render_storm(&mut o, storm);
    }
    o
}

/// `## make bench run`: the command, machine, source, estate, settings, outcome.
fn render_setting(o: &mut String, run: &Run) {
    let _ = writeln!(o, "## `make bench` run\n");
    let _ = writeln!(o, "- command: `{}`", command_line());
    let _ = writeln!(
        o,
        "- date: {}",
        shell("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    );
    let _ = writeln!(
        o,
        "- machine: {} CPUs (`nproc`), {}; {}",
        shell("nproc", &[]),
        cpu_model(),
        shell("uname", &["-sr"])
    );
    let _ = writeln!(o, "- memory (`free -h`): {}", memory());
    let _ = writeln!(o, "- toolchain: {}", shell("rustc", &["--version"]));
    let _ = writeln!(
        o,
        "- load average (1, 5, 15 min) just before the sweep: {}",
        run.sweep.loadavg
    );
    let _ = writeln!(
        o,
        "- source: `{}`; binary `{}` ({} bytes)",
        shell("git", &["describe", "--always", "--dirty"]),
        run.binary.display(),
        run.size
    );
    render_estate(o, run);
    render_settings(o, run);
    render_outcome(o, run);
}

/// Total and available memory, from `free -h`.
fn memory() -> String {
    let free = shell("free", &["-h"]);
    free.lines()
        .find(|l| l.starts_with("Mem:"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .map(|f| {
            format!(
                "{} total, {} available",
                f.get(1).unwrap_or(&"?"),
                f.last().unwrap_or(&"?")
            )
        })
        .unwrap_or_else(|| "?".into())
}

fn render_estate(o: &mut String, run: &Run) {
    let (args, built, report) = (run.args, run.built, &run.sweep.report);
    let _ = writeln!(
        o,
        "- estate: {} record sets scanned ({} owned: {} SRV + {} CNAME + {} host A), {} clusters, \
         {} container instances, {} running tasks of {} services, {} listeners; \
         {} dead tasks ({} %: {} answering HTTP 500, {} never answering = {} hung endpoints); built in {:.0} s",
        report["records"]["scanned"],
        report["records"]["owned"],
        built.tasks,
        built.tasks,
        built.instances,
        built.clusters.len(),
        built.instances,
        built.tasks,
        built.definitions,
        2 * built.tasks,
        built.dead_tasks,
        args.dead_percent,
        built.dead_tasks - built.hang_endpoints / 2,
        built.hang_endpoints / 2,
        built.hang_endpoints,
        built.build_secs,
    );
}

fn render_settings(o: &mut String, run: &Run) {
    let _ = writeln!(
        o,
        "- sweep settings: HEALTH_CHECK=http, HEALTH_CHECK_TIMEOUT_MS={}, HEALTH_CHECK_ATTEMPTS={}, \
         MAX_DELETE_PERCENT={}, open-file limit {LAMBDA_NOFILE} (Lambda's)",
        run.args.timeout_ms,
        run.args.attempts,
        run.sweep
            .max_delete_percent
            .map_or("50 (default)".to_string(), |p| format!("{p} (set: the dead share is over the default guard)")),
    );
}

fn render_outcome(o: &mut String, run: &Run) {
    let r = &run.sweep.report;
    let deleted = r["deleted"].as_array().map_or(0, Vec::len);
    let unhealthy = r["deleted"].as_array().map_or(0, |d| {
        d.iter().filter(|x| x["reason"] == "unhealthy").count()
    });
    let held = r["held"].as_array().map_or(0, Vec::len);
    let _ = writeln!(
        o,
        "- outcome: kept {} (healthy {}, grace {}), deleted {} ({} unhealthy; expected {} = 2 × dead tasks), \
         held {}, guard tripped {}, complete {}, errors {}",
        r["records"]["owned"].as_u64().unwrap_or(0) as usize - deleted - held,
        r["kept"]["healthy"],
        r["kept"]["grace"],
        deleted,
        unhealthy,
        2 * run.built.dead_tasks,
        held,
        r["guard"]["tripped"],
        r["complete"],
        r["errors"].as_array().map_or(0, Vec::len),
    );
}

fn verdict(ratio: f64) -> &'static str {
    if ratio <= 1.0 {
        "met"
    } else {
        "missed"
    }
}

/// `### Targets`: each target, measured against its limit.
fn render_targets(o: &mut String, run: &Run, mins: &Minimums) {
    let _ = writeln!(o, "\n### Targets\n");
    let _ = writeln!(o, "| target | measured | limit | measured / limit | |");
    let _ = writeln!(o, "|---|---:|---:|---:|---|");
    let (listing, window_ms) = (run.listing_ms(), run.window_ms());
    let inventory = run.phase("inventory_ms").unwrap_or(0) as f64;
    let target_sweep = run.reads_ms() + TARGET_SWEEP_WINDOWS * window_ms;
    let sweep_ratio = run.sweep.wall_ms / target_sweep;
    let _ = writeln!(
        o,
        "| sweep ≤ listing + ECS read + 1.5 × window | {:.0} ms | {:.0} ms ({:.0} + {:.0} + 1.5 × {:.0}) | {:.2} | {} |",
        run.sweep.wall_ms,
        target_sweep,
        listing,
        inventory,
        window_ms,
        sweep_ratio,
        verdict(sweep_ratio)
    );
    render_calls_target(o, run.calls, mins);
    render_rss_target(o, run.sweep);
    render_ready_target(o, run.ready);
    if let Some(storm) = run.storm {
        render_event_target(o, storm);
    }
}

/// Route 53 calls of a warm one-name task-stopped event, the most of them.
fn render_event_target(o: &mut String, storm: &Storm) {
    let one = storm.of(Kind::OneName);
    let Some(most) = one.iter().map(|e| e.route53()).max() else {
        return;
    };
    let ratio = most as f64 / TARGET_EVENT_ROUTE53 as f64;
    let sets: Vec<usize> = one.iter().map(|e| e.zone_sets).collect();
    let (lo, hi) = (
        sets.iter().min().copied().unwrap_or(0),
        sets.iter().max().copied().unwrap_or(0),
    );
    let zone = if lo == hi {
        format!("{lo}")
    } else {
        format!("{lo}–{hi}")
    };
    let _ = writeln!(
        o,
        "| Route 53 calls per one-service task-stopped event, warm, rate-limited, zone of {zone} record sets (most of {}; GetHostedZone, once per process, came in the storm's first event) | {most} | {TARGET_EVENT_ROUTE53} | {ratio:.2} | {} |",
        one.len(),
        verdict(ratio)
    );
}

fn render_calls_target(o: &mut String, calls: &BTreeMap<String, u64>, mins: &Minimums) {
    let excess: Vec<String> = mins
        .iter()
        .filter(|(op, (m, _))| calls.get(*op).copied().unwrap_or(0) != *m)
        .map(|(op, _)| op.clone())
        .chain(calls.keys().filter(|op| !mins.contains_key(*op)).cloned())
        .collect();
    let total_calls: u64 = calls.values().sum();
    let total_min: u64 = mins.values().map(|(m, _)| m).sum();
    let calls_ratio = total_calls as f64 / total_min.max(1) as f64;
    let _ = writeln!(
        o,
        "| API calls = minimum, every operation | {total_calls} | {total_min} | {:.2} | {} |",
        calls_ratio,
        if excess.is_empty() {
            "met".to_string()
        } else {
            format!("missed: {}", excess.join(", "))
        }
    );
}

fn render_rss_target(o: &mut String, sweep: &Sweep) {
    match sweep.peak_rss_kib {
        Some(kib) => {
            let mib = kib as f64 / 1024.0;
            let ratio = mib / TARGET_RSS_MIB;
            let _ = writeln!(
                o,
                "| peak RSS of the sweep | {mib:.1} MiB | {TARGET_RSS_MIB:.0} MiB | {ratio:.2} | {} |",
                verdict(ratio)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "| peak RSS of the sweep | ? | {TARGET_RSS_MIB:.0} MiB | ? | not measured |"
            );
        }
    }
}

fn render_ready_target(o: &mut String, ready: &Ready) {
    match ready.median() {
        Some(median) => {
            let ratio = median / TARGET_READY_MS;
            let _ = writeln!(
                o,
                "| start-to-ready (median of {}) | {median:.1} ms | {TARGET_READY_MS:.0} ms | {ratio:.2} | {} |",
                ready.samples_ms.len(),
                verdict(ratio)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "| start-to-ready | ? | {TARGET_READY_MS:.0} ms | ? | not measured |"
            );
        }
    }
}

/// `### Sweep time`: wall time, the phases of the summary line, and the ratios.
fn render_sweep_time(o: &mut String, run: &Run) {
    let _ = writeln!(o, "\n### Sweep time\n");
    let _ = writeln!(o, "| | ms |");
    let _ = writeln!(o, "|---|---:|");
    let _ = writeln!(
        o,
        "| sweep, process spawn to exit | {:.0} |",
        run.sweep.wall_ms
    );
    for (label, key) in [
        ("handler (`duration_ms`)", "duration_ms"),
        ("listing (Route 53; the EC2 read alongside it)", "listing_ms"),
        (
            "inventory (`inventory_ms`: the EC2 read alongside the listing + the ECS read after it)",
            "inventory_ms",
        ),
    ] {
        let ms = run.phase(key).map_or("?".to_string(), |v| v.to_string());
        let _ = writeln!(o, "| {label} | {ms} |");
    }
    if let Some(ec2) = run.context.ec2_alone {
        let _ = writeln!(
            o,
            "| EC2 read alone: DescribeInstances with nothing else asking the local AWS | {ec2:.0} |"
        );
        if let Some(inventory) = run.phase("inventory_ms") {
            let _ = writeln!(
                o,
                "| ECS read ≈ inventory − EC2 read alone | {:.0} |",
                inventory as f64 - ec2
            );
        }
    }
    for (label, key) in [
        ("health checks", "health_ms"),
        ("deletes (apply)", "apply_ms"),
    ] {
        let ms = run.phase(key).map_or("?".to_string(), |v| v.to_string());
        let _ = writeln!(o, "| {label} | {ms} |");
    }
    render_rest_of_handler(o, run);
    render_window_ratios(o, run);
    if let Some((ms, pages)) = run.context.listing_alone {
        let _ = writeln!(
            o,
            "| listing alone: the same {pages} pages with nothing else asking the local AWS | {ms:.0} |"
        );
    }
}

/// The handler's time outside the phases, and the process's around the handler.
/// The phases run one after the other (GetHostedZone; listing ∥ EC2; ECS; health;
/// deletes), so the rest is the handler less listing, ECS read, health and deletes,
/// the ECS read estimated as inventory less the EC2 read alone.
fn render_rest_of_handler(o: &mut String, run: &Run) {
    let p = |k: &str| run.phase(k);
    if let (Some(d), Some(l), Some(i), Some(h), Some(a)) = (
        p("duration_ms"),
        p("listing_ms"),
        p("inventory_ms"),
        p("health_ms"),
        p("apply_ms"),
    ) {
        let ecs = i as f64 - run.context.ec2_alone.unwrap_or(0.0);
        let other = d as f64 - l as f64 - ecs - h as f64 - a as f64;
        let _ = writeln!(
            o,
            "| rest of the handler (GetHostedZone, classify, plan, report) ≈ handler − listing − ECS read − health − deletes | {other:.0} |"
        );
        let _ = writeln!(
            o,
            "| process start and exit around the handler | {:.0} |",
            run.sweep.wall_ms - d as f64
        );
    }
}

/// The health-check window and the sweep measured in windows.
fn render_window_ratios(o: &mut String, run: &Run) {
    let (args, wall_ms) = (run.args, run.sweep.wall_ms);
    let (reads, window_ms) = (run.reads_ms(), run.window_ms());
    let _ = writeln!(
        o,
        "| health-check window = {} ms × {} attempts | {window_ms:.0} |",
        args.timeout_ms, args.attempts
    );
    let _ = writeln!(
        o,
        "| sweep / (listing + inventory + one window) | {:.2} |",
        wall_ms / (reads + window_ms)
    );
    let _ = writeln!(
        o,
        "| (sweep − listing − inventory) / window (the target: ≤ {TARGET_SWEEP_WINDOWS}) | {:.2} |",
        (wall_ms - reads) / window_ms
    );
    let _ = writeln!(
        o,
        "| (sweep − listing) / window (the target before the ECS read followed the listing) | {:.2} |",
        (wall_ms - run.listing_ms()) / window_ms
    );
}

/// `### AWS API calls of the sweep`: each operation against its minimum.
fn render_calls(o: &mut String, calls: &BTreeMap<String, u64>, mins: &Minimums) {
    let _ = writeln!(o, "\n### AWS API calls of the sweep\n");
    let _ = writeln!(
        o,
        "| operation | calls | minimum | minimum from | calls / minimum |"
    );
    let _ = writeln!(o, "|---|---:|---:|---|---:|");
    let mut ops: Vec<&String> = mins.keys().chain(calls.keys()).collect();
    ops.sort();
    ops.dedup();
    for op in ops {
        let got = calls.get(op).copied().unwrap_or(0);
        let (m, how) = mins
            .get(op)
            .cloned()
            .unwrap_or((0, "not needed".to_string()));
        let ratio = if m == 0 {
            if got == 0 {
                "1.00".to_string()
            } else {
                "∞".to_string()
            }
        } else {
            format!("{:.2}", got as f64 / m as f64)
        };
        let _ = writeln!(o, "| {op} | {got} | {m} | {how} | {ratio} |");
    }
}

/// `### Process`: memory, CPU, start-to-ready and size of the binary.
fn render_process(o: &mut String, run: &Run) {
    let (sweep, context) = (run.sweep, run.context);
    let _ = writeln!(o, "\n### Process\n");
    let _ = writeln!(o, "| | |");
    let _ = writeln!(o, "|---|---:|");
    if let Some(kib) = sweep.peak_rss_kib {
        let _ = writeln!(
            o,
            "| peak RSS of the sweep ({}) | {:.1} MiB |",
            sweep.rss_source,
            kib as f64 / 1024.0
        );
    }
    if let Some((user, sys)) = sweep.cpu_secs {
        let _ = writeln!(
            o,
            "| CPU time of the sweep: user + system (per distinct endpoint checked) | {user:.2} s + {sys:.2} s ({:.0} µs) |",
            (user + sys) * 1e6 / (2 * run.built.tasks).max(1) as f64
        );
    }
    let _ = writeln!(
        o,
        "| CPU used alongside the sweep: local AWS, estate listeners (machine: {} CPUs × {:.1} s) | {} s, {:.2} s |",
        shell("nproc", &[]),
        sweep.wall_ms / 1000.0,
        context
            .localaws_cpu_s
            .map_or("?".to_string(), |c| format!("{c:.2}")),
        context.listeners_cpu_s
    );
    render_ready(o, run.ready);
    let _ = writeln!(
        o,
        "| release binary size | {} bytes ({:.2} MiB) |",
        run.size,
        run.size as f64 / (1024.0 * 1024.0)
    );
}

/// Start-to-ready: the median and the range of the samples.
fn render_ready(o: &mut String, ready: &Ready) {
    let mut s = ready.samples_ms.clone();
    s.sort_by(f64::total_cmp);
    if let (Some(first), Some(last), Some(median)) = (s.first(), s.last(), ready.median()) {
        let _ = writeln!(
            o,
            "| start-to-ready, spawn → first `GET /2018-06-01/runtime/invocation/next`: median (min – max of {}) | {median:.1} ms ({first:.1} – {last:.1}) |",
            s.len()
        );
    }
}

/// `### Event storm`: the setting, one row per kind of event, the calls by
/// operation.
fn render_storm(o: &mut String, storm: &Storm) {
    let _ = writeln!(
        o,
        "\n### Event storm: task-stopped events, Route 53 rate-limited\n"
    );
    render_storm_setting(o, storm);
    let _ = writeln!(
        o,
        "\n| events | n | zone's record sets | Route 53 calls / event: median (min – max) | fewest possible / event | Route 53 calls, all events | \
         throttled replies: total (events with any) | AWS calls / event, every service: median (min – max) | \
         round trip: median | p99 | max | records deleted / event |"
    );
    let _ = writeln!(
        o,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for kind in Kind::ALL {
        let events = storm.of(kind);
        if events.is_empty() {
            continue;
        }
        let r53: Vec<u64> = events.iter().map(|e| e.route53()).collect();
        let minimum: Vec<u64> = events.iter().map(|e| e.minimum_route53).collect();
        let all: Vec<u64> = events.iter().map(|e| e.answered().values().sum()).collect();
        let throttled: u64 = events.iter().map(|e| e.throttled_total()).sum();
        let with_throttled = events.iter().filter(|e| e.throttled_total() > 0).count();
        let trips: Vec<f64> = events.iter().map(|e| e.round_trip_ms).collect();
        let deleted: Vec<u64> = events.iter().map(|e| e.deleted as u64).collect();
        let ms = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0} ms"));
        let sets: Vec<u64> = events.iter().map(|e| e.zone_sets as u64).collect();
        let (lo, hi) = (
            sets.iter().min().copied().unwrap_or(0),
            sets.iter().max().copied().unwrap_or(0),
        );
        let zone = if lo == hi {
            lo.to_string()
        } else {
            format!("{hi} → {lo}")
        };
        let _ = writeln!(
            o,
            "| {} | {} | {zone} | {} | {} | {} | {throttled} ({with_throttled}) | {} | {} | {} | {} | {} |",
            kind.label(),
            events.len(),
            spread(&r53),
            spread(&minimum),
            r53.iter().sum::<u64>(),
            spread(&all),
            ms(median(&trips)),
            ms(percentile(&trips, 99.0)),
            ms(trips.iter().copied().reduce(f64::max)),
            spread(&deleted),
        );
    }
    if let Some(first) = storm.events.first() {
        let next = storm
            .events
            .iter()
            .skip(1)
            .find(|e| e.kind == first.kind)
            .map_or("?".to_string(), |e| e.route53().to_string());
        let _ = writeln!(
            o,
            "\nThe first event of the process ({}) also made its one GetHostedZone (the zone's name \
             and VPCs, once per process): {} Route 53 calls, where the next of its kind made {next}; \
             it is counted in its row. p99 is the nearest rank: of 100 events the second \
             slowest, of fewer than 100 the slowest.",
            first.kind.short(),
            first.route53(),
        );
    }
    render_storm_operations(o, storm);
}

/// The storm's setting and whether every event did exactly its job.
fn render_storm_setting(o: &mut String, storm: &Storm) {
    let delivered = storm.events.len();
    let _ = writeln!(
        o,
        "- {delivered} of {} events delivered one after the other to ONE warm process of the release \
         binary through the Runtime API, as a function with reserved concurrency 1 receives them: \
         each queued once the function waited on `/next`, with a {} s deadline (the template's \
         timeout); the AWS call counters reset before each",
        storm.planned,
        TIMEOUT.as_secs()
    );
    let _ = writeln!(
        o,
        "- Route 53 rate limit on from the first event to the last: {RATE} requests a second, \
         burst {BURST} (`POST /_localaws/limits`); throttled replies from `GET /_localaws/throttled`"
    );
    let _ = writeln!(
        o,
        "- zone: {} record sets when the storm began (the estate above, the sweep's {} deletions \
         written back, and {} record sets of the storm's extra tasks); every task of the storm \
         stopped in ECS (StopTask) before the first event; set-up {:.0} s, events {:.0} s",
        storm.zone.before, storm.restored, storm.extra_sets, storm.setup_secs, storm.storm_secs
    );
    let ok = storm.events.iter().filter(|e| e.problem.is_none()).count();
    let deleted: usize = storm.events.iter().map(|e| e.deleted).sum();
    let expected: usize = storm.events.iter().map(|e| e.expected).sum();
    let z = &storm.zone;
    let exact = z.also_gone == 0 && z.left == 0 && z.after + z.expected_gone == z.before;
    let _ = writeln!(
        o,
        "- outcome: {ok} of {delivered} events deleted exactly their task's records (reason \
         `task-stopped`, nothing held, no error; {deleted} records reported deleted, {expected} \
         expected); the zone went from {} to {} record sets ({} to go: {} gone, {} still there; \
         {} others gone): {}",
        z.before,
        z.after,
        z.expected_gone,
        z.expected_gone - z.left,
        z.left,
        z.also_gone,
        if exact {
            "exactly the stopped tasks' records went"
        } else {
            "NOT exactly the stopped tasks' records"
        }
    );
    for (i, e) in storm.events.iter().enumerate() {
        if let Some(problem) = &e.problem {
            let _ = writeln!(o, "  - event {i} ({}): {problem}", e.kind.short());
        }
    }
}

/// Answered calls per event by operation, throttled replies and listing time, by
/// kind of event.
fn render_storm_operations(o: &mut String, storm: &Storm) {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| !storm.of(*k).is_empty())
        .collect();
    let mut ops: Vec<String> = storm
        .events
        .iter()
        .flat_map(|e| e.answered().into_keys())
        .collect();
    ops.sort();
    ops.dedup();
    let _ = write!(o, "\n| per event: median (min – max) |");
    for k in &kinds {
        let _ = write!(o, " {} |", k.short());
    }
    let _ = writeln!(o, "\n|---|{}", "---:|".repeat(kinds.len()));
    let row = |o: &mut String, label: &str, value: &dyn Fn(&super::storm::Delivered) -> u64| {
        let _ = write!(o, "| {label} |");
        for k in &kinds {
            let values: Vec<u64> = storm.of(*k).iter().map(|e| value(e)).collect();
            let _ = write!(o, " {} |", spread(&values));
        }
        let _ = writeln!(o);
    };
    for op in &ops {
        row(o, &format!("{op} (answered)"), &|e| {
            e.answered().get(op).copied().unwrap_or(0)
        });
    }
    let mut throttled_ops: Vec<String> = storm
        .events
        .iter()
        .flat_map(|e| e.throttled.keys().cloned())
        .collect();
    throttled_ops.sort();
    throttled_ops.dedup();
    for op in &throttled_ops {
        row(o, &format!("{op}: throttled replies"), &|e| {
            e.throttled.get(op).copied().unwrap_or(0)
        });
    }
    if storm.events.iter().all(|e| e.listing_ms.is_some()) {
        row(o, "listing (`listing_ms` of the summary line), ms", &|e| {
            e.listing_ms.unwrap_or(0)
        });
    }
}

/// `median (min – max)` of whole numbers, or the one value when they are all equal.
fn spread(values: &[u64]) -> String {
    let as_f64: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    let (Some(lo), Some(hi), Some(mid)) =
        (values.iter().min(), values.iter().max(), median(&as_f64))
    else {
        return "?".to_string();
    };
    let mid = if mid.fract() == 0.0 {
        format!("{mid:.0}")
    } else {
        format!("{mid:.1}")
    };
    if lo == hi {
        mid
    } else {
        format!("{mid} ({lo} – {hi})")
    }
}

/// The command line that ran the bench, as one would type it again.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quoted = args
        .iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=./".contains(c))
            {
                a.clone()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if std::env::var_os("MAKELEVEL").is_some() {
        if quoted.is_empty() {
            "make bench".to_string()
        } else {
            format!("make bench BENCH_ARGS=\"{quoted}\"")
        }
    } else {
        format!("cargo run --example bench -- {quoted}")
            .trim_end()
            .to_string()
    }
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim_end().to_string())
        .unwrap_or_else(|| "?".to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "?".to_string())
}

const BEGIN: &str = "<!-- bench:begin (written by `make bench`; edit outside the markers) -->";
const END: &str = "<!-- bench:end -->";

/// Replaces the text between the markers in `path`, or writes a new file.
pub(super) fn write_report(path: &Path, table: &str) -> std::io::Result<()> {
    let block = format!("{BEGIN}\n{table}{END}");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find("<!-- bench:begin"), old.find(END)) {
            (Some(b), Some(e)) if b < e => {
                format!("{}{block}{}", &old[..b], &old[e + END.len()..])
            }
            _ => format!("{old}\n{block}\n"),
        },
        Err(_) => format!("# Benchmarks\n\n{block}\n"),
    };
    std::fs::write(path, text)
}
