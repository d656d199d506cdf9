terraform {
  required_version = ">= 1.2"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # logging_config (JSON logs to a chosen log group) came with 5.32.
      version = ">= 5.32"
    }
  }
}
