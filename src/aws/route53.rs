//! The Route 53 edge: zone lookup, the zone's VPCs, the listing, and SDK record
//! sets turned into [`RecordSet`]s and back (for an exact DELETE).

use std::collections::{BTreeSet, HashSet};

use aws_sdk_route53::error::DisplayErrorContext;
use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
use aws_sdk_route53::Client;

use crate::model::{RecordSet, Vpc, ZoneInfo};

/// Route 53 returns at most 300 record sets per ListResourceRecordSets page.
pub const LIST_PAGE_SIZE: i32 = 300;

/// Failures at the Route 53 boundary.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ZoneError {
    #[error("DNS_NAMESPACE={0}: no private hosted zone has that name")]
    NamespaceNotFound(String),
    #[error("DNS_NAMESPACE={namespace}: {} private hosted zones have that name ({}); set HOSTED_ZONE_ID to the one to sweep", ids.len(), ids.join(", "))]
    NamespaceAmbiguous { namespace: String, ids: Vec<String> },
    #[error(
        "route53:ListHostedZonesByName page cursor did not advance (name={name}): stopped listing"
    )]
    ZoneCursorStuck { name: String },
    #[error("hosted zone {0} is associated with no VPC: only a private zone's VPCs say which EC2 instances are evidence")]
    NoVpc(String),
    #[error("route53:{call} failed: {message}")]
    Api { call: &'static str, message: String },
    #[error("route53:ListResourceRecordSets page cursor did not advance (name={name}, type={rtype}, identifier={identifier}): stopped listing")]
    CursorStuck {
        name: String,
        rtype: String,
        identifier: String,
    },
    #[error("hosted zone {0} has no name")]
    NoApex(String),
    #[error("no hosted zone is configured (HOSTED_ZONE_ID or DNS_NAMESPACE)")]
    NotConfigured,
}

impl ZoneError {
    /// The zone itself does not exist (an unknown `HOSTED_ZONE_ID`), as opposed to
    /// a listing that failed part-way.
    pub fn is_unknown_zone(&self) -> bool {
        match self {
            ZoneError::NamespaceNotFound(_)
            | ZoneError::NamespaceAmbiguous { .. }
            | ZoneError::ZoneCursorStuck { .. }
            | ZoneError::NoVpc(_) => true,
            ZoneError::Api { message, .. } => message.contains("NoSuchHostedZone"),
            _ => false,
        }
    }
}

fn api_error<E>(call: &'static str, err: E) -> ZoneError
where
    E: std::error::Error,
{
    ZoneError::Api {
        call,
        message: DisplayErrorContext(&err).to_string(),
    }
}

/// Finds the zone named `namespace`: exactly one private zone must match.
pub async fn find_zone_by_name(client: &Client, namespace: &str) -> Result<String, ZoneError> {
    let wanted = format!("{namespace}.");
    let mut ids = Vec::new();
    let mut next: Option<(String, Option<String>)> = Some((wanted.clone(), None));
    let mut previous: Option<(String, Option<String>)> = None;
    // ListHostedZonesByName lists zones in name order starting at `DNSName`, so the
    // matching ones come first; stop at the first zone with another name.
    while let Some((name, id)) = next.take() {
        let page = client
            .list_hosted_zones_by_name()
            .dns_name(name)
            .set_hosted_zone_id(id)
            .send()
            .await
            .map_err(|e| api_error("ListHostedZonesByName", e))?;
        let mut past = false;
        for zone in page.hosted_zones() {
            if zone.name().eq_ignore_ascii_case(&wanted) {
                if zone.config().is_some_and(|c| c.private_zone()) {
                    ids.push(zone.id().trim_start_matches("/hostedzone/").to_string());
                }
            } else {
                past = true;
            }
        }
        if page.is_truncated() && !past {
            let cursor = (
                page.next_dns_name().unwrap_or_default().to_string(),
                page.next_hosted_zone_id().map(String::from),
            );
            if cursor.0.is_empty() || Some(&cursor) == previous.as_ref() {
                return Err(ZoneError::ZoneCursorStuck { name: cursor.0 });
            }
            previous = Some(cursor.clone());
            next = Some(cursor);
        }
    }
    match ids.len() {
        1 => Ok(ids.remove(0)),
        0 => Err(ZoneError::NamespaceNotFound(namespace.to_string())),
        _ => Err(ZoneError::NamespaceAmbiguous {
            namespace: namespace.to_string(),
            ids,
        }),
    }
}

/// A private hosted zone's name (its apex) and the VPCs it is associated with
/// (GetHostedZone), each with its `VPCRegion`. Only those VPCs' EC2 instances are
/// evidence: accounts often run VPCs with the same CIDR side by side, where the
/// same host names and addresses exist twice. GetHostedZone always names the
/// Region; a VPC without one would be read in the function's own Region (`""`).
pub async fn zone_info(client: &Client, zone_id: &str) -> Result<ZoneInfo, ZoneError> {
    let out = client
        .get_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .map_err(|e| api_error("GetHostedZone", e))?;
    let vpcs: BTreeSet<Vpc> = out
        .vpcs()
        .iter()
        .filter_map(|v| {
            Some(Vpc {
                region: v.vpc_region().map(|r| r.as_str()).unwrap_or("").to_string(),
                id: v.vpc_id()?.to_string(),
            })
        })
        .collect();
    if vpcs.is_empty() {
        return Err(ZoneError::NoVpc(zone_id.to_string()));
    }
    let apex = out
        .hosted_zone()
        .map(|z| z.name().trim_end_matches('.').to_ascii_lowercase())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ZoneError::NoApex(zone_id.to_string()))?;
    Ok(ZoneInfo { apex, vpcs })
}

