//! Cloud Map on the local AWS (docs/cloud-map.md): a private DNS namespace in an estate's
//! VPC, its services, instances registered the way ECS registers a task and the
//! way scripts register an EC2 host, the registry read back (instances, custom
//! health, deregistration operations), and the real binary run against it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use aws_sdk_servicediscovery::types::{
    DnsConfig, DnsRecord, HealthCheckCustomConfig, OperationTargetType, RecordType, RoutingPolicy,
};
use serde_json::{json, Value};

use super::estate::create_vpc;
use super::expect::{Listed, Outcome};
use super::regions::OTHER_ACCOUNT;
use super::{ago, run_binary, Behaviour, Estate, Host, LocalAws};

/// The account the local AWS serves.
pub const ACCOUNT: &str = "123456789012";

/// An hour: past any grace period.
pub const HOUR: Duration = Duration::from_secs(3600);
/// Every negative deregistration goes through: for tests about each instance's
/// decision, not about the sweep-wide safety rules.
pub const PLAIN: &[(&str, &str)] = &[("MAX_DELETE_PERCENT", "100"), ("KEEP_LAST_RECORD", "false")];
/// The port scripts register their hosts' services on.
pub const PORT: u16 = 8080;

impl LocalAws {
    pub fn servicediscovery(&self) -> aws_sdk_servicediscovery::Client {
        aws_sdk_servicediscovery::Client::new(&self.sdk)
    }

    /// `GET /_localaws/servicediscovery/operations`: settings, fail rules and
    /// every deregistration operation so far.
    pub async fn sd_operations(&self) -> Value {
        self.control(
            reqwest::Method::GET,
            "servicediscovery/operations",
            Value::Null,
        )
        .await
    }

    /// `POST /_localaws/servicediscovery/operations` with `body`.
    pub async fn set_sd_operations(&self, body: Value) -> Value {
        self.control(reqwest::Method::POST, "servicediscovery/operations", body)
            .await
    }

    /// Drops every injected fault.
    pub async fn clear_faults(&self) {
        self.control(reqwest::Method::DELETE, "faults", Value::Null)
            .await;
    }

    /// How many `service:Operation` calls the local AWS has received.
    pub async fn count(&self, call: &str) -> u64 {
        self.calls().await.get(call).copied().unwrap_or(0)
    }
}

/// A Cloud Map service of a namespace.
#[derive(Debug, Clone)]
pub struct CmService {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub custom_health: bool,
}

/// An instance a test registered, with its expected fate (`None`: not listed by
/// the sweep, so not counted, and still registered after it).
#[derive(Debug, Clone)]
pub struct Registered {
    pub service: String,
    pub service_id: String,
    pub instance_id: String,
    /// `ip:port` or `ip`, as the report names it.
    pub target: String,
    pub fate: Option<Outcome>,
}

/// A task started for an ECS service that registers into Cloud Map.
#[derive(Debug, Clone)]
pub struct EcsTask {
    pub arn: String,
    /// The task id: the last part of its ARN, and its Cloud Map instance id.
    pub id: String,
    pub cluster: String,
    pub family: String,
    pub group: String,
    pub container_instance_arn: String,
    pub ec2_instance_id: String,
    pub ip: Ipv4Addr,
    /// The host port bound to container port 80.
    pub port: u16,
}

/// A private DNS namespace in an estate's VPC, and what a test registered in it.
pub struct Namespace<'a> {
    pub aws: &'a LocalAws,
    pub id: String,
    pub arn: String,
    pub name: String,
    pub services: Vec<CmService>,
    pub registered: Vec<Registered>,
}

/// An estate (its zone `sd.internal`) and a private DNS namespace `name` in its VPC.
pub async fn estate_with_namespace<'a>(
    aws: &'a LocalAws,
    name: &str,
) -> (Estate<'a>, Namespace<'a>) {
    let e = Estate::new(aws, "sd.internal").await;
    let ns = Namespace::create(&e, name).await;
    (e, ns)
}

