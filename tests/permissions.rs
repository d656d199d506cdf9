//! Least privilege, checked: the IAM actions `template.yaml` grants the function
//! are exactly the AWS operations the code can call, plus the few that Lambda
//! itself needs ([`PLATFORM_ACTIONS`], in their own policy) and the few that AWS
//! Cloud Map checks on the caller while it carries out a call the code makes
//! ([`CALLER_ACTIONS`]); and every setting of the README's configuration table is
//! in the function's environment, fed by a parameter with its documented default.
//!
//! The calls are found in the source, not listed here (`support::sdk_calls`):
//! every argument-less `.<name>()` in `src/**/*.rs`, read with the Rust parser,
//! whose `<name>` is an operation of one of the AWS SDK crates the package
//! depends on. Add an SDK call without its permission, or a permission without a
//! call, and this test fails.
//!
//! The template is read through `tests/template/cfn_to_json.py`
//! (`support::template`), so that `!Sub`, `!If` & co. come out in their long JSON
//! form.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use support::sdk_calls::{code_calls, variables_the_code_reads};
use support::template::{
    condition_refers_to, function, grant_statement_condition, items, role_grants, template, Grant,
};

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

impl Grant {
    /// Whether the grant is Lambda's, in the [`PLATFORM_POLICY`].
    fn is_platform(&self) -> bool {
        self.policy == PLATFORM_POLICY
    }
}

/// `set` by lower-case name (IAM action names are case-insensitive).
fn lower(set: impl IntoIterator<Item = impl AsRef<str>>) -> BTreeMap<String, String> {
    set.into_iter()
        .map(|a| (a.as_ref().to_ascii_lowercase(), a.as_ref().to_string()))
        .collect()
}

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
