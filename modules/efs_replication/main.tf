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
