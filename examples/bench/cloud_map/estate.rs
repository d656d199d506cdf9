//! The namespace's estate, built on the bench's estate after everything else has
//! run: its services, ECS tasks on the estate's container instances (running and
//! stopped) and their ECS-shaped registrations, task ids ECS does not know, and
//! script registrations on EC2 hosts of the estate's VPC (running, with real
//! listeners; terminated) and on addresses nothing has.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::plan::{Group, ServicePlan};
use super::register::{ecs_attributes, register_all, script, Registration};
use super::{CmBuilt, CmInstance, Fate, NAMESPACE};
use crate::estate::SplitMix;
use crate::support::cloud_map::Namespace;
use crate::support::tasks::host_port;
use crate::support::{ago, Behaviour, Estate, LocalAws};
use crate::{NET, SEED, START_BATCH};

const HOUR: Duration = Duration::from_secs(3600);
/// Script registrations per host (or unknown address): one port each, from 9000.
const PER_HOST: usize = 8;
const FIRST_PORT: u16 = 9000;
/// 127.NET.<subnet>.<10..209>: running script hosts from subnet 240, terminated
/// ones from 248, addresses nothing has from 250 (the estate's container
/// instances are below 240: `check_args` makes sure).
const LIVE_SUBNET: usize = 240;
const GONE_SUBNET: usize = 248;
const UNKNOWN_SUBNET: usize = 250;

/// Builds the namespace `plans` describes in the estate's VPC.
pub(super) async fn build<'a>(
    aws: &'a LocalAws,
    estate: &mut Estate<'a>,
    plans: Vec<ServicePlan>,
) -> (Namespace<'a>, CmBuilt) {
    let started = Instant::now();
    let mut ns = Namespace::create(estate, NAMESPACE).await;
    for p in &plans {
        ns.service(&p.name, p.group == Group::Ecs, p.group == Group::Custom)
            .await;
    }
    let mut b = Builder {
        registrations: Vec::new(),
        instances: Vec::new(),
        tasks_per_cluster: BTreeMap::new(),
        clusters_with_unknown_tasks: BTreeSet::new(),
        tasks_started: 0,
        listeners: 0,
    };
    b.ecs(aws, estate, &ns, &plans).await;
    let hosts = b.scripts(aws, estate, &ns, &plans).await;
    eprintln!(
        "bench: Cloud Map: {} RegisterInstance calls",
        b.registrations.len()
    );
    register_all(aws, std::mem::take(&mut b.registrations)).await;
    let built = CmBuilt {
        namespace_id: ns.id.clone(),
        plans,
        instances: b.instances,
        tasks_per_cluster: b.tasks_per_cluster,
        clusters_with_unknown_tasks: b.clusters_with_unknown_tasks,
        tasks_started: b.tasks_started,
        hosts,
        listeners: b.listeners,
        build_secs: started.elapsed().as_secs_f64(),
    };
    (ns, built)
}

/// Script hosts: running ones (with listeners), terminated ones, unknown addresses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScriptHosts {
    pub live: usize,
    pub gone: usize,
    pub unknown: usize,
}

struct Builder {
    registrations: Vec<Registration>,
    instances: Vec<CmInstance>,
    tasks_per_cluster: BTreeMap<String, usize>,
    clusters_with_unknown_tasks: BTreeSet<String>,
    tasks_started: usize,
    listeners: usize,
}

impl Builder {
    fn add(&mut self, service: usize, ns: &Namespace<'_>, r: Registration, fate: Fate) {
        let attr = |k: &str| r.2.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        let target = match (attr("AWS_INSTANCE_IPV4"), attr("AWS_INSTANCE_PORT")) {
            (Some(ip), Some(port)) => format!("{ip}:{port}"),
            (Some(ip), None) => ip,
            (None, _) => String::new(),
        };
        debug_assert_eq!(ns.services[service].id, r.0);
        self.instances.push(CmInstance {
            service,
            id: r.1.clone(),
            target,
            fate,
        });
        self.registrations.push(r);
    }

