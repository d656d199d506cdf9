//! Progress through a run's phases. On the command line with stderr on a
//! terminal, [`TerminalProgress`] draws one line per phase there; everywhere else
//! (Lambda, a pipe, the tests) [`Silent`] says nothing.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A phase of a run, as the progress lines name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Route 53 and Cloud Map listings.
    Listing,
    /// ECS and EC2 reads.
    Inventory,
    /// Health checks.
    Checks,
    /// Deletions, deregistrations, health updates, stopped tasks.
    Writes,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Listing => "listing records and instances",
            Phase::Inventory => "reading ECS and EC2",
            Phase::Checks => "health checks",
            Phase::Writes => "writing changes",
        }
    }
}

/// Where a run says how far it got.
pub trait Progress: Send + Sync {
    /// A phase begins (of `total` steps, when known); it ends when what this
    /// returns is dropped.
    fn begin(&self, phase: Phase, total: Option<u64>) -> Box<dyn Step>;
}

/// One phase under way.
pub trait Step: Send + Sync {
    /// `n` more steps done.
    fn advance(&self, _n: u64) {}
}

/// No progress at all: Lambda, pipes, tests.
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _phase: Phase, _total: Option<u64>) -> Box<dyn Step> {
        Box::new(())
    }
}

impl Step for () {}

/// One line per phase on stderr, drawn by indicatif: a spinner with the time so
/// far, or a bar of steps done of the total; the line stays, with its time, when
/// the phase ends.
pub struct TerminalProgress {
    lines: MultiProgress,
}

impl TerminalProgress {
    pub fn new() -> Self {
        TerminalProgress {
            lines: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TerminalProgress {
    fn begin(&self, phase: Phase, total: Option<u64>) -> Box<dyn Step> {
        let (bar, template) = match total {
            Some(n) => (
                ProgressBar::new(n),
                "{prefix:.bold} {wide_bar} {pos}/{len} [{elapsed}]",
            ),
            None => (
                ProgressBar::new_spinner(),
                "{spinner} {prefix:.bold} [{elapsed}]",
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_prefix(phase.label());
        let bar = self.lines.add(bar);
        bar.enable_steady_tick(Duration::from_millis(120));
        Box::new(Line(bar))
    }
}

struct Line(ProgressBar);

impl Step for Line {
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.0.finish();
    }
}
