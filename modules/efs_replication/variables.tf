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
