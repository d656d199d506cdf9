//! End-to-end test support: a local AWS (moto, `tests/localaws`), an estate built on
//! it through the real SDK, and real listeners on loopback addresses behind the
//! records.
#![allow(dead_code)]

pub mod demo;

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_route53::config::Credentials;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The local AWS: moto with the fidelity patches of `tests/localaws`, one per test.
pub struct LocalAws {
    child: Child,
    pub url: String,
    pub sdk: SdkConfig,
    http: reqwest::Client,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with moto: `LOCALAWS_PYTHON`, else the project's `.venv`.
/// `make test` creates it; a missing one is an error, never a skip.
fn python() -> PathBuf {
    let path = std::env::var_os("LOCALAWS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} not found: run `make test`, which creates the Python environment with moto",
        path.display()
    );
    path
}

impl LocalAws {
    pub async fn start() -> Self {
        use std::io::BufRead;
        let mut child = Command::new(python())
            .arg(repo().join("tests/localaws/server.py"))
            .args(["--port", "0", "--exit-with-stdin"])
            // The server stops when this pipe closes: with the test, even a killed one.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/localaws/server.py");
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read server banner");
        let url = line
            .trim()
            .strip_prefix("localaws listening on ")
            .unwrap_or_else(|| panic!("unexpected server banner {line:?}"))
            .to_string();
        let sdk = sdk_config(&url).await;
        LocalAws {
            child,
            url,
            sdk,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
        }
    }

    pub fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.sdk)
    }
    pub fn ecs(&self) -> aws_sdk_ecs::Client {
        aws_sdk_ecs::Client::new(&self.sdk)
    }
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }

    /// Calls the fixture's control API (`/_localaws/…`).
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}/_localaws/{path}", self.url))
            .header("content-type", "application/json")
            .body(if body.is_null() {
                "{}".to_string()
            } else {
                body.to_string()
            })
            .send()
            .await
            .expect("control API request");
        let status = response.status();
        let text = response.text().await.expect("control API body");
        assert!(status.is_success(), "control {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Seeds moto's random ids: the same calls in the same order then yield the
    /// same instance ids, ARNs and container ids.
    pub async fn seed(&self, seed: u64) {
        let response = self
            .http
            .post(format!("{}/moto-api/seed?a={seed}", self.url))
            .send()
            .await
            .expect("seed moto");
        assert!(
            response.status().is_success(),
            "seed: {}",
            response.status()
        );
    }

    /// Injects faults (see tests/localaws/README.md).
    pub async fn faults(&self, faults: Value) {
        self.control(reqwest::Method::POST, "faults", json!({ "faults": faults }))
            .await;
    }

    /// AWS API calls received, keyed `service:Operation`.
    pub async fn calls(&self) -> BTreeMap<String, u64> {
        let v = self
            .control(reqwest::Method::GET, "calls", Value::Null)
            .await;
        serde_json::from_value(v).expect("call counters")
    }

    pub async fn reset_calls(&self) {
        self.control(reqwest::Method::DELETE, "calls", Value::Null)
            .await;
    }

    /// Creates `sets` in the zone, in batches within Route 53's limits (the
    /// reaper's own batching).
    pub async fn create_records(&self, zone_id: &str, sets: &[ResourceRecordSet]) {
        let domain: Vec<_> = sets
            .iter()
            .map(ecs_dns_reaper::aws::route53::from_sdk)
            .collect();
        for range in ecs_dns_reaper::aws::changes::batches(&domain) {
            let changes = sets[range]
                .iter()
                .map(|set| {
                    Change::builder()
                        .action(ChangeAction::Create)
                        .resource_record_set(set.clone())
                        .build()
                        .expect("change")
                })
                .collect::<Vec<_>>();
            self.route53()
                .change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(
                    ChangeBatch::builder()
                        .set_changes(Some(changes))
                        .build()
                        .expect("batch"),
                )
                .send()
                .await
                .expect("ChangeResourceRecordSets");
        }
    }

    /// Environment for the real binary, pointed at this local AWS.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A VPC of CIDR 127.`net`.0.0/16.
async fn create_vpc(aws: &LocalAws, net: u8) -> String {
    aws.ec2()
        .create_vpc()
        .cidr_block(format!("127.{net}.0.0/16"))
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string()
}

/// SDK configuration for the local endpoint, with static test credentials.
pub async fn sdk_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "localaws"))
        .load()
        .await
}

