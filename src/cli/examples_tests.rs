//! The files in `examples/` use exactly efs-dr's commands: each file is valid YAML, and every
//! efs-dr command line in it parses with the CLI's own parser (pipeline variables replaced
//! by example values).

use std::path::{Path, PathBuf};

use clap::Parser;
use yaml_rust2::{Yaml, YamlLoader};

use super::{Cli, Command};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every string in the document (scripts are strings, or lists of strings).
fn strings(y: &Yaml, out: &mut Vec<String>) {
    match y {
        Yaml::String(s) => out.push(s.clone()),
        Yaml::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Yaml::Hash(h) => h.iter().for_each(|(k, v)| {
            strings(k, out);
            strings(v, out);
        }),
        _ => {}
    }
}

/// The efs-dr command lines of a script: continuation lines joined, each command of a
/// `&&`/`||`/`;`/`|` chain on its own.
fn efs_dr_lines(script: &str) -> Vec<String> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .flat_map(|l| {
            l.split("&&")
                .flat_map(|p| p.split("||"))
                .flat_map(|p| p.split(';'))
                .flat_map(|p| p.split('|'))
                .map(str::trim)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|c| c.starts_with("efs-dr "))
        .collect()
}

/// A pipeline's variables, as a run would have them.
fn substitute(line: &str, operation: &str) -> String {
    line.replace("\"$OPERATION\"", operation)
        .replace("\"$EFS_DR_OPERATION\"", operation)
        .replace("$PLANFILE", "/tmp/tfplan")
}

/// The command's words, up to a shell redirection or pipe (`> doctor.json`, `| tee`).
fn split(line: &str) -> Vec<String> {
    line.split_whitespace()
        .take_while(|w| !w.starts_with('>') && !w.starts_with('|') && *w != "&&")
        .map(|w| w.trim_matches('"').to_string())
        .collect()
}

#[test]
fn every_example_parses_as_yaml_and_every_efs_dr_command_in_it_parses() {
    let files = [
        "github/efs-dr.yml",
        "gitlab/.gitlab-ci.yml",
        "atlantis/atlantis.yaml",
    ];
    for file in files {
        let path = examples().join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(docs.len(), 1, "{file}");
        let mut all = Vec::new();
        strings(&docs[0], &mut all);
        let lines: Vec<String> = all.iter().flat_map(|s| efs_dr_lines(s)).collect();
        let mut kinds = Vec::new();
        for line in &lines {
            for op in ["failover", "failback"] {
                let argv = split(&substitute(line, op));
                let cli = Cli::try_parse_from(&argv)
                    .unwrap_or_else(|e| panic!("{file}: `{line}` does not parse:\n{e}"));
                kinds.push(match cli.command {
                    Command::Propose(_) => "propose",
                    Command::CheckPlan(_) => "check-plan",
                    Command::Gate(g) if g.when.before_apply => "gate --before-apply",
                    Command::Gate(_) => "gate --after-apply",
                    Command::Doctor(_) => "doctor",
                    other => panic!("{file}: unexpected command {other:?}"),
                });
            }
        }
        for needed in ["check-plan", "gate --before-apply", "gate --after-apply"] {
            assert!(
                kinds.contains(&needed),
                "{file} never runs {needed}: {lines:?}"
            );
        }
        if !file.starts_with("atlantis") {
            assert!(kinds.contains(&"propose"), "{file} never proposes");
        }
    }
}

#[test]
fn a_command_line_that_does_not_exist_is_caught() {
    let argv = split("efs-dr gate --before-apply --after-apply");
    assert!(Cli::try_parse_from(&argv).is_err());
    let argv = split("efs-dr propose sideways");
    assert!(Cli::try_parse_from(&argv).is_err());
}
