# One replication per pair, in the direction its variable selects, always into the pair's
# existing file system (destination.file_system_id): file-system ids never change.
#
# The providers are those of the primary and the secondary region; a replication is declared
# with the provider of its source region, as AWS requires.
#
# Timeouts: the provider measures them on the wall clock, and a create that times out leaves
# the replication tainted. AWS often takes about 15 minutes to reach ENABLED, so the default
# is 60 minutes, well above the provider's own 20.
#
# Overwrite protection: a destination's protection reads REPLICATING while it replicates.
# This module does not manage protection (efs-dr sets it through the API and gates on it), so it
# has no perpetual diff; a stack that manages the file systems themselves should add
# `lifecycle { ignore_changes = [protection] }` to its aws_efs_file_system resources.

locals {
  forward = { for name, p in var.pairs : name => p if p.direction == "forward" }
  reverse = { for name, p in var.pairs : name => p if p.direction == "reverse" }
  # The side that serves writes: as efs-dr rendered it, else the source of the replication in
  # force (with none, the secondary: a failover).
  serving = { for name, p in var.pairs : name => coalesce(p.serving, p.direction == "forward" ? "primary" : "secondary") }

  # The lag alarm of each replication in force, on the side whose region it lives in: the
  # destination's or the source's, as `alarm.metric_region` says (AWS does not document which
  # region publishes TimeSinceLastSync). A pair with no replication has no alarm.
  lag_alarms = {
    for name, p in var.pairs : name => {
      side        = (p.direction == "forward") == (p.alarm.metric_region == "destination") ? "secondary" : "primary"
      source      = p.direction == "forward" ? p.primary : p.secondary
      destination = p.direction == "forward" ? p.secondary : p.primary
      alarm       = p.alarm
    } if p.alarm != null && p.direction != "none"
  }
}

resource "aws_efs_replication_configuration" "forward" {
  provider = aws.primary
  for_each = local.forward

  source_file_system_id = each.value.primary.file_system_id

  destination {
    region         = each.value.secondary.region
    file_system_id = each.value.secondary.file_system_id
  }

  timeouts {
    create = var.timeouts.create
    delete = var.timeouts.delete
  }
}

resource "aws_efs_replication_configuration" "reverse" {
  provider = aws.secondary
  for_each = local.reverse

  source_file_system_id = each.value.secondary.file_system_id

  destination {
    region         = each.value.primary.region
    file_system_id = each.value.primary.file_system_id
  }

  timeouts {
    create = var.timeouts.create
    delete = var.timeouts.delete
  }
}

# One alarm per replication in force, created after it and deleted before it. Missing data is
# breaching: a replication that stopped publishing its lag is not "fine".
resource "aws_cloudwatch_metric_alarm" "sync_lag_at_primary" {
  provider = aws.primary
  for_each = { for name, a in local.lag_alarms : name => a if a.side == "primary" }

  alarm_name          = "efs-dr ${each.key} TimeSinceLastSync ${each.value.source.file_system_id} to ${each.value.destination.file_system_id}"
  alarm_description   = "efs-dr: the replication ${each.value.source.file_system_id} (${each.value.source.region}) -> ${each.value.destination.file_system_id} (${each.value.destination.region}) has not synced for over ${each.value.alarm.threshold_seconds} s, or reports no lag."
  namespace           = "AWS/EFS"
  metric_name         = "TimeSinceLastSync"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.alarm.threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = each.value.alarm.primary_topics
  ok_actions          = each.value.alarm.primary_topics

  dimensions = {
    FileSystemId            = each.value.source.file_system_id
    DestinationFileSystemId = each.value.destination.file_system_id
  }

  depends_on = [aws_efs_replication_configuration.forward, aws_efs_replication_configuration.reverse]
}

resource "aws_cloudwatch_metric_alarm" "sync_lag_at_secondary" {
  provider = aws.secondary
  for_each = { for name, a in local.lag_alarms : name => a if a.side == "secondary" }

  alarm_name          = "efs-dr ${each.key} TimeSinceLastSync ${each.value.source.file_system_id} to ${each.value.destination.file_system_id}"
  alarm_description   = "efs-dr: the replication ${each.value.source.file_system_id} (${each.value.source.region}) -> ${each.value.destination.file_system_id} (${each.value.destination.region}) has not synced for over ${each.value.alarm.threshold_seconds} s, or reports no lag."
  namespace           = "AWS/EFS"
  metric_name         = "TimeSinceLastSync"
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.alarm.threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = each.value.alarm.secondary_topics
  ok_actions          = each.value.alarm.secondary_topics

  dimensions = {
    FileSystemId            = each.value.source.file_system_id
    DestinationFileSystemId = each.value.destination.file_system_id
  }

  depends_on = [aws_efs_replication_configuration.forward, aws_efs_replication_configuration.reverse]
}
