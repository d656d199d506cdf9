//! The AWS Cloud Map (servicediscovery) edge: namespaces, services, instances
//! and their custom health, paginated, into the plain types of
//! [`crate::model::cloud_map`]; UpdateInstanceCustomHealthStatus.
//! Deregistrations are in [`super::deregistration`].

use std::collections::HashMap;

use aws_sdk_servicediscovery::error::DisplayErrorContext;
use aws_sdk_servicediscovery::types::{
    CustomHealthStatus, FilterCondition, NamespaceFilter, NamespaceFilterName, ServiceFilter,
    ServiceFilterName,
};
use aws_sdk_servicediscovery::Client;
use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use super::deregistration::bounded;
use super::{failure, paginate};
use crate::model::cloud_map::{
    CloudMapService, HealthStatus, Namespace, Registration, RegistryListing,
};
use crate::model::ReadFailure;

/// Services read (ListInstances, GetInstancesHealthStatus) at the same time:
/// Cloud Map's read APIs are throttled per account.
const READ_CONCURRENCY: usize = 4;

/// Every namespace this account owns in this Region (`RESOURCE_OWNER` `SELF`):
/// a namespace another account shares with this one holds that account's
/// instances, judged by ECS and EC2 this account cannot see.
pub async fn list_namespaces(sd: &Client) -> Result<Vec<Namespace>, ReadFailure> {
    let call = "servicediscovery:ListNamespaces";
    let own = NamespaceFilter::builder()
        .name(NamespaceFilterName::ResourceOwner)
        .values("SELF")
        .condition(FilterCondition::Eq)
        .build()
        .map_err(|e| failure(call, e))?;
    paginate(call, |token| async {
        let page = sd
            .list_namespaces()
            .filters(own.clone())
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure(call, e))?;
        let namespaces = page
            .namespaces()
            .iter()
            .filter_map(|n| {
                Some(Namespace {
                    id: n.id()?.to_string(),
                    name: n.name()?.to_string(),
                    owner: n.resource_owner().map(String::from),
                    kind: n
                        .r#type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    hosted_zone_id: n
                        .properties()
                        .and_then(|p| p.dns_properties())
                        .and_then(|d| d.hosted_zone_id())
                        .map(|z| z.trim_start_matches("/hostedzone/").to_string()),
                })
            })
            .collect();
        Ok((namespaces, page.next_token().map(String::from)))
    })
    .await
}

/// The namespace's services, each one's instances and, for services with custom
/// health, their statuses. A read that fails is recorded and the rest go on.
pub async fn list_registry(sd: &Client, namespace_id: &str) -> RegistryListing {
    let mut listing = RegistryListing::default();
    match list_services(sd, namespace_id).await {
        Ok(services) => listing.services = services,
        Err(f) => {
            listing.failures.push(f);
            return listing;
        }
    }
    let reads: Vec<_> = stream::iter(listing.services.clone())
        .map(|service| async move {
            let instances = list_instances(sd, &service.id).await;
            let health = match service.custom_health {
                true => health_statuses(sd, &service.id).await,
                false => Ok(HashMap::new()),
            };
            (service.id, instances, health)
        })
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    for (service_id, instances, health) in reads {
        match instances {
            Ok(mut got) => listing.instances.append(&mut got),
            Err(f) => listing.failures.push(f),
        }
        match health {
            Ok(statuses) => listing.health.extend(
                statuses
                    .into_iter()
                    .map(|(id, s)| ((service_id.clone(), id), s)),
            ),
            Err(f) => listing.failures.push(f),
        }
    }
    listing
}

/// ListServices with the `NAMESPACE_ID` filter. Cloud Map pages before it
/// filters: a page may be empty and still carry a token.
async fn list_services(
    sd: &Client,
    namespace_id: &str,
) -> Result<Vec<CloudMapService>, ReadFailure> {
    let call = format!("servicediscovery:ListServices namespace={namespace_id}");
    let filter = ServiceFilter::builder()
        .name(ServiceFilterName::NamespaceId)
        .values(namespace_id)
        .condition(FilterCondition::Eq)
        .build()
        .map_err(|e| failure(&call, e))?;
    paginate(&call, |token| async {
        let page = sd
            .list_services()
            .filters(filter.clone())
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure(&call, e))?;
        let services = page
            .services()
            .iter()
            .filter_map(|s| {
                cloud_map_service(s.id(), s.name(), s.health_check_custom_config().is_some())
            })
            .collect();
        Ok((services, page.next_token().map(String::from)))
    })
    .await
}