/// What one walk through the zone returned. `failure` is set when the listing
/// stopped early; `records` then holds what was listed before it.
#[derive(Debug, Default)]
pub struct Listing {
    pub records: Vec<RecordSet>,
    pub pages: usize,
    pub failure: Option<ZoneError>,
}

/// Lists every record set of the zone, page by page.
///
/// The SDK has no paginator for ListResourceRecordSets: the cursor is the triple
/// NextRecordName / NextRecordType / NextRecordIdentifier (the last one only for
/// sets with a set identifier). A record set seen twice (pages overlapping) is
/// kept once; a cursor that does not move stops the walk with an error instead of
/// looping.
pub async fn list_zone(client: &Client, zone_id: &str) -> Listing {
    walk(client, zone_id, None).await
}

/// Lists every record set at `name` (of every type), starting the walk there
/// with StartRecordName: a name's sets come together in Route 53's order, so this
/// costs one call per 300 sets at the name, whatever the size of the zone.
pub async fn list_name(client: &Client, zone_id: &str, name: &str) -> Listing {
    walk(client, zone_id, Some(name)).await
}

type Cursor = (String, Option<String>, Option<String>);

async fn walk(client: &Client, zone_id: &str, only: Option<&str>) -> Listing {
    let mut listing = Listing::default();
    let mut seen: HashSet<(String, String, Option<String>)> = HashSet::new();
    let mut cursor: Option<Cursor> = only.map(|n| (n.to_string(), None, None));
    let at_name = |name: &str| only.is_none_or(|n| name.eq_ignore_ascii_case(n));
    loop {
        let mut request = client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .max_items(LIST_PAGE_SIZE);
        if let Some((name, rtype, identifier)) = &cursor {
            request = request
                .start_record_name(name)
                .set_start_record_type(rtype.as_deref().map(RrType::from))
                .set_start_record_identifier(identifier.clone());
        }
        let page = match request.send().await {
            Ok(page) => page,
            Err(e) => {
                listing.failure = Some(api_error("ListResourceRecordSets", e));
                return listing;
            }
        };
        listing.pages += 1;
        for set in page.resource_record_sets().iter().map(from_sdk) {
            if !at_name(&set.name) {
                return listing;
            }
            let key = (
                set.name.clone(),
                set.rtype.clone(),
                set.set_identifier.clone(),
            );
            if seen.insert(key) {
                listing.records.push(set);
            }
        }
        let next_name = page.next_record_name().unwrap_or_default();
        if !page.is_truncated() || !at_name(next_name) {
            return listing;
        }
        let next = (
            next_name.to_string(),
            page.next_record_type().map(|t| t.as_str().to_string()),
            page.next_record_identifier().map(String::from),
        );
        if next.0.is_empty() || cursor.as_ref() == Some(&next) {
            listing.failure = Some(ZoneError::CursorStuck {
                name: next.0,
                rtype: next.1.unwrap_or_default(),
                identifier: next.2.unwrap_or_default(),
            });
            return listing;
        }
        cursor = Some(next);
    }
}

/// SDK record set → domain record set.
pub fn from_sdk(set: &ResourceRecordSet) -> RecordSet {
    let special = if set.alias_target().is_some() {
        Some("alias record")
    } else if set.region().is_some() {
        Some("latency record")
    } else if set.failover().is_some() {
        Some("failover record")
    } else if set.geo_location().is_some() || set.geo_proximity_location().is_some() {
        Some("geolocation record")
    } else if set.multi_value_answer().is_some() {
        Some("multivalue record")
    } else if set.cidr_routing_config().is_some() {
        Some("CIDR routing record")
    } else if set.traffic_policy_instance_id().is_some() {
        Some("traffic policy record")
    } else {
        None
    };
    RecordSet {
        name: set.name().to_string(),
        rtype: set.r#type().as_str().to_string(),
        set_identifier: set.set_identifier().map(String::from),
        weight: set.weight(),
        ttl: set.ttl(),
        values: set
            .resource_records()
            .iter()
            .map(|r| r.value().to_string())
            .collect(),
        health_check_id: set.health_check_id().map(String::from),
        special,
    }
}

