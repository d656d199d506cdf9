//! How many instances of each kind every Cloud Map service of the bench gets:
//! pure arithmetic on the arguments, checked before anything starts.

use crate::Args;

/// Who registers a service's instances, and how the reaper judges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// An ECS service's `serviceRegistries` (SRV records): judged by the task.
    Ecs,
    /// A script registering EC2 hosts (A records): health-checked, deregistered
    /// when unhealthy.
    Script,
    /// A script, in a service with `HealthCheckCustomConfig`: health-checked,
    /// marked UNHEALTHY instead of deregistered.
    Custom,
}

impl Group {
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Group::Ecs => "ecs",
            Group::Script => "script",
            Group::Custom => "custom",
        }
    }
}

/// One Cloud Map service: its name and how many instances of each kind.
#[derive(Debug, Clone)]
pub(crate) struct ServicePlan {
    pub name: String,
    pub group: Group,
    /// ECS: instances of running tasks (kept `healthy`).
    pub running: usize,
    /// ECS: instances of tasks ECS reports STOPPED (`task-stopped`).
    pub stopped: usize,
    /// ECS: instances of task ids ECS does not know (`task-gone`).
    pub task_unknown: usize,
    /// Script: instances on running hosts whose listener answers (kept `healthy`).
    pub live: usize,
    /// Script: instances naming a terminated host (`instance-gone`).
    pub host_gone: usize,
    /// Script: instances on addresses no network interface has (`host-unknown`).
    pub address_unknown: usize,
    /// Script, no custom health: the listener answers HTTP 500 (`unhealthy`).
    pub failing: usize,
    /// Custom health: the listener answers HTTP 500 (kept, marked UNHEALTHY).
    pub sick: usize,
}

impl ServicePlan {
    pub(crate) fn total(&self) -> usize {
        self.running
            + self.stopped
            + self.task_unknown
            + self.live
            + self.host_gone
            + self.address_unknown
            + self.failing
            + self.sick
    }

    /// Instances the sweep keeps `healthy`.
    pub(crate) fn alive(&self) -> usize {
        self.running + self.live
    }

    /// Instances the sweep deregisters.
    pub(crate) fn dead(&self) -> usize {
        self.stopped + self.task_unknown + self.host_gone + self.address_unknown + self.failing
    }

    /// Deregistrations on negative evidence, and UNHEALTHY marks: the guard's candidates.
    pub(crate) fn negative(&self) -> usize {
        self.task_unknown + self.address_unknown + self.failing + self.sick
    }
}

/// The dead share splits evenly into these five kinds, in this order.
pub(crate) const DEAD_KINDS: [&str; 5] = [
    "task-stopped",
    "task-gone",
    "instance-gone",
    "host-unknown",
    "unhealthy",
];

/// One instance in this many is in a custom-health service and answers HTTP 500.
const SICK_ONE_IN: usize = 200;

/// The services and their instances for `--cloud-map-instances` over
/// `--cloud-map-services` at `--dead-percent`, or why that cannot be built.
pub(crate) fn plan(args: &Args) -> Result<Vec<ServicePlan>, String> {
    let (n, s) = (args.cloud_map_instances, args.cloud_map_services);
    if n == 0 {
        return Ok(Vec::new());
    }
    if s < 3 {
        return Err(
            "--cloud-map-services must be at least 3 (ECS, script and custom-health services)"
                .into(),
        );
    }
    let dead = n * usize::from(args.dead_percent) / 100;
    let per_kind: Vec<usize> = (0..DEAD_KINDS.len())
        .map(|k| dead / DEAD_KINDS.len() + usize::from(k < dead % DEAD_KINDS.len()))
        .collect();
    let sick = (n / SICK_ONE_IN).min(n - dead);
    let live = n - dead - sick;
    let ecs_live = live * 3 / 5;
    let script_live = live - ecs_live;

    let custom = (s / 5).max(1);
    let ecs = (s / 2).max(1);
    let script = s - custom - ecs;
    let mut services: Vec<ServicePlan> = (0..s)
        .map(|i| {
            let group = match i {
                _ if i < ecs => Group::Ecs,
                _ if i < ecs + script => Group::Script,
                _ => Group::Custom,
            };
            ServicePlan {
                name: format!("{}-{i:02}", group.prefix()),
                group,
                running: 0,
                stopped: 0,
                task_unknown: 0,
                live: 0,
                host_gone: 0,
                address_unknown: 0,
                failing: 0,
                sick: 0,
            }
        })
        .collect();
    let (ecs_part, hosts_part) = services.split_at_mut(ecs);
    for (svc, ((running, stopped), unknown)) in ecs_part.iter_mut().zip(
        spread(ecs_live, ecs)
            .into_iter()
            .zip(spread(per_kind[0], ecs))
            .zip(spread(per_kind[1], ecs)),
    ) {
        (svc.running, svc.stopped, svc.task_unknown) = (running, stopped, unknown);
    }
    let scripted = hosts_part.len();
    for (svc, ((live, gone), unknown)) in hosts_part.iter_mut().zip(
        spread(script_live, scripted)
            .into_iter()
            .zip(spread(per_kind[2], scripted))
            .zip(spread(per_kind[3], scripted)),
    ) {
        (svc.live, svc.host_gone, svc.address_unknown) = (live, gone, unknown);
    }
    let (plain, custom_part) = hosts_part.split_at_mut(script);
    for (svc, failing) in plain.iter_mut().zip(spread(per_kind[4], script)) {
        svc.failing = failing;
    }
    for (svc, sick) in custom_part.iter_mut().zip(spread(sick, custom)) {
        svc.sick = sick;
    }
    if let Some(svc) = services.iter().find(|v| v.total() > 0 && v.alive() == 0) {
        return Err(format!(
            "--cloud-map-instances {n} over {s} services at --dead-percent {}: service {} would \
             have no live instance (last-record protection would hold its dead ones); give more \
             instances or fewer services",
            args.dead_percent, svc.name
        ));
    }
    Ok(services)
}

/// `count` spread over `n` services: one each first (when there are enough),
/// the rest in proportion to weights 1, 2, 3, 1, 2, 3, … so that the services
/// differ in size (some take two pages of ListInstances).
pub(crate) fn spread(count: usize, n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let base = usize::from(count >= n);
    let rest = count - base * n;
    let weights: Vec<usize> = (0..n).map(|i| 1 + i % 3).collect();
    let total: usize = weights.iter().sum();
    let mut out: Vec<usize> = weights.iter().map(|w| base + rest * w / total).collect();
    let mut left = count - out.iter().sum::<usize>();
    let mut i = 0;
    while left > 0 {
        out[i % n] += 1;
        left -= 1;
        i += 1;
    }
    out
}