/// How a target behaves when health-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// Answers every request with HTTP 500.
    Http500,
    /// Accepts connections and never answers.
    Hang,
    /// Nothing listens.
    Closed,
}

/// What a test expects the sweep to do with a record: `("deleted", reason)`,
/// `("kept", reason)`, `("held", reason)`, or `("vanished", "")` for one another
/// writer deletes mid-sweep.
pub type Expect = (&'static str, &'static str);

/// A record the estate wrote, with its expected fate.
#[derive(Debug, Clone)]
pub struct Written {
    pub name: String,
    pub rtype: String,
    pub set_identifier: Option<String>,
    pub expect: Option<Expect>,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub instance_id: String,
    pub ip: Ipv4Addr,
    pub dns: String,
    pub cluster: Option<String>,
    pub container_instance_arn: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StartedTask {
    pub arn: String,
    pub cluster: String,
    pub container_instance_arn: String,
    pub runtime_id: String,
    /// Host port of container port 80 (the SRV service).
    pub host_port: u16,
    /// Host port of container port 81 (the `-www` CNAME service), when mapped.
    pub www_port: Option<u16>,
}

/// Each estate gets its own 127.N.0.0/16 so tests running at once never share a
/// listener address: each test binary counts up from its own base (several test
/// binaries may run at once), up to 40 estates each.
static NEXT_NET: AtomicU8 = AtomicU8::new(0);

fn net_base() -> u8 {
    match env!("CARGO_CRATE_NAME") {
        "sweep" => 20,
        "events" => 60,
        "runtime" => 100,
        "reliability" => 140,
        _ => 180,
    }
}

/// An estate on the local AWS: VPC, private hosted zone, ECS clusters, EC2
/// instances on loopback addresses, tasks, their records and listeners.
pub struct Estate<'a> {
    pub aws: &'a LocalAws,
    pub net: u8,
    pub apex: String,
    pub zone_id: String,
    vpc: String,
    /// A second VPC with the same CIDR that the zone is not associated with.
    staging_vpc: Option<String>,
    subnets: HashMap<(String, u8), String>,
    pending: Vec<(ResourceRecordSet, Option<Expect>)>,
    pub written: Vec<Written>,
    listeners: Vec<JoinHandle<()>>,
    definitions: HashMap<String, String>,
    backdate: Vec<Value>,
    pub hosts: Vec<Host>,
}