async fn list_instances(sd: &Client, service_id: &str) -> Result<Vec<Registration>, ReadFailure> {
    let call = format!("servicediscovery:ListInstances service={service_id}");
    paginate(&call, |token| async {
        let page = sd
            .list_instances()
            .service_id(service_id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure(&call, e))?;
        let instances = page
            .instances()
            .iter()
            .filter_map(|i| {
                Some(registration(
                    service_id,
                    i.id()?,
                    i.attributes(),
                    i.created_by_account(),
                ))
            })
            .collect();
        Ok((instances, page.next_token().map(String::from)))
    })
    .await
}

async fn health_statuses(
    sd: &Client,
    service_id: &str,
) -> Result<HashMap<String, HealthStatus>, ReadFailure> {
    let call = format!("servicediscovery:GetInstancesHealthStatus service={service_id}");
    let pages = paginate(&call, |token| async {
        let page = sd
            .get_instances_health_status()
            .service_id(service_id)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure(&call, e))?;
        let statuses: Vec<(String, HealthStatus)> = page
            .status()
            .map(|m| {
                m.iter()
                    .map(|(id, s)| (id.clone(), HealthStatus::parse(s.as_str())))
                    .collect()
            })
            .unwrap_or_default();
        Ok((statuses, page.next_token().map(String::from)))
    })
    .await?;
    Ok(pages.into_iter().collect())
}

/// A Cloud Map service's namespace and itself (GetService; `None` when Cloud Map
/// does not know it).
pub async fn service(
    sd: &Client,
    service_id: &str,
) -> Result<Option<(String, CloudMapService)>, ReadFailure> {
    let call = format!("servicediscovery:GetService service={service_id}");
    match sd.get_service().id(service_id).send().await {
        Ok(out) => Ok(out.service().and_then(|s| {
            let custom = s.health_check_custom_config().is_some();
            Some((
                s.namespace_id()?.to_string(),
                cloud_map_service(s.id(), s.name(), custom)?,
            ))
        })),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_service_not_found()) =>
        {
            Ok(None)
        }
        Err(e) => Err(failure(&call, e)),
    }
}

/// One registered instance (GetInstance; `None` when it is not registered).
pub async fn instance(
    sd: &Client,
    service_id: &str,
    instance_id: &str,
) -> Result<Option<Registration>, ReadFailure> {
    let call = format!("servicediscovery:GetInstance service={service_id} instance={instance_id}");
    match sd
        .get_instance()
        .service_id(service_id)
        .instance_id(instance_id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .instance()
            .map(|i| registration(service_id, i.id(), i.attributes(), i.created_by_account()))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_instance_not_found() || e.is_service_not_found()) =>
        {
            Ok(None)
        }
        Err(e) => Err(failure(&call, e)),
    }
}

/// A service, from ListServices or GetService.
fn cloud_map_service(
    id: Option<&str>,
    name: Option<&str>,
    custom_health: bool,
) -> Option<CloudMapService> {
    Some(CloudMapService {
        id: id?.to_string(),
        name: name.unwrap_or_default().to_string(),
        custom_health,
    })
}

/// An instance, from ListInstances or GetInstance.
fn registration(
    service_id: &str,
    id: &str,
    attributes: Option<&HashMap<String, String>>,
    created_by: Option<&str>,
) -> Registration {
    Registration {
        service_id: service_id.to_string(),
        id: id.to_string(),
        attributes: attributes
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        created_by: created_by.map(String::from),
    }
}

/// Sets an instance's custom health status, bounded by the time left before
/// `stop_at`.
pub async fn set_health(
    sd: &Client,
    service_id: &str,
    instance_id: &str,
    status: HealthStatus,
    stop_at: Option<Instant>,
) -> Result<(), String> {
    let status = match status {
        HealthStatus::Unhealthy => CustomHealthStatus::Unhealthy,
        _ => CustomHealthStatus::Healthy,
    };
    sd.update_instance_custom_health_status()
        .service_id(service_id)
        .instance_id(instance_id)
        .status(status)
        .customize()
        .config_override(bounded(stop_at))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "servicediscovery:UpdateInstanceCustomHealthStatus service={service_id} instance={instance_id} failed: {}",
                DisplayErrorContext(&e)
            )
        })
}
