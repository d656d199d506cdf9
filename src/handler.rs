//! The handler: one JSON event in, one [`Report`] out. Both entry points (the Lambda
//! runtime and the command line) call [`handle`] with [`Deps`] built once at start.

use std::time::Instant;

use serde_json::Value;

use crate::aws::Aws;
use crate::events::{self, Action};
use crate::flows::{self, Run};
use crate::report::{Ran, Report, Shape, Trigger};

pub use crate::flows::{Deps, HandlerError, Invocation, DEADLINE_MARGIN};

/// Handles one event.
pub async fn handle<A: Aws>(
    deps: &Deps<A>,
    event: &Value,
    invocation: Invocation,
) -> Result<Report, HandlerError> {
    let started = Instant::now();
    let action = events::dispatch(event)?;
    let dry_run = |requested: Option<bool>| {
        invocation.force_dry_run || requested.unwrap_or(deps.config.dry_run)
    };
    let (trigger, dry_run) = match &action {
        Action::Sweep {
            trigger,
            dry_run: d,
        } => (*trigger, dry_run(*d)),
        Action::Ignore { trigger, .. } => (*trigger, dry_run(None)),
        Action::TaskStopped(_) => (Trigger::EcsTaskStopped, dry_run(None)),
        Action::InstanceGone { .. } => (Trigger::Ec2InstanceState, dry_run(None)),
    };
    let run = Run::new(deps, invocation, dry_run);
    let ran = match &action {
        Action::Sweep { .. } => Box::pin(flows::sweep(&run)).await,
        Action::Ignore { why, .. } => Err(flows::Halt::Ignored(why.clone())),
        Action::TaskStopped(detail) => Box::pin(flows::task_stopped(&run, detail)).await,
        Action::InstanceGone { instance_id, .. } => {
            Box::pin(flows::instance_gone(&run, instance_id)).await
        }
    };
    let mut ran = match ran {
        Ok(ran) => ran,
        Err(halt) => halt.settle(Ran::new())?,
    };
    // A flow that stopped before it listed the zone (an event ignored or not
    // confirmed by its re-check) still names the zone it is about.
    if ran.hosted_zone_id.is_none() {
        ran.hosted_zone_id = deps.configured_zone_id();
    }
    let shape = Shape {
        trigger,
        dry_run,
        limit_percent: deps.config.max_delete_percent,
        cloud_map: !deps.config.cloud_map_namespaces.is_empty(),
    };
    let mut report = Report::assemble(shape, ran);
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report.log(&run.timings());
    Ok(report)
}
