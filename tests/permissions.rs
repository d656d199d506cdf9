//! Least privilege, checked: the IAM actions `template.yaml` grants the function
//! are exactly the AWS operations the code can call, plus the few that Lambda
//! itself needs ([`PLATFORM_ACTIONS`], in their own policy) and the few that AWS
//! Cloud Map checks on the caller while it carries out a call the code makes
//! ([`CALLER_ACTIONS`]); and every setting of the README's configuration table is
//! in the function's environment, fed by a parameter with its documented default.
//!
//! The calls are found in the source, not listed here: every `.<name>()` in
//! `src/**/*.rs` (comments and string literals left out) whose `<name>` is an
//! operation of one of the AWS SDK crates the package depends on — a directory
//! `src/operation/<name>.rs` of that crate, located with `cargo metadata` — is a
//! call. The crate gives the IAM prefix (its signing name) and the operation file
//! the action name. Add an SDK call without its permission, or a permission
//! without a call, and this test fails.
//!
//! The template is read through `tests/template/cfn_to_json.py` (PyYAML from the
//! project's `.venv`, which `make test` creates), so that `!Sub`, `!If` & co. come
//! out in their long JSON form.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The role's policy that holds [`PLATFORM_ACTIONS`], and nothing else.
const PLATFORM_POLICY: &str = "lambda-platform";

/// Actions the function's role needs that no code calls: Lambda uses the
/// execution role for them on the function's behalf. They live in the
/// [`PLATFORM_POLICY`]. An action that is also a code call
/// (`ec2:DescribeNetworkInterfaces`: Cloud Map mode reads the namespace's network
/// interfaces) is granted to the code in its own statement as well, so the
/// code's permissions never lean on Lambda's.
const PLATFORM_ACTIONS: &[(&str, &str)] = &[
    (
        "logs:CreateLogStream",
        "Lambda writes the function's output to its log group",
    ),
    (
        "logs:PutLogEvents",
        "Lambda writes the function's output to its log group",
    ),
    (
        "ec2:CreateNetworkInterface",
        "a VPC function: Lambda manages its network interfaces with the execution role",
    ),
    (
        "ec2:DescribeNetworkInterfaces",
        "a VPC function: Lambda manages its network interfaces with the execution role",
    ),
    (
        "ec2:DescribeSubnets",
        "a VPC function: Lambda manages its network interfaces with the execution role",
    ),
    (
        "ec2:DeleteNetworkInterface",
        "a VPC function: Lambda manages its network interfaces with the execution role",
    ),
    (
        "ec2:AssignPrivateIpAddresses",
        "a VPC function: Lambda manages its network interfaces with the execution role",
    ),
    (
        "ec2:UnassignPrivateIpAddresses",
        "a VPC function: Lambda manages its network interfaces with the execution role",
    ),
    (
        "sqs:SendMessage",
        "Lambda sends failed asynchronous events to the on-failure destination (the dead-letter queue)",
    ),
];

/// Actions no code calls that AWS Cloud Map checks on the caller while it carries
/// out a call the code makes: (action, that call, why). Sources: the "AWS Cloud
/// Map API permissions reference"
/// (<https://docs.aws.amazon.com/cloud-map/latest/dg/cloud-map-api-permissions-ref.html>).
/// Each is granted only while the code makes its call.
const CALLER_ACTIONS: &[(&str, &str, &str)] = &[
    (
        "route53:GetHealthCheck",
        "servicediscovery:DeregisterInstance",
        "Cloud Map removes the Route 53 health check of an instance of a service with \
         HealthCheckConfig, with the caller's permissions",
    ),
    (
        "route53:UpdateHealthCheck",
        "servicediscovery:DeregisterInstance",
        "Cloud Map removes the Route 53 health check of an instance of a service with \
         HealthCheckConfig, with the caller's permissions",
    ),
    (
        "route53:DeleteHealthCheck",
        "servicediscovery:DeregisterInstance",
        "Cloud Map removes the Route 53 health check of an instance of a service with \
         HealthCheckConfig, with the caller's permissions",
    ),
];

/// Calls the scanner must find, or it is broken: the core of every sweep (of a
/// zone, and of a Cloud Map namespace).
const CORE_CALLS: &[&str] = &[
    "route53:ListResourceRecordSets",
    "route53:ChangeResourceRecordSets",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
    "ec2:DescribeInstances",
    "servicediscovery:ListInstances",
    "servicediscovery:DeregisterInstance",
];