impl<'a> Namespace<'a> {
    /// CreatePrivateDnsNamespace `name` in the estate's VPC (the local AWS then
    /// creates its private zone `<name>.` in that VPC, as Cloud Map does).
    pub async fn create(e: &Estate<'a>, name: &str) -> Namespace<'a> {
        let sd = e.aws.servicediscovery();
        let op = sd
            .create_private_dns_namespace()
            .name(name)
            .vpc(&e.vpc)
            .creator_request_id(format!("ns-{name}-{}", e.net))
            .send()
            .await
            .expect("CreatePrivateDnsNamespace");
        let operation = sd
            .get_operation()
            .operation_id(op.operation_id().expect("operation id"))
            .send()
            .await
            .expect("GetOperation")
            .operation
            .expect("operation");
        let id = operation
            .targets()
            .and_then(|t| t.get(&OperationTargetType::Namespace))
            .expect("namespace id")
            .clone();
        let namespace = sd
            .get_namespace()
            .id(&id)
            .send()
            .await
            .expect("GetNamespace")
            .namespace
            .expect("namespace");
        Namespace {
            aws: e.aws,
            arn: namespace.arn().expect("namespace arn").to_string(),
            id,
            name: name.to_string(),
            services: Vec::new(),
            registered: Vec::new(),
        }
    }

    /// A MULTIVALUE service `name` with SRV records (as ECS creates for a
    /// `bridge`/`host` service) or A records, with `HealthCheckCustomConfig`
    /// when `custom_health`.
    pub async fn service(&mut self, name: &str, srv: bool, custom_health: bool) -> CmService {
        let record = DnsRecord::builder()
            .r#type(if srv { RecordType::Srv } else { RecordType::A })
            .ttl(10)
            .build()
            .expect("dns record");
        let mut req = self
            .aws
            .servicediscovery()
            .create_service()
            .name(name)
            .namespace_id(&self.id)
            .creator_request_id(format!("svc-{name}-{}", self.id))
            .dns_config(
                DnsConfig::builder()
                    .routing_policy(RoutingPolicy::Multivalue)
                    .dns_records(record)
                    .build()
                    .expect("dns config"),
            );
        if custom_health {
            req = req.health_check_custom_config(HealthCheckCustomConfig::builder().build());
        }
        let service = req
            .send()
            .await
            .expect("CreateService")
            .service
            .expect("service");
        let s = CmService {
            name: name.to_string(),
            id: service.id().expect("service id").to_string(),
            arn: service.arn().expect("service arn").to_string(),
            custom_health,
        };
        self.services.push(s.clone());
        s
    }

    /// RegisterInstance `instance_id` in `service` with exactly `attributes`.
    pub async fn register(
        &mut self,
        service: &CmService,
        instance_id: &str,
        attributes: &[(&str, String)],
        fate: Option<Outcome>,
    ) {
        let mut req = self
            .aws
            .servicediscovery()
            .register_instance()
            .service_id(&service.id)
            .instance_id(instance_id);
        for (k, v) in attributes {
            req = req.attributes(*k, v);
        }
        req.send().await.expect("RegisterInstance");
        let attr = |k: &str| {
            attributes
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.clone())
        };
        let target = match (attr("AWS_INSTANCE_IPV4"), attr("AWS_INSTANCE_PORT")) {
            (Some(ip), Some(port)) => format!("{ip}:{port}"),
            (Some(ip), None) => ip,
            (None, _) => String::new(),
        };
        self.registered.push(Registered {
            service: service.name.clone(),
            service_id: service.id.clone(),
            instance_id: instance_id.to_string(),
            target,
            fate,
        });
    }

    /// Registers `task` as ECS does for a service with `serviceRegistries`: the
    /// task id as instance id, the task's host address and host port, and the
    /// `ECS_*` attributes (EC2 launch type: `EC2_INSTANCE_ID` too).
    pub async fn register_task(
        &mut self,
        service: &CmService,
        task: &EcsTask,
        ecs_service: &str,
        fate: Option<Outcome>,
    ) {
        self.register_ecs(
            service,
            &task.id,
            &task.cluster,
            ecs_service,
            &task.family,
            task.ip,
            task.port,
            Some(task.ec2_instance_id.as_str()),
            fate,
        )
        .await;
    }

