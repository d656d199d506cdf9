//! The handler: one JSON event in, one [`Report`] out. Both entry points (the Lambda
//! runtime and the CLI) call [`handle`] with a [`Deps`] built once at start.
//!
//! The pipeline of a sweep is the module tree: records → inventory → health → plan
//! → apply → report.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::apply::{self, WriteOutcome};
use crate::config::{Config, ZoneSelector};
use crate::events::{self, Action, EventError};
use crate::health::{CheckMode, HealthChecker, HealthError};
use crate::inventory::{self, ClusterScope, InventoryClients};
use crate::plan::{self, Decision, DeleteReason, PlanSettings};
use crate::records::{self, Zone, ZoneError};
use crate::report::{RecordCounts, Report, Trigger};

/// Time kept back before the Lambda deadline to finish writing and reply.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// Everything the handler needs, built once per process.
pub struct Deps {
    pub route53: aws_sdk_route53::Client,
    pub inventory: InventoryClients,
    pub health: HealthChecker,
    pub config: Config,
    zone_id: OnceCell<String>,
}

/// Errors that fail an invocation (exit status 1 on the command line, a function
/// error in Lambda).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Zone(#[from] ZoneError),
    #[error("cannot build the health checker: {0}")]
    Health(#[from] HealthError),
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::Event(EventError::Unsupported { .. }) => "UnsupportedEvent",
            HandlerError::Event(EventError::Malformed { .. }) => "MalformedEvent",
            HandlerError::Zone(_) => "HostedZoneError",
            HandlerError::Health(_) => "HealthCheckerError",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Per-invocation context.
#[derive(Debug, Clone, Copy, Default)]
pub struct Invocation {
    /// The Lambda deadline. `None` (and a deadline not in the future, which local
    /// emulators send) means no deadline.
    pub deadline: Option<SystemTime>,
    /// `--dry-run` on the command line: forces a dry run whatever the event says.
    pub force_dry_run: bool,
}

impl Invocation {
    /// When to stop starting new work, as a monotonic instant.
    fn stop_at(&self) -> Option<tokio::time::Instant> {
        let remaining = self.deadline?.duration_since(SystemTime::now()).ok()?;
        if remaining.is_zero() {
            return None;
        }
        Some(tokio::time::Instant::now() + remaining.saturating_sub(DEADLINE_MARGIN))
    }
}

impl Deps {
    /// Builds the clients from a loaded SDK configuration (which honours
    /// `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_*`).
    ///
    /// Retries: Route 53 allows five requests a second per account and answers
    /// `Throttling` / `PriorRequestNotComplete` beyond; ECS `ThrottlingException`,
    /// EC2 `RequestLimitExceeded`. The SDK's standard retry classifies all of them
    /// (and 5xx) as retryable; five attempts with exponential backoff ride out a burst.
    pub fn new(sdk: &SdkConfig, config: Config) -> Result<Self, HandlerError> {
        let retry = RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(5));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(30))
            .build();
        let sdk = sdk
            .to_builder()
            .retry_config(retry)
            .timeout_config(timeouts)
            .build();
        Ok(Deps {
            route53: aws_sdk_route53::Client::new(&sdk),
            inventory: InventoryClients {
                ecs: aws_sdk_ecs::Client::new(&sdk),
                ec2: aws_sdk_ec2::Client::new(&sdk),
            },
            health: HealthChecker::new(config.health.clone())?,
            zone_id: OnceCell::new(),
            config,
        })
    }

    /// The zone id: configured, or looked up by name once per process.
    async fn zone_id(&self) -> Result<String, ZoneError> {
        match &self.config.zone {
            ZoneSelector::Id(id) => Ok(id.clone()),
            ZoneSelector::Namespace(ns) => self
                .zone_id
                .get_or_try_init(|| records::find_zone_by_name(&self.route53, ns))
                .await
                .cloned(),
        }
    }

    fn plan_settings(&self) -> PlanSettings {
        PlanSettings {
            startup_grace: self.config.startup_grace,
            max_delete_percent: self.config.max_delete_percent,
            keep_last_record: self.config.keep_last_record,
            checks_off: self.config.health.mode == CheckMode::Off,
        }
    }

    fn cluster_scope(&self) -> ClusterScope {
        match &self.config.clusters {
            Some(names) => ClusterScope::Named(names.clone()),
            None => ClusterScope::All,
        }
    }
}