/// The README's configuration table: every variable and its default (`None`: no default, the parameter's
/// default is empty, which the function treats as unset).
const DOCUMENTED_SETTINGS: &[(&str, Option<&str>)] = &[
    ("HOSTED_ZONE_ID", None),
    ("DNS_NAMESPACE", None),
    ("CLOUD_MAP_NAMESPACES", None),
    ("ECS_CLUSTERS", None),
    ("HEALTH_CHECK", Some("http")),
    ("HEALTH_CHECK_PATH", Some("/")),
    ("HEALTH_CHECK_TIMEOUT_MS", Some("2000")),
    ("HEALTH_CHECK_ATTEMPTS", Some("3")),
    ("STARTUP_GRACE_SECONDS", Some("60")),
    ("MAX_DELETE_PERCENT", Some("50")),
    ("KEEP_LAST_RECORD", Some("true")),
    ("DRY_RUN", Some("false")),
    ("STOP_UNHEALTHY_TASKS", Some("false")),
];

/// Granted only under a template condition that depends on this parameter: the
/// code calls the action only in that configuration (grants of the
/// [`PLATFORM_POLICY`] aside: Lambda needs those whatever the configuration).
const CONDITIONAL_ACTIONS: &[(&str, &str)] = &[
    ("ecs:StopTask", "StopUnhealthyTasks"),
    ("route53:ListHostedZonesByName", "DnsNamespace"),
    ("ecs:ListClusters", "HostedZoneId"),
    // The zone's records and the container instances behind them: only when a
    // zone is swept (not with Cloud Map alone).
    ("route53:ListResourceRecordSets", "HostedZoneId"),
    ("route53:ChangeResourceRecordSets", "HostedZoneId"),
    ("ecs:ListContainerInstances", "HostedZoneId"),
    ("ecs:DescribeContainerInstances", "HostedZoneId"),
    ("ecs:ListTasks", "HostedZoneId"),
    ("ecs:DescribeTaskDefinition", "HostedZoneId"),
    // Cloud Map mode.
    ("servicediscovery:ListNamespaces", "CloudMapNamespaces"),
    ("servicediscovery:ListServices", "CloudMapNamespaces"),
    ("servicediscovery:GetService", "CloudMapNamespaces"),
    ("servicediscovery:ListInstances", "CloudMapNamespaces"),
    ("servicediscovery:GetInstance", "CloudMapNamespaces"),
    (
        "servicediscovery:GetInstancesHealthStatus",
        "CloudMapNamespaces",
    ),
    ("servicediscovery:DeregisterInstance", "CloudMapNamespaces"),
    ("servicediscovery:GetOperation", "CloudMapNamespaces"),
    ("servicediscovery:ListOperations", "CloudMapNamespaces"),
    (
        "servicediscovery:UpdateInstanceCustomHealthStatus",
        "CloudMapNamespaces",
    ),
    ("route53:GetHealthCheck", "CloudMapNamespaces"),
    ("route53:UpdateHealthCheck", "CloudMapNamespaces"),
    ("route53:DeleteHealthCheck", "CloudMapNamespaces"),
    ("ec2:DescribeNetworkInterfaces", "CloudMapNamespaces"),
    ("ecs:DescribeClusters", "CloudMapNamespaces"),
    ("ecs:DescribeServices", "CloudMapNamespaces"),
];