    /// An ECS registration of task `task_id` in `cluster` that the test spells
    /// out (a task ECS does not know, a cluster that is gone).
    #[allow(clippy::too_many_arguments)]
    pub async fn register_ecs(
        &mut self,
        service: &CmService,
        task_id: &str,
        cluster: &str,
        ecs_service: &str,
        family: &str,
        ip: Ipv4Addr,
        port: u16,
        ec2_instance_id: Option<&str>,
        fate: Option<Outcome>,
    ) {
        let mut attributes = vec![
            ("AWS_INSTANCE_IPV4", ip.to_string()),
            ("AWS_INSTANCE_PORT", port.to_string()),
            ("AVAILABILITY_ZONE", "us-east-1a".to_string()),
            ("REGION", "us-east-1".to_string()),
            ("ECS_CLUSTER_NAME", cluster.to_string()),
            ("ECS_SERVICE_NAME", ecs_service.to_string()),
            ("ECS_TASK_DEFINITION_FAMILY", family.to_string()),
        ];
        if let Some(id) = ec2_instance_id {
            attributes.push(("EC2_INSTANCE_ID", id.to_string()));
        }
        self.register(service, task_id, &attributes, fate).await;
    }

    /// A registration by a script for an EC2 host: `AWS_INSTANCE_IPV4`, the port
    /// when given, `EC2_INSTANCE_ID` when given.
    pub async fn register_script(
        &mut self,
        service: &CmService,
        instance_id: &str,
        ip: Ipv4Addr,
        port: Option<u16>,
        ec2_instance_id: Option<&str>,
        fate: Option<Outcome>,
    ) {
        let mut attributes = vec![("AWS_INSTANCE_IPV4", ip.to_string())];
        if let Some(port) = port {
            attributes.push(("AWS_INSTANCE_PORT", port.to_string()));
        }
        if let Some(id) = ec2_instance_id {
            attributes.push(("EC2_INSTANCE_ID", id.to_string()));
        }
        self.register(service, instance_id, &attributes, fate).await;
    }

    /// A script registration of `ip` on [`PORT`], without `EC2_INSTANCE_ID`, expected
    /// to meet `fate`.
    pub async fn script(
        &mut self,
        service: &CmService,
        instance_id: &str,
        ip: Ipv4Addr,
        fate: Outcome,
    ) {
        self.register_script(service, instance_id, ip, Some(PORT), None, Some(fate))
            .await;
    }

    /// A script registration of host `host` on [`PORT`], naming it by its address
    /// and by `EC2_INSTANCE_ID`.
    pub async fn script_of(
        &mut self,
        service: &CmService,
        instance_id: &str,
        host: &Host,
        fate: Option<Outcome>,
    ) {
        let ec2_id = Some(host.instance_id.as_str());
        self.register_script(service, instance_id, host.ip, Some(PORT), ec2_id, fate)
            .await;
    }

    /// A script registration `instance_id` of a new old host at
    /// 127.<net>.2.`last` answering on [`PORT`]: kept `healthy`. Its address.
    pub async fn live_script(
        &mut self,
        e: &mut Estate<'_>,
        service: &CmService,
        instance_id: &str,
        last: u8,
    ) -> Ipv4Addr {
        let live = e.old_host(last).await;
        let ip = e.hosts[live].ip;
        e.listen(ip, PORT, Behaviour::Healthy).await;
        self.script(service, instance_id, ip, Outcome::Kept("healthy"))
            .await;
        ip
    }

    /// Forgets every instance expected to be deregistered (gone after the sweep).
    pub fn forget_deregistered(&mut self) {
        self.registered
            .retain(|r| !matches!(r.fate, Some(Outcome::Removed(_))));
    }

    /// Changes what the test expects of `instance_id` from now on.
    pub fn expect(&mut self, instance_id: &str, fate: Option<Outcome>) {
        for r in self
            .registered
            .iter_mut()
            .filter(|r| r.instance_id == instance_id)
        {
            r.fate = fate;
        }
    }

    /// Forgets `instance_id` (deregistered by an earlier sweep).
    pub fn forget(&mut self, instance_id: &str) {
        self.registered.retain(|r| r.instance_id != instance_id);
    }

