//! `efs-dr config validate`: checks the configuration file and shows what it describes.

use std::path::Path;

use clap::Subcommand;

use super::output::{human, out, warn_line};
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
            let config = match Config::load(path) {
                Ok(c) => c,
                Err(e) => {
                    // A pipeline reading stdout learns what is wrong, as data.
                    if output == OutputFormat::Json {
                        out!("{}", invalid_json(path, &e));
                    }
                    return Err(e.into());
                }
            };
            match output {
                OutputFormat::Json => {
                    let mut doc = serde_json::to_value(&config)
                        .map_err(|e| DrError::Failed(format!("cannot render JSON: {e}")))?;
                    doc["warnings"] = serde_json::json!(config.warnings());
                    doc["valid"] = serde_json::json!(true);
                    let doc = serde_json::to_string_pretty(&doc)
                        .map_err(|e| DrError::Failed(format!("cannot render JSON: {e}")))?;
                    out!("{doc}");
                }
                OutputFormat::Human => {
                    human!(
                        "{} is valid: {} pair{}",
                        path.display(),
                        config.pairs.len(),
                        if config.pairs.len() == 1 { "" } else { "s" }
                    );
                    for p in &config.pairs {
                        human!(
                            "  {}: {} {} (primary) -> {} {} (secondary)",
                            p.name,
                            p.primary.region,
                            p.primary.file_system_id,
                            p.secondary.region,
                            p.secondary.file_system_id
                        );
                    }
                    human!(
                        "  terraform: {} in {}",
                        config.terraform.binary,
                        config.terraform_dir().display()
                    );
                    for w in config.warnings() {
                        warn_line!("warning: {w}");
                    }
                }
            }
            Ok(())
        }
    }
}

/// `{"valid": false, "problems": [...]}` for a configuration that cannot be used.
fn invalid_json(path: &Path, e: &efs_dr::config::LoadError) -> String {
    let problems: Vec<serde_json::Value> = match e {
        efs_dr::config::LoadError::Invalid(c) => c
            .issues
            .iter()
            .map(|i| {
                serde_json::json!({
                    "line": i.line,
                    "column": i.column,
                    "field": i.field,
                    "problem": i.problem,
                    "example": i.example,
                })
            })
            .collect(),
        other => vec![serde_json::json!({ "problem": other.to_string() })],
    };
    serde_json::to_string_pretty(&serde_json::json!({
        "file": path.display().to_string(),
        "valid": false,
        "problems": problems,
    }))
    .expect("serialises")
}
