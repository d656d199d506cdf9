output "function_arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.reaper.arn
}

output "function_name" {
  description = "The function (aws lambda invoke --function-name ...)."
  value       = aws_lambda_function.reaper.function_name
}

output "role_arn" {
  description = "The function's execution role."
  value       = aws_iam_role.reaper.arn
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.reaper.name
}

output "dead_letter_queue_url" {
  description = "Events the function failed to handle."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_arn" {
  description = "The dead-letter queue's ARN."
  value       = aws_sqs_queue.dead_letter.arn
}

output "alarm_arns" {
  description = "The three alarms: errors, guard_tripped, dead_letter_queue."
  value = {
    errors            = aws_cloudwatch_metric_alarm.errors.arn
    guard_tripped     = aws_cloudwatch_metric_alarm.guard_tripped.arn
    dead_letter_queue = aws_cloudwatch_metric_alarm.dead_letter_queue.arn
  }
}
