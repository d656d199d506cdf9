//! `### Event storm`: the setting, one row per kind of event, the calls by
//! operation.

use std::fmt::Write as _;

use crate::stats::{median, percentile};
use crate::storm::{Delivered, Kind, Storm, BURST, RATE, TIMEOUT};

/// `### Event storm`: the setting, one row per kind of event, the calls by
/// operation.
pub(super) fn render_storm(o: &mut String, storm: &Storm) {
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
        if !events.is_empty() {
            render_storm_row(o, kind, &events);
        }
    }
    render_first_event(o, storm);
    render_storm_operations(o, storm);
}

/// One kind of event: its row of the storm's table.
fn render_storm_row(o: &mut String, kind: Kind, events: &[&Delivered]) {
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

/// The note on the first event of the process, which also made GetHostedZone.
fn render_first_event(o: &mut String, storm: &Storm) {
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
    let row = |o: &mut String, label: &str, value: &dyn Fn(&Delivered) -> u64| {
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
