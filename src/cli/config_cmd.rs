//! `efs-dr config validate`: checks the configuration file and shows what it describes.

use std::path::Path;

use clap::Subcommand;

use super::OutputFormat;
use efs_dr::config::Config;
use efs_dr::dr::DrError;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration file and print the pairs it describes.
    Validate,
}

pub fn run(cmd: ConfigCommand, path: &Path, output: OutputFormat) -> Result<(), DrError> {
    match cmd {
        ConfigCommand::Validate => {
            let config = Config::load(path)?;
            match output {
                OutputFormat::Json => {
                    let mut doc = serde_json::to_value(&config)
                        .map_err(|e| DrError::Failed(format!("cannot render JSON: {e}")))?;
                    doc["warnings"] = serde_json::json!(config.warnings());
                    let doc = serde_json::to_string_pretty(&doc)
                        .map_err(|e| DrError::Failed(format!("cannot render JSON: {e}")))?;
                    println!("{doc}");
                }
                OutputFormat::Human => {
                    eprintln!(
                        "{} is valid: {} pair{}",
                        path.display(),
                        config.pairs.len(),
                        if config.pairs.len() == 1 { "" } else { "s" }
                    );
                    for p in &config.pairs {
                        eprintln!(
                            "  {}: {} {} (primary) -> {} {} (secondary)",
                            p.name,
                            p.primary.region,
                            p.primary.file_system_id,
                            p.secondary.region,
                            p.secondary.file_system_id
                        );
                    }
                    eprintln!(
                        "  terraform: {} in {}",
                        config.terraform.binary,
                        config.terraform_dir().display()
                    );
                    for w in config.warnings() {
                        eprintln!("warning: {w}");
                    }
                }
            }
            Ok(())
        }
    }
}
