//! The report: the run's setting and its tables, as BENCHMARKS.md shows them
//! (between the bench markers).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use super::minimum::{minimum_calls, Minimums};
use super::{Args, Built, Context, Ready, Sweep, LAMBDA_NOFILE};

/// Targets (issue 5).
const TARGET_SWEEP_WINDOWS: f64 = 1.5;
const TARGET_RSS_MIB: f64 = 64.0;
const TARGET_READY_MS: f64 = 50.0;

/// Everything one run measured, for the report.
pub(super) struct Run<'a> {
    pub args: &'a Args,
    pub built: &'a Built,
    pub sweep: &'a Sweep,
    pub context: &'a Context,
    pub calls: &'a BTreeMap<String, u64>,
    pub ready: &'a Ready,
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
    let target_sweep = listing + TARGET_SWEEP_WINDOWS * window_ms;
    let sweep_ratio = run.sweep.wall_ms / target_sweep;
    let _ = writeln!(
        o,
        "| sweep ≤ listing + 1.5 × window | {:.0} ms | {:.0} ms ({:.0} + 1.5 × {:.0}) | {:.2} | {} |",
        run.sweep.wall_ms,
        target_sweep,
        listing,
        window_ms,
        sweep_ratio,
        verdict(sweep_ratio)
    );
    render_calls_target(o, run.calls, mins);
    render_rss_target(o, run.sweep);
    render_ready_target(o, run.ready);
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
        ("listing (Route 53)", "listing_ms"),
        (
            "inventory (ECS + EC2, alongside the listing)",
            "inventory_ms",
        ),
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
fn render_rest_of_handler(o: &mut String, run: &Run) {
    let p = |k: &str| run.phase(k);
    if let (Some(d), Some(l), Some(i), Some(h), Some(a)) = (
        p("duration_ms"),
        p("listing_ms"),
        p("inventory_ms"),
        p("health_ms"),
        p("apply_ms"),
    ) {
        let other = d as i64 - l.max(i) as i64 - h as i64 - a as i64;
        let _ = writeln!(
            o,
            "| rest of the handler (classify, plan, report) | {other} |"
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
    let (listing, window_ms) = (run.listing_ms(), run.window_ms());
    let _ = writeln!(
        o,
        "| health-check window = {} ms × {} attempts | {window_ms:.0} |",
        args.timeout_ms, args.attempts
    );
    let one_window_ratio = wall_ms / (listing + window_ms);
    let _ = writeln!(
        o,
        "| sweep / (listing + one window) | {one_window_ratio:.2} |"
    );
    let _ = writeln!(
        o,
        "| (sweep − listing) / window (the target: ≤ {TARGET_SWEEP_WINDOWS}) | {:.2} |",
        (wall_ms - listing) / window_ms
    );
    if let (Some(l), Some(i)) = (run.phase("listing_ms"), run.phase("inventory_ms")) {
        let reads = l.max(i) as f64;
        let _ = writeln!(
            o,
            "| (sweep − AWS reads) / window, AWS reads = max(listing, inventory) = {reads:.0} ms | {:.2} |",
            (wall_ms - reads) / window_ms
        );
    }
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
