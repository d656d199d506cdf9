//! The EC2 edge: DescribeInstances, paginated, into [`Ec2Instance`]s.

use std::net::Ipv4Addr;
use std::time::SystemTime;

use super::{failure, paginate};
use crate::model::{Ec2Instance, InstanceState, ReadFailure};
use crate::names::HostName;

/// DescribeInstances returns at most 1,000 instances per page.
pub const EC2_PAGE: i32 = 1000;

/// Which instances to describe.
#[derive(Debug, Clone)]
pub enum InstanceQuery {
    All,
    Id(String),
    /// Instances holding this private address (or EC2 IP-based name) now.
    Address(Ipv4Addr),
}

pub async fn describe_instances(
    ec2: &aws_sdk_ec2::Client,
    query: InstanceQuery,
) -> Result<Vec<Ec2Instance>, ReadFailure> {
    use aws_sdk_ec2::types::Filter;
    paginate("ec2:DescribeInstances", |token| async {
        let request = ec2.describe_instances().set_next_token(token);
        let request = match &query {
            InstanceQuery::All => request.max_results(EC2_PAGE),
            InstanceQuery::Id(id) => request.instance_ids(id),
            InstanceQuery::Address(ip) => request.filters(
                Filter::builder()
                    .name("private-ip-address")
                    .values(ip.to_string())
                    .build(),
            ),
        };
        let page = request
            .send()
            .await
            .map_err(|e| failure("ec2:DescribeInstances", e))?;
        let instances = page
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                Some(Ec2Instance {
                    id: i.instance_id()?.to_string(),
                    state: InstanceState::parse(
                        i.state()
                            .and_then(|s| s.name())
                            .map(|n| n.as_str())
                            .unwrap_or(""),
                    ),
                    private_ip: i.private_ip_address().and_then(|ip| ip.parse().ok()),
                    private_dns: i.private_dns_name().and_then(HostName::parse),
                    vpc_id: i.vpc_id().filter(|v| !v.is_empty()).map(String::from),
                    launched_at: i.launch_time().and_then(|t| SystemTime::try_from(*t).ok()),
                })
            })
            .collect();
        Ok((instances, page.next_token().map(String::from)))
    })
    .await
}
