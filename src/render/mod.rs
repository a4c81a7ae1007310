//! Renders the Terraform root efs-dr drives, from the configuration and the embedded templates:
//! one provider per region, one module call per (primary region, secondary region), and the
//! variables file that selects each pair's replication direction.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, Pair};

/// The direction of a pair's replication.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// primary -> secondary
    Forward,
    /// no replication
    None,
    /// secondary -> primary
    Reverse,
}

impl Direction {
    /// The value in the variables file.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::None => "none",
            Direction::Reverse => "reverse",
        }
    }

    /// The value of the variables file, read back.
    pub fn parse(s: &str) -> Option<Direction> {
        [Direction::Forward, Direction::None, Direction::Reverse]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// The variables file efs-dr writes for each phase.
pub const DIRECTIONS_FILE: &str = "efs-dr.auto.tfvars.json";
const MODULE_DIR: &str = "modules/efs_replication";

const TEMPLATES: &[(&str, &str)] = &[
    (
        "versions.tf",
        include_str!("../../templates/root/versions.tf.tera"),
    ),
    (
        "providers.tf",
        include_str!("../../templates/root/providers.tf.tera"),
    ),
    ("main.tf", include_str!("../../templates/root/main.tf.tera")),
    (
        DIRECTIONS_FILE,
        include_str!("../../templates/root/directions.auto.tfvars.json.tera"),
    ),
];

/// The module, embedded so that efs-dr works from any directory.
const MODULE_FILES: &[(&str, &str)] = &[
    (
        "versions.tf",
        include_str!("../../modules/efs_replication/versions.tf"),
    ),
    (
        "variables.tf",
        include_str!("../../modules/efs_replication/variables.tf"),
    ),
    (
        "main.tf",
        include_str!("../../modules/efs_replication/main.tf"),
    ),
    (
        "outputs.tf",
        include_str!("../../modules/efs_replication/outputs.tf"),
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative to the Terraform directory.
    pub path: PathBuf,
    pub content: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name} failed to render: {reason}")]
    Template { name: String, reason: String },
    #[error(
        "cannot write {path}: {source}\n  hint: check that the Terraform directory is writable"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A duration as Terraform's timeouts take it: "60m", "1h30m", "90s".
fn terraform_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        _ => format!("{s}s"),
    }
}

fn alias(region: &str) -> String {
    region.replace('-', "_")
}

/// The module call that holds a pair: one per (primary region, secondary region).
pub fn module_name(pair: &Pair) -> String {
    format!(
        "{}__{}",
        alias(pair.primary.region.as_str()),
        alias(pair.secondary.region.as_str())
    )
}

/// The Terraform address of a pair's replication in `direction` (None for `Direction::None`).
pub fn replication_address(pair: &Pair, direction: Direction) -> Option<String> {
    let resource = match direction {
        Direction::Forward => "forward",
        Direction::Reverse => "reverse",
        Direction::None => return None,
    };
    Some(format!(
        "module.{}.aws_efs_replication_configuration.{resource}[\"{}\"]",
        module_name(pair),
        pair.name
    ))
}

#[derive(Serialize)]
struct RegionCtx {
    /// The provider block's arguments, `=` aligned as `terraform fmt` does.
    lines: Vec<String>,
}

/// Where a region's provider asks STS at configure: its own region when it is some pair's
/// secondary (B must answer whenever it is used), otherwise the secondary region of its first
/// pair. A region that is only ever a primary is the one an outage takes away, and Terraform
/// configures its provider even for a plan that reads nothing there (the unplanned failover's
/// forget step).
pub fn sts_region(config: &Config, region: &str) -> Option<String> {
    if config
        .pairs
        .iter()
        .any(|p| p.secondary.region.as_str() == region)
    {
        return None;
    }
    config
        .pairs
        .iter()
        .find(|p| p.primary.region.as_str() == region)
        .map(|p| p.secondary.region.to_string())
}

/// One provider block's arguments. A region declared down calls nothing at configure and
/// gives up after one attempt.
fn provider_lines(config: &Config, region: &str, down: bool) -> Vec<String> {
    let mut args: Vec<(&str, String)> = vec![
        ("alias", format!("\"{}\"", alias(region))),
        ("region", format!("\"{region}\"")),
    ];
    if let Some(sts) = sts_region(config, region) {
        args.push(("sts_region", format!("\"{sts}\"")));
    }
    if down {
        args.push(("skip_credentials_validation", "true".into()));
        args.push(("skip_requesting_account_id", "true".into()));
        args.push(("max_retries", "1".into()));
    }
    let width = args.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    args.into_iter()
        .map(|(k, v)| format!("{k:<width$} = {v}"))
        .collect()
}

#[derive(Serialize)]
struct PairCtx<'a> {
    name: &'a str,
    primary_region: &'a str,
    primary_id: &'a str,
    secondary_region: &'a str,
    secondary_id: &'a str,
    alarm: Option<AlarmCtx>,
}

