//! Events: which action an incoming JSON event asks for (docs/events.md).

use aws_lambda_events::event::cloudwatch_events::ec2::InstanceStateChange;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::TaskStoppedEvent;

/// What started the run; the report's `trigger`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Schedule,
    EcsTaskStopped,
    Ec2InstanceState,
    Manual,
}

/// `detail` of an EventBridge `ECS Task State Change` event. `aws_lambda_events`
/// has no type for it; only the fields the reaper reads are here.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsTaskStateChange {
    pub task_arn: String,
    pub cluster_arn: String,
    #[serde(default)]
    pub container_instance_arn: Option<String>,
    pub last_status: String,
    #[serde(default)]
    pub desired_status: Option<String>,
    /// Increases with every change of the task; events can arrive out of order.
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub containers: Vec<EcsContainerDetail>,
    /// `service:<name>` for a task an ECS service started (`family:<name>` for a
    /// standalone one): the service's `serviceRegistries` say where it is in
    /// Cloud Map.
    #[serde(default)]
    pub group: Option<String>,
}

impl From<EcsTaskStateChange> for TaskStoppedEvent {
    /// The event's word, as plain data.
    fn from(detail: EcsTaskStateChange) -> Self {
        let ecs_service = detail
            .group
            .as_deref()
            .and_then(|g| g.strip_prefix("service:"))
            .map(str::to_string);
        let runtime_ids = detail
            .containers
            .iter()
            .filter_map(|c| c.runtime_id.clone())
            .collect();
        let host_ports = detail
            .containers
            .iter()
            .flat_map(|c| c.network_bindings.iter().filter_map(|b| b.host_port))
            .collect();
        TaskStoppedEvent {
            task_arn: detail.task_arn,
            cluster_arn: detail.cluster_arn,
            container_instance_arn: detail.container_instance_arn,
            ecs_service,
            version: detail.version,
            runtime_ids,
            host_ports,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsContainerDetail {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub runtime_id: Option<String>,
    #[serde(default)]
    pub network_bindings: Vec<EcsNetworkBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsNetworkBinding {
    #[serde(default)]
    pub container_port: Option<u16>,
    #[serde(default)]
    pub host_port: Option<u16>,
}

/// What the handler should do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A full sweep; `dry_run` from a manual event overrides `DRY_RUN` when given.
    Sweep {
        trigger: Trigger,
        dry_run: Option<bool>,
    },
    /// A task stopped: delete its containers' records.
    TaskStopped(TaskStoppedEvent),
    /// An instance went away: delete the records that target it.
    InstanceGone { instance_id: String, state: String },
    /// A state-change event in a state that needs nothing.
    Ignore { trigger: Trigger, why: String },
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("unsupported event: source={event_source}, detail-type={detail_type}")]
    Unsupported {
        event_source: String,
        detail_type: String,
    },
    #[error("malformed {kind} event: {problem}")]
    Malformed { kind: &'static str, problem: String },
}

const SCHEDULED: &str = "Scheduled Event";
const ECS_TASK: &str = "ECS Task State Change";
const EC2_STATE: &str = "EC2 Instance State-change Notification";
const GONE_STATES: [&str; 4] = ["shutting-down", "terminated", "stopping", "stopped"];

/// The manual invoke: `{"action": "sweep", "dry_run": bool?}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManualEvent {
    action: String,
    #[serde(default)]
    dry_run: Option<bool>,
}

fn text<'a>(event: &'a Value, field: &str) -> &'a str {
    event.get(field).and_then(Value::as_str).unwrap_or("(none)")
}

/// Decides what `event` asks for.
pub fn dispatch(event: &Value) -> Result<Action, EventError> {
    let unsupported = || EventError::Unsupported {
        event_source: text(event, "source").to_string(),
        detail_type: text(event, "detail-type").to_string(),
    };
    if event.get("action").is_some() && event.get("source").is_none() {
        let manual: ManualEvent =
            serde_json::from_value(event.clone()).map_err(|e| EventError::Malformed {
                kind: "manual",
                problem: e.to_string(),
            })?;
        return match manual.action.as_str() {
            "sweep" => Ok(Action::Sweep {
                trigger: Trigger::Manual,
                dry_run: manual.dry_run,
            }),
            other => Err(EventError::Malformed {
                kind: "manual",
                problem: format!("unknown action {other:?}: the only action is \"sweep\""),
            }),
        };
    }
    let source = event.get("source").and_then(Value::as_str);
    let detail_type = event.get("detail-type").and_then(Value::as_str);
    match (source, detail_type) {
        (Some("aws.events"), Some(SCHEDULED)) => Ok(Action::Sweep {
            trigger: Trigger::Schedule,
            dry_run: None,
        }),
        (Some("aws.ecs"), Some(ECS_TASK)) => {
            let detail: EcsTaskStateChange = detail(event, "ECS Task State Change")?;
            if detail.last_status == "STOPPED" {
                Ok(Action::TaskStopped(detail.into()))
            } else {
                Ok(Action::Ignore {
                    trigger: Trigger::EcsTaskStopped,
                    why: format!("task lastStatus is {}, not STOPPED", detail.last_status),
                })
            }
        }
        (Some("aws.ec2"), Some(EC2_STATE)) => {
            let detail: InstanceStateChange =
                detail(event, "EC2 Instance State-change Notification")?;
            if GONE_STATES.contains(&detail.state.as_str()) {
                Ok(Action::InstanceGone {
                    instance_id: detail.instance_id,
                    state: detail.state,
                })
            } else {
                Ok(Action::Ignore {
                    trigger: Trigger::Ec2InstanceState,
                    why: format!(
                        "instance state is {}, not one of {}",
                        detail.state,
                        GONE_STATES.join(", ")
                    ),
                })
            }
        }
        _ => Err(unsupported()),
    }
}