/// Handles one event.
pub async fn handle(
    deps: &Deps,
    event: &Value,
    invocation: Invocation,
) -> Result<Report, HandlerError> {
    let started = Instant::now();
    let action = events::dispatch(event)?;
    let dry_run = |requested: Option<bool>| {
        invocation.force_dry_run || requested.unwrap_or(deps.config.dry_run)
    };
    let mut report = match action {
        Action::Sweep {
            trigger,
            dry_run: requested,
        } => Box::pin(sweep(deps, trigger, dry_run(requested), invocation)).await?,
        Action::Ignore { trigger, why } => {
            let zone = match &deps.config.zone {
                ZoneSelector::Id(id) => Some(id.clone()),
                ZoneSelector::Namespace(_) => None,
            };
            let mut report = Report::new(trigger, dry_run(None), zone);
            report.ignored = Some(why);
            report
        }
        Action::TaskStopped(_) | Action::InstanceGone { .. } => {
            // Event fast paths are not built yet: a full sweep covers what they would.
            Box::pin(sweep(deps, trigger_of(&action), dry_run(None), invocation)).await?
        }
    };
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

fn trigger_of(action: &Action) -> Trigger {
    match action {
        Action::Sweep { trigger, .. } | Action::Ignore { trigger, .. } => *trigger,
        Action::TaskStopped(_) => Trigger::EcsTaskStopped,
        Action::InstanceGone { .. } => Trigger::Ec2InstanceState,
    }
}

/// One full sweep (SPEC §3).
pub async fn sweep(
    deps: &Deps,
    trigger: Trigger,
    dry_run: bool,
    invocation: Invocation,
) -> Result<Report, HandlerError> {
    let stop_at = invocation.stop_at();
    let zone_id = deps.zone_id().await?;
    let mut report = Report::new(trigger, dry_run, Some(zone_id.clone()));

    // records ∥ inventory
    let scope = deps.cluster_scope();
    let (listing, mut inventory) = tokio::join!(
        records::list_zone(&deps.route53, &zone_id),
        inventory::read(&deps.inventory, &scope)
    );
    let mut complete_listing = true;
    if let Some(failure) = listing.failure.clone() {
        if failure.is_unknown_zone() {
            return Err(failure.into());
        }
        report.errors.push(failure.to_string());
        complete_listing = false;
    }
    let apex = match &deps.config.zone {
        ZoneSelector::Namespace(ns) => Some(ns.clone()),
        ZoneSelector::Id(_) => listing.apex(),
    };
    let Some(apex) = apex else {
        if complete_listing {
            return Err(ZoneError::NoApex(zone_id).into());
        }
        return Ok(report);
    };
    let zone = Zone { id: zone_id, apex };

    let mut owned = Vec::new();
    let mut name_counts: HashMap<String, usize> = HashMap::new();
    for set in &listing.records {
        *name_counts.entry(set.name.clone()).or_default() += 1;
        match records::classify(set, &zone.apex) {
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

    let hosts: BTreeSet<_> = owned
        .iter()
        .filter_map(|o| match &o.target {
            records::Target::Srv { host, .. } | records::Target::Cname { host, .. } => {
                Some(host.clone())
            }
            records::Target::HostA { .. } => None,
        })
        .collect();
    inventory::resolve_hosts(&mut inventory, &hosts).await;
    report
        .errors
        .extend(inventory.failures.iter().map(ToString::to_string));

    // health → plan
    let settings = deps.plan_settings();
    let assessments = plan::assess(&owned, &inventory, &settings, SystemTime::now());
    let endpoints = plan::endpoints(&assessments);
    let check_stop = stop_at.map(|s| {
        s.checked_sub(deps.health.settings().timeout * deps.health.settings().attempts)
            .unwrap_or(s)
    });
    let health = deps
        .health
        .check_all(endpoints.iter().copied(), check_stop)
        .await;
    if health.len() < endpoints.len() {
        report.complete = false;
        report.errors.push(format!(
            "deadline near: {} of {} endpoints were not checked; their records were kept",
            endpoints.len() - health.len(),
            endpoints.len()
        ));
    }
    let complete_inventory = complete_listing && inventory.is_complete();
    let plan = plan::decide(
        &owned,
        assessments,
        &health,
        complete_inventory,
        &name_counts,
        &settings,
    );
    if plan.guard.tripped {
        tracing::error!(
            negative = plan.guard.negative,
            owned = plan.guard.owned,
            limit_percent = plan.guard.limit_percent,
            "mass-deletion guard tripped: no negative-evidence deletion made"
        );
    }

    // apply
    let deletions: Vec<_> = plan.deletions().collect();
    let outcomes = if dry_run {
        vec![WriteOutcome::Deleted; deletions.len()]
    } else {
        let sets: Vec<_> = deletions.iter().map(|p| p.record.set.clone()).collect();
        apply::delete_records(&deps.route53, &zone.id, &sets, stop_at).await
    };
    if outcomes.contains(&WriteOutcome::Skipped) {
        report.complete = false;
        report
            .errors
            .push("deadline near: some deletions were not attempted".to_string());
    }
    if deps.config.stop_unhealthy_tasks && !dry_run {
        let tasks: Vec<_> = deletions
            .iter()
            .zip(&outcomes)
            .filter(|(p, o)| {
                p.decision == Decision::Delete(DeleteReason::Unhealthy)
                    && **o == WriteOutcome::Deleted
            })
            .filter_map(|(p, _)| p.task.clone())
            .collect();
        let (stopped, errors) = apply::stop_tasks(&deps.inventory.ecs, &tasks).await;
        report.stopped_tasks = stopped;
        report.errors.extend(errors);
    }

    // report
    report.record_plan(&plan, &outcomes);
    Ok(report)
}
