//! Records: the hosted zone's record sets, and which of them the reaper owns (SPEC §2).
//!
//! The Route 53 edge lives here: [`find_zone_by_name`], [`zone_vpcs`] and
//! [`list_zone`] turn API answers
//! into [`RecordSet`]s, and [`to_sdk`] turns one back for an exact DELETE. Everything
//! else in the crate sees only the plain types of this module.

use std::collections::{BTreeSet, HashSet};
use std::net::Ipv4Addr;

use aws_sdk_route53::error::DisplayErrorContext;
use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
use aws_sdk_route53::Client;

pub use crate::names::{ContainerId, Ec2Host, HostName};

/// Route 53 returns at most 300 record sets per ListResourceRecordSets page.
pub const LIST_PAGE_SIZE: i32 = 300;

/// The hosted zone being swept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Id without the `/hostedzone/` prefix.
    pub id: String,
    /// Zone apex, lower case, without the trailing dot (`servicediscovery.internal`).
    pub apex: String,
}

/// A record set exactly as Route 53 listed it: enough to send it back in a DELETE,
/// which Route 53 accepts only when every field matches the current record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// As listed: lower case, fully qualified, with Route 53's octal escapes.
    pub name: String,
    pub rtype: String,
    pub set_identifier: Option<String>,
    pub weight: Option<i64>,
    pub ttl: Option<i64>,
    pub values: Vec<String>,
    pub health_check_id: Option<String>,
    /// Alias target, or a routing policy other than simple / weighted (latency,
    /// failover, geolocation, multivalue, CIDR, traffic policy): never owned.
    pub special: Option<&'static str>,
}

impl RecordSet {
    /// Identity of a record set within a zone: Route 53 allows one set per
    /// name, type and set identifier.
    pub fn key(&self) -> (&str, &str, Option<&str>) {
        (&self.name, &self.rtype, self.set_identifier.as_deref())
    }

    /// Characters Route 53 counts against its 32,000-character batch limit.
    pub fn value_chars(&self) -> usize {
        self.values.iter().map(String::len).sum()
    }
}

/// What an owned record points at (SPEC §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Weighted SRV written by the reference agent: `<prio> <weight> <port> <host>`,
    /// set identifier `<host>:<container-id>` (the container id may be absent).
    Srv {
        host: HostName,
        port: u16,
        container: Option<ContainerId>,
    },
    /// Weighted CNAME written by the CNAME fork: value `<host>`, set identifier
    /// `<container-id>`; the port is declared by the backing task.
    Cname {
        host: HostName,
        service: String,
        container: ContainerId,
    },
    /// The host's own A record: `ip-a-b-c-d.<ns>.` → `a.b.c.d`, simple or weighted
    /// with the host name as set identifier; or, for a resource-named host,
    /// `i-….<ns>.` → its address, weighted. `host` is what the name names, which
    /// is what the record is judged by.
    HostA { ip: Ipv4Addr, host: Ec2Host },
}

/// A record set the reaper may delete, with what it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    pub set: RecordSet,
    pub target: Target,
}

impl OwnedRecord {
    /// The record's service name: its name under the zone apex.
    pub fn service_name(&self) -> &str {
        &self.set.name
    }

    /// Whether this record counts for last-record protection: service records do,
    /// a host's own A record names no service.
    pub fn is_service(&self) -> bool {
        !matches!(self.target, Target::HostA { .. })
    }
}

/// Why a record set is not owned. Foreign records are counted, never changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Foreign(pub &'static str);

/// A record set is either owned, with its target, or foreign, with the reason.
pub type Ownership = Result<OwnedRecord, Foreign>;