/// Actions with resource-level permissions, granted only on resources whose ARN
/// contains each of these parts (never on "*").
const SCOPED_ACTIONS: &[(&str, &[&str])] = &[
    (
        "route53:ListResourceRecordSets",
        &[":route53:::hostedzone/"],
    ),
    (
        "route53:ChangeResourceRecordSets",
        &[":route53:::hostedzone/"],
    ),
    ("route53:GetHostedZone", &[":route53:::hostedzone/"]),
    ("route53:GetHealthCheck", &[":route53:::healthcheck/"]),
    ("route53:UpdateHealthCheck", &[":route53:::healthcheck/"]),
    ("route53:DeleteHealthCheck", &[":route53:::healthcheck/"]),
    (
        "servicediscovery:GetService",
        &[":servicediscovery:", ":service/"],
    ),
    (
        "servicediscovery:ListInstances",
        &[":servicediscovery:", ":service/"],
    ),
    (
        "servicediscovery:GetInstance",
        &[":servicediscovery:", ":service/"],
    ),
    (
        "servicediscovery:GetInstancesHealthStatus",
        &[":servicediscovery:", ":service/"],
    ),
    (
        "servicediscovery:DeregisterInstance",
        &[":servicediscovery:", ":service/"],
    ),
    (
        "servicediscovery:UpdateInstanceCustomHealthStatus",
        &[":servicediscovery:", ":service/"],
    ),
    ("servicediscovery:GetOperation", &[":servicediscovery:"]),
    ("ecs:DescribeClusters", &[":ecs:", ":cluster/"]),
    ("ecs:DescribeServices", &[":ecs:", ":service/"]),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// The calls the code makes
// ---------------------------------------------------------------------------

/// One AWS SDK crate the package depends on.
struct SdkCrate {
    name: String,
    dir: PathBuf,
    /// The IAM service prefix: the SigV4 signing name (`route53`, `ecs`, `ec2`).
    iam_prefix: String,
}

impl SdkCrate {
    /// The action of operation `snake`, when the crate has that operation.
    fn action(&self, snake: &str) -> Option<String> {
        let file = self.dir.join("src/operation").join(format!("{snake}.rs"));
        let text = std::fs::read_to_string(&file).ok()?;
        let name = first_string_after(&text, "Metadata::new(").unwrap_or_else(|| {
            panic!(
                "{}: no `Metadata::new(\"<Operation>\", …)`: has the SDK's generated code changed?",
                file.display()
            )
        });
        Some(format!("{}:{}", self.iam_prefix, name))
    }
}

fn command_output(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The `aws-sdk-*` crates among the package's normal dependencies, located on disk
/// with `cargo metadata` (offline: the build has fetched them already).
fn sdk_crates() -> Vec<SdkCrate> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = command_output(Command::new(rustc).arg("-vV"));
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("`rustc -vV` names the host");
    let metadata: Value = serde_json::from_str(&command_output(
        Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--locked"])
            .args(["--filter-platform", host])
            .arg("--manifest-path")
            .arg(repo().join("Cargo.toml")),
    ))
    .expect("cargo metadata prints JSON");

    let root = metadata["resolve"]["root"].as_str().expect("resolve.root");
    let node = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve.nodes")
        .iter()
        .find(|n| n["id"] == root)
        .expect("the package's resolve node");
    let packages = metadata["packages"].as_array().expect("packages");
    let mut crates = Vec::new();
    for dep in node["deps"].as_array().expect("deps") {
        let normal = dep["dep_kinds"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()));
        let package = packages
            .iter()
            .find(|p| p["id"] == dep["pkg"])
            .expect("the dependency's package");
        let name = package["name"].as_str().expect("package name");
        if !normal || !name.starts_with("aws-sdk-") {
            continue;
        }
        let manifest = package["manifest_path"].as_str().expect("manifest_path");
        let dir = Path::new(manifest)
            .parent()
            .expect("crate dir")
            .to_path_buf();
        let config = std::fs::read_to_string(dir.join("src/config.rs"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join("src/config.rs").display()));
        let iam_prefix = first_string_after(&config, "SigningName::from_static(")
            .unwrap_or_else(|| panic!("{name}: no SigningName in src/config.rs"));
        crates.push(SdkCrate {
            name: name.to_string(),
            dir,
            iam_prefix,
        });
    }
    crates
}

/// The first string literal after `marker` in `text`.
fn first_string_after(text: &str, marker: &str) -> Option<String> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let start = rest.find('"')? + 1;
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].to_string())
}

/// `src` with comments and the contents of string and char literals blanked
/// out (line breaks kept, so line numbers stay).
fn code_only(src: &str) -> String {
    mask(src, false)
}

/// `src` with comments blanked out, string literals kept.
fn without_comments(src: &str) -> String {
    mask(src, true)
}

