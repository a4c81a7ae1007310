//! The command lines, built apart from running them so that tests check the exact argv (as
//! terraform-exec does). Every command runs with `-input=false` where it takes it and
//! `-no-color`; commands that take the state lock get `-lock-timeout`.

use std::path::Path;
use std::time::Duration;

fn lock(timeout: Duration) -> String {
    format!("-lock-timeout={}s", timeout.as_secs())
}

pub fn init(lock_timeout: Duration) -> Vec<String> {
    vec![
        "init".into(),
        "-input=false".into(),
        "-no-color".into(),
        lock(lock_timeout),
    ]
}

/// `plan -detailed-exitcode`: exit 0 no changes, 2 changes, 1 error.
pub fn plan(plan_file: &Path, lock_timeout: Duration, parallelism: u32) -> Vec<String> {
    vec![
        "plan".into(),
        "-input=false".into(),
        "-no-color".into(),
        "-detailed-exitcode".into(),
        lock(lock_timeout),
        format!("-parallelism={parallelism}"),
        format!("-out={}", plan_file.display()),
    ]
}

/// The same plan without refreshing: nothing is read from AWS (a region may be down).
pub fn plan_without_refresh(
    plan_file: &Path,
    lock_timeout: Duration,
    parallelism: u32,
) -> Vec<String> {
    let mut v = plan(plan_file, lock_timeout, parallelism);
    v.insert(4, "-refresh=false".into());
    v
}

/// `state list`: the addresses in the state, one per line.
pub fn state_list() -> Vec<String> {
    vec!["state".into(), "list".into()]
}

pub fn show_plan(plan_file: &Path) -> Vec<String> {
    vec![
        "show".into(),
        "-json".into(),
        "-no-color".into(),
        plan_file.display().to_string(),
    ]
}

/// The saved plan as people read it.
pub fn show_plan_text(plan_file: &Path) -> Vec<String> {
    vec![
        "show".into(),
        "-no-color".into(),
        plan_file.display().to_string(),
    ]
}

pub fn apply(plan_file: &Path, lock_timeout: Duration, parallelism: u32) -> Vec<String> {
    vec![
        "apply".into(),
        "-input=false".into(),
        "-no-color".into(),
        "-auto-approve".into(),
        lock(lock_timeout),
        format!("-parallelism={parallelism}"),
        plan_file.display().to_string(),
    ]
}

pub fn output() -> Vec<String> {
    vec!["output".into(), "-json".into(), "-no-color".into()]
}

pub fn state_rm(addresses: &[String], lock_timeout: Duration) -> Vec<String> {
    let mut v = vec!["state".into(), "rm".into(), lock(lock_timeout)];
    v.extend(addresses.iter().cloned());
    v
}

pub fn import(address: &str, id: &str, lock_timeout: Duration) -> Vec<String> {
    vec![
        "import".into(),
        "-input=false".into(),
        "-no-color".into(),
        lock(lock_timeout),
        address.into(),
        id.into(),
    ]
}

/// `untaint`: a replication Terraform holds tainted (its create timed out) that AWS shows as
/// exactly the configuration wanted.
pub fn untaint(address: &str, lock_timeout: Duration) -> Vec<String> {
    vec![
        "untaint".into(),
        "-no-color".into(),
        lock(lock_timeout),
        address.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        let t = Duration::from_secs(60);
        assert_eq!(
            init(t),
            ["init", "-input=false", "-no-color", "-lock-timeout=60s"]
        );
        assert_eq!(
            plan(Path::new("p.tfplan"), t, 40),
            [
                "plan",
                "-input=false",
                "-no-color",
                "-detailed-exitcode",
                "-lock-timeout=60s",
                "-parallelism=40",
                "-out=p.tfplan"
            ]
        );
        assert_eq!(
            plan_without_refresh(Path::new("p"), t, 10),
            [
                "plan",
                "-input=false",
                "-no-color",
                "-detailed-exitcode",
                "-refresh=false",
                "-lock-timeout=60s",
                "-parallelism=10",
                "-out=p"
            ]
        );
        assert_eq!(state_list(), ["state", "list"]);
        assert_eq!(
            show_plan(Path::new("p.tfplan")),
            ["show", "-json", "-no-color", "p.tfplan"]
        );
        assert_eq!(
            apply(Path::new("p.tfplan"), t, 100),
            [
                "apply",
                "-input=false",
                "-no-color",
                "-auto-approve",
                "-lock-timeout=60s",
                "-parallelism=100",
                "p.tfplan"
            ]
        );
        assert_eq!(
            state_rm(&["a.b".into()], t),
            ["state", "rm", "-lock-timeout=60s", "a.b"]
        );
        assert_eq!(
            import("m.r[\"k\"]", "fs-1", Duration::ZERO),
            [
                "import",
                "-input=false",
                "-no-color",
                "-lock-timeout=0s",
                "m.r[\"k\"]",
                "fs-1"
            ]
        );
    }
}
