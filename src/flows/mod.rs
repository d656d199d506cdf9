//! The flows, one per event kind: each reads what it needs through the AWS seams,
//! hands plain data to a registry's judge, writes the plan, and returns what it
//! decided and did ([`Ran`]); the report is assembled from that, once. [`Run`] is
//! what they share: the deadline, the phase timings, the zone listing, the health
//! checks, [`Run::judge_and_write`] and the one write path ([`write`]).
//!
//! A flow that stops early says why with a [`Halt`]; [`Halt::settle`] turns each
//! kind of halt into the run's result in one place.

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
use std::time::{Instant, SystemTime};

pub use instance_gone::instance_gone;
pub use sweep::sweep;
pub use task_stopped::task_stopped;

use crate::aws::route53::{Listing, ZoneError};
use crate::aws::Aws;
use crate::classify::{classify, OwnedRecord};
use crate::decide::{self, endpoints, Judge, Plan};
use crate::model::health::{Endpoint, HealthResult};
use crate::model::{ReadFailure, Vpc, Zone};
use crate::progress::Phase;
use crate::report::log::Timings;
use crate::report::{Ran, RecordCounts, Swept};
pub use deps::{Deps, HandlerError, Invocation, DEADLINE_MARGIN};
use write::Registry;

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
    /// Any of the above, after the zone was listed: what the listing counted
    /// stays in the report.
    AfterListing {
        zone: Box<(String, Swept<OwnedRecord>)>,
        halt: Box<Halt>,
    },
}

impl From<ZoneError> for Halt {
    fn from(e: ZoneError) -> Self {
        Halt::Failed(e.into())
    }
}

impl Halt {
    /// What a halt leaves in the run's result: a note, or why the event needed
    /// nothing; a failure fails the invocation. What the run did before it
    /// halted stays in `ran`.
    pub fn settle(self, mut ran: Ran) -> Result<Ran, HandlerError> {
        match self {
            Halt::OutOfTime => ran.incomplete(
                "deadline near: AWS reads did not finish in time; nothing was decided or deleted",
            ),
            Halt::Unconfirmed(failures) => {
                ran.complete = false;
                ran.errors.extend(failures.iter().map(ToString::to_string));
            }
            Halt::Ignored(why) => ran.ignored = Some(why),
            Halt::Failed(e) => return Err(e),
            Halt::AfterListing { zone, halt } => {
                let (id, swept) = *zone;
                ran.hosted_zone_id = Some(id);
                ran.zone = Some(swept);
                return halt.settle(ran);
            }
        }
        Ok(ran)
    }

    /// The zone's part of the run a halt leaves (when it came after the zone was
    /// listed), and the halt itself.
    pub fn split(self) -> (Option<(String, Swept<OwnedRecord>)>, Halt) {
        match self {
            Halt::AfterListing { zone, halt } => (Some(*zone), halt.split().1),
            other => (None, other),
        }
    }
}

/// The zone as listed and classified.
pub(crate) struct ZoneView {
    pub zone: Zone,
    pub owned: Vec<OwnedRecord>,
    /// Every record set by name, foreign ones included (last-record protection).
    pub name_counts: HashMap<String, usize>,
    /// The listing stopped early: what was listed is used, negative evidence is not.
    pub complete: bool,
    /// Why the listing stopped early.
    pub errors: Vec<String>,
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

    /// Lists and classifies the whole zone.
    pub(crate) async fn load_zone(&self, zone: Zone) -> Result<ZoneView, Halt> {
        let listing = self.deps.aws.list_zone(&zone.id);
        let listing = self.timed(Phase::Listing, listing).await;
        view(zone, listing)
    }

    /// Lists and classifies every record set at `names` (fully qualified).
    pub(crate) async fn load_names(&self, zone: Zone, names: &[String]) -> Result<ZoneView, Halt> {
        let listing = self.deps.aws.list_names(&zone.id, names);
        let listing = self.timed(Phase::Listing, listing).await;
        view(zone, listing)
    }