    /// The instances of `service` now, id → attributes: the test's own walk of
    /// ListInstances' pages.
    pub async fn instances(
        &self,
        service: &CmService,
    ) -> BTreeMap<String, BTreeMap<String, String>> {
        let sd = self.aws.servicediscovery();
        let mut out = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = sd
                .list_instances()
                .service_id(&service.id)
                .set_next_token(token.take())
                .send()
                .await
                .expect("ListInstances");
            for i in page.instances() {
                let attributes = i
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                out.insert(i.id().expect("instance id").to_string(), attributes);
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => return out,
            }
        }
    }

    /// The instance ids of `service` now.
    pub async fn ids(&self, service: &CmService) -> Vec<String> {
        self.instances(service).await.into_keys().collect()
    }

    /// GetInstancesHealthStatus of `service`: instance id → HEALTHY, UNHEALTHY or UNKNOWN.
    pub async fn health(&self, service: &CmService) -> BTreeMap<String, String> {
        let sd = self.aws.servicediscovery();
        let mut out = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let page = sd
                .get_instances_health_status()
                .service_id(&service.id)
                .set_next_token(token.take())
                .send()
                .await
                .expect("GetInstancesHealthStatus");
            for (id, status) in page.status().into_iter().flatten() {
                out.insert(id.clone(), status.as_str().to_string());
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => return out,
            }
        }
    }

    /// The next deregistration of `instance_id` to complete ends in FAIL with
    /// `message` (the instance stays).
    pub async fn fail_deregistration(&self, instance_id: &str, message: &str) {
        self.aws
            .set_sd_operations(
                json!({"fail": [{"instanceId": instance_id, "errorMessage": message}]}),
            )
            .await;
    }

    /// The report's `cloud_map` entry for this namespace (exactly one).
    pub fn entry(&self, report: &Value) -> Value {
        let entries: Vec<&Value> = report["cloud_map"]
            .as_array()
            .unwrap_or_else(|| panic!("no cloud_map list in the report: {report:#}"))
            .iter()
            .filter(|e| {
                e["namespace"] == self.name.as_str() || e["namespace_id"] == self.id.as_str()
            })
            .collect();
        assert_eq!(
            entries.len(),
            1,
            "one cloud_map entry for {}: {report:#}",
            self.name
        );
        entries[0].clone()
    }

    /// Asserts that every registered instance with a fate met it in the report
    /// (its `deregistered`, `held` with `decided`, `kept` counts, `instances`
    /// counts) and in Cloud Map: deregistered ones are gone unless `dry_run`,
    /// every other one is still registered.
    pub async fn assert_outcome(&self, report: &Value, dry_run: bool) {
        let entry = self.entry(report);
        let find = |list: &str, r: &Registered| -> Option<Value> {
            entry[list]
                .as_array()
                .unwrap_or_else(|| panic!("{list} in {entry:#}"))
                .iter()
                .find(|x| {
                    x["service"] == r.service.as_str() && x["instance_id"] == r.instance_id.as_str()
                })
                .cloned()
        };
        let mut kept: BTreeMap<&str, u64> = BTreeMap::new();
        let (mut scanned, mut foreign, mut deregistered, mut held) = (0, 0, 0, 0);
        for r in &self.registered {
            let Some(fate) = r.fate else {
                assert!(
                    find("deregistered", r).is_none() && find("held", r).is_none(),
                    "{r:?} was not to be judged: {entry:#}"
                );
                continue;
            };
            scanned += 1;
            let listed = Listed {
                removed_list: "deregistered",
                removed: find("deregistered", r),
                held: find("held", r),
                target: Some(&r.target),
                context: format!(": {entry:#}"),
            };
            fate.check(r, &listed, &mut kept);
            match fate {
                Outcome::Removed(_) => deregistered += 1,
                Outcome::Held(..) => held += 1,
                Outcome::Foreign => foreign += 1,
                _ => {}
            }
        }
        assert_eq!(
            entry["instances"]["scanned"], scanned,
            "instances.scanned: {entry:#}"
        );
        assert_eq!(
            entry["instances"]["owned"],
            scanned - foreign,
            "instances.owned: {entry:#}"
        );
        assert_eq!(
            entry["instances"]["foreign"], foreign,
            "instances.foreign: {entry:#}"
        );
        for reason in ["healthy", "grace", "out-of-scope", "unhealthy", "unchecked"] {
            let want = kept.get(reason).copied().unwrap_or(0);
            let got = entry["kept"][reason].as_u64().unwrap_or(0);
            assert_eq!(got, want, "kept.{reason}: {entry:#}");
        }
        assert_eq!(
            entry["deregistered"].as_array().map(Vec::len),
            Some(deregistered),
            "{entry:#}"
        );
        assert_eq!(
            entry["held"].as_array().map(Vec::len),
            Some(held),
            "{entry:#}"
        );
        self.assert_registry(dry_run).await;
    }

    /// Asserts that Cloud Map holds every registered instance but those
    /// deregistered (unless `dry_run`).
    pub async fn assert_registry(&self, dry_run: bool) {
        let mut now: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &self.services {
            now.insert(s.id.clone(), self.ids(s).await);
        }
        for r in &self.registered {
            let present = now[&r.service_id].contains(&r.instance_id);
            let gone = r.fate.is_some_and(|f| !f.survives(dry_run));
            assert_eq!(present, !gone, "registration of {r:?} after the sweep");
        }
    }
}

