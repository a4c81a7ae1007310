//! One run at a time per Terraform root: an advisory lock (flock) on `.terraform/efs-dr.lock`,
//! held for the whole run and released by the kernel when the process ends, however it ends.
//! A second run is told who holds it and since when, instead of both claiming "done".

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;
use serde::{Deserialize, Serialize};

use super::DrError;

/// The lock, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

/// Who holds the lock, as the holder wrote it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    pub since: String,
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

/// Takes the lock of the root in `dir` for `command`, or says who has it.
pub fn acquire(dir: &Path, command: &str) -> Result<RunLock, DrError> {
    let folder = dir.join(".terraform");
    std::fs::create_dir_all(&folder)
        .map_err(|e| DrError::Failed(format!("cannot create {}: {e}", folder.display())))?;
    let path = folder.join("efs-dr.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| DrError::Failed(format!("cannot open {}: {e}", path.display())))?;
    if FileExt::try_lock(&file).is_err() {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let who = serde_json::from_str::<Holder>(&text)
            .map(|h| {
                format!(
                    "`{}` (pid {} on {}, since {})",
                    h.command, h.pid, h.host, h.since
                )
            })
            .unwrap_or_else(|_| "another efs-dr run".into());
        return Err(DrError::Failed(format!(
            "another efs-dr run holds {}: {who}. Wait for it to end (it continues the same operation), then run this again if still needed",
            dir.display()
        )));
    }
    let holder = Holder {
        pid: std::process::id(),
        host: host(),
        command: command.to_string(),
        since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(
        serde_json::to_string(&holder)
            .expect("a holder serialises")
            .as_bytes(),
    );
    let _ = file.flush();
    Ok(RunLock { _file: file, path })
}
