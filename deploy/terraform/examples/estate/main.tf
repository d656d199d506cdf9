# The reaper for an estate like the one make demo builds: the agents' records in a
# private zone found by name, and the clusters they run in. Build the package first
# (make package, from the repository's root), then:
#
#   terraform init && terraform apply -var 'subnet_ids=["subnet-0aaa","subnet-0bbb"]' \
#     -var 'security_group_ids=["sg-0ccc"]'

terraform {
  required_version = ">= 1.2"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.32"
    }
  }
}

variable "subnet_ids" {
  description = "Private subnets of the container instances' VPC."
  type        = list(string)
}

variable "security_group_ids" {
  description = "The function's security groups (egress to the service ports)."
  type        = list(string)
}

module "ecs_dns_reaper" {
  source = "../.."

  dns_namespace      = "servicediscovery.internal"
  ecs_clusters       = ["web", "batch", "edge"]
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  # Decide and report first; set false once the reports look right.
  dry_run = true
}

output "function_name" {
  value = module.ecs_dns_reaper.function_name
}

output "dead_letter_queue_url" {
  value = module.ecs_dns_reaper.dead_letter_queue_url
}
