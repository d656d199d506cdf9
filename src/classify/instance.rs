//! Which Cloud Map instances the reaper owns: those that carry an address it can
//! judge, registered by this account (docs/cloud-map.md). Everything else is
//! foreign: counted, never changed.

use std::net::Ipv4Addr;

use crate::model::cloud_map::{
    Registration, ATTR_EC2_INSTANCE, ATTR_ECS_CLUSTER, ATTR_IPV4, ATTR_PORT,
};

/// Who registered an owned instance, which says what judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registrar {
    /// ECS (`serviceRegistries`): the instance id is the task id.
    Ecs { cluster: String },
    /// A script, or anything else: judged by EC2, the network interfaces of the
    /// namespace's VPCs and the health check.
    Other,
}

/// A Cloud Map instance the reaper may deregister: one that carries
/// `AWS_INSTANCE_IPV4` (others — HTTP-only, CNAME or alias instances — are foreign).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedInstance {
    pub service_id: String,
    /// The service's name, for the report.
    pub service: String,
    pub id: String,
    pub ipv4: Ipv4Addr,
    pub port: Option<u16>,
    pub registrar: Registrar,
    /// `EC2_INSTANCE_ID`: the EC2 instance behind the address (ECS sets it for
    /// tasks on EC2 container instances; scripts may).
    pub ec2_instance_id: Option<String>,
}

impl OwnedInstance {
    /// Owned when it carries a parsable `AWS_INSTANCE_IPV4` and was registered by
    /// the account that owns the namespace: another account's instances (a
    /// namespace shared through AWS RAM) are judged by that account's ECS and EC2,
    /// which this one cannot see.
    pub fn classify(
        registration: &Registration,
        service: &str,
        owner: Option<&str>,
    ) -> Option<Self> {
        if let (Some(by), Some(owner)) = (registration.created_by.as_deref(), owner) {
            if by != owner {
                return None;
            }
        }
        let attr = |k: &str| {
            registration
                .attributes
                .get(k)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let ipv4 = attr(ATTR_IPV4)?.parse().ok()?;
        let registrar = match attr(ATTR_ECS_CLUSTER) {
            Some(cluster) => Registrar::Ecs {
                cluster: cluster.to_string(),
            },
            None => Registrar::Other,
        };
        Some(OwnedInstance {
            service_id: registration.service_id.clone(),
            service: service.to_string(),
            id: registration.id.clone(),
            ipv4,
            port: attr(ATTR_PORT).and_then(|p| p.parse().ok()),
            registrar,
            ec2_instance_id: attr(ATTR_EC2_INSTANCE).map(String::from),
        })
    }

    /// `ip:port`, or the address alone.
    pub fn target(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.ipv4),
            None => self.ipv4.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(attrs: &[(&str, &str)]) -> Registration {
        Registration {
            service_id: "srv-1".into(),
            id: "i1".into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            created_by: None,
        }
    }

    fn owned(attrs: &[(&str, &str)]) -> Option<OwnedInstance> {
        OwnedInstance::classify(&registration(attrs), "web", Some("111"))
    }

    #[test]
    fn only_instances_with_an_ipv4_address_are_owned() {
        assert!(owned(&[]).is_none());
        assert!(owned(&[("AWS_INSTANCE_CNAME", "x.example")]).is_none());
        assert!(owned(&[(ATTR_IPV4, "not-an-ip")]).is_none());
        let ecs = owned(&[
            (ATTR_IPV4, "10.0.0.5"),
            (ATTR_PORT, "8080"),
            (ATTR_ECS_CLUSTER, "prod"),
            (ATTR_EC2_INSTANCE, "i-0host"),
        ])
        .unwrap();
        assert_eq!(ecs.target(), "10.0.0.5:8080");
        assert_eq!(
            ecs.registrar,
            Registrar::Ecs {
                cluster: "prod".into()
            }
        );
        assert_eq!(ecs.ec2_instance_id.as_deref(), Some("i-0host"));
        let script = owned(&[(ATTR_IPV4, "10.0.0.6"), (ATTR_EC2_INSTANCE, "i-0abc")]).unwrap();
        assert_eq!(script.target(), "10.0.0.6");
        assert_eq!(script.registrar, Registrar::Other);
        assert_eq!(script.ec2_instance_id.as_deref(), Some("i-0abc"));
    }

    #[test]
    fn another_accounts_instances_in_a_shared_namespace_are_foreign() {
        let mut theirs = registration(&[(ATTR_IPV4, "10.0.0.5")]);
        theirs.created_by = Some("222".into());
        assert!(OwnedInstance::classify(&theirs, "web", Some("111")).is_none());
        theirs.created_by = Some("111".into());
        assert!(OwnedInstance::classify(&theirs, "web", Some("111")).is_some());
    }
}
