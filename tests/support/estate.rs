//! An estate on the local AWS: VPCs, a private hosted zone, ECS clusters and EC2
//! instances on loopback addresses. Tasks are in `tasks.rs`, records in
//! `records.rs`, listeners in `listeners.rs`; the handler runs on it in `invoke.rs`.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU8, Ordering};

use aws_sdk_route53::types::{ResourceRecordSet, RrType};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::{LocalAws, Outcome, Written};

#[derive(Debug, Clone)]
pub struct Host {
    pub instance_id: String,
    pub ip: Ipv4Addr,
    pub dns: String,
    pub cluster: Option<String>,
    pub container_instance_arn: Option<String>,
}

/// Each estate gets its own 127.N.0.0/16 so tests running at once never share a
/// listener address: each test binary counts up from its own base (several test
/// binaries may run at once), up to 40 estates each (the Cloud Map files that were
/// `cloud_map`: 40 from 215).
static NEXT_NET: AtomicU8 = AtomicU8::new(0);

fn net_base() -> u8 {
    match env!("CARGO_CRATE_NAME") {
        "sweep" => 20,
        "events" => 60,
        "runtime" => 100,
        "reliability" => 140,
        "cloud_map_sweep"
        | "cloud_map_safety"
        | "cloud_map_health"
        | "cloud_map_events"
        | "cloud_map_configuration" => 215,
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
    pub(super) vpc: String,
    /// A second VPC with the same CIDR that the zone is not associated with.
    pub(super) staging_vpc: Option<String>,
    /// VPCs of other Regions associated with the zone, by Region.
    pub(super) region_vpcs: HashMap<String, String>,
    pub(super) subnets: HashMap<(String, u8), String>,
    pub(super) pending: Vec<(ResourceRecordSet, Option<Outcome>)>,
    pub written: Vec<Written>,
    pub(super) listeners: Vec<JoinHandle<()>>,
    pub(super) definitions: HashMap<String, String>,
    pub(super) backdate: Vec<Value>,
    pub hosts: Vec<Host>,
}

/// A VPC of CIDR 127.`net`.0.0/16.
pub(super) async fn create_vpc(ec2: &aws_sdk_ec2::Client, net: u8) -> String {
    ec2.create_vpc()
        .cidr_block(format!("127.{net}.0.0/16"))
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string()
}

/// A private hosted zone `apex` associated with `vpc`; its id.
async fn create_zone(aws: &LocalAws, apex: &str, net: u8, vpc: &str) -> String {
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
                .vpc_id(vpc)
                .vpc_region(aws_sdk_route53::types::VpcRegion::UsEast1)
                .build(),
        )
        .send()
        .await
        .expect("CreateHostedZone");
    zone.hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string()
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
        let vpc = create_vpc(&aws.ec2(), net).await;
        let zone_id = create_zone(aws, apex, net, &vpc).await;
        Estate {
            aws,
            net,
            apex: apex.to_string(),
            zone_id,
            vpc,
            staging_vpc: None,
            region_vpcs: HashMap::new(),
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
        self.register(cluster, &host.instance_id, host.ip)
            .await
            .expect("container instance arn")
    }

    /// An instance of the staging VPC, which has the zone's VPC's CIDR but is not
    /// associated with the zone: same addresses, same `ip-…` names, another estate.
    pub async fn staging_host(&mut self, cluster: Option<&str>, subnet: u8, last: u8) -> usize {
        let vpc = match &self.staging_vpc {
            Some(v) => v.clone(),
            None => {
                let v = create_vpc(&self.aws.ec2(), self.net).await;
                self.staging_vpc = Some(v.clone());
                v
            }
        };
        self.host_in(&vpc, cluster, subnet, last).await
    }

    async fn host_in(&mut self, vpc: &str, cluster: Option<&str>, subnet: u8, last: u8) -> usize {
        let ec2 = self.aws.ec2();
        let subnet_id = self.subnet(&ec2, vpc, subnet).await;
        let ip = Ipv4Addr::new(127, self.net, subnet, last);
        let (instance_id, dns) = run_instance(&ec2, &subnet_id, ip).await;
        let container_instance_arn = match cluster {
            Some(cluster) => self.register(cluster, &instance_id, ip).await,
            None => None,
        };
        self.hosts.push(Host {
            instance_id,
            ip,
            dns,
            cluster: cluster.map(String::from),
            container_instance_arn,
        });
        self.hosts.len() - 1
    }

    /// The subnet 127.<net>.`subnet`.0/24 of `vpc`, created on first use.
    pub(super) async fn subnet(
        &mut self,
        ec2: &aws_sdk_ec2::Client,
        vpc: &str,
        subnet: u8,
    ) -> String {
        if let Some(id) = self.subnets.get(&(vpc.to_string(), subnet)) {
            return id.clone();
        }
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

    /// Registers EC2 instance `instance_id` (at `ip`) as a container instance of
    /// `cluster`, with the instance identity document its agent sends.
    async fn register(&self, cluster: &str, instance_id: &str, ip: Ipv4Addr) -> Option<String> {
        let doc =
            json!({"instanceId": instance_id, "region": "us-east-1", "privateIp": ip.to_string()});
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
            .map(String::from)
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

    /// The zone's record sets now, as (name, type, set identifier). Its own walk of
    /// the pages, independent of the reaper's listing that it checks.
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
}

impl Drop for Estate<'_> {
    fn drop(&mut self) {
        for l in &self.listeners {
            l.abort();
        }
    }
}

/// Runs one EC2 instance at `ip`; its instance id and private DNS name.
pub(super) async fn run_instance(
    ec2: &aws_sdk_ec2::Client,
    subnet_id: &str,
    ip: Ipv4Addr,
) -> (String, String) {
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
    (instance_id, dns)
}
