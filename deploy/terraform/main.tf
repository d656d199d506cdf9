# ecs-dns-reaper as a Terraform module: the same deployment as template.yaml, and
# the same role, statement by statement (tests/deploy/ compares the two).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # The template's Conditions, one local each, under the same names.
  has_zone_id = var.hosted_zone_id != ""
  # HOSTED_ZONE_ID takes precedence: the code looks the zone up by name only without it.
  finds_zone_by_name = var.hosted_zone_id == "" && var.dns_namespace != ""
  # A Route 53 zone is swept (by id or by name); without one, only Cloud Map is.
  sweeps_zone      = local.has_zone_id || local.finds_zone_by_name
  sweeps_cloud_map = length(var.cloud_map_namespaces) > 0
  # ECS tasks are listed for the zone's inventory, and for a Cloud Map namespace
  # to confirm a task DescribeTasks calls MISSING.
  lists_ecs_tasks = local.sweeps_zone || local.sweeps_cloud_map
  has_clusters    = length(var.ecs_clusters) > 0
  # Only the zone's records are deleted as unhealthy with a task behind them (ECS-
  # registered Cloud Map instances are never health-checked).
  stops_tasks     = var.stop_unhealthy_tasks && local.sweeps_zone
  has_alarm_topic = var.alarm_topic_arn != ""

  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # One zone with hosted_zone_id; any zone when it is looked up by name.
  zone_arn = local.has_zone_id ? "arn:${local.partition}:route53:::hostedzone/${var.hosted_zone_id}" : "arn:${local.partition}:route53:::hostedzone/*"

  package_file  = var.package_file != "" ? var.package_file : "${path.module}/../../target/lambda/ecs-dns-reaper/bootstrap.zip"
  alarm_actions = local.has_alarm_topic ? [var.alarm_topic_arn] : []

  # The EventBridge patterns. The task-stopped rule is filtered to the swept
  # clusters when ecs_clusters is given.
  ec2_instance_gone_pattern = {
    source        = ["aws.ec2"]
    "detail-type" = ["EC2 Instance State-change Notification"]
    detail = {
      state = ["shutting-down", "terminated", "stopping", "stopped"]
    }
  }
  ecs_task_stopped_pattern = {
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      lastStatus = ["STOPPED"]
    }
  }
  ecs_task_stopped_in_clusters_pattern = {
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      lastStatus = ["STOPPED"]
      clusterArn = [for c in var.ecs_clusters : { suffix = ":cluster/${c}" }]
    }
  }
}

# --- The role: its only permissions. A statement under `dynamic` exists only when
# the configuration makes the code call it. ---

