//! The report assembled once, from what the flows return: each registry's plan,
//! what became of its writes and what it left undone ([`Swept`]), and the run's
//! own notes ([`Ran`]). The flows never write into a report.

use super::cloud_map::NamespaceReport;
use super::{RecordCounts, Report, Trigger, Written};
use crate::classify::{OwnedInstance, OwnedRecord};
use crate::decide::Plan;

/// What one registry's part of a run decided and did: a report entry's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept<T> {
    pub counts: RecordCounts,
    pub plan: Plan<T>,
    pub written: Written,
    /// Reads that failed and what was left undone, in the order they happened.
    pub errors: Vec<String>,
    /// False when something was left undone (reads or checks cut off by the
    /// deadline); a failed read alone leaves it complete (its negative-evidence
    /// decisions are held instead).
    pub complete: bool,
}

impl<T> Default for Swept<T> {
    fn default() -> Self {
        Swept {
            counts: RecordCounts::default(),
            plan: Plan::default(),
            written: Written::default(),
            errors: Vec::new(),
            complete: true,
        }
    }
}

impl<T> Swept<T> {
    /// `why` was left undone.
    pub fn incomplete(&mut self, why: impl Into<String>) {
        self.complete = false;
        self.errors.push(why.into());
    }

    /// Adds a further plan of the same registry and what became of its writes
    /// (an event's registrations, one Cloud Map service at a time). The guard
    /// shown is the last plan's.
    pub fn add(&mut self, plan: Plan<T>, written: Written) {
        self.plan.items.extend(plan.items);
        self.plan.health_updates.extend(plan.health_updates);
        self.plan.guard = plan.guard;
        self.written.outcomes.extend(written.outcomes);
        self.written.marks.extend(written.marks);
        self.written.stopped_tasks.extend(written.stopped_tasks);
        self.written.errors.extend(written.errors);
    }
}

/// One configured namespace's part of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRan {
    /// The `CLOUD_MAP_NAMESPACES` entry, or the namespace's name once resolved.
    pub namespace: String,
    /// `None` when the entry matched no namespace.
    pub namespace_id: Option<String>,
    pub swept: Swept<OwnedInstance>,
}

/// Everything one invocation did, as the flows return it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ran {
    /// The zone looked up, when the run got that far.
    pub hosted_zone_id: Option<String>,
    pub zone: Option<Swept<OwnedRecord>>,
    /// One per namespace the run covered, in configuration order.
    pub namespaces: Vec<NamespaceRan>,
    /// The run's own notes (not a registry's), in order.
    pub errors: Vec<String>,
    pub complete: bool,
    /// Why an event needed nothing.
    pub ignored: Option<String>,
}

impl Ran {
    pub fn new() -> Self {
        Ran {
            complete: true,
            ..Ran::default()
        }
    }

    /// `why` was left undone.
    pub fn incomplete(&mut self, why: impl Into<String>) {
        self.complete = false;
        self.errors.push(why.into());
    }

    /// Adds what another part of the same run did (the namespaces after the zone).
    pub fn merge(&mut self, other: Ran) {
        self.hosted_zone_id = self.hosted_zone_id.take().or(other.hosted_zone_id);
        self.zone = self.zone.take().or(other.zone);
        self.namespaces.extend(other.namespaces);
        self.errors.extend(other.errors);
        self.complete &= other.complete;
        self.ignored = self.ignored.take().or(other.ignored);
    }
}

/// What the report needs of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub trigger: Trigger,
    pub dry_run: bool,
    /// `MAX_DELETE_PERCENT`, shown by every guard even when nothing was judged.
    pub limit_percent: u8,
    /// `CLOUD_MAP_NAMESPACES` is set: the report has a `cloud_map` list.
    pub cloud_map: bool,
}

impl Report {
    /// The report of one run: the zone's fields, one `cloud_map` entry per
    /// namespace, then the run's own notes.
    pub fn assemble(shape: Shape, ran: Ran) -> Report {
        let mut report = Report::new(shape.trigger, shape.dry_run, ran.hosted_zone_id);
        report.guard.limit_percent = shape.limit_percent;
        report.ignored = ran.ignored;
        if let Some(zone) = ran.zone {
            report.records = zone.counts;
            report.complete &= zone.complete;
            report.errors.extend(zone.errors);
            // The zone's fields and a namespace's entry are both folded by
            // `fold`: the one place a plan meets the report.
            report.record(&zone.plan, &zone.written);
        }
        // A registry cut off before it was judged has no plan of its own: every
        // guard shows the configured limit.
        report.guard.limit_percent = shape.limit_percent;
        if shape.cloud_map {
            report.cloud_map = Some(Vec::new());
        }
        for ns in ran.namespaces {
            let mut entry = NamespaceReport::new(&ns.namespace, shape.limit_percent);
            entry.namespace_id = ns.namespace_id;
            entry.instances = ns.swept.counts;
            entry.complete &= ns.swept.complete;
            entry.errors.extend(ns.swept.errors);
            entry.record(&ns.swept.plan, &ns.swept.written);
            entry.guard.limit_percent = shape.limit_percent;
            report.add_namespace(entry);
        }
        report.complete &= ran.complete;
        report.errors.extend(ran.errors);
        report
    }
}
