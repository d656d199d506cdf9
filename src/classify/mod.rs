//! Which record sets (and, in [`instance`], which Cloud Map instances) the
//! reaper owns: only the shapes the agents really write
//! (docs/decisions.md, "Records it owns"). Everything else is foreign: counted, never changed.

mod instance;

use std::net::Ipv4Addr;

use crate::model::RecordSet;
use crate::names::{ContainerId, Ec2Host, HostName};

pub use instance::{OwnedInstance, Registrar};

/// What an owned record points at.
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

/// Classifies one record set of the zone whose apex is `apex`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record_set as set;

    const APEX: &str = "sd.internal";
    const CID: &str = "3f2a9c0d1e4b5a6978877665544332211001122334455667788990aabbccddee";

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
}
