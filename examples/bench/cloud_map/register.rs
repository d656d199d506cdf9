//! The namespace's registrations: the attributes ECS and scripts give an
//! instance, and the RegisterInstance calls that make them.

use std::net::Ipv4Addr;

use futures::stream::{self, StreamExt};

use crate::support::LocalAws;

/// RegisterInstance calls in flight while the namespace is filled.
const REGISTER_CONCURRENCY: usize = 8;

/// One RegisterInstance to make: service id, instance id, attributes.
pub(super) type Registration = (String, String, Vec<(&'static str, String)>);

/// What ECS registers for a task of an ECS service with `serviceRegistries`
/// (EC2 launch type, bridge mode): the task id as instance id, the host's address,
/// the host port, the `ECS_*` attributes and `EC2_INSTANCE_ID`.
pub(super) fn ecs_attributes(
    cluster: &str,
    service: &str,
    family: &str,
    ip: Ipv4Addr,
    port: u16,
    ec2_instance_id: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_INSTANCE_IPV4", ip.to_string()),
        ("AWS_INSTANCE_PORT", port.to_string()),
        ("AVAILABILITY_ZONE", "us-east-1a".to_string()),
        ("REGION", "us-east-1".to_string()),
        ("ECS_CLUSTER_NAME", cluster.to_string()),
        ("ECS_SERVICE_NAME", service.to_string()),
        ("ECS_TASK_DEFINITION_FAMILY", family.to_string()),
        ("EC2_INSTANCE_ID", ec2_instance_id.to_string()),
    ]
}

/// A script's registration of `ip:port`, named after them, with the host's
/// instance id when given.
pub(super) fn script(service_id: &str, ip: Ipv4Addr, port: u16, ec2: Option<&str>) -> Registration {
    let [a, b, c, d] = ip.octets();
    let mut attrs = vec![
        ("AWS_INSTANCE_IPV4", ip.to_string()),
        ("AWS_INSTANCE_PORT", port.to_string()),
    ];
    if let Some(id) = ec2 {
        attrs.push(("EC2_INSTANCE_ID", id.to_string()));
    }
    let id = format!("ip-{a}-{b}-{c}-{d}-{port}");
    (service_id.to_string(), id, attrs)
}

/// Every registration, `REGISTER_CONCURRENCY` at a time, through the SDK.
pub(super) async fn register_all(aws: &LocalAws, registrations: Vec<Registration>) {
    let sd = aws.servicediscovery();
    stream::iter(registrations)
        .map(|(service_id, instance_id, attrs)| {
            let sd = sd.clone();
            async move {
                let mut req = sd
                    .register_instance()
                    .service_id(service_id)
                    .instance_id(instance_id);
                for (k, v) in attrs {
                    req = req.attributes(k, v);
                }
                req.send().await.expect("RegisterInstance");
            }
        })
        .buffer_unordered(REGISTER_CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
}
