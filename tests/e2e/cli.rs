//! The command line as operators and pipelines meet it, without AWS: completions, the man page,
//! and output to a reader that went away.

use std::process::Stdio;

fn efs_dr() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_efs-dr"));
    c.env("RUST_BACKTRACE", "1");
    c
}

#[test]
fn completions_and_the_man_page_come_from_the_cli_itself() {
    for shell in ["bash", "zsh", "fish"] {
        let out = efs_dr().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for sub in ["propose", "check-plan", "failback"] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let man = efs_dr().arg("man").output().unwrap();
    assert!(man.status.success());
    let text = String::from_utf8_lossy(&man.stdout);
    assert!(
        text.starts_with(".ie") || text.contains(".TH efs-dr 1"),
        "{text}"
    );
    assert!(text.contains("failover"));
    let sections: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    for section in [
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(
            sections.iter().any(|s| s == section),
            "the man page lacks {section}: {sections:?}"
        );
    }
    let plain = text.replace("\\-", "-");
    for said in ["EFS_DR_YES", "AWS_PROFILE", "efs-dr-reports/", "efs-dr.hcl"] {
        assert!(plain.contains(said), "the man page does not name {said}");
    }

    // Every page the main page refers to exists.
    let dir = tempfile::tempdir().unwrap();
    let out = efs_dr()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main = std::fs::read_to_string(dir.path().join("efs-dr.1")).unwrap();
    let unescaped = main.replace("\\-", "-");
    let referred: std::collections::BTreeSet<&str> = unescaped
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '(' || c == ')'))
        .filter(|w| w.starts_with("efs-dr-") && w.ends_with("(1)"))
        .map(|w| w.trim_end_matches("(1)"))
        .collect();
    assert!(referred.contains("efs-dr-failover"), "{referred:?}");
    for page in &referred {
        assert!(
            dir.path().join(format!("{page}.1")).exists(),
            "efs-dr.1 refers to {page}(1), which was not written"
        );
    }
    assert!(dir.path().join("efs-dr-plan-failover.1").exists());
}

/// Completions round-trip in a real bash: the script is sourced, `complete -p` names its
/// function, and that function, called as bash calls it on TAB, completes subcommands and the
/// options of a subcommand (`efs-dr failover --p<TAB>`: clap-rs/clap#6421 worked around).
#[test]
fn bash_completes_subcommands_and_their_options() {
    let out = efs_dr().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("efs-dr.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let tab = |words: &[&str]| -> Vec<String> {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let program = format!(
            r#"source "$1" || exit 9
spec=$(complete -p efs-dr) || exit 8
fn=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<<"$spec")
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$fn" efs-dr "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            words = quoted.join(" ")
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program, "bash"])
            .arg(&script)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "{words:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let subcommands = tab(&["efs-dr", "fail"]);
    assert!(
        subcommands.contains(&"failover".to_string())
            && subcommands.contains(&"failback".to_string()),
        "{subcommands:?}"
    );
    for (words, expected) in [
        (&["efs-dr", "failover", "--p"][..], "--pair"),
        (&["efs-dr", "failover", "--un"], "--unplanned"),
        (&["efs-dr", "plan", "failover", "--un"], "--unplanned"),
        (&["efs-dr", "check-plan", "--oper"], "--operation"),
        (&["efs-dr", "failback", "--writes"], "--writes-stopped"),
    ] {
        let offered = tab(words);
        assert!(
            offered.contains(&expected.to_string()),
            "{words:?} offers {offered:?}, not {expected}"
        );
    }
}

/// `efs-dr ... | head -1`: the reader closes the pipe; efs-dr ends quietly, not with a panic.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let config = efs_dr_testkit::project_root().join("efs-dr.hcl");
    let config = config.to_str().unwrap();
    for args in [
        vec!["completions", "bash"],
        vec!["man"],
        vec!["--config", config, "--output", "json", "config", "validate"],
    ] {
        let mut child = efs_dr()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before efs-dr writes.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
}

/// A stand-in provider whose Terraform died does not live on (re-parented to init).
#[test]
fn the_provider_ends_when_its_parent_dies() {
    // The shell starts the provider in the background and exits a second later: its parent is
    // gone.
    let pid = start_orphaned_provider("{provider} >/dev/null 2>&1 & echo $!; sleep 1");
    assert_ends(pid);
}

/// The race a loaded machine wins: the process that started the provider is gone before the
/// provider's `main` runs, so the provider never sees its first parent at all.
#[test]
fn the_provider_ends_when_its_parent_died_before_it_started() {
    // The subshell outlives the shell that forked it, then becomes the provider (`exec`): the
    // provider's first parent is already init.
    let pid = start_orphaned_provider("(sleep 1; exec {provider} >/dev/null 2>&1) & echo $!");
    assert_ends(pid);
}