impl Estate<'_> {
    /// A host of the estate outside any cluster at 127.<net>.2.`last`, launched an
    /// hour ago (so past any grace period).
    pub async fn old_host(&mut self, last: u8) -> usize {
        let h = self.host(None, 2, last).await;
        self.launched(h, HOUR).await;
        h
    }

    /// An address in the VPC's range that no network interface has
    /// (127.<net>.9.`last`).
    pub fn unknown_ip(&self, last: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, self.net, 9, last)
    }

    /// Host `h` was launched `age` ago (EC2 `LaunchTime`; moto: when it was created).
    pub async fn launched(&self, h: usize, age: Duration) {
        self.aws
            .control(
                reqwest::Method::POST,
                "ec2/instances",
                json!({"instances": [{"instanceId": self.hosts[h].instance_id, "launchTime": ago(age)}]}),
            )
            .await;
    }

    /// Starts a task of `family` (bridge mode, container port 80 on a dynamic
    /// host port) on host `h`, in task group `group` (`service:<name>` for a
    /// task of an ECS service), created and started `age` ago. Nothing listens
    /// on its port unless the test adds a listener.
    pub async fn ecs_task(
        &mut self,
        h: usize,
        family: &str,
        group: &str,
        age: Duration,
    ) -> EcsTask {
        let definition = self.register_definition(family, &[], &[(80, 0)]).await;
        let host = self.hosts[h].clone();
        let started = self.start_task_in_group(h, &definition, Some(group)).await;
        let (task, cluster) = (&started.task, started.cluster.clone());
        let container_instance_arn = started.container_instance_arn.clone();
        let arn = task.task_arn().expect("task arn").to_string();
        let port = super::tasks::host_port(&task.containers()[0], 80)
            .expect("host port of container port 80");
        let at = ago(age);
        self.aws
            .control(
                reqwest::Method::POST,
                "ecs/tasks",
                json!({"tasks": [{"cluster": cluster, "taskArn": arn, "createdAt": at, "startedAt": at}]}),
            )
            .await;
        EcsTask {
            id: arn.rsplit('/').next().expect("task id").to_string(),
            arn,
            cluster,
            family: family.to_string(),
            group: group.to_string(),
            container_instance_arn,
            ec2_instance_id: host.instance_id,
            ip: host.ip,
            port,
        }
    }

    pub async fn stop_ecs_task(&self, task: &EcsTask) {
        self.aws
            .ecs()
            .stop_task()
            .cluster(&task.cluster)
            .task(&task.arn)
            .send()
            .await
            .expect("StopTask");
    }

    /// An ECS service `name` in `cluster` whose `serviceRegistries` point at
    /// the Cloud Map service `registry`.
    pub async fn ecs_service(
        &mut self,
        cluster: &str,
        name: &str,
        family: &str,
        registry: &CmService,
    ) {
        let definition = self.register_definition(family, &[], &[(80, 0)]).await;
        self.aws
            .ecs()
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(definition)
            .desired_count(0)
            .service_registries(
                aws_sdk_ecs::types::ServiceRegistry::builder()
                    .registry_arn(&registry.arn)
                    .container_name("app")
                    .container_port(80)
                    .build(),
            )
            .send()
            .await
            .expect("CreateService");
    }
}