/// Classifies one record set of the zone whose apex is `apex` (SPEC §2).
pub fn classify(set: &RecordSet, apex: &str) -> Ownership {
    let Some(relative) = relative_name(&set.name, apex) else {
        return Err(Foreign("apex or outside the zone"));
    };
    if let Some(special) = set.special {
        return Err(Foreign(special));
    }
    match set.rtype.as_str() {
        "SRV" | "CNAME" if set.weight.is_none() || set.set_identifier.is_none() => {
            Err(Foreign("not a weighted record"))
        }
        _ if set.values.len() != 1 => Err(Foreign("not exactly one value")),
        "SRV" => classify_srv(set),
        "CNAME" => classify_cname(set, relative),
        "A" => classify_host_a(set, relative),
        _ => Err(Foreign("record type not written by the agent")),
    }
}

fn classify_srv(set: &RecordSet) -> Ownership {
    let fields: Vec<&str> = set.values[0].split_ascii_whitespace().collect();
    let [prio, weight, port, host] = fields.as_slice() else {
        return Err(Foreign("SRV value is not `prio weight port host`"));
    };
    if prio.parse::<u16>().is_err() || weight.parse::<u16>().is_err() {
        return Err(Foreign("SRV priority or weight is not a number"));
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => return Err(Foreign("SRV port is not in 1-65535")),
    };
    let Some(host) = ec2_host_name(host) else {
        return Err(Foreign("SRV target is not an EC2 private DNS name"));
    };
    // The agent writes `<host>:<container-id>`; the host part must be the SRV target.
    let id = set.set_identifier.as_deref().unwrap_or_default();
    let (id_host, container) = match id.split_once(':') {
        Some((h, c)) => (h, c),
        None => (id, ""),
    };
    if HostName::parse(id_host).as_ref() != Some(&host) {
        return Err(Foreign("set identifier does not name the SRV target host"));
    }
    let container = match container {
        "" => None,
        c => match ContainerId::parse(c) {
            Some(c) => Some(c),
            None => return Err(Foreign("set identifier has no valid container id")),
        },
    };
    Ok(OwnedRecord {
        set: set.clone(),
        target: Target::Srv {
            host,
            port,
            container,
        },
    })
}

fn classify_cname(set: &RecordSet, relative: &str) -> Ownership {
    let Some(host) = ec2_host_name(&set.values[0]) else {
        return Err(Foreign("CNAME target is not an EC2 private DNS name"));
    };
    let Some(container) = set.set_identifier.as_deref().and_then(ContainerId::parse) else {
        return Err(Foreign("set identifier is not a container id"));
    };
    Ok(OwnedRecord {
        set: set.clone(),
        target: Target::Cname {
            host,
            service: relative.to_string(),
            container,
        },
    })
}

/// The agent names a host's A record after the first label of the host name and
/// writes its address; releases 1.4 and later write it weighted, with the host
/// name as set identifier (earlier releases and hand-made ones: simple, IP names
/// only).
fn classify_host_a(set: &RecordSet, relative: &str) -> Ownership {
    let named = (!relative.contains('.')).then(|| Ec2Host::from_label(relative));
    let Some(named) = named.flatten() else {
        return Err(Foreign("A record not named after an EC2 host"));
    };
    let Ok(ip) = set.values[0].parse::<Ipv4Addr>() else {
        return Err(Foreign("A record value is not an IPv4 address"));
    };
    if named == Ec2Host::Address(ip) {
        // IP name: the name spells the value.
    } else if matches!(named, Ec2Host::Address(_)) {
        return Err(Foreign("A record whose name does not spell its address"));
    }
    let weighted = match (&set.set_identifier, set.weight) {
        (None, None) => false,
        (Some(id), Some(_)) => {
            let id_host = HostName::parse(id);
            if id_host.as_ref().map(HostName::first_label) != Some(relative) {
                return Err(Foreign("set identifier does not name the record's host"));
            }
            true
        }
        _ => return Err(Foreign("A record with a routing policy")),
    };
    if !weighted && matches!(named, Ec2Host::Instance(_)) {
        return Err(Foreign("simple A record named after an instance id"));
    }
    Ok(OwnedRecord {
        set: set.clone(),
        target: Target::HostA { ip, host: named },
    })
}