impl<'a> Estate<'a> {
    pub async fn new(aws: &'a LocalAws, apex: &str) -> Estate<'a> {
        let n = NEXT_NET.fetch_add(1, Ordering::SeqCst);
        assert!(n < 40, "too many estates in one test binary");
        let net = net_base() + n;
        Self::with_net(aws, apex, net).await
    }

    /// An estate on 127.`net`.0.0/16 (below 20: reserved for fixed estates).
    pub async fn with_net(aws: &'a LocalAws, apex: &str, net: u8) -> Estate<'a> {
        let vpc = create_vpc(aws, net).await;
        let zone = aws
            .route53()
            .create_hosted_zone()
            .name(apex)
            .caller_reference(format!("estate-{net}"))
            .hosted_zone_config(
                aws_sdk_route53::types::HostedZoneConfig::builder()
                    .private_zone(true)
                    .build(),
            )
            .vpc(
                aws_sdk_route53::types::Vpc::builder()
                    .vpc_id(&vpc)
                    .vpc_region(aws_sdk_route53::types::VpcRegion::UsEast1)
                    .build(),
            )
            .send()
            .await
            .expect("CreateHostedZone");
        let zone_id = zone
            .hosted_zone()
            .expect("zone")
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string();
        Estate {
            aws,
            net,
            apex: apex.to_string(),
            zone_id,
            vpc,
            staging_vpc: None,
            subnets: HashMap::new(),
            pending: Vec::new(),
            written: Vec::new(),
            listeners: Vec::new(),
            definitions: HashMap::new(),
            backdate: Vec::new(),
            hosts: Vec::new(),
        }
    }

    pub async fn cluster(&mut self, name: &str) -> String {
        self.aws
            .ecs()
            .create_cluster()
            .cluster_name(name)
            .send()
            .await
            .expect("CreateCluster");
        name.to_string()
    }

    /// An EC2 instance at 127.<net>.<subnet>.<last>, registered in `cluster` when given.
    pub async fn host(&mut self, cluster: Option<&str>, subnet: u8, last: u8) -> usize {
        let vpc = self.vpc.clone();
        self.host_in(&vpc, cluster, subnet, last).await
    }

    /// Registers host `h` in `cluster` once more (a re-registered agent, a move
    /// between clusters): one EC2 instance, two container instances.
    pub async fn register_again(&self, h: usize, cluster: &str) -> String {
        let host = &self.hosts[h];
        let doc = json!({"instanceId": host.instance_id, "region": "us-east-1", "privateIp": host.ip.to_string()});
        let ci = self
            .aws
            .ecs()
            .register_container_instance()
            .cluster(cluster)
            .instance_identity_document(doc.to_string())
            .send()
            .await
            .expect("RegisterContainerInstance");
        ci.container_instance()
            .and_then(|c| c.container_instance_arn())
            .expect("container instance arn")
            .to_string()
    }

    /// An instance of the staging VPC, which has the zone's VPC's CIDR but is not
    /// associated with the zone: same addresses, same `ip-…` names, another estate.
    pub async fn staging_host(&mut self, cluster: Option<&str>, subnet: u8, last: u8) -> usize {
        let vpc = match &self.staging_vpc {
            Some(v) => v.clone(),
            None => {
                let v = create_vpc(self.aws, self.net).await;
                self.staging_vpc = Some(v.clone());
                v
            }
        };
        self.host_in(&vpc, cluster, subnet, last).await
    }

    async fn host_in(&mut self, vpc: &str, cluster: Option<&str>, subnet: u8, last: u8) -> usize {
        let ec2 = self.aws.ec2();
        let subnet_id = match self.subnets.get(&(vpc.to_string(), subnet)) {
            Some(id) => id.clone(),
            None => {
                let id = ec2
                    .create_subnet()
                    .vpc_id(vpc)
                    .cidr_block(format!("127.{}.{subnet}.0/24", self.net))
                    .send()
                    .await
                    .expect("CreateSubnet")
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .expect("subnet id")
                    .to_string();
                self.subnets.insert((vpc.to_string(), subnet), id.clone());
                id
            }
        };
        let ip = Ipv4Addr::new(127, self.net, subnet, last);
        let out = ec2
            .run_instances()
            .image_id("ami-12345678")
            .instance_type(aws_sdk_ec2::types::InstanceType::M5Large)
            .min_count(1)
            .max_count(1)
            .subnet_id(subnet_id)
            .private_ip_address(ip.to_string())
            .send()
            .await
            .expect("RunInstances");
        let instance = &out.instances()[0];
        let instance_id = instance.instance_id().expect("instance id").to_string();
        let dns = instance
            .private_dns_name()
            .expect("private dns")
            .to_string();
        let mut container_instance_arn = None;
        if let Some(cluster) = cluster {
            let doc = json!({"instanceId": instance_id, "region": "us-east-1", "privateIp": ip.to_string()});
            let ci = self
                .aws
                .ecs()
                .register_container_instance()
                .cluster(cluster)
                .instance_identity_document(doc.to_string())
                .send()
                .await
                .expect("RegisterContainerInstance");
            container_instance_arn = ci
                .container_instance()
                .and_then(|c| c.container_instance_arn())
                .map(String::from);
        }
        self.hosts.push(Host {
            instance_id,
            ip,
            dns,
            cluster: cluster.map(String::from),
            container_instance_arn,
        });
        self.hosts.len() - 1
    }

    /// The task definition of `service`: one container `app` declaring
    /// `SERVICE_80_NAME=<service>` for its SRV record and
    /// `SERVICE_81_NAME=<service>-www` for its CNAME record, both on dynamic host ports.
    async fn definition(&mut self, service: &str) -> String {
        let env = [
            ("SERVICE_80_NAME".to_string(), service.to_string()),
            ("SERVICE_81_NAME".to_string(), format!("{service}-www")),
        ];
        self.register_definition(service, &env, &[(80, 0), (81, 0)])
            .await
    }

    /// A task definition `family` with one container `app`: its environment and
    /// its (container port, host port) mappings (host port 0: dynamic).
    pub async fn register_definition(
        &mut self,
        family: &str,
        env: &[(String, String)],
        mappings: &[(i32, i32)],
    ) -> String {
        if let Some(arn) = self.definitions.get(family) {
            return arn.clone();
        }
        use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, PortMapping};
        let mut container = ContainerDefinition::builder()
            .name("app")
            .image("example/app:1")
            .memory(16)
            .cpu(8);
        for (name, value) in env {
            container =
                container.environment(KeyValuePair::builder().name(name).value(value).build());
        }
        for (container_port, host_port) in mappings {
            container = container.port_mappings(
                PortMapping::builder()
                    .container_port(*container_port)
                    .host_port(*host_port)
                    .build(),
            );
        }
        let out = self
            .aws
            .ecs()
            .register_task_definition()
            .family(family)
            .network_mode(aws_sdk_ecs::types::NetworkMode::Bridge)
            .container_definitions(container.build())
            .send()
            .await
            .expect("RegisterTaskDefinition");
        let arn = out
            .task_definition()
            .and_then(|d| d.task_definition_arn())
            .expect("task definition arn")
            .to_string();
        self.definitions.insert(family.to_string(), arn.clone());
        arn
    }

    /// Starts a task of `service` on host `h`, started `age` ago, with a listener
    /// behaving as `behaviour` on its host port.
    pub async fn task(
        &mut self,
        h: usize,
        service: &str,
        age: Duration,
        behaviour: Behaviour,
    ) -> StartedTask {
        let definition = self.definition(service).await;
        self.start(h, &definition, age, behaviour).await
    }

    /// Starts a task of `service` as the CNAME fork registers it: container port
    /// 80 statically mapped to `host_port`, declared as `SERVICE_<host_port>_NAME`.
    pub async fn fork_task(
        &mut self,
        h: usize,
        service: &str,
        host_port: u16,
        age: Duration,
        behaviour: Behaviour,
    ) -> StartedTask {
        let env = [(format!("SERVICE_{host_port}_NAME"), service.to_string())];
        let family = format!("{service}-fork-{host_port}");
        let definition = self
            .register_definition(&family, &env, &[(80, i32::from(host_port))])
            .await;
        self.start(h, &definition, age, behaviour).await
    }

    /// Starts a task of `definition` on host `h`, started `age` ago, with listeners
    /// behaving as `behaviour` on its host ports.
    pub async fn start(
        &mut self,
        h: usize,
        definition: &str,
        age: Duration,
        behaviour: Behaviour,
    ) -> StartedTask {
        let host = self.hosts[h].clone();
        let cluster = host.cluster.clone().expect("task on a registered host");
        let out = self
            .aws
            .ecs()
            .start_task()
            .cluster(&cluster)
            .task_definition(definition)
            .container_instances(
                host.container_instance_arn
                    .clone()
                    .expect("container instance"),
            )
            .send()
            .await
            .expect("StartTask");
        let task = &out.tasks()[0];
        let container = &task.containers()[0];
        let started = StartedTask {
            arn: task.task_arn().expect("task arn").to_string(),
            cluster: cluster.clone(),
            container_instance_arn: host
                .container_instance_arn
                .clone()
                .expect("container instance"),
            runtime_id: container.runtime_id().expect("runtime id").to_string(),
            host_port: host_port(container, 80).expect("a binding for container port 80"),
            www_port: host_port(container, 81),
        };
        let started_at = SystemTime::now()
            .checked_sub(age)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.backdate
            .push(json!({"cluster": cluster, "taskArn": started.arn, "startedAt": started_at}));
        self.listen(host.ip, started.host_port, behaviour).await;
        if let Some(port) = started.www_port {
            self.listen(host.ip, port, behaviour).await;
        }
        started
    }

    /// A real listener at ip:port behaving as `behaviour` until the estate is dropped.
    pub async fn listen(&mut self, ip: Ipv4Addr, port: u16, behaviour: Behaviour) {
        if behaviour == Behaviour::Closed {
            return;
        }
        let listener = TcpListener::bind(SocketAddr::from((ip, port)))
            .await
            .unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
        self.listeners
            .push(tokio::spawn(serve(listener, behaviour)));
    }

    /// The EC2-style name of an address in this estate's net that no instance has
    /// (127.<net>.9.`last`).
    pub fn unknown_host(&self, last: u8) -> String {
        format!("ip-127-{}-9-{last}.ec2.internal", self.net)
    }

    /// Writes the weighted SRV record of `task` under `service` (reference agent shape).
    pub fn srv(&mut self, service: &str, h: usize, task: &StartedTask, expect: Option<Expect>) {
        let dns = self.hosts[h].dns.clone();
        self.srv_raw(
            service,
            &dns,
            task.host_port,
            Some(&task.runtime_id),
            expect,
        );
    }

    pub fn srv_raw(
        &mut self,
        service: &str,
        dns: &str,
        port: u16,
        container: Option<&str>,
        expect: Option<Expect>,
    ) {
        let id = match container {
            Some(c) => format!("{dns}:{c}"),
            None => dns.to_string(),
        };
        let set = agent_record(
            &format!("{service}.{}.", self.apex),
            RrType::Srv,
            Some(&id),
            &format!("1 1 {port} {dns}"),
        );
        self.pending.push((set, expect));
    }

    /// Writes the weighted CNAME record of `task` (CNAME fork shape) under
    /// `<service>-www`, the name its container declares for port 81.
    pub fn cname(&mut self, service: &str, h: usize, task: &StartedTask, expect: Option<Expect>) {
        let dns = self.hosts[h].dns.clone();
        let set = agent_record(
            &format!("{service}-www.{}.", self.apex),
            RrType::Cname,
            Some(&task.runtime_id[..12]),
            &dns,
        );
        self.pending.push((set, expect));
    }

    /// Writes the weighted CNAME record of a [`Estate::fork_task`] (CNAME fork
    /// shape): `<service>.<ns>.` → the host, set identifier the short container id.
    pub fn fork_cname(
        &mut self,
        service: &str,
        h: usize,
        task: &StartedTask,
        expect: Option<Expect>,
    ) {
        let dns = self.hosts[h].dns.clone();
        let set = agent_record(
            &format!("{service}.{}.", self.apex),
            RrType::Cname,
            Some(&task.runtime_id[..12]),
            &dns,
        );
        self.pending.push((set, expect));
    }

    /// Writes the host's own A record as the reference agent 1.4+ does: weighted,
    /// named after the first label of the host name, set identifier the host name.
    pub fn host_a(&mut self, h: usize, expect: Option<Expect>) {
        let dns = self.hosts[h].dns.clone();
        self.host_a_named(h, &dns, expect);
    }

    /// The weighted host A record of host `h` under the host name `dns` (its IP
    /// name, or its resource name).
    pub fn host_a_named(&mut self, h: usize, dns: &str, expect: Option<Expect>) {
        let label = dns.split('.').next().unwrap_or_default();
        let set = agent_record(
            &format!("{label}.{}.", self.apex),
            RrType::A,
            Some(dns),
            &self.hosts[h].ip.to_string(),
        );
        self.pending.push((set, expect));
    }

    /// The simple host A record of agents before 1.4 (and of hand-made ones).
    pub fn simple_host_a(&mut self, h: usize, expect: Option<Expect>) {
        let ip = self.hosts[h].ip;
        let [a, b, c, d] = ip.octets();
        let set = record(
            &format!("ip-{a}-{b}-{c}-{d}.{}.", self.apex),
            RrType::A,
            None,
            None,
            &[&ip.to_string()],
        );
        self.pending.push((set, expect));
    }

    /// The resource name of host `h` (`i-….ec2.internal`), EC2's other naming scheme.
    pub fn resource_name(&self, h: usize) -> String {
        format!("{}.ec2.internal", self.hosts[h].instance_id)
    }

    /// Writes any record set (foreign ones, odd shapes).
    pub fn raw(&mut self, set: ResourceRecordSet, expect: Option<Expect>) {
        self.pending.push((set, expect));
    }

    pub async fn terminate(&self, h: usize) {
        self.aws
            .ec2()
            .terminate_instances()
            .instance_ids(&self.hosts[h].instance_id)
            .send()
            .await
            .expect("TerminateInstances");
    }

    /// EC2's `shutting-down` state: the instance is on its way out but still has
    /// its network interface, address and name (as it has when EC2 sends the
    /// `shutting-down` state-change event).
    pub async fn shutting_down(&self, h: usize) {
        self.set_state(h, "shutting-down").await;
    }

    pub async fn set_state(&self, h: usize, state: &str) {
        self.aws
            .control(
                reqwest::Method::POST,
                "ec2/instances",
                json!({"instances": [{"instanceId": self.hosts[h].instance_id, "state": state}]}),
            )
            .await;
    }

    pub async fn stop(&self, h: usize) {
        self.aws
            .ec2()
            .stop_instances()
            .instance_ids(&self.hosts[h].instance_id)
            .send()
            .await
            .expect("StopInstances");
    }

    pub async fn stop_task(&self, task: &StartedTask) {
        self.aws
            .ecs()
            .stop_task()
            .cluster(&task.cluster)
            .task(&task.arn)
            .send()
            .await
            .expect("StopTask");
    }

    /// Writes the pending records (in batches) and backdates task start times.
    pub async fn commit(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let sets: Vec<_> = pending.iter().map(|(set, _)| set.clone()).collect();
        self.aws.create_records(&self.zone_id, &sets).await;
        for (set, expect) in pending {
            self.written.push(Written {
                name: set.name().to_string(),
                rtype: set.r#type().as_str().to_string(),
                set_identifier: set.set_identifier().map(String::from),
                expect,
            });
        }
        if !self.backdate.is_empty() {
            let tasks = std::mem::take(&mut self.backdate);
            for chunk in tasks.chunks(200) {
                self.aws
                    .control(
                        reqwest::Method::POST,
                        "ecs/tasks",
                        json!({ "tasks": chunk }),
                    )
                    .await;
            }
        }
    }

    /// The zone's record sets now, as (name, type, set identifier).
    pub async fn zone(&self) -> Vec<(String, String, Option<String>)> {
        let client = self.aws.route53();
        let mut out = Vec::new();
        let mut next: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut req = client
                .list_resource_record_sets()
                .hosted_zone_id(&self.zone_id);
            if let Some((n, t, i)) = next.take() {
                req = req
                    .start_record_name(n)
                    .start_record_type(t)
                    .set_start_record_identifier(i);
            }
            let page = req.send().await.expect("ListResourceRecordSets");
            for s in page.resource_record_sets() {
                out.push((
                    s.name().to_string(),
                    s.r#type().as_str().to_string(),
                    s.set_identifier().map(String::from),
                ));
            }
            if !page.is_truncated() {
                return out;
            }
            next = Some((
                page.next_record_name().expect("next name").to_string(),
                page.next_record_type().expect("next type").clone(),
                page.next_record_identifier().map(String::from),
            ));
        }
    }