fn start_orphaned_provider(script: &str) -> i32 {
    let provider = efs_dr_testkit::provider_binary();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script.replace("{provider}", &provider.display().to_string()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn assert_ends(pid: i32) {
    let stat = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let alive = |pid: i32| !stat(pid).is_empty() && !stat(pid).contains(") Z ");
    let started = std::time::Instant::now();
    // Wait until the pid runs the provider (the subshell execs it after a second), then until it
    // ends; 20 s is far beyond the provider's 250 ms watch.
    while alive(pid) && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !alive(pid),
        "the provider {pid} outlived its parent: {}",
        stat(pid)
    );
}

/// `sim serve` off loopback says loudly that its control API has no authentication.
#[tokio::test(flavor = "multi_thread")]
async fn a_simulator_off_loopback_warns_that_its_control_api_has_no_authentication() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_efs-dr"))
        .args(["sim", "serve", "--listen", "0.0.0.0:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let warning = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if l.contains("NO AUTHENTICATION") {
                return l;
            }
        }
        String::new()
    })
    .await
    .unwrap();
    assert!(warning.contains("/_sim/"), "{warning}");
    child.kill().await.unwrap();
}

/// Small edges: `help --help` is the top-level help; `config validate --output json` says what
/// is wrong on stdout, as data; `--unplanned` says what it does.
#[tokio::test(flavor = "multi_thread")]
async fn help_help_invalid_config_as_json_and_every_flag_explained() {
    let bin = env!("CARGO_BIN_EXE_efs-dr");
    let out = std::process::Command::new(bin)
        .args(["help", "--help"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: efs-dr"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("efs-dr.hcl");
    std::fs::write(&bad, "pair \"x\" {}\n").unwrap();
    let out = std::process::Command::new(bin)
        .arg("--config")
        .arg(&bad)
        .args(["--output", "json", "config", "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["valid"], false, "{doc}");
    assert!(
        doc["problems"][0]["field"]
            .as_str()
            .unwrap()
            .contains("primary"),
        "{doc}"
    );

    for args in [
        &["plan", "failover", "--help"][..],
        &["check-plan", "--help"],
    ] {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let after = help.split("--unplanned").nth(1).unwrap_or_default();
        let first = after
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default();
        assert!(
            first.contains("A's region is down") || first.contains("unplanned failover"),
            "{args:?}: {first:?}"
        );
    }
}

/// `-qq` prints nothing but errors, for every command: no progress, no information, no
/// warnings, no machine output (a pipeline that wants only the exit code).
#[tokio::test(flavor = "multi_thread")]
async fn double_quiet_prints_nothing_but_errors_for_every_command() {
    let d = crate::dr::drill(&["app"]).await;
    let efs_dr_at = |level: &'static str, output: &'static str, args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_efs-dr"));
        cmd.arg("--config")
            .arg(d.config())
            .args([level, "--output", output])
            .args(args)
            .env("PATH", efs_dr_testkit::path_with_tools())
            .envs(efs_dr_testkit::tf_env(&d.ts.url))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    };
    let run = |output: &'static str, args: &[&str]| efs_dr_at("-qq", output, args);
    let commands: Vec<Vec<&str>> = vec![
        vec!["config", "validate"],
        vec!["render"],
        vec!["init", "--yes"],
        vec!["status"],
        vec!["plan", "failover"],
        vec!["failover", "--yes", "--dry-run"],
        vec!["propose", "failover"],
        vec!["iam-policy"],
        vec!["completions", "bash"],
        vec!["man"],
    ];
    for output in ["human", "json"] {
        for args in &commands {
            let out = run(output, args).output().await.unwrap();
            assert!(
                out.status.success(),
                "{output} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stdout.is_empty() && out.stderr.is_empty(),
                "-qq --output {output} {args:?} printed:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // doctor on the drill's pair (no mount targets): not ready, exit 2, and still silent.
    for output in ["human", "json"] {
        let out = run(output, &["doctor"]).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2), "{output}");
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "-qq --output {output} doctor printed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // -q keeps a command's result for people (the status itself), and drops information
    // lines (the run's progress).
    let quiet = |args: &[&str]| efs_dr_at("-q", "human", args);
    let status = quiet(&["status"]).output().await.unwrap();
    let text = String::from_utf8_lossy(&status.stderr);
    assert!(
        text.contains("pair app"),
        "-q status shows the status: {text}"
    );
    let plan = quiet(&["failover", "--yes", "--dry-run"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&plan.stderr);
    assert!(
        text.contains("dry run:") && !text.contains("efs-dr failover: app"),
        "-q shows the result, not the progress: {text}"
    );

    // An error is still said, and only the error.
    let out = run("human", &["failover", "--pair", "nope", "--yes"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: there is no pair \"nope\"") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