/// A record target that is an EC2 private DNS name in either naming scheme.
fn ec2_host_name(raw: &str) -> Option<HostName> {
    HostName::parse(raw).filter(|h| h.ec2_host().is_some())
}

/// The part of `name` below `apex`, or `None` for the apex itself and names outside it.
fn relative_name<'a>(name: &'a str, apex: &str) -> Option<&'a str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let rel = name.strip_suffix(apex)?.strip_suffix('.')?;
    (!rel.is_empty()).then_some(rel)
}

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
    #[error("hosted zone {0} has no SOA record, so its apex is unknown")]
    NoApex(String),
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

/// The VPCs a private hosted zone is associated with (GetHostedZone `VPCs`). Only
/// their EC2 instances are evidence: accounts often run VPCs with the same CIDR
/// side by side, where the same host names and addresses exist twice.
pub async fn zone_vpcs(client: &Client, zone_id: &str) -> Result<BTreeSet<String>, ZoneError> {
    let out = client
        .get_hosted_zone()
        .id(zone_id)
        .send()
        .await
        .map_err(|e| api_error("GetHostedZone", e))?;
    let vpcs: BTreeSet<String> = out
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id())
        .map(String::from)
        .collect();
    if vpcs.is_empty() {
        return Err(ZoneError::NoVpc(zone_id.to_string()));
    }
    Ok(vpcs)
}

/// What one walk through the zone returned. `failure` is set when the listing
/// stopped early; `records` then holds what was listed before it.
#[derive(Debug, Default)]
pub struct Listing {
    pub records: Vec<RecordSet>,
    pub pages: usize,
    pub failure: Option<ZoneError>,
}

impl Listing {
    /// The zone apex, from the SOA record that every hosted zone has at its apex.
    pub fn apex(&self) -> Option<String> {
        self.records
            .iter()
            .find(|r| r.rtype == "SOA")
            .map(|r| r.name.trim_end_matches('.').to_string())
    }
}

