//! `### Targets`: each target, measured against its limit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    verdict, Run, TARGET_EVENT_ROUTE53, TARGET_READY_MS, TARGET_RSS_MIB, TARGET_SWEEP_WINDOWS,
};
use crate::minimum::Minimums;
use crate::startup::Ready;
use crate::storm::{Kind, Storm};
use crate::sweep::Sweep;

/// `### Targets`: each target, measured against its limit.
pub(super) fn render_targets(o: &mut String, run: &Run, mins: &Minimums) {
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
    if let Some(cm) = run.cloud_map {
        super::cloud_map_tables::render_follow_target(o, cm);
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
