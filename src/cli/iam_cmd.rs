//! `efs-dr iam-policy`: the least-privilege IAM policy of the configuration, on stdout.

use std::path::Path;

use clap::Args;

use super::dr_cmd::{selected, PairArgs};
use super::output::out;
use efs_dr::config::Config;
use efs_dr::dr::DrError;
use efs_dr::iam::{policy, Operations};

#[derive(Debug, Args)]
pub struct IamArgs {
    #[command(flatten)]
    pub pairs: PairArgs,
    /// The operations the policy allows.
    #[arg(long, value_enum, default_value_t = Operations::All)]
    pub operation: Operations,
}

pub fn run(args: IamArgs, config_path: &Path) -> Result<(), DrError> {
    let config = Config::load(config_path)?;
    let pairs = selected(&config, &args.pairs)?;
    let doc = policy(&config, &pairs, args.operation);
    out!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("a policy serialises")
    );
    Ok(())
}