fn mask(src: &str, keep_strings: bool) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let literal = |out: &mut String, ch: char| {
        if keep_strings {
            out.push(ch)
        } else {
            blank(out, ch)
        }
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        // Line comment.
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
            continue;
        }
        // Block comment (they nest in Rust).
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            continue;
        }
        // Raw string: r"…", r#"…"#, br#"…"#.
        if c[i] == 'r'
            && (i == 0 || !ident(c[i - 1]) || (c[i - 1] == 'b' && (i < 2 || !ident(c[i - 2]))))
        {
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            if c.get(j) == Some(&'"') {
                let hashes = j - i - 1;
                for &ch in &c[i..=j] {
                    literal(&mut out, ch);
                }
                i = j + 1;
                while i < c.len() {
                    if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                        for &ch in &c[i..=i + hashes] {
                            literal(&mut out, ch);
                        }
                        i += hashes + 1;
                        break;
                    }
                    literal(&mut out, c[i]);
                    i += 1;
                }
                continue;
            }
        }
        // String literal.
        if c[i] == '"' {
            literal(&mut out, '"');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    literal(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    literal(&mut out, c[i]);
                    i += 1;
                }
            }
            if i < c.len() {
                literal(&mut out, '"');
            }
            i += 1;
            continue;
        }
        // Char literal ('x', '\n', '\u{1F600}'), not a lifetime ('a).
        if c[i] == '\'' {
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 3..c.len()).find(|&k| c[k] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = end {
                // Blanked either way: a char is never a call nor a variable name,
                // and a kept '"' would look like the start of a string.
                for &ch in &c[i..=end] {
                    blank(&mut out, ch);
                }
                i = end + 1;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// Every `.name()` in `code`, with its line number.
fn method_calls(code: &str) -> Vec<(String, usize)> {
    let c: Vec<char> = code.chars().collect();
    let skip_ws = |mut k: usize| {
        while k < c.len() && c[k].is_whitespace() {
            k += 1;
        }
        k
    };
    let mut calls = Vec::new();
    for (i, &ch) in c.iter().enumerate() {
        if ch != '.' {
            continue;
        }
        let start = skip_ws(i + 1);
        let mut end = start;
        while end < c.len()
            && (c[end].is_ascii_lowercase() || c[end].is_ascii_digit() || c[end] == '_')
        {
            end += 1;
        }
        if end == start || !c[start].is_ascii_lowercase() {
            continue;
        }
        let open = skip_ws(end);
        if c.get(open) != Some(&'(') || c.get(skip_ws(open + 1)) != Some(&')') {
            continue;
        }
        let line = 1 + c[..start].iter().filter(|&&x| x == '\n').count();
        calls.push((c[start..end].iter().collect(), line));
    }
    calls
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The AWS operations the code can call, as IAM actions, each with where.
fn code_calls() -> BTreeMap<String, BTreeSet<String>> {
    let sdks = sdk_crates();
    let names: Vec<&str> = sdks.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "aws-sdk-route53",
        "aws-sdk-ecs",
        "aws-sdk-ec2",
        "aws-sdk-servicediscovery",
    ] {
        assert!(
            names.contains(&expected),
            "cargo metadata lists no {expected} among the dependencies: {names:?}"
        );
    }
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no Rust sources under src/");

    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let source = std::fs::read_to_string(file).expect("read source");
        let code = code_only(&source);
        let relative = file
            .strip_prefix(repo())
            .unwrap_or(file)
            .display()
            .to_string();
        for (method, line) in method_calls(&code) {
            let found: Vec<(&SdkCrate, String)> = sdks
                .iter()
                .filter_map(|s| s.action(&method).map(|a| (s, a)))
                .collect();
            let action = match found.as_slice() {
                [] => continue,
                [(_, action)] => action.clone(),
                several => {
                    // The same operation name in several SDKs: the file's own
                    // `aws_sdk_*` paths say which client it holds.
                    let used: Vec<&(&SdkCrate, String)> = several
                        .iter()
                        .filter(|(s, _)| code.contains(&s.name.replace('-', "_")))
                        .collect();
                    match used.as_slice() {
                        [(_, action)] => action.clone(),
                        _ => panic!(
                            "{relative}:{line}: `.{method}()` is an operation of {:?}; cannot tell which \
                             client it is called on: name the client's crate in this file only once",
                            several.iter().map(|(s, _)| &s.name).collect::<Vec<_>>()
                        ),
                    }
                }
            };
            calls
                .entry(action)
                .or_default()
                .insert(format!("{relative}:{line}"));
        }
    }
    calls
}

// ---------------------------------------------------------------------------
// What the template grants
// ---------------------------------------------------------------------------

fn template() -> Value {
    let python = std::env::var_os("LOCALAWS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run `make test` (or `make venv`), which creates the Python environment",
        python.display()
    );
    let json = command_output(
        Command::new(python)
            .arg(repo().join("tests/template/cfn_to_json.py"))
            .arg(repo().join("template.yaml")),
    );
    serde_json::from_str(&json).expect("cfn_to_json.py prints JSON")
}

/// The value's alternatives: both branches of every `Fn::If`, without
/// `AWS::NoValue`, each with the conditions it is under.
fn branches(value: &Value, under: &[String]) -> Vec<(Value, Vec<String>)> {
    if let Some(args) = value.get("Fn::If").and_then(Value::as_array) {
        assert_eq!(args.len(), 3, "Fn::If takes three arguments: {value}");
        let condition = args[0].as_str().expect("Fn::If condition name").to_string();
        let mut out = Vec::new();
        for (branch, label) in [
            (&args[1], condition.clone()),
            (&args[2], format!("!{condition}")),
        ] {
            let mut path = under.to_vec();
            path.push(label);
            out.extend(branches(branch, &path));
        }
        return out;
    }
    if value.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue") {
        return Vec::new();
    }
    vec![(value.clone(), under.to_vec())]
}

/// A list (or one item) whose items may be `Fn::If`s.
fn items(value: &Value, under: &[String]) -> Vec<(Value, Vec<String>)> {
    let mut out = Vec::new();
    for (v, path) in branches(value, under) {
        match v {
            Value::Array(list) => {
                for item in &list {
                    out.extend(branches(item, &path));
                }
            }
            other => out.push((other, path)),
        }
    }
    out
}

