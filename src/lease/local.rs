//! The run lease of a root whose state is local (or in a backend efs-dr cannot lease in): an
//! advisory lock (flock) on `.terraform/efs-dr.lock`, held for the whole run and released by the
//! kernel when the process ends, however it ends. So it never goes stale, and `--take-over`
//! never applies to it.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use fs4::FileExt;

use super::error::LeaseError;
use super::Holder;

/// The lock, held until dropped.
#[derive(Debug)]
pub struct LocalLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the lock of the root in `dir` for `holder`, or says who has it.
pub fn acquire(dir: &Path, holder: &Holder, take_over: bool) -> Result<LocalLock, LeaseError> {
    let folder = dir.join(".terraform");
    std::fs::create_dir_all(&folder)
        .map_err(|e| LeaseError::Failed(format!("cannot create {}: {e}", folder.display())))?;
    let path = folder.join("efs-dr.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| LeaseError::Failed(format!("cannot open {}: {e}", path.display())))?;
    if FileExt::try_lock(&file).is_err() {
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let who = serde_json::from_str::<Holder>(&text)
            .map(|h| h.describe())
            .unwrap_or_else(|_| "another efs-dr run".into());
        let next = if take_over {
            "--take-over does not apply: a local lock is released by the kernel the moment its holder ends, so this holder is alive. Stop it, or wait for it to end"
        } else {
            "Wait for it to end (it continues the same operation), then run this again if still needed"
        };
        return Err(LeaseError::Failed(format!(
            "another efs-dr run holds {}: {who}. {next}",
            dir.display()
        )));
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(
        serde_json::to_string(holder)
            .expect("a holder serialises")
            .as_bytes(),
    );
    let _ = file.flush();
    Ok(LocalLock { _file: file, path })
}

/// Who holds the lock of the root in `dir`, without taking it.
pub fn peek(dir: &Path) -> Option<super::LeaseStatus> {
    let path = dir.join(".terraform").join("efs-dr.lock");
    let mut file = std::fs::File::open(&path).ok()?;
    match FileExt::try_lock_shared(&file) {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            None
        }
        Err(_) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = serde_json::from_str::<Holder>(&text).ok()?;
            Some(super::LeaseStatus {
                lease: path.display().to_string(),
                holder,
                heartbeat_age_s: None,
                stale: false,
            })
        }
    }
}
