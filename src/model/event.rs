//! What a state-change event says, as plain data: the `events` module turns the
//! EventBridge wire shape into these before anything decides on them.

/// An `ECS Task State Change` to `STOPPED`: what the event says of the task.
/// Events come at least once and out of order, so this is a claim to re-check with
/// ECS, never evidence on its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskStoppedEvent {
    pub task_arn: String,
    pub cluster_arn: String,
    pub container_instance_arn: Option<String>,
    /// The ECS service that started the task (the event's `group` is
    /// `service:<name>`), if one did: its `serviceRegistries` say where the task is
    /// in Cloud Map.
    pub ecs_service: Option<String>,
    /// Increases with every change of the task.
    pub version: Option<u64>,
    /// The container ids (`runtimeId`) the event reports.
    pub runtime_ids: Vec<String>,
    /// The host ports the event reports the containers were bound to.
    pub host_ports: Vec<u16>,
}