/// One `Allow` of one action.
#[derive(Debug, Clone)]
struct Grant {
    /// The inline policy's name (or the logical id of a policy resource).
    policy: String,
    sid: String,
    conditions: Vec<String>,
    resource: Value,
}

impl Grant {
    fn is_platform(&self) -> bool {
        self.policy == PLATFORM_POLICY
    }
}

struct Role {
    logical_id: String,
    grants: BTreeMap<String, Vec<Grant>>,
}

fn function(template: &Value) -> (&String, &Value) {
    let resources = template["Resources"].as_object().expect("Resources");
    let functions: Vec<_> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect();
    assert_eq!(functions.len(), 1, "one AWS::Serverless::Function");
    functions[0]
}

/// Every action the function's role allows.
fn role_grants(template: &Value) -> Role {
    let resources = template["Resources"].as_object().expect("Resources");
    let (_, function) = function(template);
    let props = &function["Properties"];
    assert!(
        props.get("Policies").is_none(),
        "the function's permissions live in its explicit role, not in SAM `Policies`"
    );
    let role_id = props["Role"]["Fn::GetAtt"][0]
        .as_str()
        .expect("the function's Role is !GetAtt <an AWS::IAM::Role of this template>.Arn")
        .to_string();
    let role = &resources[&role_id];
    assert_eq!(role["Type"], "AWS::IAM::Role", "{role_id}");
    assert!(
        role["Properties"]
            .get("ManagedPolicyArns")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{role_id}: no managed policies; every permission is an inline statement"
    );
    assert!(
        role["Properties"].get("PermissionsBoundary").is_none(),
        "{role_id}: unexpected PermissionsBoundary"
    );

    // Inline policies, and any policy resource attached to the role.
    let mut documents: Vec<(Value, Vec<String>, String)> = Vec::new();
    for (policy, path) in items(&role["Properties"]["Policies"], &[]) {
        let name = policy["PolicyName"]
            .as_str()
            .expect("an inline policy's PolicyName is a string")
            .to_string();
        documents.extend(
            branches(&policy["PolicyDocument"], &path)
                .into_iter()
                .map(|(d, p)| (d, p, name.clone())),
        );
    }
    let role_ref = serde_json::json!({ "Ref": role_id });
    for (id, resource) in resources {
        let kind = resource["Type"].as_str().unwrap_or_default();
        if !kind.starts_with("AWS::IAM::") || id == &role_id {
            continue;
        }
        let attached = ["Roles", "RoleName"].iter().any(|k| {
            let v = &resource["Properties"][*k];
            v == &role_ref || v.as_array().is_some_and(|a| a.contains(&role_ref))
        });
        assert!(
            !(attached && kind == "AWS::IAM::ManagedPolicy"),
            "{id}: no managed policies on the function's role"
        );
        if attached {
            documents.extend(
                branches(&resource["Properties"]["PolicyDocument"], &[])
                    .into_iter()
                    .map(|(d, p)| (d, p, id.clone())),
            );
        }
    }
    assert!(!documents.is_empty(), "{role_id} has no policy");

    let mut grants: BTreeMap<String, Vec<Grant>> = BTreeMap::new();
    for (document, path, policy) in documents {
        for (statement, path) in items(&document["Statement"], &path) {
            let sid = statement["Sid"].as_str().unwrap_or("(no Sid)").to_string();
            assert!(
                statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
                "{sid}: NotAction / NotResource grant more than they name"
            );
            if statement["Effect"] != "Allow" {
                continue;
            }
            for (action, conditions) in items(&statement["Action"], &path) {
                let action = action
                    .as_str()
                    .unwrap_or_else(|| panic!("{sid}: an action is not a string: {action}"))
                    .to_string();
                assert!(
                    !action.contains('*') && !action.contains('?'),
                    "{sid}: `{action}`: name every action, no wildcards"
                );
                grants.entry(action).or_default().push(Grant {
                    policy: policy.clone(),
                    sid: sid.clone(),
                    conditions,
                    resource: statement["Resource"].clone(),
                });
            }
        }
    }
    Role {
        logical_id: role_id,
        grants,
    }
}