    /// The ECS services: tasks started on the container instances of one cluster
    /// each (round-robin), some stopped, all registered as ECS registers them;
    /// and task ids ECS never knew, registered the same way.
    async fn ecs(
        &mut self,
        aws: &LocalAws,
        estate: &mut Estate<'_>,
        ns: &Namespace<'_>,
        plans: &[ServicePlan],
    ) {
        let mut hosts_of: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, h) in estate.hosts.iter().enumerate() {
            if let (Some(c), Some(_)) = (&h.cluster, &h.container_instance_arn) {
                hosts_of.entry(c.clone()).or_default().push(i);
            }
        }
        let clusters: Vec<String> = hosts_of.keys().cloned().collect();
        let mut cursor: HashMap<String, usize> = HashMap::new();
        let mut rng = SplitMix(SEED ^ 0x0C10_D3A9);
        let mut backdate = Vec::new();
        let ecs_plans = plans
            .iter()
            .enumerate()
            .filter(|(_, p)| p.group == Group::Ecs);
        for (k, (s, p)) in ecs_plans.enumerate() {
            let cluster = &clusters[k % clusters.len()];
            let hosts = &hosts_of[cluster];
            let at = cursor.entry(cluster.clone()).or_default();
            let family = format!("cm-{}", p.name);
            let definition = estate.register_definition(&family, &[], &[(80, 0)]).await;
            let tasks = start(
                estate,
                cluster,
                &definition,
                &p.name,
                hosts,
                at,
                p.running + p.stopped,
            )
            .await;
            for (n, (arn, h, port)) in tasks.iter().enumerate() {
                let stopped = n < p.stopped;
                if stopped {
                    let ecs = aws.ecs();
                    ecs.stop_task()
                        .cluster(cluster)
                        .task(arn)
                        .send()
                        .await
                        .expect("StopTask");
                }
                let id = arn.rsplit('/').next().expect("task id").to_string();
                let fate = if stopped {
                    Fate::Dead("task-stopped")
                } else {
                    Fate::Live
                };
                let host = &estate.hosts[*h];
                let attrs =
                    ecs_attributes(cluster, &p.name, &family, host.ip, *port, &host.instance_id);
                self.add(s, ns, (ns.services[s].id.clone(), id, attrs), fate);
                backdate.push(json!({"cluster": cluster, "taskArn": arn, "createdAt": ago(HOUR), "startedAt": ago(HOUR)}));
            }
            self.tasks_started += tasks.len();
            for j in 0..p.task_unknown {
                let host = &estate.hosts[hosts[(*at + j) % hosts.len()]];
                let id = format!("{:016x}{:016x}", rng.next(), rng.next());
                let port = 40_000 + u16::try_from(j % 20_000).expect("port");
                let attrs =
                    ecs_attributes(cluster, &p.name, &family, host.ip, port, &host.instance_id);
                self.add(
                    s,
                    ns,
                    (ns.services[s].id.clone(), id, attrs),
                    Fate::Dead("task-gone"),
                );
            }
            *self.tasks_per_cluster.entry(cluster.clone()).or_default() +=
                p.running + p.stopped + p.task_unknown;
            if p.task_unknown > 0 {
                self.clusters_with_unknown_tasks.insert(cluster.clone());
            }
        }
        for chunk in backdate.chunks(500) {
            aws.control(
                reqwest::Method::POST,
                "ecs/tasks",
                json!({ "tasks": chunk }),
            )
            .await;
        }
    }

    /// The script services: each instance its own port on a host; running hosts
    /// launched an hour ago (past the start-up grace) with a listener per
    /// instance, terminated hosts, and addresses no instance has.
    async fn scripts(
        &mut self,
        aws: &LocalAws,
        estate: &mut Estate<'_>,
        ns: &Namespace<'_>,
        plans: &[ServicePlan],
    ) -> ScriptHosts {
        let scripted = || {
            plans
                .iter()
                .enumerate()
                .filter(|(_, p)| p.group != Group::Ecs)
        };
        let on_live: usize = scripted().map(|(_, p)| p.live + p.failing + p.sick).sum();
        let on_gone: usize = scripted().map(|(_, p)| p.host_gone).sum();
        let on_unknown: usize = scripted().map(|(_, p)| p.address_unknown).sum();
        let live = hosts(estate, LIVE_SUBNET, on_live.div_ceil(PER_HOST)).await;
        let gone = hosts(estate, GONE_SUBNET, on_gone.div_ceil(PER_HOST)).await;
        let launched: Vec<Value> = live
            .iter()
            .map(|&h| json!({"instanceId": estate.hosts[h].instance_id, "launchTime": ago(HOUR)}))
            .collect();
        if !launched.is_empty() {
            aws.control(
                reqwest::Method::POST,
                "ec2/instances",
                json!({ "instances": launched }),
            )
            .await;
        }
        let (mut live_slot, mut gone_slot, mut unknown_slot) = (0, 0, 0);
        for (s, p) in scripted() {
            let service_id = ns.services[s].id.clone();
            let kinds = [
                (p.live, Behaviour::Healthy, Fate::Live),
                (p.failing, Behaviour::Http500, Fate::Dead("unhealthy")),
                (p.sick, Behaviour::Http500, Fate::Sick),
            ];
            for (count, behaviour, fate) in kinds {
                for _ in 0..count {
                    let host = estate.hosts[live[live_slot / PER_HOST]].clone();
                    let port = slot_port(live_slot);
                    // Half of the scripts also name the host's instance id.
                    let id = (live_slot % 2 == 0).then_some(host.instance_id.as_str());
                    estate.listen(host.ip, port, behaviour).await;
                    self.listeners += 1;
                    self.add(s, ns, script(&service_id, host.ip, port, id), fate);
                    live_slot += 1;
                }
            }
            for _ in 0..p.host_gone {
                let host = &estate.hosts[gone[gone_slot / PER_HOST]];
                let r = script(
                    &service_id,
                    host.ip,
                    slot_port(gone_slot),
                    Some(&host.instance_id),
                );
                self.add(s, ns, r, Fate::Dead("instance-gone"));
                gone_slot += 1;
            }
            for _ in 0..p.address_unknown {
                let ip = address(UNKNOWN_SUBNET, unknown_slot / PER_HOST);
                let r = script(&service_id, ip, slot_port(unknown_slot), None);
                self.add(s, ns, r, Fate::Dead("host-unknown"));
                unknown_slot += 1;
            }
        }
        if !gone.is_empty() {
            let ids: Vec<String> = gone
                .iter()
                .map(|&h| estate.hosts[h].instance_id.clone())
                .collect();
            let ec2 = aws.ec2();
            ec2.terminate_instances()
                .set_instance_ids(Some(ids))
                .send()
                .await
                .expect("TerminateInstances");
        }
        ScriptHosts {
            live: live.len(),
            gone: gone.len(),
            unknown: on_unknown.div_ceil(PER_HOST),
        }
    }
}