/// Domain record set → SDK record set, field for field as it was listed.
pub fn to_sdk(
    set: &RecordSet,
) -> Result<ResourceRecordSet, aws_smithy_types::error::operation::BuildError> {
    let records = set
        .values
        .iter()
        .map(|v| ResourceRecord::builder().value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    ResourceRecordSet::builder()
        .name(&set.name)
        .r#type(RrType::from(set.rtype.as_str()))
        .set_set_identifier(set.set_identifier.clone())
        .set_weight(set.weight)
        .set_ttl(set.ttl)
        .set_health_check_id(set.health_check_id.clone())
        .set_resource_records(Some(records))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record_set as set;

    mod listing {
        use super::*;
        use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};

        fn page(
            sets: &[RecordSet],
            next: Option<(&str, &str, &str)>,
        ) -> ListResourceRecordSetsOutput {
            let mut out = ListResourceRecordSetsOutput::builder()
                .set_resource_record_sets(Some(sets.iter().map(|s| to_sdk(s).unwrap()).collect()))
                .is_truncated(next.is_some())
                .max_items(300);
            if let Some((name, rtype, id)) = next {
                out = out
                    .next_record_name(name)
                    .next_record_type(RrType::from(rtype))
                    .next_record_identifier(id);
            }
            out.build().unwrap()
        }

        fn srv(i: u32) -> RecordSet {
            set(
                "calc.sd.internal.",
                "SRV",
                Some(&format!("h:{i:012}")),
                Some(1),
                &["1 1 80 h"],
            )
        }

        #[tokio::test]
        async fn duplicated_items_across_pages_are_kept_once() {
            let (a, b, c) = (srv(1), srv(2), srv(3));
            let p1 = page(
                &[a.clone(), b.clone()],
                Some(("calc.sd.internal.", "SRV", "h:000000000002")),
            );
            let p2 = page(&[b.clone(), c.clone()], None);
            let first = mock!(Client::list_resource_record_sets)
                .match_requests(|r| r.start_record_name().is_none())
                .then_output(move || p1.clone());
            let second = mock!(Client::list_resource_record_sets)
                .match_requests(|r| r.start_record_identifier() == Some("h:000000000002"))
                .then_output(move || p2.clone());
            let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&first, &second]);
            let listing = list_zone(&client, "Z1").await;
            assert_eq!(listing.failure, None);
            assert_eq!(listing.records, vec![a, b, c]);
            assert_eq!(listing.pages, 2);
        }

        #[tokio::test]
        async fn a_cursor_that_does_not_advance_stops_with_an_error() {
            let p = page(
                &[srv(1)],
                Some(("calc.sd.internal.", "SRV", "h:000000000009")),
            );
            let stuck = mock!(Client::list_resource_record_sets).then_output(move || p.clone());
            let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&stuck]);
            let listing = list_zone(&client, "Z1").await;
            assert!(
                matches!(listing.failure, Some(ZoneError::CursorStuck { .. })),
                "{:?}",
                listing.failure
            );
            assert_eq!(listing.pages, 2, "stops on the first repeat");
            assert_eq!(listing.records, vec![srv(1)]);
        }

        #[tokio::test]
        async fn a_zone_lookup_whose_cursor_does_not_advance_stops_with_an_error() {
            use aws_sdk_route53::operation::list_hosted_zones_by_name::ListHostedZonesByNameOutput;
            use aws_sdk_route53::types::{HostedZone, HostedZoneConfig};
            let page = || {
                let zone = HostedZone::builder()
                    .id("/hostedzone/Z1")
                    .name("sd.internal.")
                    .caller_reference("a")
                    .config(HostedZoneConfig::builder().private_zone(true).build())
                    .build()
                    .unwrap();
                ListHostedZonesByNameOutput::builder()
                    .hosted_zones(zone)
                    .is_truncated(true)
                    .max_items(1)
                    .next_dns_name("sd.internal.")
                    .next_hosted_zone_id("Z1")
                    .build()
                    .unwrap()
            };
            let stuck = mock!(Client::list_hosted_zones_by_name).then_output(page);
            let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&stuck]);
            let err = find_zone_by_name(&client, "sd.internal").await.unwrap_err();
            assert!(matches!(err, ZoneError::ZoneCursorStuck { .. }), "{err}");
            assert_eq!(stuck.num_calls(), 2, "stops on the first repeat");
        }

        #[tokio::test]
        async fn an_empty_zone_lists_nothing() {
            let empty = mock!(Client::list_resource_record_sets).then_output(|| page(&[], None));
            let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&empty]);
            let listing = list_zone(&client, "Z1").await;
            assert_eq!(listing.records.len(), 0);
            assert_eq!(listing.failure, None);
        }
    }

    #[test]
    fn sdk_round_trip_keeps_every_field() {
        let mut s = set(
            "calc.sd.internal.",
            "SRV",
            Some("ip-10-0-1-5.ec2.internal:3f2a9c0d1e4b"),
            Some(7),
            &["1 1 80 ip-10-0-1-5.ec2.internal"],
        );
        s.health_check_id = Some("hc-1".into());
        let back = from_sdk(&to_sdk(&s).unwrap());
        assert_eq!(back, s);
        assert_eq!(s.value_chars(), "1 1 80 ip-10-0-1-5.ec2.internal".len());
    }
}
