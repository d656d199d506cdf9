//! The report: the run's setting and its tables, as BENCHMARKS.md shows them
//! (between the bench markers).
//!
//! `report/setting.rs` writes the setting, `report/targets.rs` the targets,
//! `report/sweep_tables.rs` the sweep's tables (time, AWS calls, process) and
//! `report/storm_tables.rs` the event storm's, `report/cloud_map_tables.rs` the
//! Cloud Map namespace's.

#[path = "report/cloud_map_tables.rs"]
mod cloud_map_tables;
#[path = "report/setting.rs"]
mod setting;
#[path = "report/storm_tables.rs"]
mod storm_tables;
#[path = "report/sweep_tables.rs"]
mod sweep_tables;
#[path = "report/targets.rs"]
mod targets;

use std::collections::BTreeMap;
use std::path::Path;

use super::cloud_map::CloudMap;
use super::minimum::minimum_calls;
use super::startup::Ready;
use super::storm::Storm;
use super::sweep::{Context, Sweep};
use super::{Args, Built};
use cloud_map_tables::render_cloud_map;
use setting::render_setting;
use storm_tables::render_storm;
use sweep_tables::{render_calls, render_process, render_sweep_time};
use targets::render_targets;

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
    /// The Cloud Map namespace's sweep, unless it was skipped.
    pub cloud_map: Option<&'a CloudMap>,
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
    render_calls(&mut o, "AWS API calls of the sweep", run.calls, &mins);
    render_process(&mut o, run);
    if let Some(storm) = run.storm {
        render_storm(&mut o, storm);
    }
    if let Some(cm) = run.cloud_map {
        render_cloud_map(&mut o, cm, run.args);
    }
    o
}

fn verdict(ratio: f64) -> &'static str {
    if ratio <= 1.0 {
        "met"
    } else {
        "missed"
    }
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