    /// An event's plan for the zone, written: the zone's id and its part of the run.
    pub(crate) async fn write_zone(
        &self,
        view: &ZoneView,
        plan: Plan,
    ) -> (String, Swept<OwnedRecord>) {
        let written = self.write(&view.zone, &plan).await;
        let judged = Swept {
            plan,
            written,
            ..Swept::default()
        };
        (view.zone.id.clone(), view.swept(&[], judged))
    }

    /// The tail every registry's sweep shares: each owned item judged on what
    /// was read, the endpoints the verdicts name checked before the deadline, the
    /// plan decided (safety rules included) and written. `complete`: every read
    /// the judging rests on succeeded.
    pub(crate) async fn judge_and_write<J, R>(
        &self,
        judge: &J,
        registry: &R,
        items: &[J::Item],
        complete: bool,
    ) -> Swept<J::Item>
    where
        J: Judge,
        R: Registry<Item = J::Item>,
    {
        let settings = self.deps.plan_settings();
        let assessed = judge.assess(items, &settings, SystemTime::now());
        let (health, unchecked) = self.check_before_deadline(&endpoints(&assessed)).await;
        let plan = decide::decide(judge, items, assessed, &health, complete, &settings);
        if plan.guard.tripped {
            tracing::error!(
                registry = %registry.describe(),
                negative = plan.guard.negative,
                owned = plan.guard.owned,
                limit_percent = plan.guard.limit_percent,
                "mass-deletion guard tripped: nothing removed on negative evidence"
            );
        }
        let written = self.write(registry, &plan).await;
        let mut swept = Swept {
            plan,
            written,
            ..Swept::default()
        };
        if let Some(why) = unchecked {
            swept.incomplete(why);
        }
        swept
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
    /// Adds what a further listing of the same zone found (`more`) to this view.
    pub(crate) fn absorb(&mut self, more: ZoneView) {
        self.owned.extend(more.owned);
        for (name, n) in more.name_counts {
            *self.name_counts.entry(name).or_default() += n;
        }
        self.complete &= more.complete;
        self.errors.extend(more.errors);
    }

    /// `halt`, coming after this listing: what the listing counted, and why it
    /// stopped, go with it.
    pub(crate) fn halted(&self, halt: Halt) -> Halt {
        let listed = Swept {
            counts: self.counts(),
            errors: self.errors.clone(),
            ..Swept::default()
        };
        Halt::AfterListing {
            zone: Box::new((self.zone.id.clone(), listed)),
            halt: Box::new(halt),
        }
    }

    /// The report's `records`.
    pub(crate) fn counts(&self) -> RecordCounts {
        let scanned = self.name_counts.values().sum::<usize>();
        RecordCounts {
            scanned,
            owned: self.owned.len(),
            foreign: scanned - self.owned.len(),
        }
    }

    /// The zone's part of a run: this view's counts; its errors — the listing's,
    /// then the evidence reads' (`read_failures`), then what judging and writing
    /// left undone.
    pub(crate) fn swept(
        &self,
        read_failures: &[ReadFailure],
        judged: Swept<OwnedRecord>,
    ) -> Swept<OwnedRecord> {
        let mut errors = self.errors.clone();
        errors.extend(read_failures.iter().map(ToString::to_string));
        errors.extend(judged.errors);
        Swept {
            counts: self.counts(),
            errors,
            ..judged
        }
    }
}

/// The listed record sets, classified. A listing that stopped early is used, but
/// marks the view incomplete.
fn view(zone: Zone, listing: Listing) -> Result<ZoneView, Halt> {
    let mut complete = true;
    let mut errors = Vec::new();
    if let Some(failure) = listing.failure {
        if failure.is_unknown_zone() {
            return Err(failure.into());
        }
        errors.push(failure.to_string());
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
    Ok(ZoneView {
        zone,
        owned,
        name_counts,
        complete,
        errors,
    })
}

#[cfg(test)]
mod tests;
