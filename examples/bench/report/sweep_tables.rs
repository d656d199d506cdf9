//! The sweep's tables: `### Sweep time`, `### AWS API calls of the sweep` and
//! `### Process`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::setting::shell;
use super::{Run, TARGET_SWEEP_WINDOWS};
use crate::minimum::Minimums;
use crate::startup::Ready;

/// `### Sweep time`: wall time, the phases of the summary line, and the ratios.
pub(super) fn render_sweep_time(o: &mut String, run: &Run) {
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

/// `### <title>` (`AWS API calls of the sweep`): each operation against its minimum.
pub(super) fn render_calls(
    o: &mut String,
    title: &str,
    calls: &BTreeMap<String, u64>,
    mins: &Minimums,
) {
    let _ = writeln!(o, "\n### {title}\n");
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
pub(super) fn render_process(o: &mut String, run: &Run) {
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
