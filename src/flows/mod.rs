//! The flows, one per event kind: each reads what it needs through the AWS seams,
//! hands plain data to the decision core, and writes the outcome. [`Run`] is what
//! they share: the deadline, the phase timings, the zone listing, the health
//! checks and the write.
//!
//! A flow that stops early says why with a [`Halt`]; [`finish`] turns each kind of
//! halt into the report in one place.

mod cloud_map;
mod deps;
mod instance_gone;
pub mod namespaces;
mod sweep;
mod task_stopped;
mod write;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;

pub use instance_gone::instance_gone;
pub use sweep::sweep;
pub use task_stopped::task_stopped;

use crate::aws::route53::{Listing, ZoneError};
use crate::aws::Aws;
use crate::classify::{classify, OwnedRecord};
use crate::model::health::{Endpoint, HealthResult};
use crate::model::{ReadFailure, Vpc, Zone};
use crate::progress::Phase;
use crate::report::log::Timings;
use crate::report::{RecordCounts, Report};
pub use deps::{Deps, HandlerError, Invocation, DEADLINE_MARGIN};

/// Why a flow stopped before it wrote anything.
#[derive(Debug)]
pub enum Halt {
    /// The deadline came before the reads finished: nothing decided or deleted.
    OutOfTime,
    /// An event's re-check could not be read: its word alone is not enough.
    Unconfirmed(Vec<ReadFailure>),
    /// Nothing to do; the report says why.
    Ignored(String),
    /// The invocation fails.
    Failed(HandlerError),
}

impl From<ZoneError> for Halt {
    fn from(e: ZoneError) -> Self {
        Halt::Failed(e.into())
    }
}

/// The report of a flow that ran to the end (`Ok`) or halted.
pub fn finish(mut report: Report, halted: Result<(), Halt>) -> Result<Report, HandlerError> {
    match halted {
        Ok(()) => {}
        Err(Halt::OutOfTime) => report.incomplete(
            "deadline near: AWS reads did not finish in time; nothing was decided or deleted",
        ),
        Err(Halt::Unconfirmed(failures)) => {
            report.complete = false;
            report
                .errors
                .extend(failures.iter().map(ToString::to_string));
        }
        Err(Halt::Ignored(why)) => report.ignored = Some(why),
        Err(Halt::Failed(e)) => return Err(e),
    }
    Ok(report)
}

/// The zone as listed and classified.
pub(crate) struct ZoneView {
    pub zone: Zone,
    pub owned: Vec<OwnedRecord>,
    /// Every record set by name, foreign ones included (last-record protection).
    pub name_counts: HashMap<String, usize>,
    /// The listing stopped early: what was listed is used, negative evidence is not.
    pub complete: bool,
}

/// One invocation's work: its dependencies, deadline, dry run and phase timings.
pub struct Run<'a, A> {
    pub(crate) deps: &'a Deps<A>,
    pub(crate) stop_at: Option<tokio::time::Instant>,
    pub(crate) dry_run: bool,
    timings: Mutex<Timings>,
}

impl<'a, A: Aws> Run<'a, A> {
    pub fn new(deps: &'a Deps<A>, invocation: Invocation, dry_run: bool) -> Self {
        Run {
            deps,
            stop_at: invocation.stop_at(),
            dry_run,
            timings: Mutex::new(Timings::default()),
        }
    }

    pub fn timings(&self) -> Timings {
        self.timings.lock().map(|t| *t).unwrap_or_default()
    }

    /// The zone (id and apex) and the VPCs it is associated with, each in its Region.
    pub(crate) async fn zone(&self) -> Result<(Zone, BTreeSet<Vpc>), Halt> {
        let (id, info) = self.within(self.deps.zone()).await??;
        Ok((
            Zone {
                id,
                apex: info.apex,
            },
            info.vpcs,
        ))
    }

    /// Runs `work` until the deadline's stop point.
    pub(crate) async fn within<F: Future>(&self, work: F) -> Result<F::Output, Halt> {
        match self.stop_at {
            Some(at) => tokio::time::timeout_at(at, work)
                .await
                .map_err(|_| Halt::OutOfTime),
            None => Ok(work.await),
        }
    }

    /// Runs `work` as a step of `phase`: its progress shown, its time added to
    /// the phase's timing. (No async layer of its own around `work`: in debug
    /// builds each layer copies the whole future onto the stack.)
    pub(crate) async fn timed<F: Future>(&self, phase: Phase, work: F) -> F::Output {
        let _step = self.deps.progress.begin(phase, None);
        let since = Instant::now();
        let out = work.await;
        self.add_time(phase, since);
        out
    }

