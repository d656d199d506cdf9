//! The names an agent's records are made of: EC2 private DNS names in both of
//! EC2's naming schemes, and Docker container ids (docs/decisions.md, "Records it owns").

use std::fmt;
use std::net::Ipv4Addr;

/// A DNS host name, compared case-insensitively without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

/// What an EC2 private DNS name names. EC2 has two hostname types:
///
/// - IP name, `ip-10-0-1-5.ec2.internal` (or `….<region>.compute.internal`): the
///   first label spells the instance's private IPv4 address. In a VPC the Amazon
///   resolver answers every such name with the address it spells, instance or not,
///   so resolution proves nothing; the address is the evidence.
/// - Resource name, `i-0123456789abcdef0.ec2.internal`: the first label is the
///   instance id.
///
/// Only the first label counts: the ecssd agent's `-hostname` option may point
/// records at the zone's own host A name (`ip-10-0-1-5.<ns>`), which names the same
/// host. (EC2 user guide, "Amazon EC2 instance hostname types".)
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ec2Host {
    Address(Ipv4Addr),
    Instance(String),
}

impl HostName {
    /// Accepts a DNS host name (not an IP literal); `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let name = raw.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return None;
        }
        if name.parse::<Ipv4Addr>().is_ok() || name.split('.').all(|l| l.parse::<u8>().is_ok()) {
            return None;
        }
        Some(HostName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first label (`ip-10-0-1-5`, `i-0123456789abcdef0`).
    pub fn first_label(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }

    /// What this name names as an EC2 private DNS name; `None` when it is not one
    /// (a load balancer, an external name): such a target is never the agent's.
    pub fn ec2_host(&self) -> Option<Ec2Host> {
        Ec2Host::from_label(self.first_label())
    }

    /// The address an IP name spells.
    pub fn embedded_ip(&self) -> Option<Ipv4Addr> {
        match self.ec2_host()? {
            Ec2Host::Address(ip) => Some(ip),
            Ec2Host::Instance(_) => None,
        }
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Ec2Host {
    /// `ip-a-b-c-d` → the address; `i-` + 8 or 17 lower-case hex digits → the
    /// instance id (EC2's two id lengths).
    pub fn from_label(label: &str) -> Option<Self> {
        if let Some(ip) = parse_ip_label(label) {
            return Some(Ec2Host::Address(ip));
        }
        is_instance_id(label).then(|| Ec2Host::Instance(label.to_string()))
    }
}

/// `i-0123abcd` or `i-0123456789abcdef0`.
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// `ip-a-b-c-d` → `a.b.c.d`.
fn parse_ip_label(label: &str) -> Option<Ipv4Addr> {
    let rest = label.strip_prefix("ip-")?;
    let octets: Vec<&str> = rest.split('-').collect();
    if octets.len() != 4 || octets.iter().any(|o| o.is_empty() || o.len() > 3) {
        return None;
    }
    let mut bytes = [0u8; 4];
    for (b, o) in bytes.iter_mut().zip(&octets) {
        if !o.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *b = o.parse().ok()?;
    }
    Some(Ipv4Addr::from(bytes))
}

/// A Docker container id as the agent writes it: exactly 64 (full) or exactly 12
/// (short) lower-case hex characters. Anything else is not the agent's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(String);

impl ContainerId {
    pub fn parse(raw: &str) -> Option<Self> {
        let hex = raw
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        (matches!(raw.len(), 12 | 64) && hex).then(|| ContainerId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// ECS reports the id as a container's `runtimeId` (the full 64 characters); a
    /// short id matches the runtime id that starts with it.
    pub fn matches(&self, runtime_id: &str) -> bool {
        let other = runtime_id.to_ascii_lowercase();
        other.len() >= 12 && (other.starts_with(&self.0) || self.0.starts_with(&other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "3f2a9c0d1e4b5a6978877665544332211001122334455667788990aabbccddee";

    fn host(s: &str) -> HostName {
        HostName::parse(s).unwrap()
    }

    #[test]
    fn container_ids_are_exactly_12_or_64_lower_case_hex() {
        assert!(ContainerId::parse(CID).is_some() && ContainerId::parse(&CID[..12]).is_some());
        for bad in [
            &CID[..11],
            &CID[..13],
            &CID[..40], // a commit id
            &CID[..63],
            "zzzzzzzzzzzz",
            "3F2A9C0D1E4B",
        ] {
            assert!(ContainerId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn host_names_compare_case_insensitively_and_name_their_host() {
        assert_eq!(
            host("IP-10-0-1-5.EC2.Internal."),
            host("ip-10-0-1-5.ec2.internal")
        );
        let ip = Ec2Host::Address(Ipv4Addr::new(10, 0, 1, 5));
        for name in [
            "ip-10-0-1-5.ec2.internal",
            "ip-10-0-1-5.ap-northeast-1.compute.internal",
            "ip-10-0-1-5.servicediscovery.internal",
        ] {
            assert_eq!(host(name).ec2_host(), Some(ip.clone()), "{name}");
        }
        assert_eq!(
            host("i-0123456789abcdef0.eu-west-1.compute.internal").ec2_host(),
            Some(Ec2Host::Instance("i-0123456789abcdef0".into()))
        );
        assert_eq!(
            host("i-0abc1234.ec2.internal").ec2_host(),
            Some(Ec2Host::Instance("i-0abc1234".into()))
        );
        for foreign in [
            "internal-web-123456.us-east-1.elb.amazonaws.com",
            "api.example.com",
            "ip-10-0-1-300.ec2.internal",
            "ip-10-0-1.ec2.internal",
            "i-0abc.ec2.internal",
            "i-0123456789abcdefg.ec2.internal",
        ] {
            assert_eq!(host(foreign).ec2_host(), None, "{foreign}");
        }
        assert!(HostName::parse("10.0.1.5").is_none());
        assert!(HostName::parse("bad name").is_none());
        assert!(HostName::parse("").is_none());
    }

    #[test]
    fn container_ids_match_by_prefix_of_at_least_twelve() {
        let full = ContainerId::parse(CID).unwrap();
        let short = ContainerId::parse(&CID[..12]).unwrap();
        assert!(full.matches(CID) && full.matches(&CID[..12]) && full.matches(&CID.to_uppercase()));
        assert!(short.matches(CID) && short.matches(&CID[..12]));
        assert!(!full.matches(&CID[..11]) && !short.matches(&CID[..11]));
        assert!(!short.matches("aaaaaaaaaaaaaaaa"));
        assert!(ContainerId::parse(&CID[..11]).is_none());
        assert!(ContainerId::parse("zzzzzzzzzzzz").is_none());
    }

    #[test]
    fn host_names_compare_case_insensitively_and_embed_their_address() {
        assert_eq!(
            host("IP-10-0-1-5.EC2.Internal."),
            host("ip-10-0-1-5.ec2.internal")
        );
        assert_eq!(
            host("ip-10-0-1-5.ec2.internal").embedded_ip(),
            Some(Ipv4Addr::new(10, 0, 1, 5))
        );
        assert_eq!(
            host("ip-127-0-3-7.ap-northeast-1.compute.internal").embedded_ip(),
            Some(Ipv4Addr::new(127, 0, 3, 7))
        );
        assert_eq!(host("i-0abc.ec2.internal").embedded_ip(), None);
        assert_eq!(host("ip-10-0-1-300.ec2.internal").embedded_ip(), None);
        assert!(HostName::parse("10.0.1.5").is_none());
        assert!(HostName::parse("bad name").is_none());
        assert!(HostName::parse("").is_none());
    }
}
