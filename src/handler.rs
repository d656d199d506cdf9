//! The handler: one JSON event in, one [`Report`] out. Both entry points (the Lambda
//! runtime and the CLI) call [`handle`] with a [`Deps`] built once at start.
//!
//! The pipeline of a sweep is the module tree: records → inventory → health → plan
//! → apply → report.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::apply::{self, WriteOutcome};
use crate::config::{Config, ZoneSelector};
use crate::events::EcsTaskStateChange;
use crate::events::{self, Action, EventError};
use crate::health::{CheckMode, HealthChecker, HealthError};
use crate::inventory::{self, ClusterScope, InventoryClients};
use crate::plan::{self, Decision, DeleteReason, Plan, PlanSettings, StoppedTask};
use crate::records::{self, OwnedRecord, Zone, ZoneError};
use crate::report::{RecordCounts, Report, Timings, Trigger};

/// Time kept back before the Lambda deadline to finish writing and reply.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// Everything the handler needs, built once per process.
pub struct Deps {
    pub route53: aws_sdk_route53::Client,
    pub inventory: InventoryClients,
    pub health: HealthChecker,
    pub config: Config,
    zone_id: OnceCell<String>,
    zone_vpcs: OnceCell<BTreeSet<String>>,
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
            zone_vpcs: OnceCell::new(),
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

    /// The zone id, and the VPCs the zone is associated with.
    async fn zone(&self) -> Result<(String, BTreeSet<String>), ZoneError> {
        let id = self.zone_id().await?;
        let vpcs = self.zone_vpcs(&id).await?;
        Ok((id, vpcs))
    }

    /// The VPCs the zone is associated with, read once per process: EC2 evidence
    /// counts only from these.
    async fn zone_vpcs(&self, zone_id: &str) -> Result<BTreeSet<String>, ZoneError> {
        self.zone_vpcs
            .get_or_try_init(|| records::zone_vpcs(&self.route53, zone_id))
            .await
            .cloned()
    }

    fn plan_settings(&self) -> PlanSettings {
        PlanSettings {
            startup_grace: self.config.startup_grace,
            max_delete_percent: self.config.max_delete_percent,
            keep_last_record: self.config.keep_last_record,
            checks_off: self.config.health.mode == CheckMode::Off,
        }
    }

    /// An empty report that already shows the configured guard limit.
    fn report(&self, trigger: Trigger, dry_run: bool, zone: Option<String>) -> Report {
        let mut report = Report::new(trigger, dry_run, zone);
        report.guard.limit_percent = self.config.max_delete_percent;
        report
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
    let run = Run::new(deps, invocation);
    let mut report = match action {
        Action::Sweep {
            trigger,
            dry_run: requested,
        } => Box::pin(run.sweep(trigger, dry_run(requested))).await?,
        Action::Ignore { trigger, why } => {
            let zone = match &deps.config.zone {
                ZoneSelector::Id(id) => Some(id.clone()),
                ZoneSelector::Namespace(_) => None,
            };
            let mut report = deps.report(trigger, dry_run(None), zone);
            report.ignored = Some(why);
            report
        }
        Action::TaskStopped(detail) => Box::pin(run.task_stopped(&detail, dry_run(None))).await?,
        Action::InstanceGone { instance_id, .. } => {
            Box::pin(run.instance_gone(&instance_id, dry_run(None))).await?
        }
    };
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.log(&run.timings());
    Ok(report)
}

/// A report for a run whose reads did not finish before the deadline: nothing was
/// decided, so nothing was deleted.
fn out_of_time(mut report: Report) -> Report {
    report.complete = false;
    report.errors.push(
        "deadline near: AWS reads did not finish in time; nothing was decided or deleted"
            .to_string(),
    );
    report
}

/// A report for an event whose re-check could not be read: without it the event's
/// word is not enough, so nothing is deleted.
fn unconfirmed(mut report: Report, inventory: &inventory::Inventory) -> Report {
    report.complete = false;
    report
        .errors
        .extend(inventory.failures.iter().map(ToString::to_string));
    report
}

/// The zone as listed and classified.
struct ZoneView {
    zone: Zone,
    owned: Vec<OwnedRecord>,
    name_counts: HashMap<String, usize>,
    /// The listing stopped early: what was listed is used, negative evidence is not.
    complete: bool,
}

/// One invocation's work, with its deadline and phase timings.
struct Run<'a> {
    deps: &'a Deps,
    stop_at: Option<tokio::time::Instant>,
    timings: Mutex<Timings>,
}

impl<'a> Run<'a> {
    fn new(deps: &'a Deps, invocation: Invocation) -> Self {
        Run {
            deps,
            stop_at: invocation.stop_at(),
            timings: Mutex::new(Timings::default()),
        }
    }

    /// Runs `work` until the deadline's stop point; `None` when time ran out first.
    async fn within<F: std::future::Future>(&self, work: F) -> Option<F::Output> {
        match self.stop_at {
            Some(at) => tokio::time::timeout_at(at, work).await.ok(),
            None => Some(work.await),
        }
    }