/// The `ECS Task State Change` event EventBridge sends when `task` has stopped.
pub fn task_stopped_event(task: &EcsTask) -> Value {
    let task_id = &task.id;
    json!({
        "version": "0",
        "id": format!("cm-{task_id}"),
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": ACCOUNT,
        "time": "2026-11-22T06:00:00Z",
        "region": "us-east-1",
        "resources": [task.arn],
        "detail": {
            "clusterArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{}", task.cluster),
            "containerInstanceArn": task.container_instance_arn,
            "containers": [{
                "containerArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:container/{}/{task_id}/0b4c3d1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", task.cluster),
                "lastStatus": "STOPPED",
                "name": "app",
                "taskArn": task.arn,
                "networkBindings": [
                    {"bindIP": "0.0.0.0", "containerPort": 80, "hostPort": task.port, "protocol": "tcp"}
                ],
                "exitCode": 137
            }],
            "createdAt": "2026-11-22T05:00:00.000Z",
            "desiredStatus": "STOPPED",
            "group": task.group,
            "launchType": "EC2",
            "lastStatus": "STOPPED",
            "startedAt": "2026-11-22T05:00:01.000Z",
            "taskArn": task.arn,
            "taskDefinitionArn": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{}:1", task.family),
            "updatedAt": "2026-11-22T06:00:00Z",
            "version": 5,
            "stoppedAt": "2026-11-22T06:00:00Z",
            "stoppedReason": "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)",
            "stopCode": "ServiceSchedulerInitiated"
        }
    })
}

/// The environment of the binary against `aws` sweeping `namespaces`
/// (`CLOUD_MAP_NAMESPACES`), with short health checks, then `extra` (which
/// wins; an empty value is passed as is).
pub fn cm_env(aws: &LocalAws, namespaces: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = aws
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    env.push(("CLOUD_MAP_NAMESPACES".into(), namespaces.into()));
    env.push(("HEALTH_CHECK_TIMEOUT_MS".into(), "300".into()));
    env.push(("HEALTH_CHECK_ATTEMPTS".into(), "2".into()));
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

/// Runs the real binary with `args`, exactly `env` and `stdin`, off the async
/// workers (the listeners it checks run on them): (exit code, stdout, stderr).
pub async fn reaper(
    args: &[&str],
    env: Vec<(String, String)>,
    stdin: Option<String>,
) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        run_binary(&args, &env, stdin.as_deref())
    })
    .await
    .expect("run ecs-dns-reaper")
}

/// The binary's report for `args` (and `event` on stdin), which must succeed.
pub async fn report(args: &[&str], env: Vec<(String, String)>, event: Option<&Value>) -> Value {
    let (code, stdout, stderr) = reaper(args, env, event.map(Value::to_string)).await;
    assert_eq!(
        code, 0,
        "ecs-dns-reaper {args:?} failed:\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{stdout}\n--- stderr ---\n{stderr}"))
}

/// One full sweep (`ecs-dns-reaper sweep`) of `namespaces` with `extra` settings.
pub async fn cm_sweep(aws: &LocalAws, namespaces: &str, extra: &[(&str, &str)]) -> Value {
    report(&["sweep"], cm_env(aws, namespaces, extra), None).await
}

/// A dry run (`ecs-dns-reaper sweep --dry-run`).
pub async fn cm_dry_run(aws: &LocalAws, namespaces: &str, extra: &[(&str, &str)]) -> Value {
    report(
        &["sweep", "--dry-run"],
        cm_env(aws, namespaces, extra),
        None,
    )
    .await
}

/// The handler on `event` (`ecs-dns-reaper invoke --event -`).
pub async fn cm_invoke(
    aws: &LocalAws,
    namespaces: &str,
    extra: &[(&str, &str)],
    event: &Value,
) -> Value {
    report(
        &["invoke", "--event", "-"],
        cm_env(aws, namespaces, extra),
        Some(event),
    )
    .await
}

