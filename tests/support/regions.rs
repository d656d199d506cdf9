//! Estates that span Regions and accounts: a zone associated with a VPC of a DR
//! Region whose agents write into it, or with another account's VPC
//! (docs/coverage.md).

use std::net::Ipv4Addr;

use super::estate::{create_vpc, run_instance};
use super::{Estate, Host};

/// The other account of [`Estate::foreign_vpc`].
pub const OTHER_ACCOUNT: &str = "210987654321";

impl Estate<'_> {
    /// A running instance at 127.<net>.`subnet`.`last` in `region`, in a VPC of
    /// that Region (CIDR 127.<net>.0.0/16, created on first use) associated with
    /// the zone: a DR Region's host, in no cluster this Region's ECS knows.
    pub async fn region_host(&mut self, region: &str, subnet: u8, last: u8) -> usize {
        let ec2 = aws_sdk_ec2::Client::new(&self.aws.region_sdk(region).await);
        let vpc = match self.region_vpcs.get(region) {
            Some(vpc) => vpc.clone(),
            None => {
                let vpc = create_vpc(&ec2, self.net).await;
                self.associate(&vpc, region).await;
                self.region_vpcs.insert(region.to_string(), vpc.clone());
                vpc
            }
        };
        let subnet_id = self.subnet(&ec2, &vpc, subnet).await;
        let ip = Ipv4Addr::new(127, self.net, subnet, last);
        let (instance_id, dns) = run_instance(&ec2, &subnet_id, ip).await;
        self.hosts.push(Host {
            instance_id,
            ip,
            dns,
            cluster: None,
            container_instance_arn: None,
        });
        self.hosts.len() - 1
    }

    /// A VPC of [`OTHER_ACCOUNT`] in us-east-1, associated with the zone the AWS
    /// way (authorization, then association by the VPC's account); its id. This
    /// account cannot see it, nor its instances.
    pub async fn foreign_vpc(&self) -> String {
        let owner = self.aws.account_sdk(OTHER_ACCOUNT, "us-east-1").await;
        let vpc = create_vpc(&aws_sdk_ec2::Client::new(&owner), self.net).await;
        self.aws
            .associate_foreign_vpc(&self.zone_id, &owner, &vpc, "us-east-1")
            .await;
        vpc
    }

    async fn associate(&self, vpc: &str, region: &str) {
        let association = aws_sdk_route53::types::Vpc::builder()
            .vpc_id(vpc)
            .vpc_region(aws_sdk_route53::types::VpcRegion::from(region))
            .build();
        self.aws
            .route53()
            .associate_vpc_with_hosted_zone()
            .hosted_zone_id(&self.zone_id)
            .vpc(association)
            .send()
            .await
            .expect("AssociateVPCWithHostedZone");
    }
}
