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

output "active" {
  description = "Per pair: the side that serves writes now, its file-system id, region and DNS name (the file system's mount name in that region)."
  value = {
    for name, p in var.pairs : name => {
      side           = local.serving[name]
      file_system_id = p[local.serving[name]].file_system_id
      region         = p[local.serving[name]].region
      dns_name       = "${p[local.serving[name]].file_system_id}.efs.${p[local.serving[name]].region}.amazonaws.com"
    }
  }
}
