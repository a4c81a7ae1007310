//! `efs-dr completions SHELL` and `efs-dr man`: generated from the CLI's own definition
//! (clap_complete, clap_mangen), so they never drift from it.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use efs_dr::dr::DrError;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
}

const BIN: &str = "efs-dr";

pub fn completions(args: CompletionsArgs) -> Result<(), DrError> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN, &mut out);
    if args.shell == Shell::Bash {
        out = hyphenated_bin_fixed(&String::from_utf8_lossy(&out), BIN).into_bytes();
    }
    super::write_stdout(&out)
}

/// clap_complete's bash script for a binary whose name has a hyphen completes nothing after a
/// subcommand (clap-rs/clap#6421, open): its loop names the state `efs__dr__subcmd__failover`
/// while its case arms say `efs__subcmd__dr__subcmd__failover`, so no arm matches. The arms are
/// spelled as the loop spells them. A script without the misspelling (fixed upstream) is left
/// as it is.
fn hyphenated_bin_fixed(script: &str, bin: &str) -> String {
    let loop_spelling = bin.replace('-', "__");
    let arm_spelling = bin.replace('-', "__subcmd__");
    if loop_spelling == arm_spelling {
        return script.to_string();
    }
    script
        .lines()
        .map(|line| match line.trim_start().strip_prefix(&arm_spelling) {
            Some(rest) if line.trim_end().ends_with(')') => {
                let indent = &line[..line.len() - line.trim_start().len()];
                format!("{indent}{loop_spelling}{rest}")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write efs-dr.1 and a page per subcommand (efs-dr-failover.1, ...) here instead of
    /// printing efs-dr.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<std::path::PathBuf>,
}

pub fn man(args: ManArgs) -> Result<(), DrError> {
    let failed = |e: std::io::Error| DrError::Failed(format!("the man page failed to render: {e}"));
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = args.out_dir else {
        let mut out = Vec::new();
        main_page(&cmd, &mut out).map_err(failed)?;
        return super::write_stdout(&out);
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        DrError::Failed(format!(
            "cannot create {}: {e}; pass a directory you can write",
            dir.display()
        ))
    })?;
    let mut main = Vec::new();
    main_page(&cmd, &mut main).map_err(failed)?;
    let path = dir.join("efs-dr.1");
    std::fs::write(&path, main)
        .map_err(|e| DrError::Failed(format!("cannot write {}: {e}", path.display())))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub.clone(), &dir).map_err(failed)?;
    }
    super::output::human!("man pages written to {}", dir.display());
    Ok(())
}

/// A subcommand's page and its subcommands' pages (efs-dr-plan-failover.1).
fn pages(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub.clone(), dir)?;
    }
    clap_mangen::Man::new(cmd).generate_to(dir).map(|_| ())
}

/// efs-dr.1: clap_mangen's sections, then what a man page of a command owes its reader and
/// clap does not know: the exit codes, the environment, the files, examples.
fn main_page(cmd: &clap::Command, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use roff::{bold, roman, Roff};
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    let mut roff = Roff::new();
    let entry = |roff: &mut Roff, term: &str, text: &str| {
        roff.control("TP", [])
            .text([bold(term)])
            .text([roman(text)]);
    };
    roff.control("SH", ["EXIT STATUS"]);
    for (code, text) in [
        ("0", "Done, or nothing to do."),
        ("1", "An error: something must be fixed first (the message says what). Nothing is left half-done that the same command cannot continue."),
        ("2", "Refused as unsafe or not confirmed, nothing (more) changed; with --detailed-exitcode: drift or phases pending."),
        ("3", "A gate did not pass within its timeout: run the same command again to keep waiting."),
        ("4", "An unplanned failover made B writable but could not write the Terraform state: run it again when the state's store answers."),
        ("130, 143", "Stopped by SIGINT or SIGTERM at a safe point: run the same command again to continue."),
    ] {
        entry(&mut roff, code, text);
    }
    roff.control("SH", ["ENVIRONMENT"]);
    let mut from_flags: Vec<(String, String)> = Vec::new();
    collect_env(cmd, &mut from_flags);
    from_flags.sort();
    from_flags.dedup_by(|a, b| a.0 == b.0);
    for (var, flag) in &from_flags {
        entry(&mut roff, var, &format!("Sets {flag}."));
    }
    for (var, text) in [
        ("EFS_DR_HOST", "The name this machine goes by in the run lease (default: its host name)."),
        ("EFS_DR_STATE_READ_TIMEOUT", "How long status waits for the Terraform state (default 60s)."),
        ("NO_COLOR", "No colour in human output."),
        ("RUST_LOG", "Log filter (tracing), e.g. efs_dr=debug."),
        ("AWS_PROFILE, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN", "The AWS credentials, as every AWS SDK reads them; efs-dr, Terraform and the provider use the same."),
        ("AWS_ENDPOINT_URL", "One endpoint for every AWS service (the simulator: efs-dr sim serve)."),
        ("GITHUB_ACTIONS, GITHUB_STEP_SUMMARY", "Under GitHub Actions: annotations and a step summary."),
    ] {
        entry(&mut roff, var, text);
    }
    roff.control("SH", ["FILES"]);
    entry(
        &mut roff,
        "efs-dr.hcl",
        "The configuration: pairs, gates, Terraform, backup, state (--config, EFS_DR_CONFIG).",
    );
    entry(&mut roff, "terraform/", "The rendered Terraform root beside the configuration: providers, module calls and efs-dr.auto.tfvars.json (the direction of each pair).");
    entry(
        &mut roff,
        "efs-dr-reports/",
        "A Markdown and a JSON report of every run, beside the configuration (--report-dir).",
    );
    roff.control("SH", ["EXAMPLES"]);
    for (what, example) in [
        ("Set up replication for every pair:", "efs-dr init"),
        (
            "See what a failover would do, then do it:",
            "efs-dr plan failover && efs-dr failover",
        ),
        ("A's region is down:", "efs-dr failover --unplanned --yes"),
        (
            "Fail back once writes on B have stopped:",
            "efs-dr failback --writes-stopped",
        ),
        (
            "Where each pair stands; exit 2 on drift:",
            "efs-dr status --detailed-exitcode",
        ),
        (
            "Would a failover work now? Exit 2 when not (for a schedule):",
            "efs-dr doctor",
        ),
        ("A failover as pull requests:", "efs-dr propose failover"),
        (
            "Play the whole runbook on a simulator, AWS untouched:",
            "efs-dr rehearse all",
        ),
    ] {
        roff.text([roman(what)])
            .control("IP", [])
            .text([bold(example)])
            .control("PP", []);
    }
    roff.control("SH", ["SEE ALSO"]);
    let mut pages: Vec<String> = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(format!("efs-dr-{}(1)", sub.get_name()));
    }
    roff.text([roman(format!(
        "{}, terraform(1), README.md",
        pages.join(", ")
    ))]);
    roff.to_writer(out)
}

/// Every flag that an environment variable sets, with the flag.
fn collect_env(cmd: &clap::Command, out: &mut Vec<(String, String)>) {
    for arg in cmd.get_arguments() {
        if let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) {
            out.push((var.to_string_lossy().to_string(), format!("--{long}")));
        }
    }
    for sub in cmd.get_subcommands() {
        collect_env(sub, out);
    }
}