/// A namespace entry's `health_updates`: (service, instance id, status) each.
pub fn health_updates(entry: &Value) -> Vec<(String, String, String)> {
    entry["health_updates"]
        .as_array()
        .unwrap_or_else(|| panic!("health_updates in {entry:#}"))
        .iter()
        .map(|u| {
            (
                u["service"].as_str().unwrap_or_default().to_string(),
                u["instance_id"].as_str().unwrap_or_default().to_string(),
                u["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// One of [`health_updates`].
pub fn update(service: &str, instance: &str, status: &str) -> (String, String, String) {
    (service.into(), instance.into(), status.into())
}

/// The strings of a report's `errors` (entries that are not strings as JSON text).
pub fn errors(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors in {v:#}"))
        .iter()
        .map(|e| e.as_str().map_or_else(|| e.to_string(), String::from))
        .collect()
}

/// Coverage (docs/coverage.md): a namespace whose zone is associated with more
/// VPCs — another Region's, a same-CIDR twin, another account's.
impl Namespace<'_> {
    /// The namespace's hosted zone id (GetNamespace).
    pub async fn zone_id(&self) -> String {
        let namespace = self
            .aws
            .servicediscovery()
            .get_namespace()
            .id(&self.id)
            .send()
            .await
            .expect("GetNamespace")
            .namespace
            .expect("namespace");
        namespace
            .properties()
            .and_then(|p| p.dns_properties())
            .and_then(|d| d.hosted_zone_id())
            .expect("hosted zone id")
            .trim_start_matches("/hostedzone/")
            .to_string()
    }

    /// AssociateVPCWithHostedZone: this account's `vpc`, in `region`, with the
    /// namespace's zone.
    pub async fn associate_vpc(&self, vpc: &str, region: &str) {
        associate_vpc(self.aws, &self.zone_id().await, vpc, region).await;
    }

    /// A VPC of [`OTHER_ACCOUNT`] in us-east-1 (CIDR 127.`net`.0.0/16),
    /// associated with the namespace's zone the AWS way; its id.
    pub async fn associate_foreign_vpc(&self, net: u8) -> String {
        let owner = self.aws.account_sdk(OTHER_ACCOUNT, "us-east-1").await;
        let vpc = create_vpc(&aws_sdk_ec2::Client::new(&owner), net).await;
        let zone = self.zone_id().await;
        self.aws
            .associate_foreign_vpc(&zone, &owner, &vpc, "us-east-1")
            .await;
        vpc
    }
}

/// AssociateVPCWithHostedZone: this account's `vpc`, in `region`, with `zone_id`.
pub(super) async fn associate_vpc(aws: &LocalAws, zone_id: &str, vpc: &str, region: &str) {
    let association = aws_sdk_route53::types::Vpc::builder()
        .vpc_id(vpc)
        .vpc_region(aws_sdk_route53::types::VpcRegion::from(region))
        .build();
    aws.route53()
        .associate_vpc_with_hosted_zone()
        .hosted_zone_id(zone_id)
        .vpc(association)
        .send()
        .await
        .expect("AssociateVPCWithHostedZone");
}

impl Estate<'_> {
    /// The VPC of `region` (made by the first [`Estate::region_host`] there).
    pub fn region_vpc(&self, region: &str) -> String {
        self.region_vpcs[region].clone()
    }

    /// The staging VPC (the zone's VPC's CIDR, not associated with the zone;
    /// made by the first [`Estate::staging_host`]).
    pub fn staging_vpc(&self) -> String {
        self.staging_vpc.clone().expect("a staging host first")
    }

    /// A network interface at `ip` of the estate's VPC with no instance (as a
    /// Fargate task's or a load balancer's), in the subnet of an existing host.
    pub async fn bare_interface(&self, subnet: u8, ip: Ipv4Addr) {
        let subnet_id = &self.subnets[&(self.vpc.clone(), subnet)];
        self.aws
            .ec2()
            .create_network_interface()
            .subnet_id(subnet_id)
            .private_ip_address(ip.to_string())
            .send()
            .await
            .expect("CreateNetworkInterface");
    }
}