/// A pair's lag alarm, as the module takes it: HCL lists written as JSON arrays.
#[derive(Serialize)]
struct AlarmCtx {
    metric_region: &'static str,
    threshold_seconds: u64,
    primary_topics: String,
    secondary_topics: String,
}

fn alarm_ctx(config: &Config, p: &Pair) -> Option<AlarmCtx> {
    let a = p.alarms.as_ref()?;
    let topics = |side: &crate::config::Side| {
        serde_json::to_string(&a.topics_in(side.region.as_str())).unwrap_or_default()
    };
    Some(AlarmCtx {
        metric_region: a.metric_region.as_str(),
        threshold_seconds: config.gates.max_lag.as_secs(),
        primary_topics: topics(&p.primary),
        secondary_topics: topics(&p.secondary),
    })
}

/// Where a pair's lag alarm lives while the replication in `direction` is in force: the
/// destination's side or the source's, as the configuration says; None without an alarm or a
/// replication. The module computes the same (`local.alarm_side`).
pub fn alarm_side(pair: &Pair, direction: Direction) -> Option<crate::dr::view::Role> {
    use crate::config::MetricRegion;
    use crate::dr::view::Role;
    let alarms = pair.alarms.as_ref()?;
    let (source, destination) = match direction {
        Direction::Forward => (Role::A, Role::B),
        Direction::Reverse => (Role::B, Role::A),
        Direction::None => return None,
    };
    Some(match alarms.metric_region {
        MetricRegion::Destination => destination,
        MetricRegion::Source => source,
    })
}

/// The region a pair's lag alarm lives in while `direction` is in force.
pub fn alarm_region(pair: &Pair, direction: Direction) -> Option<&str> {
    Some(match alarm_side(pair, direction)? {
        crate::dr::view::Role::A => pair.primary.region.as_str(),
        crate::dr::view::Role::B => pair.secondary.region.as_str(),
    })
}

/// The Terraform address of a pair's lag alarm while `direction` is in force.
pub fn alarm_address(pair: &Pair, direction: Direction) -> Option<String> {
    let side = match alarm_side(pair, direction)? {
        crate::dr::view::Role::A => "primary",
        crate::dr::view::Role::B => "secondary",
    };
    Some(format!(
        "module.{}.aws_cloudwatch_metric_alarm.sync_lag_at_{side}[\"{}\"]",
        module_name(pair),
        pair.name
    ))
}

/// The CloudWatch name of a pair's lag alarm while `direction` is in force (the module names
/// it the same way); None without an alarm or a replication.
pub fn alarm_name(pair: &Pair, direction: Direction) -> Option<String> {
    alarm_side(pair, direction)?;
    let (source, destination) = match direction {
        Direction::Forward => (&pair.primary, &pair.secondary),
        _ => (&pair.secondary, &pair.primary),
    };
    Some(format!(
        "{ALARM_NAME_PREFIX}{} TimeSinceLastSync {} to {}",
        pair.name, source.file_system_id, destination.file_system_id
    ))
}

/// Every lag alarm efs-dr's module declares is named with this prefix.
pub const ALARM_NAME_PREFIX: &str = "efs-dr ";

#[derive(Serialize)]
struct GroupCtx<'a> {
    name: String,
    primary_alias: String,
    secondary_alias: String,
    pairs: Vec<PairCtx<'a>>,
}

/// The backend block, re-indented to sit inside `terraform { }`: the block's own indentation
/// (that of its closing brace) becomes two spaces.
fn indent_block(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = lines.last().map(|l| indent(l)).unwrap_or(0);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("  {}", l.trim())
            } else if l.trim().is_empty() {
                String::new()
            } else {
                format!("  {}", &l[base.min(indent(l))..])
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file of the root, for these directions (pairs missing from `directions` are forward),
/// with the providers of the regions in `down` (declared down by an unplanned failover) set to
/// call nothing at configure.
pub fn render_root(
    config: &Config,
    directions: &BTreeMap<String, Direction>,
    down: &BTreeSet<String>,
) -> Result<Vec<RenderedFile>, RenderError> {
    render_root_serving(config, directions, down, &BTreeSet::new())
}

/// Which side serves writes, for the root's `active` output: A while A -> B replicates, B
/// while B -> A does, and with nothing replicating B (a failover), unless B is fenced
/// (protection DISABLED: a failback's last phase, A serves again).
pub fn serving(direction: Direction, b_fenced: bool) -> &'static str {
    match direction {
        Direction::Forward => "primary",
        Direction::Reverse => "secondary",
        Direction::None if b_fenced => "primary",
        Direction::None => "secondary",
    }
}