/// Lists every record set of the zone, page by page.
///
/// The SDK has no paginator for ListResourceRecordSets: the cursor is the triple
/// NextRecordName / NextRecordType / NextRecordIdentifier (the last one only for
/// sets with a set identifier). A record set seen twice (pages overlapping) is
/// kept once; a cursor that does not move stops the walk with an error instead of
/// looping.
pub async fn list_zone(client: &Client, zone_id: &str) -> Listing {
    let mut listing = Listing::default();
    let mut seen: HashSet<(String, String, Option<String>)> = HashSet::new();
    let mut cursor: Option<(String, String, Option<String>)> = None;
    loop {
        let mut request = client
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .max_items(LIST_PAGE_SIZE);
        if let Some((name, rtype, identifier)) = &cursor {
            request = request
                .start_record_name(name)
                .start_record_type(RrType::from(rtype.as_str()))
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
        for set in page.resource_record_sets() {
            let set = from_sdk(set);
            let key = (
                set.name.clone(),
                set.rtype.clone(),
                set.set_identifier.clone(),
            );
            if seen.insert(key) {
                listing.records.push(set);
            }
        }
        if !page.is_truncated() {
            return listing;
        }
        let next = (
            page.next_record_name().unwrap_or_default().to_string(),
            page.next_record_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            page.next_record_identifier().map(String::from),
        );
        if next.0.is_empty() || cursor.as_ref() == Some(&next) {
            listing.failure = Some(ZoneError::CursorStuck {
                name: next.0,
                rtype: next.1,
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

    const APEX: &str = "sd.internal";
    const CID: &str = "3f2a9c0d1e4b5a6978877665544332211001122334455667788990aabbccddee";

    fn set(
        name: &str,
        rtype: &str,
        id: Option<&str>,
        weight: Option<i64>,
        values: &[&str],
    ) -> RecordSet {
        RecordSet {
            name: name.to_string(),
            rtype: rtype.to_string(),
            set_identifier: id.map(String::from),
            weight,
            ttl: Some(60),
            values: values.iter().map(|v| v.to_string()).collect(),
            health_check_id: None,
            special: None,
        }
    }

    fn host(s: &str) -> HostName {
        HostName::parse(s).unwrap()
    }

    #[test]
    fn owned_shapes_parse_into_targets() {
        let srv_id = format!("ip-10-0-1-5.ec2.internal:{CID}");
        let cases: Vec<(RecordSet, Target)> = vec![
            (
                set(
                    "calc.sd.internal.",
                    "SRV",
                    Some(&srv_id),
                    Some(1),
                    &["1 1 32768 ip-10-0-1-5.ec2.internal"],
                ),
                Target::Srv {
                    host: host("ip-10-0-1-5.ec2.internal"),
                    port: 32768,
                    container: ContainerId::parse(CID),
                },
            ),
            (
                set(
                    "calc.sd.internal.",
                    "SRV",
                    Some("IP-10-0-1-5.EC2.internal.:3f2a9c0d1e4b"),
                    Some(1),
                    &["1 1 80 ip-10-0-1-5.ec2.internal."],
                ),
                Target::Srv {
                    host: host("ip-10-0-1-5.ec2.internal"),
                    port: 80,
                    container: ContainerId::parse("3f2a9c0d1e4b"),
                },
            ),
            (
                set(
                    "calc.sd.internal.",
                    "SRV",
                    Some("ip-10-0-1-5.ec2.internal"),
                    Some(1),
                    &["1 1 80 ip-10-0-1-5.ec2.internal"],
                ),
                Target::Srv {
                    host: host("ip-10-0-1-5.ec2.internal"),
                    port: 80,
                    container: None,
                },
            ),
            (
                set(
                    "web.sd.internal.",
                    "CNAME",
                    Some("3f2a9c0d1e4b"),
                    Some(10),
                    &["ip-10-0-1-5.ap-northeast-1.compute.internal"],
                ),
                Target::Cname {
                    host: host("ip-10-0-1-5.ap-northeast-1.compute.internal"),
                    service: "web".into(),
                    container: ContainerId::parse("3f2a9c0d1e4b").unwrap(),
                },
            ),
            (
                set("ip-10-0-1-5.sd.internal.", "A", None, None, &["10.0.1.5"]),
                Target::HostA {
                    ip: Ipv4Addr::new(10, 0, 1, 5),
                    host: Ec2Host::Address(Ipv4Addr::new(10, 0, 1, 5)),
                },
            ),
            // reference agent 1.4+: weighted, set identifier = the host name
            (
                set(
                    "ip-10-0-1-5.sd.internal.",
                    "A",
                    Some("ip-10-0-1-5.ec2.internal"),
                    Some(1),
                    &["10.0.1.5"],
                ),
                Target::HostA {
                    ip: Ipv4Addr::new(10, 0, 1, 5),
                    host: Ec2Host::Address(Ipv4Addr::new(10, 0, 1, 5)),
                },
            ),
            // a resource-named host: named after its instance id
            (
                set(
                    "i-0123456789abcdef0.sd.internal.",
                    "A",
                    Some("i-0123456789abcdef0.eu-west-1.compute.internal"),
                    Some(1),
                    &["10.0.1.5"],
                ),
                Target::HostA {
                    ip: Ipv4Addr::new(10, 0, 1, 5),
                    host: Ec2Host::Instance("i-0123456789abcdef0".into()),
                },
            ),
            // SRV on a resource name, and on the zone's own host A name (-hostname)
            (
                set(
                    "_calc._tcp.sd.internal.",
                    "SRV",
                    Some("i-0123456789abcdef0.ec2.internal:3f2a9c0d1e4b"),
                    Some(1),
                    &["1 1 32768 i-0123456789abcdef0.ec2.internal"],
                ),
                Target::Srv {
                    host: host("i-0123456789abcdef0.ec2.internal"),
                    port: 32768,
                    container: ContainerId::parse("3f2a9c0d1e4b"),
                },
            ),
            (
                set(
                    "calc.sd.internal.",
                    "SRV",
                    Some("ip-10-0-1-5.sd.internal:3f2a9c0d1e4b"),
                    Some(1),
                    &["1 1 80 ip-10-0-1-5.sd.internal"],
                ),
                Target::Srv {
                    host: host("ip-10-0-1-5.sd.internal"),
                    port: 80,
                    container: ContainerId::parse("3f2a9c0d1e4b"),
                },
            ),
        ];
        for (set, target) in cases {
            match classify(&set, APEX) {
                Ok(owned) => assert_eq!(owned.target, target, "{set:?}"),
                Err(why) => panic!("{set:?} foreign: {why:?}"),
            }
        }
    }

    #[test]
    fn everything_else_is_foreign() {
        let mut alias = set("api.sd.internal.", "A", None, None, &[]);
        alias.special = Some("alias record");
        let mut latency = set(
            "calc.sd.internal.",
            "SRV",
            Some("ip-10-0-1-5.ec2.internal:3f2a9c0d1e4b"),
            None,
            &["1 1 80 ip-10-0-1-5.ec2.internal"],
        );
        latency.special = Some("latency record");
        let h = "ip-10-0-1-5.ec2.internal";
        let cases: Vec<RecordSet> = vec![
            set(
                "sd.internal.",
                "SOA",
                None,
                None,
                &["ns-1.awsdns-1.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"],
            ),
            set("sd.internal.", "NS", None, None, &["ns-1.awsdns-1.org."]),
            set("calc.sd.internal.", "TXT", None, None, &["\"hello\""]),
            set(
                "calc.sd.internal.",
                "MX",
                None,
                None,
                &["10 mail.example.com."],
            ),
            alias,
            latency,
            // unweighted SRV / CNAME
            set(
                "calc.sd.internal.",
                "SRV",
                None,
                None,
                &["1 1 80 ip-10-0-1-5.ec2.internal"],
            ),
            set("web.sd.internal.", "CNAME", None, None, &[h]),
            // malformed SRV values
            set("calc.sd.internal.", "SRV", Some(h), Some(1), &["1 1 80"]),
            set(
                "calc.sd.internal.",
                "SRV",
                Some(h),
                Some(1),
                &["1 x 80 ip-10-0-1-5.ec2.internal"],
            ),
            set(
                "calc.sd.internal.",
                "SRV",
                Some(h),
                Some(1),
                &["1 1 0 ip-10-0-1-5.ec2.internal"],
            ),
            set(
                "calc.sd.internal.",
                "SRV",
                Some(h),
                Some(1),
                &["1 1 65536 ip-10-0-1-5.ec2.internal"],
            ),
            set(
                "calc.sd.internal.",
                "SRV",
                Some(h),
                Some(1),
                &["1 1 80 10.0.1.5"],
            ),
            // several values
            set(
                "calc.sd.internal.",
                "SRV",
                Some(h),
                Some(1),
                &[
                    "1 1 80 ip-10-0-1-5.ec2.internal",
                    "1 1 81 ip-10-0-1-5.ec2.internal",
                ],
            ),
            // set identifier naming another host, or with a non-hex container id
            set(
                "calc.sd.internal.",
                "SRV",
                Some("ip-10-0-9-9.ec2.internal:3f2a9c0d1e4b"),
                Some(1),
                &["1 1 80 ip-10-0-1-5.ec2.internal"],
            ),
            set(
                "calc.sd.internal.",
                "SRV",
                Some("ip-10-0-1-5.ec2.internal:my-task"),
                Some(1),
                &["1 1 80 ip-10-0-1-5.ec2.internal"],
            ),
            set(
                "calc.sd.internal.",
                "SRV",
                Some("ip-10-0-1-5.ec2.internal:3f2a"),
                Some(1),
                &["1 1 80 ip-10-0-1-5.ec2.internal"],
            ),
            // CNAME to an IP literal, CNAME without container id
            set(
                "web.sd.internal.",
                "CNAME",
                Some("3f2a9c0d1e4b"),
                Some(1),
                &["10.0.1.5"],
            ),
            set("web.sd.internal.", "CNAME", Some("blue"), Some(1), &[h]),
            // a load balancer behind a weighted CNAME whose set identifier is hex
            // (a 40-character commit id), and targets that are no EC2 host name
            set(
                "web.sd.internal.",
                "CNAME",
                Some("3f2a9c0d1e4b5a6978877665544332211001aabb"),
                Some(1),
                &["internal-web-1234567890.us-east-1.elb.amazonaws.com"],
            ),
            set(
                "web.sd.internal.",
                "CNAME",
                Some("3f2a9c0d1e4b"),
                Some(1),
                &["internal-web-1234567890.us-east-1.elb.amazonaws.com"],
            ),
            set(
                "calc.sd.internal.",
                "SRV",
                Some("api.example.com:3f2a9c0d1e4b"),
                Some(1),
                &["1 1 80 api.example.com"],
            ),
            // container ids of other lengths or in upper case
            set("web.sd.internal.", "CNAME", Some(&CID[..40]), Some(1), &[h]),
            set(
                "web.sd.internal.",
                "CNAME",
                Some("3F2A9C0D1E4B"),
                Some(1),
                &[h],
            ),
            set(
                "calc.sd.internal.",
                "SRV",
                Some(&format!("{h}:{}", &CID[..20])),
                Some(1),
                &["1 1 80 ip-10-0-1-5.ec2.internal"],
            ),
            // host A shapes the agent never writes
            set(
                "ip-10-0-1-5.sd.internal.",
                "A",
                Some("ip-10-0-1-6.ec2.internal"),
                Some(1),
                &["10.0.1.5"],
            ),
            set(
                "ip-10-0-1-5.sd.internal.",
                "A",
                Some("ip-10-0-1-5.ec2.internal"),
                None,
                &["10.0.1.5"],
            ),
            set(
                "i-0123456789abcdef0.sd.internal.",
                "A",
                None,
                None,
                &["10.0.1.5"],
            ),
            set(
                "i-0123456789abcdef0.sd.internal.",
                "A",
                Some("i-0aaaaaaaaaaaaaaaa.ec2.internal"),
                Some(1),
                &["10.0.1.5"],
            ),
            // A records that are not a host's own
            set("api.sd.internal.", "A", None, None, &["10.0.1.5"]),
            set("ip-10-0-1-5.sd.internal.", "A", None, None, &["10.0.1.6"]),
            set(
                "ip-10-0-1-5.sd.internal.",
                "A",
                None,
                None,
                &["10.0.1.5", "10.0.1.6"],
            ),
            set("ip-10-0-1-5.x.sd.internal.", "A", None, None, &["10.0.1.5"]),
            set(
                "ip-10-0-1-5.sd.internal.",
                "A",
                Some("a"),
                Some(1),
                &["10.0.1.5"],
            ),
            // outside the zone
            set(
                "calc.other.internal.",
                "SRV",
                Some(h),
                Some(1),
                &["1 1 80 ip-10-0-1-5.ec2.internal"],
            ),
            set(
                "calc.xsd.internal.",
                "SRV",
                Some(h),
                Some(1),
                &["1 1 80 ip-10-0-1-5.ec2.internal"],
            ),
        ];
        for set in cases {
            assert!(classify(&set, APEX).is_err(), "{set:?} should be foreign");
        }
    }

    /// moto cannot be made to repeat a page or return a cursor that does not move:
    /// these paths run against aws-smithy-mocks.
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
        async fn an_empty_zone_lists_nothing_and_has_no_apex() {
            let empty = mock!(Client::list_resource_record_sets).then_output(|| page(&[], None));
            let client = mock_client!(aws_sdk_route53, RuleMode::MatchAny, [&empty]);
            let listing = list_zone(&client, "Z1").await;
            assert_eq!((listing.records.len(), listing.apex()), (0, None));
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
