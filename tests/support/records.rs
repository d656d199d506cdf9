//! The estate's records, in the shapes the agents write (and any other), queued
//! until [`Estate::commit`] writes them.

use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};

use super::{Estate, Outcome, StartedTask};

/// A record in the shape the agents write: weighted (weight 1), TTL 0.
pub fn agent_record(name: &str, rtype: RrType, id: Option<&str>, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .set_set_identifier(id.map(String::from))
        .weight(1)
        .ttl(0)
        .resource_records(
            ResourceRecord::builder()
                .value(value)
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set")
}

pub fn record(
    name: &str,
    rtype: RrType,
    id: Option<&str>,
    weight: Option<i64>,
    values: &[&str],
) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(rtype)
        .set_set_identifier(id.map(String::from))
        .set_weight(weight)
        .ttl(60)
        .set_resource_records(Some(
            values
                .iter()
                .map(|v| ResourceRecord::builder().value(*v).build().expect("record"))
                .collect(),
        ))
        .build()
        .expect("record set")
}

impl Estate<'_> {
    /// The EC2-style name of an address in this estate's net that no instance has
    /// (127.<net>.9.`last`).
    pub fn unknown_host(&self, last: u8) -> String {
        format!("ip-127-{}-9-{last}.ec2.internal", self.net)
    }

    /// The resource name of host `h` (`i-….ec2.internal`), EC2's other naming scheme.
    pub fn resource_name(&self, h: usize) -> String {
        format!("{}.ec2.internal", self.hosts[h].instance_id)
    }

    /// Writes the weighted SRV record of `task` under `service` (reference agent shape).
    pub fn srv(&mut self, service: &str, h: usize, task: &StartedTask, expect: Option<Outcome>) {
        let dns = self.hosts[h].dns.clone();
        self.srv_raw(
            service,
            &dns,
            task.host_port,
            Some(&task.runtime_id),
            expect,
        );
    }

    pub fn srv_raw(
        &mut self,
        service: &str,
        dns: &str,
        port: u16,
        container: Option<&str>,
        expect: Option<Outcome>,
    ) {
        let id = match container {
            Some(c) => format!("{dns}:{c}"),
            None => dns.to_string(),
        };
        let set = agent_record(
            &format!("{service}.{}.", self.apex),
            RrType::Srv,
            Some(&id),
            &format!("1 1 {port} {dns}"),
        );
        self.pending.push((set, expect));
    }

    /// Writes the weighted CNAME record of `task` (CNAME fork shape) under
    /// `<service>-www`, the name its container declares for port 81.
    pub fn cname(&mut self, service: &str, h: usize, task: &StartedTask, expect: Option<Outcome>) {
        self.fork_cname(&format!("{service}-www"), h, task, expect);
    }

    /// Writes the weighted CNAME record of a [`Estate::fork_task`] (CNAME fork
    /// shape): `<service>.<ns>.` → the host, set identifier the short container id.
    pub fn fork_cname(
        &mut self,
        service: &str,
        h: usize,
        task: &StartedTask,
        expect: Option<Outcome>,
    ) {
        let dns = self.hosts[h].dns.clone();
        let set = agent_record(
            &format!("{service}.{}.", self.apex),
            RrType::Cname,
            Some(&task.runtime_id[..12]),
            &dns,
        );
        self.pending.push((set, expect));
    }

    /// Writes the host's own A record as the reference agent 1.4+ does: weighted,
    /// named after the first label of the host name, set identifier the host name.
    pub fn host_a(&mut self, h: usize, expect: Option<Outcome>) {
        let dns = self.hosts[h].dns.clone();
        self.host_a_named(h, &dns, expect);
    }

    /// The weighted host A record of host `h` under the host name `dns` (its IP
    /// name, or its resource name).
    pub fn host_a_named(&mut self, h: usize, dns: &str, expect: Option<Outcome>) {
        let label = dns.split('.').next().unwrap_or_default();
        let set = agent_record(
            &format!("{label}.{}.", self.apex),
            RrType::A,
            Some(dns),
            &self.hosts[h].ip.to_string(),
        );
        self.pending.push((set, expect));
    }

    /// The simple host A record of agents before 1.4 (and of hand-made ones).
    pub fn simple_host_a(&mut self, h: usize, expect: Option<Outcome>) {
        let ip = self.hosts[h].ip;
        let [a, b, c, d] = ip.octets();
        let set = record(
            &format!("ip-{a}-{b}-{c}-{d}.{}.", self.apex),
            RrType::A,
            None,
            None,
            &[&ip.to_string()],
        );
        self.pending.push((set, expect));
    }

    /// Writes any record set (foreign ones, odd shapes).
    pub fn raw(&mut self, set: ResourceRecordSet, expect: Option<Outcome>) {
        self.pending.push((set, expect));
    }
}
