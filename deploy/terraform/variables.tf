# The SAM template's parameters, one variable each, with the same defaults and the
# same validation (tests/deploy/test_terraform_mirrors_template.py compares them).
# Comma-separated SAM parameters are lists here; true/false ones are booleans.

# --- What to sweep ---

variable "hosted_zone_id" {
  description = "HOSTED_ZONE_ID - the private hosted zone to sweep. Recommended: the role's Route 53 permissions are then limited to this one zone. Takes precedence over dns_namespace. Leave empty to look the zone up by dns_namespace, or to sweep cloud_map_namespaces only."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Z0-9]{0,32}$", var.hosted_zone_id))
    error_message = "hosted_zone_id: a Route 53 hosted zone id such as Z0123456789ABC (upper case, without /hostedzone/), or empty."
  }
}

variable "dns_namespace" {
  description = "DNS_NAMESPACE - the zone name, looked up with ListHostedZonesByName when hosted_zone_id is empty (exactly one private zone must match). Used alone, the role may list and delete records of every hosted zone of the account (the zone id is unknown at deploy time): prefer hosted_zone_id."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})*\\.?)?$", var.dns_namespace))
    error_message = "dns_namespace: a DNS zone name such as servicediscovery.internal, or empty."
  }
}

variable "cloud_map_namespaces" {
  description = "CLOUD_MAP_NAMESPACES - AWS Cloud Map private DNS namespaces (names or ns- ids) whose stale instances every sweep also deregisters. May be the only thing swept (hosted_zone_id and dns_namespace empty). The role gets the Cloud Map permissions only when this is set."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.cloud_map_namespaces : can(regex("^[A-Za-z0-9_-]{1,63}(\\.[A-Za-z0-9_-]{1,63})*$", n))])
    error_message = "cloud_map_namespaces: Cloud Map namespace names or ids (ns-...), without spaces."
  }
}

variable "ecs_clusters" {
  description = "ECS_CLUSTERS - names of the clusters to sweep, in this account and region (names, not ARNs). Empty sweeps every cluster. Also filters the ECS task-stopped rule and scopes ecs:StopTask."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.ecs_clusters : can(regex("^[A-Za-z0-9_-]{1,255}$", c))])
    error_message = "ecs_clusters: cluster names without spaces (names, not ARNs)."
  }
}

# --- Health checks ---

variable "health_check" {
  description = "HEALTH_CHECK - http (GET, 2xx/3xx healthy), tcp (connect) or off."
  type        = string
  default     = "http"

  validation {
    condition     = contains(["http", "tcp", "off"], var.health_check)
    error_message = "health_check: http, tcp or off."
  }
}

variable "health_check_path" {
  description = "HEALTH_CHECK_PATH - the path requested by the http check."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/\\S*$", var.health_check_path))
    error_message = "health_check_path: an absolute path such as /health, without spaces."
  }
}

variable "health_check_timeout_ms" {
  description = "HEALTH_CHECK_TIMEOUT_MS - timeout of one check attempt, in milliseconds."
  type        = number
  default     = 2000

  validation {
    condition     = var.health_check_timeout_ms >= 1 && var.health_check_timeout_ms <= 60000
    error_message = "health_check_timeout_ms: 1 to 60000."
  }
}

variable "health_check_attempts" {
  description = "HEALTH_CHECK_ATTEMPTS - failed attempts in a row before a target is unhealthy."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_attempts >= 1 && var.health_check_attempts <= 10
    error_message = "health_check_attempts: 1 to 10."
  }
}

variable "startup_grace_seconds" {
  description = "STARTUP_GRACE_SECONDS - a task younger than this is never deleted as unhealthy."
  type        = number
  default     = 60

  validation {
    condition     = var.startup_grace_seconds >= 0 && var.startup_grace_seconds <= 86400
    error_message = "startup_grace_seconds: 0 to 86400."
  }
}

# --- Safety ---

variable "max_delete_percent" {
  description = "MAX_DELETE_PERCENT - mass-deletion guard: when a sweep's negative-evidence deletions are more than this share of the owned records, none of them is made. 100 disables the guard."
  type        = number
  default     = 50

  validation {
    condition     = var.max_delete_percent >= 0 && var.max_delete_percent <= 100
    error_message = "max_delete_percent: 0 to 100."
  }
}

variable "keep_last_record" {
  description = "KEEP_LAST_RECORD - never leave a service name without any record."
  type        = bool
  default     = true
}

variable "dry_run" {
  description = "DRY_RUN - decide and report, change nothing. Deploy with true first."
  type        = bool
  default     = false
}

variable "stop_unhealthy_tasks" {
  description = "STOP_UNHEALTHY_TASKS - also stop (ecs:StopTask) a task whose record is deleted as unhealthy. The role gets ecs:StopTask only when this is true."
  type        = bool
  default     = false
}

# --- Deployment ---

variable "subnet_ids" {
  description = "Private subnets for the function, in the VPC of the container instances. They need a route to the Route 53, ECS and EC2 APIs, and Cloud Map's with cloud_map_namespaces (a NAT gateway, or VPC endpoints)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the function. Allow egress to the container instances on the service ports (and HTTPS to the AWS APIs); the instances' groups must allow ingress from these groups on those ports for the health checks."
  type        = list(string)
}

variable "architecture" {
  description = "The architecture the package was built for: arm64 (make package) or x86_64 (make package ARCH=x86_64)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture: arm64 or x86_64."
  }
}

variable "schedule_expression" {
  description = "When the full sweep runs (EventBridge schedule expression)."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression: rate(...) or cron(...)."
  }
}

variable "timeout_seconds" {
  description = "Function timeout; keep it below the schedule's interval."
  type        = number
  default     = 120

  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 900
    error_message = "timeout_seconds: 10 to 900."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation before it goes to the dead-letter queue."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2
    error_message = "maximum_retry_attempts: 0 to 2."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "How long an event may wait (throttled behind a running sweep, or between retries) before it goes to the dead-letter queue."
  type        = number
  default     = 900

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600
    error_message = "maximum_event_age_in_seconds: 60 to 21600."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days: one of CloudWatch Logs' retention periods (1, 3, 5, 7, 14, 30, ... 3653)."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic notified by the alarms (empty - alarms without notification)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+)?$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn: an SNS topic ARN, or empty."
  }
}

# --- Terraform only: what CloudFormation takes from the stack ---

variable "name" {
  description = "Name of the function, and of its role, rules, queue and alarms (a stack's name plays this part in the SAM template)."
  type        = string
  default     = "ecs-dns-reaper"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,52}$", var.name))
    error_message = "name: 1 to 52 letters, digits, - or _ (the longest derived name must fit IAM's 64 characters)."
  }
}

variable "package_file" {
  description = "The Lambda package built by make package. Empty: target/lambda/ecs-dns-reaper/bootstrap.zip of this repository."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}
