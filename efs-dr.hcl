# Example configuration; terraform/ is what `efs-dr render` makes of it.

terraform {
  dir           = "terraform"
  binary        = "terraform"
  lock_timeout  = "60s"
  module_source = "../modules/efs_replication"
}

pair "shared-home" {
  primary {
    region         = "us-east-1"
    file_system_id = "fs-0123456789abcdef0"
  }
  secondary {
    region         = "us-west-2"
    file_system_id = "fs-0fedcba9876543210"
  }
}

pair "media" {
  primary {
    region         = "eu-west-1"
    file_system_id = "fs-01234567"
  }
  secondary {
    region         = "eu-central-1"
    file_system_id = "fs-89abcdef"
  }
}

gates {
  poll_interval       = "5s"
  replication_timeout = "30m"
  max_lag             = "15m"
  quiesce_window      = "2m"
}
