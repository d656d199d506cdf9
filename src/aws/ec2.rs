//! The EC2 edge: DescribeInstances, paginated, into [`Ec2Instance`]s, in every
//! Region of a zone's VPCs; and which of those VPCs this account can see.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use super::{failure, paginate};
use crate::model::{Ec2Instance, Ec2Read, InstanceState, ReadFailure};
use crate::names::HostName;

/// DescribeInstances returns at most 1,000 instances per page.
pub const EC2_PAGE: i32 = 1000;

/// Which instances to describe.
#[derive(Debug, Clone)]
pub enum InstanceQuery {
    All,
    Id(String),
    /// Instances holding one of these private addresses now.
    Addresses(Vec<Ipv4Addr>),
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
            InstanceQuery::Addresses(ips) => request.filters(
                Filter::builder()
                    .name("private-ip-address")
                    .set_values(Some(ips.iter().map(ToString::to_string).collect()))
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

/// One Region of a zone's (or namespace's) VPCs: every instance there, and which
/// of `vpcs` (the zone's VPCs in that Region) this account cannot see.
///
/// A private zone can be associated with another account's VPC (the zone's owner
/// authorizes it, the VPC's owner associates it: CreateVPCAssociationAuthorization,
/// AssociateVPCWithHostedZone). DescribeVpcs does not show such a VPC, nor
/// DescribeInstances its instances: an absence then proves nothing.
pub async fn read_region(ec2: &aws_sdk_ec2::Client, region: &str, vpcs: &[String]) -> Ec2Read {
    let (visible, instances) = tokio::join!(
        visible_vpcs(ec2, region, vpcs),
        describe_instances(ec2, InstanceQuery::All)
    );
    let mut read = Ec2Read::default();
    match instances {
        Ok(found) => read.instances = found,
        Err(mut f) => {
            f.call = regional(&f.call, region);
            read.failures.push(f)
        }
    }
    match visible {
        Ok(visible) => read.failures.extend(
            vpcs.iter()
                .filter(|id| !visible.contains(*id))
                .map(|id| unreadable_vpc(region, id)),
        ),
        Err(f) => read.failures.push(f),
    }
    read
}

fn unreadable_vpc(region: &str, vpc: &str) -> ReadFailure {
    ReadFailure {
        call: regional(&format!("ec2:DescribeVpcs vpc={vpc}"), region),
        message: "the zone is associated with this VPC, but this account cannot see it \
                  (another account's VPC, associated through an authorization): its \
                  instances cannot be read, so no absence is evidence"
            .to_string(),
    }
}

/// The ids among `vpcs` that DescribeVpcs shows this account. A filter, not
/// `VpcIds`: an id the account cannot see is then left out instead of failing the
/// call (`InvalidVpcID.NotFound`).
async fn visible_vpcs(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    vpcs: &[String],
) -> Result<BTreeSet<String>, ReadFailure> {
    use aws_sdk_ec2::types::Filter;
    if vpcs.is_empty() {
        return Ok(BTreeSet::new());
    }
    let call = regional("ec2:DescribeVpcs", region);
    let filter = Filter::builder()
        .name("vpc-id")
        .set_values(Some(vpcs.to_vec()))
        .build();
    let found = paginate(&call, |token| async {
        let page = ec2
            .describe_vpcs()
            .filters(filter.clone())
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| failure(&call, e))?;
        let ids = page
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id())
            .map(String::from);
        Ok((ids.collect::<Vec<_>>(), page.next_token().map(String::from)))
    })
    .await?;
    Ok(found.into_iter().collect())
}

/// A call's name with the Region it went to, when that is not the function's own.
pub(super) fn regional(call: &str, region: &str) -> String {
    match region {
        "" => call.to_string(),
        r => format!("{call} region={r}"),
    }
}