    /// Configuration for the sweep of this estate, from `extra` environment pairs.
    pub fn config(&self, extra: &[(&str, &str)]) -> ecs_dns_reaper::config::Config {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("HOSTED_ZONE_ID".to_string(), self.zone_id.clone()),
            ("HEALTH_CHECK_TIMEOUT_MS".to_string(), "300".to_string()),
            ("HEALTH_CHECK_ATTEMPTS".to_string(), "2".to_string()),
        ]);
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        ecs_dns_reaper::config::Config::from_lookup(|k| vars.get(k).cloned())
            .expect("test configuration")
    }

    /// Handler dependencies for this estate.
    pub fn deps(&self, extra: &[(&str, &str)]) -> ecs_dns_reaper::handler::Deps {
        ecs_dns_reaper::handler::Deps::new(&self.aws.sdk, self.config(extra)).expect("deps")
    }

    /// The handler on `event` against this estate, with `extra` configuration; the
    /// report as JSON.
    pub async fn invoke(&self, event: &Value, extra: &[(&str, &str)]) -> Value {
        let deps = self.deps(extra);
        let invocation = ecs_dns_reaper::handler::Invocation::default();
        let report = ecs_dns_reaper::handler::handle(&deps, event, invocation)
            .await
            .expect("handler");
        serde_json::to_value(report).expect("report json")
    }

    /// One full sweep (a manual invoke) with `extra` configuration.
    pub async fn sweep(&self, extra: &[(&str, &str)]) -> Value {
        self.invoke(&json!({"action": "sweep"}), extra).await
    }

    /// Asserts that every record with an expectation met it in `report`, and
    /// that the zone holds exactly what should survive.
    pub async fn assert_outcome(&self, report: &Value, dry_run: bool) {
        let find = |list: &str, w: &Written| {
            report[list]
                .as_array()
                .expect(list)
                .iter()
                .find(|r| {
                    r["name"] == w.name.as_str()
                        && r["type"] == w.rtype.as_str()
                        && r["set_identifier"].as_str() == w.set_identifier.as_deref()
                })
                .cloned()
        };
        let mut kept: BTreeMap<String, u64> = BTreeMap::new();
        for w in &self.written {
            let Some((outcome, reason)) = w.expect else {
                continue;
            };
            let deleted = find("deleted", w);
            let held = find("held", w);
            match outcome {
                "deleted" => {
                    let d = deleted.unwrap_or_else(|| panic!("{w:?} not deleted; held: {held:?}"));
                    assert_eq!(d["reason"], reason, "{w:?}");
                }
                "held" => {
                    let h = held.unwrap_or_else(|| panic!("{w:?} not held; deleted: {deleted:?}"));
                    assert_eq!(h["reason"], reason, "{w:?}");
                }
                "vanished" => assert!(
                    deleted.is_none() && held.is_none(),
                    "{w:?} vanished: not reported"
                ),
                "kept" => {
                    assert!(
                        deleted.is_none() && held.is_none(),
                        "{w:?} should be kept ({reason})"
                    );
                    *kept.entry(reason.to_string()).or_default() += 1;
                }
                other => panic!("bad expectation {other}"),
            }
        }
        for (reason, n) in kept {
            assert_eq!(report["kept"][&reason].as_u64(), Some(n), "kept.{reason}");
        }
        let now = self.zone().await;
        for w in &self.written {
            let present = now
                .iter()
                .any(|(n, t, i)| n == &w.name && t == &w.rtype && i == &w.set_identifier);
            let gone = matches!(w.expect, Some(("vanished", _)))
                || (!dry_run && matches!(w.expect, Some(("deleted", _))));
            assert_eq!(present, !gone, "zone presence of {w:?}");
        }
    }
}

