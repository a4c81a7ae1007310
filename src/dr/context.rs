//! Everything a command needs from outside: the configuration, AWS, Terraform and the run lease.

use crate::aws::Aws;
use crate::config::Config;
use crate::terraform::Terraform;

/// Everything a run, a proposal or a plan check needs from outside.
pub struct Context {
    pub config: Config,
    pub aws: Aws,
    pub tf: Terraform,
    /// The run lease: renewed before every change, so that no change is made by a run that
    /// lost it or cannot write the state's store.
    pub lease: crate::lease::Lease,
    /// How often a long wait (a Terraform apply, a gate) says it is still going, at the
    /// least: a CI job without output for 10 minutes is killed.
    pub progress_every: std::time::Duration,
}

/// A progress line at least this often by default.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
