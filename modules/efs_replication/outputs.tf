output "pairs" {
  description = "Per pair: the direction, both file-system ids, and the replication's source and destination (null when none)."
  value = {
    for name, p in var.pairs : name => {
      direction                  = p.direction
      primary_file_system_id     = p.primary.file_system_id
      secondary_file_system_id   = p.secondary.file_system_id
      source_file_system_id      = p.direction == "forward" ? p.primary.file_system_id : p.direction == "reverse" ? p.secondary.file_system_id : null
      destination_file_system_id = p.direction == "forward" ? p.secondary.file_system_id : p.direction == "reverse" ? p.primary.file_system_id : null
      replication_status = try(
        aws_efs_replication_configuration.forward[name].destination[0].status,
        aws_efs_replication_configuration.reverse[name].destination[0].status,
        null
      )
    }
  }
}
