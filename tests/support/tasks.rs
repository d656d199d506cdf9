//! The estate's ECS side: task definitions in the shapes the agents read, tasks
//! started on its hosts (backdated, with listeners behind their host ports).

use std::time::{Duration, SystemTime};

use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, NetworkMode, PortMapping};
use serde_json::json;

use super::{Behaviour, Estate};

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

/// The moment `age` ago, in seconds since the epoch (as the control API takes it).
pub fn ago(age: Duration) -> f64 {
    SystemTime::now()
        .checked_sub(age)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The host port bound to `container_port`.
pub fn host_port(container: &aws_sdk_ecs::types::Container, container_port: i32) -> Option<u16> {
    container
        .network_bindings()
        .iter()
        .find(|b| b.container_port() == Some(container_port))
        .and_then(|b| b.host_port())
        .and_then(|p| u16::try_from(p).ok())
}

/// The container `app`: its environment and (container port, host port) mappings
/// (host port 0: dynamic).
fn app_container(env: &[(String, String)], mappings: &[(i32, i32)]) -> ContainerDefinition {
    let mut container = ContainerDefinition::builder()
        .name("app")
        .image("example/app:1")
        .memory(16)
        .cpu(8);
    for (name, value) in env {
        container = container.environment(KeyValuePair::builder().name(name).value(value).build());
    }
    for (container_port, host_port) in mappings {
        container = container.port_mappings(
            PortMapping::builder()
                .container_port(*container_port)
                .host_port(*host_port)
                .build(),
        );
    }
    container.build()
}

/// A task StartTask started, with where it runs.
pub struct StartTaskAnswer {
    pub task: aws_sdk_ecs::types::Task,
    pub cluster: String,
    pub container_instance_arn: String,
}

impl Estate<'_> {
    /// The task definition of `service`: one container `app` declaring
    /// `SERVICE_80_NAME=<service>` for its SRV record and
    /// `SERVICE_81_NAME=<service>-www` for its CNAME record, both on dynamic host ports.
    pub async fn definition(&mut self, service: &str) -> String {
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
        let out = self
            .aws
            .ecs()
            .register_task_definition()
            .family(family)
            .network_mode(NetworkMode::Bridge)
            .container_definitions(app_container(env, mappings))
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
        let started = self.start_task(h, definition).await;
        self.backdate.push(
            json!({"cluster": started.cluster, "taskArn": started.arn, "startedAt": ago(age)}),
        );
        self.listen(host.ip, started.host_port, behaviour).await;
        if let Some(port) = started.www_port {
            self.listen(host.ip, port, behaviour).await;
        }
        started
    }

    /// StartTask of `definition` on host `h`'s container instance.
    async fn start_task(&self, h: usize, definition: &str) -> StartedTask {
        let started = self.start_task_in_group(h, definition, None).await;
        let container = &started.task.containers()[0];
        StartedTask {
            arn: started.task.task_arn().expect("task arn").to_string(),
            runtime_id: container.runtime_id().expect("runtime id").to_string(),
            host_port: host_port(container, 80).expect("a binding for container port 80"),
            www_port: host_port(container, 81),
            cluster: started.cluster,
            container_instance_arn: started.container_instance_arn,
        }
    }

    /// StartTask of `definition` on host `h`'s container instance, in task group
    /// `group` (ECS's default when `None`): the task as ECS answered.
    pub async fn start_task_in_group(
        &self,
        h: usize,
        definition: &str,
        group: Option<&str>,
    ) -> StartTaskAnswer {
        let host = &self.hosts[h];
        let cluster = host.cluster.clone().expect("task on a registered host");
        let container_instance_arn = host
            .container_instance_arn
            .clone()
            .expect("container instance");
        let out = self
            .aws
            .ecs()
            .start_task()
            .cluster(&cluster)
            .task_definition(definition)
            .container_instances(container_instance_arn.clone())
            .set_group(group.map(String::from))
            .send()
            .await
            .expect("StartTask");
        StartTaskAnswer {
            task: out.tasks()[0].clone(),
            cluster,
            container_instance_arn,
        }
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
}