    fn timings(&self) -> Timings {
        self.timings.lock().map(|t| *t).unwrap_or_default()
    }

    fn time(&self, phase: fn(&mut Timings) -> &mut u64, since: Instant) {
        if let Ok(mut t) = self.timings.lock() {
            *phase(&mut t) += u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        }
    }

    /// Lists and classifies the zone (records), filling the report's counts.
    /// `Ok(None)`: the listing failed before the apex was known; `report.errors` says why.
    async fn load_zone(
        &self,
        zone_id: String,
        report: &mut Report,
    ) -> Result<Option<ZoneView>, HandlerError> {
        let deps = self.deps;
        report.hosted_zone_id = Some(zone_id.clone());
        let since = Instant::now();
        let listing = records::list_zone(&deps.route53, &zone_id).await;
        self.time(|t| &mut t.listing_ms, since);
        let mut complete = true;
        if let Some(failure) = listing.failure.clone() {
            if failure.is_unknown_zone() {
                return Err(failure.into());
            }
            report.errors.push(failure.to_string());
            complete = false;
        }
        let apex = match &deps.config.zone {
            ZoneSelector::Namespace(ns) => Some(ns.clone()),
            ZoneSelector::Id(_) => listing.apex(),
        };
        let Some(apex) = apex else {
            if complete {
                return Err(ZoneError::NoApex(zone_id).into());
            }
            return Ok(None);
        };
        let mut owned = Vec::new();
        let mut name_counts: HashMap<String, usize> = HashMap::new();
        for set in &listing.records {
            *name_counts.entry(set.name.clone()).or_default() += 1;
            match records::classify(set, &apex) {
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
        Ok(Some(ZoneView {
            zone: Zone { id: zone_id, apex },
            owned,
            name_counts,
            complete,
        }))
    }

    /// One full sweep (SPEC §3).
    async fn sweep(&self, trigger: Trigger, dry_run: bool) -> Result<Report, HandlerError> {
        let deps = self.deps;
        let mut report = deps.report(trigger, dry_run, None);

        let Some(zone) = self.within(deps.zone()).await else {
            return Ok(out_of_time(report));
        };
        let (zone_id, zone_vpcs) = zone?;

        // The zone listing happens-before the ECS read: a record the agent wrote
        // for a task started after the ECS read is then never judged against it.
        // EC2 is read alongside the listing.
        let ec2_read = async {
            let since = Instant::now();
            let instances = inventory::read_instances(&deps.inventory).await;
            self.time(|t| &mut t.inventory_ms, since);
            instances
        };
        let listing = async { tokio::join!(self.load_zone(zone_id, &mut report), ec2_read) };
        let Some((view, instances)) = self.within(listing).await else {
            return Ok(out_of_time(report));
        };
        let Some(view) = view? else {
            return Ok(report);
        };
        let scope = deps.cluster_scope();
        let since = Instant::now();
        let ecs_read = inventory::read_clusters(&deps.inventory, &scope);
        let Some(mut inventory) = self.within(ecs_read).await else {
            return Ok(out_of_time(report));
        };
        self.time(|t| &mut t.inventory_ms, since);
        inventory.zone_vpcs = zone_vpcs;
        match instances {
            Ok(instances) => inventory.instances = instances,
            Err(f) => inventory.failures.push(f),
        }
        report
            .errors
            .extend(inventory.failures.iter().map(ToString::to_string));

        // health → plan
        let settings = deps.plan_settings();
        let assessments = plan::assess(&view.owned, &inventory, &settings, SystemTime::now());
        let endpoints = plan::endpoints(&assessments);
        let health_settings = deps.health.settings();
        let window = health_settings.timeout * health_settings.attempts;
        let check_stop = self.stop_at.map(|s| s.checked_sub(window).unwrap_or(s));
        let since = Instant::now();
        let health = deps
            .health
            .check_all(endpoints.iter().copied(), check_stop)
            .await;
        self.time(|t| &mut t.health_ms, since);
        if health.len() < endpoints.len() {
            report.complete = false;
            report.errors.push(format!(
                "deadline near: {} of {} endpoints were not checked; their records were kept",
                endpoints.len() - health.len(),
                endpoints.len()
            ));
        }
        let complete = view.complete && inventory.is_complete();
        let plan = plan::decide(
            &view.owned,
            assessments,
            &health,
            complete,
            &view.name_counts,
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
        self.apply(&view.zone, &plan, dry_run, &mut report).await;
        Ok(report)
    }

    /// `ECS Task State Change` to STOPPED: delete the records of the task's
    /// containers, after checking with ECS that the task is really stopped and that
    /// no running task on its host backs them.
    async fn task_stopped(
        &self,
        detail: &EcsTaskStateChange,
        dry_run: bool,
    ) -> Result<Report, HandlerError> {
        let deps = self.deps;
        let mut report = deps.report(Trigger::EcsTaskStopped, dry_run, None);
        let since = Instant::now();
        let read = inventory::read_around_task(
            &deps.inventory,
            &detail.cluster_arn,
            &detail.task_arn,
            detail.container_instance_arn.as_deref(),
        );
        let Some((task, mut inventory)) = self.within(read).await else {
            return Ok(out_of_time(report));
        };
        self.time(|t| &mut t.inventory_ms, since);
        if !inventory.is_complete() {
            return Ok(unconfirmed(report, &inventory));
        }
        if let Some(task) = task
            .as_ref()
            .filter(|t| t.desired_status != "STOPPED" && t.last_status != "STOPPED")
        {
            report.ignored = Some(format!(
                "ECS reports task {} as {} (desired {}), not stopped: nothing deleted",
                task.arn, task.last_status, task.desired_status
            ));
            return Ok(report);
        }
        let Some(zone) = self.within(deps.zone()).await else {
            return Ok(out_of_time(report));
        };
        let (zone_id, zone_vpcs) = zone?;
        inventory.zone_vpcs = zone_vpcs;
        let Some(view) = self.within(self.load_zone(zone_id, &mut report)).await else {
            return Ok(out_of_time(report));
        };
        let Some(view) = view? else {
            return Ok(report);
        };
        let mut runtime_ids: Vec<String> = detail
            .containers
            .iter()
            .filter_map(|c| c.runtime_id.clone())
            .collect();
        runtime_ids.extend(
            task.iter()
                .flat_map(|t| t.containers.iter().filter_map(|c| c.runtime_id.clone())),
        );
        let mut host_ports: Vec<u16> = detail
            .containers
            .iter()
            .flat_map(|c| c.network_bindings.iter().filter_map(|b| b.host_port))
            .collect();
        host_ports.extend(task.iter().flat_map(|t| {
            t.containers
                .iter()
                .flat_map(|c| c.bindings.iter().map(|b| b.host_port))
        }));
        let stopped = StoppedTask {
            runtime_ids,
            instance_id: inventory
                .container_instances
                .first()
                .and_then(|ci| ci.ec2_instance_id.clone()),
            host_ports,
        };
        let plan =
            plan::decide_task_stopped(&view.owned, &stopped, &inventory, &deps.plan_settings());
        self.apply(&view.zone, &plan, dry_run, &mut report).await;
        Ok(report)
    }

    /// `EC2 Instance State-change Notification` to a gone state: delete the records
    /// that target the instance, after checking with EC2 that it is really gone.
    ///
    /// A terminated instance may no longer report its private address or DNS
    /// name (EC2 deletes its network interface); then only records that name its
    /// instance id are tied to it, and the next full sweep judges the rest.
    async fn instance_gone(
        &self,
        instance_id: &str,
        dry_run: bool,
    ) -> Result<Report, HandlerError> {
        let deps = self.deps;
        let mut report = deps.report(Trigger::Ec2InstanceState, dry_run, None);
        let since = Instant::now();
        let Some(mut inventory) = self
            .within(inventory::read_instance(&deps.inventory, instance_id))
            .await
        else {
            return Ok(out_of_time(report));
        };
        self.time(|t| &mut t.inventory_ms, since);
        if !inventory.is_complete() {
            return Ok(unconfirmed(report, &inventory));
        }
        let Some(instance) = inventory.instances.iter().find(|i| i.id == instance_id) else {
            report.ignored = Some(format!(
                "EC2 does not know instance {instance_id}: nothing deleted"
            ));
            return Ok(report);
        };
        if !instance.state.is_gone() {
            report.ignored = Some(format!(
                "EC2 reports instance {instance_id} as {}: nothing deleted",
                instance.state.as_str()
            ));
            return Ok(report);
        }
        if instance.private_ip.is_none() && instance.private_dns.is_none() {
            tracing::info!(
                instance_id,
                "instance reports no address any more: only records that name its id are \
                 tied to it; the next sweep judges the rest"
            );
        }
        let Some(zone) = self.within(deps.zone()).await else {
            return Ok(out_of_time(report));
        };
        let (zone_id, zone_vpcs) = zone?;
        inventory.zone_vpcs = zone_vpcs;
        let Some(view) = self.within(self.load_zone(zone_id, &mut report)).await else {
            return Ok(out_of_time(report));
        };
        let Some(view) = view? else {
            return Ok(report);
        };
        let plan =
            plan::decide_instance_gone(&view.owned, instance_id, &inventory, &deps.plan_settings());
        self.apply(&view.zone, &plan, dry_run, &mut report).await;
        Ok(report)
    }

    /// Writes the plan's deletions (apply), stops unhealthy tasks when asked, and
    /// records the outcome in the report.
    async fn apply(&self, zone: &Zone, plan: &Plan, dry_run: bool, report: &mut Report) {
        let deps = self.deps;
        let deletions: Vec<_> = plan.deletions().collect();
        let since = Instant::now();
        let outcomes = if dry_run {
            vec![WriteOutcome::Deleted; deletions.len()]
        } else {
            let sets: Vec<_> = deletions.iter().map(|p| p.record.set.clone()).collect();
            apply::delete_records(&deps.route53, &zone.id, &sets, self.stop_at).await
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
        self.time(|t| &mut t.apply_ms, since);
        report.record_plan(plan, &outcomes);
    }
}
