//! What `template.yaml` grants, read through `tests/template/cfn_to_json.py`
//! (PyYAML from the project's `.venv`, which `make test` creates), so that `!Sub`,
//! `!If` & co. come out in their long JSON form: the function, its role, and every
//! action the role allows, under the template conditions it is granted in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use super::localaws::repo;
use super::sdk_calls::command_output;

/// The template as JSON.
pub fn template() -> Value {
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
pub fn branches(value: &Value, under: &[String]) -> Vec<(Value, Vec<String>)> {
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
pub fn items(value: &Value, under: &[String]) -> Vec<(Value, Vec<String>)> {
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
pub struct Grant {
    /// The inline policy's name (or the logical id of a policy resource).
    pub policy: String,
    pub sid: String,
    pub conditions: Vec<String>,
    pub resource: Value,
}

/// The function's role: its logical id, and every action it allows with the
/// grants that allow it.
pub struct Role {
    pub logical_id: String,
    pub grants: BTreeMap<String, Vec<Grant>>,
}

/// The template's one function: its logical id and its resource.
pub fn function(template: &Value) -> (&String, &Value) {
    let resources = template["Resources"].as_object().expect("Resources");
    let functions: Vec<_> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect();
    assert_eq!(functions.len(), 1, "one AWS::Serverless::Function");
    functions[0]
}

/// Every action the function's role allows.
pub fn role_grants(template: &Value) -> Role {
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

/// Whether template condition `name` depends on `parameter`, directly or through
/// the conditions it names.
pub fn condition_refers_to(conditions: &Value, name: &str, parameter: &str) -> bool {
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
pub fn grant_statement_condition(template: &Value, role: &Role, grant: &Grant) -> Value {
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