/// The root as [`render_root`] renders it, with the pairs in `b_fenced` (B's protection
/// DISABLED) served by A when nothing replicates.
pub fn render_root_serving(
    config: &Config,
    directions: &BTreeMap<String, Direction>,
    down: &BTreeSet<String>,
    b_fenced: &BTreeSet<String>,
) -> Result<Vec<RenderedFile>, RenderError> {
    let config_file = config
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "efs-dr.hcl".into());
    let regions: BTreeSet<&str> = config
        .pairs
        .iter()
        .flat_map(|p| [p.primary.region.as_str(), p.secondary.region.as_str()])
        .collect();
    let mut groups: BTreeMap<String, GroupCtx> = BTreeMap::new();
    for p in &config.pairs {
        let g = groups.entry(module_name(p)).or_insert_with(|| GroupCtx {
            name: module_name(p),
            primary_alias: alias(p.primary.region.as_str()),
            secondary_alias: alias(p.secondary.region.as_str()),
            pairs: Vec::new(),
        });
        g.pairs.push(PairCtx {
            name: &p.name,
            primary_region: p.primary.region.as_str(),
            primary_id: p.primary.file_system_id.as_str(),
            secondary_region: p.secondary.region.as_str(),
            secondary_id: p.secondary.file_system_id.as_str(),
            alarm: alarm_ctx(config, p),
        });
    }
    let all_directions: BTreeMap<&str, Direction> = config
        .pairs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                directions
                    .get(&p.name)
                    .copied()
                    .unwrap_or(Direction::Forward),
            )
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("config_file", &config_file);
    ctx.insert(
        "regions",
        &regions
            .iter()
            .map(|r| RegionCtx {
                lines: provider_lines(config, r, down.contains(*r)),
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "down",
        &regions
            .iter()
            .filter(|r| down.contains(**r))
            .collect::<Vec<_>>(),
    );
    ctx.insert("groups", &groups.values().collect::<Vec<_>>());
    ctx.insert(
        "timeouts",
        &terraform_duration(config.terraform.replication_timeouts),
    );
    ctx.insert(
        "module_source",
        &config
            .terraform
            .module_source
            .clone()
            .unwrap_or_else(|| format!("./{MODULE_DIR}")),
    );
    ctx.insert(
        "backend",
        &config.terraform.backend.as_deref().map(indent_block),
    );
    let all_serving: BTreeMap<&str, &str> = all_directions
        .iter()
        .map(|(p, d)| (*p, serving(*d, b_fenced.contains(*p))))
        .collect();
    ctx.insert(
        "directions",
        &serde_json::json!({ "directions": all_directions, "serving": all_serving }),
    );

    let mut tera = tera::Tera::default();
    tera.add_raw_templates(TEMPLATES.iter().copied())
        .map_err(|e| RenderError::Template {
            name: "(all)".into(),
            reason: format!("{e:?}"),
        })?;
    let mut files = Vec::new();
    for (name, _) in TEMPLATES {
        let content = tera.render(name, &ctx).map_err(|e| RenderError::Template {
            name: name.to_string(),
            reason: format!("{e:?}"),
        })?;
        files.push(RenderedFile {
            path: PathBuf::from(name),
            content,
        });
    }
    if config.terraform.module_source.is_none() {
        for (name, content) in MODULE_FILES {
            files.push(RenderedFile {
                path: Path::new(MODULE_DIR).join(name),
                content: content.to_string(),
            });
        }
    }
    Ok(files)
}

/// The direction variables the root in `dir` holds now (None: no readable variables file).
pub fn read_directions(dir: &Path) -> Option<BTreeMap<String, Direction>> {
    #[derive(Deserialize)]
    struct File {
        directions: BTreeMap<String, Direction>,
    }
    std::fs::read_to_string(dir.join(DIRECTIONS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<File>(&t).ok())
        .map(|f| f.directions)
}

/// Writes the files that differ; returns those written.
pub fn write(dir: &Path, files: &[RenderedFile]) -> Result<Vec<PathBuf>, RenderError> {
    let mut written = Vec::new();
    for f in files {
        let path = dir.join(&f.path);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(f.content.as_str()) {
            continue;
        }
        let err = |source| RenderError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        std::fs::write(&path, &f.content).map_err(err)?;
        written.push(f.path.clone());
    }
    Ok(written)
}

#[cfg(test)]
mod tests;

/// Root files as they were before an edit: put back when the edit is dropped without being
/// kept, so that a failure never leaves a root whose plain `terraform apply` makes an ungated
/// change.
pub struct RootEdit {
    dir: PathBuf,
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    kept: bool,
}

impl RootEdit {
    /// Remembers `names` (relative to `dir`) as they are now.
    pub fn begin(dir: &Path, names: &[&str]) -> RootEdit {
        RootEdit {
            dir: dir.to_path_buf(),
            files: names
                .iter()
                .map(|n| (PathBuf::from(n), std::fs::read(dir.join(n)).ok()))
                .collect(),
            kept: false,
        }
    }

    /// The edit stands.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for RootEdit {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        for (name, content) in &self.files {
            let path = self.dir.join(name);
            let restored = match content {
                Some(c) => std::fs::write(&path, c),
                None if path.exists() => std::fs::remove_file(&path),
                None => Ok(()),
            };
            if let Err(e) = restored {
                tracing::error!("{} could not be put back: {e}", path.display());
            }
        }
    }
}