fn detail<T: serde::de::DeserializeOwned + Serialize>(
    event: &Value,
    kind: &'static str,
) -> Result<T, EventError> {
    let envelope: EventBridgeEvent<T> =
        serde_json::from_value(event.clone()).map_err(|e| EventError::Malformed {
            kind,
            problem: e.to_string(),
        })?;
    Ok(envelope.detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(source: &str, detail_type: &str, detail: Value) -> Value {
        json!({"version": "0", "id": "e1", "detail-type": detail_type, "source": source,
               "account": "123456789012", "time": "2026-11-22T02:00:00Z", "region": "us-east-1",
               "resources": [], "detail": detail})
    }

    #[test]
    fn each_row_of_the_event_table() {
        assert_eq!(
            dispatch(&envelope("aws.events", "Scheduled Event", json!({}))),
            Ok(Action::Sweep {
                trigger: Trigger::Schedule,
                dry_run: None
            })
        );
        assert_eq!(
            dispatch(&json!({"action": "sweep"})),
            Ok(Action::Sweep {
                trigger: Trigger::Manual,
                dry_run: None
            })
        );
        assert_eq!(
            dispatch(&json!({"action": "sweep", "dry_run": true})),
            Ok(Action::Sweep {
                trigger: Trigger::Manual,
                dry_run: Some(true)
            })
        );
        let task = json!({"taskArn": "arn:aws:ecs:us-east-1:1:task/web/abc", "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/web",
                          "lastStatus": "STOPPED", "version": 4,
                          "containers": [{"name": "app", "runtimeId": "aaaaaaaaaaaa", "networkBindings": [{"containerPort": 80, "hostPort": 32768}]}]});
        match dispatch(&envelope("aws.ecs", "ECS Task State Change", task.clone())) {
            Ok(Action::TaskStopped(d)) => {
                assert_eq!(d.version, Some(4));
                assert_eq!(d.runtime_ids, ["aaaaaaaaaaaa"]);
                assert_eq!(d.host_ports, [32768]);
            }
            other => panic!("{other:?}"),
        }
        let mut running = task;
        running["lastStatus"] = json!("RUNNING");
        assert!(matches!(
            dispatch(&envelope("aws.ecs", "ECS Task State Change", running)),
            Ok(Action::Ignore { trigger: Trigger::EcsTaskStopped, why }) if why.contains("RUNNING")
        ));
        for state in GONE_STATES {
            assert_eq!(
                dispatch(&envelope(
                    "aws.ec2",
                    "EC2 Instance State-change Notification",
                    json!({"instance-id": "i-1", "state": state})
                )),
                Ok(Action::InstanceGone {
                    instance_id: "i-1".into(),
                    state: state.into()
                })
            );
        }
        assert!(matches!(
            dispatch(&envelope(
                "aws.ec2",
                "EC2 Instance State-change Notification",
                json!({"instance-id": "i-1", "state": "running"})
            )),
            Ok(Action::Ignore {
                trigger: Trigger::Ec2InstanceState,
                ..
            })
        ));
    }

    #[test]
    fn anything_else_is_an_error_naming_source_and_detail_type() {
        let err = dispatch(&envelope("aws.s3", "Object Created", json!({}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported event: source=aws.s3, detail-type=Object Created"
        );
        let err = dispatch(&json!({"hello": "world"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported event: source=(none), detail-type=(none)"
        );
        assert!(dispatch(&json!([1, 2])).is_err());
        assert!(matches!(
            dispatch(&json!({"action": "delete-everything"})),
            Err(EventError::Malformed { .. })
        ));
        assert!(matches!(
            dispatch(&json!({"action": "sweep", "dry_run": "yes"})),
            Err(EventError::Malformed { .. })
        ));
        assert!(matches!(
            dispatch(&envelope(
                "aws.ecs",
                "ECS Task State Change",
                json!({"lastStatus": 5})
            )),
            Err(EventError::Malformed { .. })
        ));
    }
}