/// Starts `n` tasks of `definition` in `cluster` for the ECS service `service`,
/// one per container instance of `hosts` from `at` on (round-robin), up to
/// `START_BATCH` a StartTask: (task ARN, host, host port of container port 80).
async fn start(
    estate: &Estate<'_>,
    cluster: &str,
    definition: &str,
    service: &str,
    hosts: &[usize],
    at: &mut usize,
    n: usize,
) -> Vec<(String, usize, u16)> {
    let ci_host: HashMap<&str, usize> = hosts
        .iter()
        .filter_map(|&h| {
            estate.hosts[h]
                .container_instance_arn
                .as_deref()
                .map(|a| (a, h))
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = (n - out.len()).min(START_BATCH).min(hosts.len());
        let arns: Vec<String> = (0..batch)
            .map(|i| hosts[(*at + i) % hosts.len()])
            .map(|h| estate.hosts[h].container_instance_arn.clone().expect("ci"))
            .collect();
        *at = (*at + batch) % hosts.len();
        let started = estate
            .aws
            .ecs()
            .start_task()
            .cluster(cluster)
            .task_definition(definition)
            .group(format!("service:{service}"))
            .set_container_instances(Some(arns))
            .send()
            .await
            .expect("StartTask");
        for t in started.tasks() {
            let host = ci_host[t.container_instance_arn().expect("ci arn")];
            let port = host_port(&t.containers()[0], 80).expect("dynamic host port");
            out.push((t.task_arn().expect("task arn").to_string(), host, port));
        }
    }
    out
}

/// `n` EC2 instances (no cluster) from subnet `first` on; their indexes in the estate.
async fn hosts(estate: &mut Estate<'_>, first: usize, n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let [_, _, subnet, last] = address(first, i).octets();
        out.push(estate.host(None, subnet, last).await);
    }
    out
}

/// The `i`th address from subnet `first` on: 127.NET.<first + i / 200>.<10 + i % 200>.
fn address(first: usize, i: usize) -> Ipv4Addr {
    let subnet = u8::try_from(first + i / 200).expect("subnet below 256 (check_args)");
    let last = u8::try_from(10 + i % 200).expect("host byte");
    Ipv4Addr::new(127, NET, subnet, last)
}

fn slot_port(slot: usize) -> u16 {
    FIRST_PORT + u16::try_from(slot % PER_HOST).expect("port")
}
