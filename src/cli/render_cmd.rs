//! `efs-dr render`: writes the Terraform root for the configuration.

use std::collections::BTreeMap;
use std::path::Path;

use clap::Args;

use super::output::{human, out};
use super::OutputFormat;
use efs_dr::config::Config;
use efs_dr::dr::DrError;
use efs_dr::render::{self, Direction};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The replication direction written for every pair.
    #[arg(long, value_enum, default_value_t = Direction::Forward)]
    pub direction: Direction,
}

pub fn run(args: RenderArgs, config_path: &Path, output: OutputFormat) -> Result<(), DrError> {
    let config = Config::load(config_path)?;
    let directions: BTreeMap<String, Direction> = config
        .pairs
        .iter()
        .map(|p| (p.name.clone(), args.direction))
        .collect();
    let files = render::render_root(&config, &directions, &Default::default())
        .map_err(|e| DrError::Failed(e.to_string()))?;
    let dir = config.terraform_dir();
    let written = render::write(&dir, &files).map_err(|e| DrError::Failed(e.to_string()))?;
    match output {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({ "dir": dir, "written": written, "files": files.iter().map(|f| &f.path).collect::<Vec<_>>() })
        ),
        OutputFormat::Human => {
            human!(
                "rendered {} ({} file(s) changed)",
                dir.display(),
                written.len()
            );
            for w in &written {
                human!("  wrote {}", w.display());
            }
        }
    }
    Ok(())
}