    /// Adds the time since `since` to the phase's timing.
    fn add_time(&self, phase: Phase, since: Instant) {
        if let Ok(mut t) = self.timings.lock() {
            let timing = match phase {
                Phase::Listing => &mut t.listing_ms,
                Phase::Inventory => &mut t.inventory_ms,
                Phase::Checks => &mut t.health_ms,
                Phase::Writes => &mut t.apply_ms,
            };
            *timing += u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        }
    }

    /// Lists and classifies the whole zone, filling the report's counts.
    pub(crate) async fn load_zone(
        &self,
        zone: Zone,
        report: &mut Report,
    ) -> Result<ZoneView, Halt> {
        let listing = self.deps.aws.list_zone(&zone.id);
        let listing = self.timed(Phase::Listing, listing).await;
        view(zone, listing, report)
    }

    /// Lists and classifies every record set at `names` (fully qualified).
    pub(crate) async fn load_names(
        &self,
        zone: Zone,
        names: &[String],
        report: &mut Report,
    ) -> Result<ZoneView, Halt> {
        let listing = self.deps.aws.list_names(&zone.id, names);
        let listing = self.timed(Phase::Listing, listing).await;
        view(zone, listing, report)
    }

    /// Health-checks `endpoints`, stopping in time to decide and write before the
    /// deadline; the ones left unchecked are said in the report.
    pub(crate) async fn check(
        &self,
        endpoints: &BTreeSet<Endpoint>,
        report: &mut Report,
    ) -> HashMap<Endpoint, HealthResult> {
        let (results, unchecked) = self.check_before_deadline(endpoints).await;
        if let Some(why) = unchecked {
            report.incomplete(why);
        }
        results
    }

    /// Health-checks `endpoints` until the deadline's stop point; says how many
    /// were left unchecked, if any.
    pub(crate) async fn check_before_deadline(
        &self,
        endpoints: &BTreeSet<Endpoint>,
    ) -> (HashMap<Endpoint, HealthResult>, Option<String>) {
        let checker = &self.deps.health;
        let total = u64::try_from(endpoints.len()).unwrap_or(u64::MAX);
        let step = self.deps.progress.begin(Phase::Checks, Some(total));
        let done = || step.advance(1);
        let since = Instant::now();
        let results = checker
            .check_all_before(endpoints.iter().copied(), self.stop_at, &done)
            .await;
        self.add_time(Phase::Checks, since);
        let unchecked = (results.len() < endpoints.len()).then(|| {
            format!(
                "deadline near: {} of {} endpoints were not checked; what points at them was kept",
                endpoints.len() - results.len(),
                endpoints.len()
            )
        });
        (results, unchecked)
    }
}

impl ZoneView {
    /// Adds what a further listing of the same zone found (`more`, whose counts
    /// `report` now holds) to this view, and the report's counts with it.
    pub(crate) fn absorb(&mut self, more: ZoneView, report: &mut Report) {
        let counts = RecordCounts {
            scanned: report.records.scanned + self.owned.len() + self.foreign(),
            owned: report.records.owned + self.owned.len(),
            foreign: report.records.foreign + self.foreign(),
        };
        report.records = counts;
        self.owned.extend(more.owned);
        for (name, n) in more.name_counts {
            *self.name_counts.entry(name).or_default() += n;
        }
        self.complete &= more.complete;
    }

    fn foreign(&self) -> usize {
        self.name_counts.values().sum::<usize>() - self.owned.len()
    }
}

/// The listed record sets, classified; the report's counts filled in. A listing
/// that stopped early is used, but marks the view incomplete.
fn view(zone: Zone, listing: Listing, report: &mut Report) -> Result<ZoneView, Halt> {
    report.hosted_zone_id = Some(zone.id.clone());
    let mut complete = true;
    if let Some(failure) = listing.failure {
        if failure.is_unknown_zone() {
            return Err(failure.into());
        }
        report.errors.push(failure.to_string());
        complete = false;
    }
    let mut owned = Vec::new();
    let mut name_counts: HashMap<String, usize> = HashMap::new();
    for set in &listing.records {
        *name_counts.entry(set.name.clone()).or_default() += 1;
        match classify(set, &zone.apex) {
            Ok(o) => owned.push(o),
            Err(why) => {
                tracing::debug!(name = %set.name, rtype = %set.rtype, why = why.0, "foreign record")
            }
        }
    }
    report.records = RecordCounts {
        scanned: listing.records.len(),
        owned: owned.len(),
        foreign: listing.records.len() - owned.len(),
    };
    Ok(ZoneView {
        zone,
        owned,
        name_counts,
        complete,
    })
}

#[cfg(test)]
mod tests;