fn lower(set: impl IntoIterator<Item = impl AsRef<str>>) -> BTreeMap<String, String> {
    set.into_iter()
        .map(|a| (a.as_ref().to_ascii_lowercase(), a.as_ref().to_string()))
        .collect()
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn the_role_grants_exactly_what_the_code_calls() {
    let calls = code_calls();
    let template = template();
    let role = role_grants(&template);

    println!("AWS operations the code calls:");
    for (action, places) in &calls {
        println!(
            "  {action:<36} {}",
            places.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    println!("Actions {} grants:", role.logical_id);
    for (action, grants) in &role.grants {
        let sids: BTreeSet<String> = grants
            .iter()
            .map(|g| {
                if g.conditions.is_empty() {
                    g.sid.clone()
                } else {
                    format!("{} (if {})", g.sid, g.conditions.join(" & "))
                }
            })
            .collect();
        println!(
            "  {action:<36} {}",
            sids.into_iter().collect::<Vec<_>>().join(", ")
        );
    }

    for core in CORE_CALLS {
        assert!(
            calls.contains_key(*core),
            "the scan of src/ did not find {core}: the scanner is broken (found {:?})",
            calls.keys().collect::<Vec<_>>()
        );
    }

    let called = lower(calls.keys());
    // What the role grants the code (every policy but Lambda's), and Lambda.
    let granted_to_code = lower(
        role.grants
            .iter()
            .filter(|(_, grants)| grants.iter().any(|g| !g.is_platform()))
            .map(|(a, _)| a),
    );
    let granted_to_platform = lower(
        role.grants
            .iter()
            .filter(|(_, grants)| grants.iter().any(Grant::is_platform))
            .map(|(a, _)| a),
    );
    let platform = lower(PLATFORM_ACTIONS.iter().map(|(a, _)| a));
    let on_behalf = lower(CALLER_ACTIONS.iter().map(|(a, _, _)| a));

    let missing: Vec<String> = called
        .iter()
        .filter(|(k, _)| !granted_to_code.contains_key(*k))
        .map(|(k, a)| {
            format!(
                "{a} (called at {}){}",
                calls[a].iter().cloned().collect::<Vec<_>>().join(", "),
                if granted_to_platform.contains_key(k) {
                    format!("; granted only in {PLATFORM_POLICY}, which is Lambda's")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the code calls operations template.yaml does not grant it ({}): {missing:#?}",
        role.logical_id
    );

    let extra: Vec<&String> = granted_to_code
        .iter()
        .filter(|(k, _)| !called.contains_key(*k) && !on_behalf.contains_key(*k))
        .map(|(_, a)| a)
        .collect();
    assert!(
        extra.is_empty(),
        "template.yaml grants actions no code calls ({}): {extra:?}; remove them, or, if \
         Lambda itself needs one, move it to {PLATFORM_POLICY} and PLATFORM_ACTIONS with the \
         reason, or, if a service checks it on the caller for a call the code makes, add it \
         to CALLER_ACTIONS",
        role.logical_id
    );

    let foreign_in_platform: Vec<&String> = granted_to_platform
        .iter()
        .filter(|(k, _)| !platform.contains_key(*k))
        .map(|(_, a)| a)
        .collect();
    assert!(
        foreign_in_platform.is_empty(),
        "{PLATFORM_POLICY} grants actions that are not in PLATFORM_ACTIONS: \
         {foreign_in_platform:?}; grant what the code calls in a policy of its own"
    );

    let unused_platform: Vec<&str> = PLATFORM_ACTIONS
        .iter()
        .filter(|(a, _)| !granted_to_platform.contains_key(&a.to_ascii_lowercase()))
        .map(|(a, why)| {
            println!("not granted: {a} ({why})");
            *a
        })
        .collect();
    assert!(
        unused_platform.is_empty(),
        "PLATFORM_ACTIONS lists actions {PLATFORM_POLICY} does not grant: {unused_platform:?}; \
         drop them from the list if the function no longer needs them"
    );

    for (action, needed_by, why) in CALLER_ACTIONS {
        assert!(
            called.contains_key(&needed_by.to_ascii_lowercase()),
            "CALLER_ACTIONS: {action} is there for {needed_by} ({why}), which the code no \
             longer calls: drop it from the list and from template.yaml"
        );
        assert!(
            granted_to_code.contains_key(&action.to_ascii_lowercase()),
            "{action} is not granted, and {needed_by} needs it: {why}"
        );
    }
}

#[test]
fn writes_and_optional_calls_are_scoped() {
    let template = template();
    let role = role_grants(&template);
    let conditions = &template["Conditions"];

    // Route 53 record access: one hosted zone (or, with DNS_NAMESPACE only, the
    // account's zones), never "*"; changes only as DELETEs.
    for action in [
        "route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
    ] {
        for grant in role.grants.get(action).into_iter().flatten() {
            for (resource, _) in items(&grant.resource, &[]) {
                assert!(
                    resource.to_string().contains(":route53:::hostedzone/"),
                    "{}: {action} on {resource}, not on a hosted zone",
                    grant.sid
                );
            }
        }
    }
    for grant in role
        .grants
        .get("route53:ChangeResourceRecordSets")
        .into_iter()
        .flatten()
    {
        let actions = &grant_statement_condition(&template, &role, grant)
            ["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsActions"];
        assert_eq!(
            actions,
            &serde_json::json!(["DELETE"]),
            "{}: ChangeResourceRecordSets limited to DELETE",
            grant.sid
        );
    }

    // Actions with resource-level permissions: on their resources, never "*".
    for (action, parts) in SCOPED_ACTIONS {
        for grant in role.grants.get(*action).into_iter().flatten() {
            for (resource, _) in items(&grant.resource, &[]) {
                let text = resource.to_string();
                assert!(
                    parts.iter().all(|part| text.contains(part)),
                    "{}: {action} on {resource}: grant it on resources whose ARN has {parts:?}",
                    grant.sid
                );
            }
        }
    }

    // Actions the code calls only in some configurations are granted only then.
    for (action, parameter) in CONDITIONAL_ACTIONS {
        let grants: Vec<Grant> = role
            .grants
            .get(*action)
            .into_iter()
            .flatten()
            .filter(|g| !g.is_platform())
            .cloned()
            .collect();
        assert!(
            !grants.is_empty(),
            "{action} is not granted (outside {PLATFORM_POLICY})"
        );
        for grant in grants {
            let tied = grant
                .conditions
                .iter()
                .any(|c| condition_refers_to(conditions, c.trim_start_matches('!'), parameter));
            assert!(
                tied,
                "{}: {action} must be granted only under a condition on {parameter} (is under {:?})",
                grant.sid, grant.conditions
            );
        }
    }
}

/// Whether template condition `name` depends on `parameter`, directly or through
/// the conditions it names.
fn condition_refers_to(conditions: &Value, name: &str, parameter: &str) -> bool {
    fn walk(conditions: &Value, value: &Value, parameter: &str, depth: usize) -> bool {
        assert!(depth < 20, "template conditions nest too deep (a cycle?)");
        match value {
            Value::Object(map) => map.iter().any(|(key, v)| match (key.as_str(), v) {
                ("Ref", Value::String(p)) => p == parameter,
                ("Condition", Value::String(c)) => {
                    walk(conditions, &conditions[c.as_str()], parameter, depth + 1)
                }
                _ => walk(conditions, v, parameter, depth),
            }),
            Value::Array(list) => list.iter().any(|v| walk(conditions, v, parameter, depth)),
            _ => false,
        }
    }
    walk(conditions, &conditions[name], parameter, 0)
}

/// The `Condition` block of the statement a grant came from.
fn grant_statement_condition(template: &Value, role: &Role, grant: &Grant) -> Value {
    let policies = &template["Resources"][&role.logical_id]["Properties"]["Policies"];
    for (policy, _) in items(policies, &[]) {
        for (statement, _) in items(&policy["PolicyDocument"]["Statement"], &[]) {
            if statement["Sid"] == grant.sid.as_str() {
                return statement["Condition"].clone();
            }
        }
    }
    panic!("statement {} not found", grant.sid)
}

/// Environment variables the code reads: the upper-case names quoted in
/// src/config.rs, and any `env::var("…")` / `env::var_os("…")` elsewhere; the
/// standard AWS_* and RUST_* ones left out.
fn variables_the_code_reads() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let mut names = BTreeSet::new();
    let looks_like_variable = |s: &str| {
        s.len() > 3
            && s.contains('_')
            && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && !s.starts_with("AWS_")
            && !s.starts_with("RUST_")
    };
    for file in files {
        let source = without_comments(&std::fs::read_to_string(&file).expect("read source"));
        let is_config = file.ends_with("src/config.rs");
        let mut rest = source.as_str();
        while let Some(start) = rest.find('"') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('"') else { break };
            let literal = &after[..end];
            let before = rest[..start].trim_end();
            let read_call = before.ends_with("env::var(") || before.ends_with("env::var_os(");
            if looks_like_variable(literal) && (is_config || read_call) {
                names.insert(literal.to_string());
            }
            rest = &after[end + 1..];
        }
    }
    names
}

#[test]
fn every_setting_is_a_parameter_with_the_spec_default() {
    let template = template();
    let (id, function) = function(&template);
    let variables = function["Properties"]["Environment"]["Variables"]
        .as_object()
        .unwrap_or_else(|| panic!("{id} has no Environment.Variables"));
    let parameters = template["Parameters"].as_object().expect("Parameters");

    for (name, default) in DOCUMENTED_SETTINGS {
        let value = variables
            .get(*name)
            .unwrap_or_else(|| panic!("documented variable {name} is not in {id}'s environment"));
        let parameter = value["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} = {value}: expected !Ref <parameter>"));
        let declared = &parameters
            .get(parameter)
            .unwrap_or_else(|| panic!("{name}: no parameter {parameter}"))["Default"];
        let declared = match declared {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("{parameter}: default {other} is neither text nor a number"),
        };
        assert_eq!(
            declared,
            default.unwrap_or(""),
            "{parameter} (for {name}): default differs from the documented one"
        );
    }

    let read = variables_the_code_reads();
    for (name, _) in DOCUMENTED_SETTINGS {
        assert!(
            read.contains(*name),
            "the scan of src/ does not see {name} being read: the scanner is broken (found {read:?})"
        );
    }
    for name in &read {
        assert!(
            variables.contains_key(name),
            "the code reads {name}, which the template does not set: add a parameter for it"
        );
    }
}

#[test]
fn the_deployment_is_safe() {
    let template = template();
    let resources = &template["Resources"];
    let (id, function) = function(&template);
    let props = &function["Properties"];
    assert_eq!(
        function["Metadata"]["BuildMethod"], "rust-cargolambda",
        "{id}"
    );
    assert_eq!(props["Handler"], "bootstrap", "{id}");
    assert_eq!(props["Runtime"], "provided.al2023", "{id}");
    // The package's architecture, a parameter: arm64 unless it was built for x86_64.
    let architecture = props["Architectures"][0]["Ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{id}: Architectures: [!Ref <parameter>]"));
    assert_eq!(
        template["Parameters"][architecture]["Default"], "arm64",
        "{id}: arm64 by default"
    );
    assert_eq!(
        props["ReservedConcurrentExecutions"], 1,
        "{id}: one sweep at a time"
    );
    assert!(
        props["VpcConfig"]["SubnetIds"].is_object()
            && props["VpcConfig"]["SecurityGroupIds"].is_object(),
        "{id}: in the VPC, from parameters (the health checks reach private IPs)"
    );
    let destination = &props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
        ["Fn::GetAtt"][0];
    let queue = destination
        .as_str()
        .expect("an on-failure destination in the template");
    assert_eq!(
        resources[queue]["Type"], "AWS::SQS::Queue",
        "{id}: on-failure destination"
    );
    let log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        .as_str()
        .expect("LoggingConfig.LogGroup: the template's log group");
    assert!(
        resources[log_group]["Properties"]["RetentionInDays"].is_object(),
        "{log_group}: retention from a parameter"
    );

    // Triggers: a schedule (Scheduled Event envelope), ECS task stopped, EC2 gone.
    let events = props["Events"].as_object().expect("Events");
    assert!(
        events.values().any(|e| e["Type"] == "Schedule"),
        "{id}: a Schedule event (the Scheduled Event envelope)"
    );
    let text = template.to_string();
    for needle in [
        "ECS Task State Change",
        "STOPPED",
        "EC2 Instance State-change Notification",
    ] {
        assert!(text.contains(needle), "no event rule for {needle:?}");
    }
    let ec2 = events
        .values()
        .find(|e| e["Properties"]["Pattern"]["source"] == serde_json::json!(["aws.ec2"]))
        .expect("an EventBridgeRule event for aws.ec2");
    assert_eq!(
        ec2["Properties"]["Pattern"]["detail"]["state"],
        serde_json::json!(["shutting-down", "terminated", "stopping", "stopped"]),
        "the EC2 gone states"
    );

    // Alarms on function errors and on the guard.
    let alarms: Vec<&Value> = resources
        .as_object()
        .expect("Resources")
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    assert!(
        alarms
            .iter()
            .any(|a| a["Properties"]["Namespace"] == "AWS/Lambda"
                && a["Properties"]["MetricName"] == "Errors"),
        "an alarm on the function's Errors"
    );
    assert!(
        alarms
            .iter()
            .any(|a| a["Properties"]["Namespace"] == "EcsDnsReaper"
                && a["Properties"]["MetricName"] == "GuardTripped"),
        "an alarm on EcsDnsReaper/GuardTripped"
    );
}

#[test]
fn the_scanner_sees_calls_and_nothing_in_comments_or_strings() {
    let src = r##"
        // ecs.stop_task() in a comment
        /* route53.list_hosted_zones_by_name() /* nested */ still comment */
        let s = "client.describe_instances()";
        let r = r#"x.list_tasks() "quoted""#;
        let c = '"'; let q = '\''; let l: &'static str = "a.list_tasks()";
        let real = ecs
            .describe_tasks ( )
            .cluster(c);
        other.list_clusters(arg);
    "##;
    let calls = method_calls(&code_only(src));
    assert_eq!(
        calls,
        vec![("describe_tasks".to_string(), 8)],
        "only the real, argument-less call counts"
    );
}