data "aws_iam_policy_document" "assume" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# What the code calls, and what Cloud Map checks on the caller for one of those calls.
data "aws_iam_policy_document" "reaper_calls" {
  #checkov:skip=CKV_AWS_356:The reads on "*" are ECS and EC2 reads of every swept cluster and instance (all of them when ecs_clusters is empty, and a host's registrations in clusters it leaves out); ListClusters, DescribeTaskDefinition, DescribeInstances, DescribeVpcs, DescribeNetworkInterfaces and Cloud Map's List calls have no resource-level permissions. Every write is scoped: DELETE-only record changes of the zone, StopTask by cluster, Cloud Map calls on this account and Region's services.
  dynamic "statement" {
    for_each = local.sweeps_zone ? [1] : []
    content {
      sid    = "ReadZone"
      effect = "Allow"
      # GetHostedZone: the VPCs the zone is associated with (EC2 evidence counts
      # only from those).
      actions   = ["route53:GetHostedZone", "route53:ListResourceRecordSets"]
      resources = [local.zone_arn]
    }
  }
  dynamic "statement" {
    for_each = local.sweeps_zone ? [1] : []
    content {
      sid       = "DeleteZoneRecords"
      effect    = "Allow"
      actions   = ["route53:ChangeResourceRecordSets"]
      resources = [local.zone_arn]
      # Only DELETE changes, only of the record types the reaper owns.
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsActions"
        values   = ["DELETE"]
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsRecordTypes"
        values   = ["SRV", "CNAME", "A"]
      }
    }
  }
  dynamic "statement" {
    for_each = local.finds_zone_by_name ? [1] : []
    content {
      sid       = "FindZoneByName"
      effect    = "Allow"
      actions   = ["route53:ListHostedZonesByName"]
      resources = ["*"]
    }
  }
  # The zone's sweep lists every cluster: all of them are swept when ecs_clusters
  # is empty; otherwise a host registered in a cluster it leaves out keeps its
  # records out of scope (a Cloud Map sweep reads only the clusters its instances name).
  dynamic "statement" {
    for_each = local.sweeps_zone ? [1] : []
    content {
      sid       = "ListEveryCluster"
      effect    = "Allow"
      actions   = ["ecs:ListClusters"]
      resources = ["*"]
    }
  }
  # The container instances behind the zone's records and their tasks.
  dynamic "statement" {
    for_each = local.sweeps_zone ? [1] : []
    content {
      sid    = "ReadEcsInventory"
      effect = "Allow"
      actions = [
        "ecs:ListContainerInstances",
        "ecs:DescribeContainerInstances",
        "ecs:DescribeTaskDefinition",
      ]
      resources = ["*"]
    }
  }
  dynamic "statement" {
    for_each = local.lists_ecs_tasks ? [1] : []
    content {
      sid       = "ListEcsTasks"
      effect    = "Allow"
      actions   = ["ecs:ListTasks"]
      resources = ["*"]
    }
  }
  # Tasks by ARN or id: a task-stopped event's re-check, the zone's inventory, the
  # tasks ECS registered in Cloud Map.
  statement {
    sid       = "ReadEcsTasks"
    effect    = "Allow"
    actions   = ["ecs:DescribeTasks"]
    resources = ["*"]
  }
  # DescribeVpcs: which of the zone's VPCs this account can read (another account's
  # VPC makes every absence unproven).
  statement {
    sid       = "ReadEc2Instances"
    effect    = "Allow"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeVpcs"]
    resources = ["*"]
  }
  dynamic "statement" {
    for_each = local.stops_tasks ? [1] : []
    content {
      sid       = "StopUnhealthyTasks"
      effect    = "Allow"
      actions   = ["ecs:StopTask"]
      resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/*"]
      # With ecs_clusters: only tasks of those clusters (the resource above pins
      # account and region).
      dynamic "condition" {
        for_each = local.has_clusters ? [1] : []
        content {
          test     = "ArnLike"
          variable = "ecs:cluster"
          values   = [for c in var.ecs_clusters : "arn:*:ecs:*:*:cluster/${c}"]
        }
      }
    }
  }

  # --- Cloud Map namespaces (cloud_map_namespaces): the reaper acts through Cloud
  # Map only; it never changes a namespace's Route 53 records. ---

  # ListNamespaces resolves the configured names and ids; ListServices lists each
  # namespace's services; ListOperations follows the deregistrations. None has
  # resource-level permissions.
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid    = "FindCloudMapServices"
      effect = "Allow"
      actions = [
        "servicediscovery:ListNamespaces",
        "servicediscovery:ListServices",
        "servicediscovery:ListOperations",
      ]
      resources = ["*"]
    }
  }
  # Services of this account and Region (a service's ARN does not name its
  # namespace, so the namespaces cannot narrow it further).
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid    = "ReadCloudMapInstances"
      effect = "Allow"
      actions = [
        "servicediscovery:GetService",
        "servicediscovery:ListInstances",
        "servicediscovery:GetInstance",
        "servicediscovery:GetInstancesHealthStatus",
      ]
      resources = ["arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:service/*"]
    }
  }
  # Deregistrations of stale instances, and the custom health status of the
  # services whose health checker the reaper is.
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid    = "DeregisterCloudMapInstances"
      effect = "Allow"
      actions = [
        "servicediscovery:DeregisterInstance",
        "servicediscovery:UpdateInstanceCustomHealthStatus",
      ]
      resources = ["arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:service/*"]
    }
  }
  # Following a DeregisterInstance operation to SUCCESS or FAIL. Its required
  # resource type is the namespace (the service optional).
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid     = "FollowCloudMapOperations"
      effect  = "Allow"
      actions = ["servicediscovery:GetOperation"]
      resources = [
        "arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:namespace/*",
        "arn:${local.partition}:servicediscovery:${local.region}:${local.account_id}:service/*",
      ]
    }
  }
  # DeregisterInstance deletes the instance's Route 53 health check (a service with
  # HealthCheckConfig) with the caller's permissions.
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid    = "CloudMapDeregistrationHealthChecks"
      effect = "Allow"
      actions = [
        "route53:GetHealthCheck",
        "route53:UpdateHealthCheck",
        "route53:DeleteHealthCheck",
      ]
      resources = ["arn:${local.partition}:route53:::healthcheck/*"]
    }
  }
  # The VPCs of each namespace's hosted zone (its id is known only once the
  # namespace is resolved): EC2 evidence counts only from those.
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid       = "ReadNamespaceZones"
      effect    = "Allow"
      actions   = ["route53:GetHostedZone"]
      resources = ["arn:${local.partition}:route53:::hostedzone/*"]
    }
  }
  # Which address of the namespace's VPCs a script-registered instance's
  # AWS_INSTANCE_IPV4 belongs to (no resource-level permissions).
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid       = "ReadNetworkInterfaces"
      effect    = "Allow"
      actions   = ["ec2:DescribeNetworkInterfaces"]
      resources = ["*"]
    }
  }
  # Whether the clusters ECS-registered instances name (ECS_CLUSTER_NAME) still exist.
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid       = "ReadEcsClustersForCloudMap"
      effect    = "Allow"
      actions   = ["ecs:DescribeClusters"]
      resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:cluster/*"]
    }
  }
  # A task-stopped event: the Cloud Map registries of the task's ECS service.
  dynamic "statement" {
    for_each = local.sweeps_cloud_map ? [1] : []
    content {
      sid       = "ReadEcsServicesForCloudMap"
      effect    = "Allow"
      actions   = ["ecs:DescribeServices"]
      resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:service/*"]
    }
  }
}

# What Lambda itself needs to run the function.
data "aws_iam_policy_document" "lambda_platform" {
  #checkov:skip=CKV_AWS_111:The network-interface actions are what Lambda needs to run a function in a VPC (as AWS's AWSLambdaVPCAccessExecutionRole grants them); the interfaces' ids are not known in advance.
  #checkov:skip=CKV_AWS_356:Same: Lambda's VPC network interfaces, whose ids are not known in advance, on "*" as in AWSLambdaVPCAccessExecutionRole.
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.reaper.arn}:*"]
  }
  # The network interfaces of a VPC function (as AWSLambdaVPCAccessExecutionRole).
  statement {
    sid    = "VpcNetworkInterfaces"
    effect = "Allow"
    actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "FailedEventsToDeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }
}

resource "aws_iam_role" "reaper" {
  name               = var.name
  description        = "ecs-dns-reaper execution role (least privilege)"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "reaper_calls" {
  name   = "reaper-calls"
  role   = aws_iam_role.reaper.id
  policy = data.aws_iam_policy_document.reaper_calls.json
}

resource "aws_iam_role_policy" "lambda_platform" {
  name   = "lambda-platform"
  role   = aws_iam_role.reaper.id
  policy = data.aws_iam_policy_document.lambda_platform.json
}

# --- The function, its log group and its dead-letter queue ---

resource "aws_cloudwatch_log_group" "reaper" {
  #checkov:skip=CKV_AWS_158:The log lines are sweep reports (record names, addresses, task ids), no secrets; CloudWatch Logs encrypts them at rest with its own key, as the SAM template's log group does.
  #checkov:skip=CKV_AWS_338:Retention is a variable (log_retention_in_days, default 30 days like the SAM template): a year of sweep reports is the operator's choice, not a default.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

# Asynchronous invocations that failed every retry, or expired waiting.
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-dead-letter"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_lambda_function" "reaper" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing is not used: the function's report, log lines and EMF metrics say where each sweep's time went.
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the SQS queue through an on-failure destination (aws_lambda_function_event_invoke_config), which carries the error, unlike a dead-letter config.
  #checkov:skip=CKV_AWS_173:The environment holds only settings (zone id, namespaces, clusters, thresholds), no secrets; Lambda encrypts it at rest with its own key.
  #checkov:skip=CKV_AWS_272:The package is built by make package from this repository; code signing needs a signing profile that is the operator's to create.
  function_name                  = var.name
  description                    = "Deletes stale ECS service-discovery records (Route 53, Cloud Map)"
  filename                       = local.package_file
  source_code_hash               = filebase64sha256(local.package_file)
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = [var.architecture]
  memory_size                    = 128
  timeout                        = var.timeout_seconds
  role                           = aws_iam_role.reaper.arn
  reserved_concurrent_executions = 1 # one sweep at a time: two sweeps never race on the same records
  tags                           = var.tags

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  # The function writes JSON lines; Lambda's own lines are JSON too.
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.reaper.name
  }

  environment {
    variables = {
      HOSTED_ZONE_ID          = var.hosted_zone_id
      DNS_NAMESPACE           = var.dns_namespace
      CLOUD_MAP_NAMESPACES    = join(",", var.cloud_map_namespaces)
      ECS_CLUSTERS            = join(",", var.ecs_clusters)
      HEALTH_CHECK            = var.health_check
      HEALTH_CHECK_PATH       = var.health_check_path
      HEALTH_CHECK_TIMEOUT_MS = tostring(var.health_check_timeout_ms)
      HEALTH_CHECK_ATTEMPTS   = tostring(var.health_check_attempts)
      STARTUP_GRACE_SECONDS   = tostring(var.startup_grace_seconds)
      MAX_DELETE_PERCENT      = tostring(var.max_delete_percent)
      KEEP_LAST_RECORD        = tostring(var.keep_last_record)
      DRY_RUN                 = tostring(var.dry_run)
      STOP_UNHEALTHY_TASKS    = tostring(var.stop_unhealthy_tasks)
    }
  }

  lifecycle {
    # The template's SomethingToSweep rule.
    precondition {
      condition     = local.sweeps_zone || local.sweeps_cloud_map
      error_message = "Set a zone (hosted_zone_id, recommended, or dns_namespace), cloud_map_namespaces, or both."
    }
  }

  # The role must let Lambda create the function's network interfaces first.
  depends_on = [aws_iam_role_policy.lambda_platform]
}

resource "aws_lambda_function_event_invoke_config" "reaper" {
  function_name                = aws_lambda_function.reaper.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter.arn
    }
  }
}

# --- Triggers: the schedule and the two state-change rules ---

# Delivers the `Scheduled Event` envelope (source aws.events): a full sweep.
resource "aws_cloudwatch_event_rule" "sweep" {
  name                = "${var.name}-sweep"
  description         = "ecs-dns-reaper full sweep"
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_rule" "ec2_instance_gone" {
  name          = "${var.name}-ec2-instance-gone"
  description   = "ecs-dns-reaper - EC2 instance gone"
  event_pattern = jsonencode(local.ec2_instance_gone_pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_rule" "ecs_task_stopped" {
  name          = "${var.name}-ecs-task-stopped"
  description   = "ecs-dns-reaper - ECS task stopped"
  event_pattern = local.has_clusters ? jsonencode(local.ecs_task_stopped_in_clusters_pattern) : jsonencode(local.ecs_task_stopped_pattern)
  tags          = var.tags
}

locals {
  rules = {
    sweep             = aws_cloudwatch_event_rule.sweep
    ec2_instance_gone = aws_cloudwatch_event_rule.ec2_instance_gone
    ecs_task_stopped  = aws_cloudwatch_event_rule.ecs_task_stopped
  }
}

resource "aws_cloudwatch_event_target" "reaper" {
  for_each  = local.rules
  rule      = each.value.name
  target_id = "ecs-dns-reaper"
  arn       = aws_lambda_function.reaper.arn
}

resource "aws_lambda_permission" "events" {
  for_each      = local.rules
  statement_id  = "events-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.reaper.function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

# --- The three alarms ---

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "ecs-dns-reaper failed an invocation (configuration, hosted zone, or event error): read the function's log group."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.reaper.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# The function writes the metric as CloudWatch Embedded Metric Format log lines.
resource "aws_cloudwatch_metric_alarm" "guard_tripped" {
  alarm_name          = "${var.name}-guard-tripped"
  alarm_description   = "ecs-dns-reaper's mass-deletion guard tripped: a sweep wanted to delete more records than MAX_DELETE_PERCENT allows and deleted none of them. Read the report in the log before doing anything."
  namespace           = "EcsDnsReaper"
  metric_name         = "GuardTripped"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letter_queue" {
  alarm_name          = "${var.name}-dead-letter-queue"
  alarm_description   = "Events that ecs-dns-reaper could not handle are waiting in its dead-letter queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
