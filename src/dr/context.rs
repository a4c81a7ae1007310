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
}
