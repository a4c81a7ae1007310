variable "pairs" {
  description = <<-EOT
    The replicated pairs, by name. `direction` selects the replication each pair has:
    "forward" (primary -> secondary), "none", or "reverse" (secondary -> primary). Replication
    always goes into the pair's existing file system, so file-system ids never change.
  EOT
  type = map(object({
    primary = object({
      region         = string
      file_system_id = string
    })
    secondary = object({
      region         = string
      file_system_id = string
    })
    direction = string
    # "primary" or "secondary": the side that serves writes (the `active` output). Left out:
    # the primary while A -> B replicates, the secondary otherwise.
    serving = optional(string)
    # The lag alarm of the replication in force (left out: none). It lives in the region of
    # the replication's destination or source (`metric_region`), notifies that region's topics,
    # and goes to ALARM when TimeSinceLastSync exceeds `threshold_seconds` or is missing.
    alarm = optional(object({
      metric_region     = string
      threshold_seconds = number
      primary_topics    = list(string)
      secondary_topics  = list(string)
    }))
  }))

  validation {
    condition     = alltrue([for p in values(var.pairs) : contains(["forward", "none", "reverse"], p.direction)])
    error_message = "Each pair's direction must be \"forward\", \"none\" or \"reverse\"."
  }

  validation {
    condition     = alltrue([for p in values(var.pairs) : p.serving == null || contains(["primary", "secondary"], coalesce(p.serving, "primary"))])
    error_message = "A pair's serving side must be \"primary\" or \"secondary\"."
  }

  validation {
    condition     = alltrue([for p in values(var.pairs) : p.alarm == null || contains(["destination", "source"], try(p.alarm.metric_region, ""))])
    error_message = "A pair's alarm.metric_region must be \"destination\" or \"source\"."
  }

  validation {
    condition     = alltrue([for p in values(var.pairs) : p.primary.region != p.secondary.region])
    error_message = "A pair's primary and secondary must be in different regions."
  }
}

variable "timeouts" {
  description = "The provider's create and delete timeouts of each replication (wall clock)."
  type = object({
    create = string
    delete = string
  })
  default = {
    create = "60m"
    delete = "60m"
  }
}
