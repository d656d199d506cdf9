//! `CLOUD_MAP_NAMESPACES` resolved: each entry matched against the namespaces
//! this account owns ([`resolve`], pure), then the VPCs of the namespace's hosted
//! zone read — once per process, by [`Deps::namespaces`].

use crate::aws::Aws;
use crate::model::cloud_map::{Namespace, SweptNamespace};

use super::Deps;

/// Why a `CLOUD_MAP_NAMESPACES` entry is not swept. Its entry in the report says
/// so; the other namespaces are swept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceError {
    #[error("CLOUD_MAP_NAMESPACES: no Cloud Map namespace has the name or id {entry:?}")]
    Unknown { entry: String },
    #[error("CLOUD_MAP_NAMESPACES: {} namespaces are named {entry:?} ({}); name the one to sweep by its id", ids.len(), ids.join(", "))]
    Ambiguous { entry: String, ids: Vec<String> },
    #[error("CLOUD_MAP_NAMESPACES: {entry:?} is a {kind} namespace; only private DNS namespaces are swept")]
    NotPrivateDns { entry: String, kind: String },
    #[error("Cloud Map namespace {id} reports no hosted zone")]
    NoHostedZone { id: String },
    /// ListNamespaces, or GetHostedZone for the namespace's zone, failed.
    #[error("{0}")]
    Read(String),
}

/// One entry: a `ns-…` id, or the name (case and trailing dot aside) of exactly
/// one of `all`; a private DNS namespace with a hosted zone, whose VPCs say
/// which instances and network interfaces are evidence.
pub fn resolve<'a>(entry: &str, all: &'a [Namespace]) -> Result<&'a Namespace, NamespaceError> {
    let wanted = entry.trim_end_matches('.').to_ascii_lowercase();
    let matching: Vec<&Namespace> = all
        .iter()
        .filter(|n| n.id == entry || n.name.trim_end_matches('.').to_ascii_lowercase() == wanted)
        .collect();
    let entry = entry.to_string();
    let namespace = match matching.as_slice() {
        [] => return Err(NamespaceError::Unknown { entry }),
        [one] => *one,
        many => {
            let ids = many.iter().map(|n| n.id.clone()).collect();
            return Err(NamespaceError::Ambiguous { entry, ids });
        }
    };
    if namespace.kind != "DNS_PRIVATE" {
        let kind = namespace.kind.clone();
        return Err(NamespaceError::NotPrivateDns { entry, kind });
    }
    if namespace.hosted_zone_id.is_none() {
        let id = namespace.id.clone();
        return Err(NamespaceError::NoHostedZone { id });
    }
    Ok(namespace)
}

impl<A: Aws> Deps<A> {
    /// Each `CLOUD_MAP_NAMESPACES` entry, resolved to its namespace and the VPCs
    /// of the namespace's hosted zone (once per process), or why it cannot be.
    pub(crate) async fn namespaces(&self) -> Vec<(String, Result<SweptNamespace, NamespaceError>)> {
        let mut cache = self.namespaces.lock().await;
        let entries = &self.config.cloud_map_namespaces;
        let listed = match entries.iter().all(|e| cache.contains_key(e)) {
            true => Ok(Vec::new()),
            false => self.aws.namespaces().await.map_err(|f| f.to_string()),
        };
        let mut resolved = Vec::new();
        for entry in entries {
            let namespace = match (cache.get(entry), &listed) {
                (Some(known), _) => Ok(known.clone()),
                (None, Err(why)) => Err(NamespaceError::Read(why.clone())),
                (None, Ok(all)) => self.with_vpcs(resolve(entry, all)).await,
            };
            if let Ok(n) = &namespace {
                cache.insert(entry.clone(), n.clone());
            }
            resolved.push((entry.clone(), namespace));
        }
        resolved
    }

    /// A resolved namespace with the VPCs its hosted zone is associated with.
    async fn with_vpcs(
        &self,
        resolved: Result<&Namespace, NamespaceError>,
    ) -> Result<SweptNamespace, NamespaceError> {
        let namespace = resolved?.clone();
        let zone = namespace.hosted_zone_id.as_deref().unwrap_or_default();
        let info = self.aws.zone_info(zone).await;
        let info = info.map_err(|e| NamespaceError::Read(e.to_string()))?;
        Ok(SweptNamespace {
            namespace,
            vpcs: info.vpcs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn namespace(id: &str, name: &str, kind: &str) -> Namespace {
        Namespace {
            id: id.into(),
            name: name.into(),
            owner: None,
            kind: kind.into(),
            hosted_zone_id: Some("Z1".into()),
        }
    }

    #[test]
    fn an_entry_names_one_private_dns_namespace_by_id_or_name() {
        let all = [
            namespace("ns-1", "web.local", "DNS_PRIVATE"),
            namespace("ns-2", "Twice.local", "DNS_PRIVATE"),
            namespace("ns-3", "twice.local", "DNS_PRIVATE"),
            namespace("ns-4", "api.example.com", "DNS_PUBLIC"),
        ];
        assert_eq!(
            resolve("ns-1", &all).map(|n| &n.id),
            Ok(&"ns-1".to_string())
        );
        assert_eq!(
            resolve("WEB.local.", &all).map(|n| &n.id),
            Ok(&"ns-1".to_string())
        );
        assert_eq!(
            resolve("ns-3", &all).map(|n| &n.id),
            Ok(&"ns-3".to_string())
        );
        let twice = resolve("twice.local", &all).unwrap_err();
        assert_eq!(
            twice.to_string(),
            "CLOUD_MAP_NAMESPACES: 2 namespaces are named \"twice.local\" (ns-2, ns-3); name the one to sweep by its id"
        );
        assert_eq!(
            resolve("nope.local", &all),
            Err(NamespaceError::Unknown {
                entry: "nope.local".into()
            })
        );
        assert_eq!(
            resolve("api.example.com", &all).unwrap_err().to_string(),
            "CLOUD_MAP_NAMESPACES: \"api.example.com\" is a DNS_PUBLIC namespace; only private DNS namespaces are swept"
        );
        let mut zoneless = namespace("ns-5", "zoneless.local", "DNS_PRIVATE");
        zoneless.hosted_zone_id = None;
        assert_eq!(
            resolve("ns-5", &[zoneless]).unwrap_err().to_string(),
            "Cloud Map namespace ns-5 reports no hosted zone"
        );
    }
}
