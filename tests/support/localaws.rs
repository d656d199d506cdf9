//! The local AWS: the moto server of `tests/localaws` as a child process, its
//! control API (faults, call counters, state changes), and SDK clients for it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_route53::config::Credentials;
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecordSet};
use serde_json::{json, Value};

/// The local AWS: moto with the fidelity patches of `tests/localaws`, one per test.
pub struct LocalAws {
    child: Child,
    pub url: String,
    pub sdk: SdkConfig,
    http: reqwest::Client,
}

pub(super) fn repo() -> PathBuf {
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

/// Starts `tests/localaws/server.py` on a free port; the child and its URL.
fn spawn_server() -> (Child, String) {
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
    (child, url)
}

impl LocalAws {
    pub async fn start() -> Self {
        let (child, url) = spawn_server();
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

/// SDK configuration for the local endpoint, with static test credentials.
pub async fn sdk_config(url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "localaws"))
        .load()
        .await
}

/// Regions, other accounts and ECS eventual consistency (tests/localaws/README.md,
/// "Regions and accounts" and "ECS").
impl LocalAws {
    /// SDK configuration for `region`, as account 123456789012 (EC2, ECS and
    /// Cloud Map are per region; Route 53 is global).
    pub async fn region_sdk(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.url.as_str())
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new("test", "test", None, None, "localaws"))
            .load()
            .await
    }

    /// SDK configuration acting as `account_id` (12 digits) in `region`:
    /// temporary credentials made by moto's STS AssumeRole
    /// (`POST /_localaws/credentials`). A `POST /_localaws/reset` forgets them.
    pub async fn account_sdk(&self, account_id: &str, region: &str) -> SdkConfig {
        let made = self
            .control(
                reqwest::Method::POST,
                "credentials",
                json!({ "accountId": account_id }),
            )
            .await;
        let field = |name: &str| {
            made[name]
                .as_str()
                .unwrap_or_else(|| panic!("credentials: no {name} in {made}"))
                .to_string()
        };
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.url.as_str())
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(
                field("accessKeyId"),
                field("secretAccessKey"),
                Some(field("sessionToken")),
                None,
                "localaws",
            ))
            .load()
            .await
    }

    /// Associates `vpc_id` (in `vpc_region`) of another account with the
    /// zone `zone_id` of account 123456789012 the AWS way: the zone's owner
    /// authorizes (CreateVPCAssociationAuthorization), the VPC's account
    /// (`vpc_owner`, from [`LocalAws::account_sdk`]) associates.
    pub async fn associate_foreign_vpc(
        &self,
        zone_id: &str,
        vpc_owner: &SdkConfig,
        vpc_id: &str,
        vpc_region: &str,
    ) {
        let vpc = aws_sdk_route53::types::Vpc::builder()
            .vpc_id(vpc_id)
            .vpc_region(aws_sdk_route53::types::VpcRegion::from(vpc_region))
            .build();
        self.route53()
            .create_vpc_association_authorization()
            .hosted_zone_id(zone_id)
            .vpc(vpc.clone())
            .send()
            .await
            .expect("CreateVPCAssociationAuthorization");
        aws_sdk_route53::Client::new(vpc_owner)
            .associate_vpc_with_hosted_zone()
            .hosted_zone_id(zone_id)
            .vpc(vpc)
            .send()
            .await
            .expect("AssociateVPCWithHostedZone (as the VPC's account)");
    }

    /// ECS eventual consistency: DescribeTasks and DescribeContainerInstances
    /// answer `failures: [{arn, reason: "MISSING"}]` for `arns` (task or
    /// container instance ARNs, or ids) in their next `calls` calls that
    /// include them, while ListTasks and ListContainerInstances still list them.
    pub async fn ecs_missing(&self, arns: &[&str], calls: u32) {
        assert!(calls >= 1, "ecs_missing: calls must be at least 1");
        self.control(
            reqwest::Method::POST,
            "ecs/missing",
            json!({ "arns": arns, "calls": calls }),
        )
        .await;
    }

    /// As [`LocalAws::ecs_missing`], for every call until
    /// [`LocalAws::clear_ecs_missing`].
    pub async fn ecs_missing_until_cleared(&self, arns: &[&str]) {
        self.control(
            reqwest::Method::POST,
            "ecs/missing",
            json!({ "arns": arns, "calls": -1 }),
        )
        .await;
    }

    /// Drops every `ecs_missing` rule.
    pub async fn clear_ecs_missing(&self) {
        self.control(reqwest::Method::DELETE, "ecs/missing", Value::Null)
            .await;
    }
}