impl Drop for Estate<'_> {
    fn drop(&mut self) {
        for l in &self.listeners {
            l.abort();
        }
    }
}

fn host_port(container: &aws_sdk_ecs::types::Container, container_port: i32) -> Option<u16> {
    container
        .network_bindings()
        .iter()
        .find(|b| b.container_port() == Some(container_port))
        .and_then(|b| b.host_port())
        .and_then(|p| u16::try_from(p).ok())
}

/// A record in the shape the agents write: weighted (weight 1), TTL 0.
pub fn agent_record(name: &str, rtype: RrType, id: Option<&str>, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .set_set_identifier(id.map(String::from))
        .weight(1)
        .ttl(0)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set")
}

pub fn record(
    name: &str,
    rtype: RrType,
    id: Option<&str>,
    weight: Option<i64>,
    values: &[&str],
) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .set_set_identifier(id.map(String::from))
        .set_weight(weight)
        .ttl(60)
        .set_resource_records(Some(
            values
                .iter()
                .map(|v| ResourceRecord::builder().value(*v).build().expect("record"))
                .collect(),
        ))
        .build()
        .expect("record set")
}

async fn serve(listener: TcpListener, behaviour: Behaviour) {
    let mut hung = Vec::new();
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        match behaviour {
            Behaviour::Hang => hung.push(stream),
            Behaviour::Healthy | Behaviour::Http500 => {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = stream.read(&mut buf).await;
                    let status = if behaviour == Behaviour::Healthy {
                        "200 OK"
                    } else {
                        "500 Internal Server Error"
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
            Behaviour::Closed => return,
        }
    }
}

/// The environment the Lambda service gives a function, with its Runtime API at
/// `runtime_api` (`host:port`).
pub fn lambda_env(runtime_api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "ecs-dns-reaper".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef".into(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/ecs-dns-reaper".into(),
        ),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("TZ", ":UTC".into()),
    ]
}

/// The built `ecs-dns-reaper`: Cargo names it for integration tests; an example
/// finds it beside its own directory (`target/<profile>/examples/..`).
pub fn binary() -> PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_ecs-dns-reaper") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>");
    profile_dir.join("ecs-dns-reaper")
}

/// Runs the real binary with `args` and `env`; returns (exit code, stdout, stderr).
pub fn run_binary(
    args: &[&str],
    env: &[(&str, String)],
    stdin: Option<&str>,
) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn ecs-dns-reaper");
    if let Some(mut input) = child.stdin.take() {
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write stdin");
        }
    }
    let out = child.wait_with_output().expect("wait for ecs-dns-reaper");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
