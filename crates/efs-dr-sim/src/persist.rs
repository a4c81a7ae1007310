//! The optional state file: the whole world, written atomically (temporary file + rename) after
//! every change, and read back at start so that a restart loses nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::clock::{system_now_millis, Millis};
use super::model::World;

const FORMAT: u32 = 1;

#[derive(Deserialize)]
struct Saved {
    format: u32,
    /// Simulated time when saved, and the real time it was saved at: on reload simulated time
    /// continues from there at the new time scale.
    simulated_now: Millis,
    saved_at_real: Millis,
    world: World,
}

#[derive(Serialize)]
struct SavedRef<'a> {
    format: u32,
    simulated_now: Millis,
    saved_at_real: Millis,
    world: &'a World,
}

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read the simulator state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the simulator state file {path} is not a state file this version can read ({reason}); move it away to start afresh")]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot write the simulator state file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a state file gives back: the world, and where simulated time should resume.
pub struct Loaded {
    pub world: World,
    pub resume_at: Millis,
}

pub fn load(path: &Path, time_scale: f64) -> Result<Option<Loaded>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| PersistError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if saved.format != FORMAT {
        return Err(PersistError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("format {} (expected {FORMAT})", saved.format),
        });
    }
    let real_elapsed = (system_now_millis() - saved.saved_at_real).max(0);
    let resume_at = saved.simulated_now + (real_elapsed as f64 * time_scale) as Millis;
    let resume_at = resume_at.max(saved.world.now);
    Ok(Some(Loaded {
        world: saved.world,
        resume_at,
    }))
}

pub fn save(path: &Path, world: &World, simulated_now: Millis) -> Result<(), PersistError> {
    let err = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    let saved = SavedRef {
        format: FORMAT,
        simulated_now,
        saved_at_real: system_now_millis(),
        world,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    serde_json::to_writer(&mut tmp, &saved).map_err(|e| err(e.into()))?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}
