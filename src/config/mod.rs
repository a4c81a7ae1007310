//! The configuration file `efs-dr.hcl`: the replicated pairs, how to drive Terraform, and the
//! gates' timings. Parsed with hcl-edit (which keeps source positions) into a typed model.

mod backend;
mod error;
mod reader;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl_edit::structure::BlockLabel;
use hcl_edit::Span;
use serde::Serialize;

pub use backend::S3Backend;
pub use error::{ConfigError, ConfigIssue, LoadError};
use reader::{join, BodyReader, Issues, SourceText};

use crate::ids::{FileSystemId, Region};

/// The whole configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// The file this was read from; relative paths inside are relative to its folder.
    pub file: PathBuf,
    pub terraform: TerraformSettings,
    pub pairs: Vec<Pair>,
    pub gates: GateSettings,
    pub lease: LeaseSettings,
}

/// The run lease: one run at a time, from any machine, for the whole run (Terraform's own lock
/// covers one Terraform command, not the gate waits between them). Wall-clock durations, read on
/// the lease store's clock (S3's `Date` and `Last-Modified`), never a machine's own.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseSettings {
    /// How often a run renews its lease.
    #[serde(with = "humantime_serde_compat")]
    pub heartbeat: Duration,
    /// A lease whose last heartbeat is older than this may be taken over (`--take-over`):
    /// its holder died or lost the backend, and a holder that lost the backend makes no
    /// further change.
    #[serde(with = "humantime_serde_compat")]
    pub stale_after: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings {
            heartbeat: Duration::from_secs(10),
            stale_after: Duration::from_secs(120),
        }
    }
}

/// How efs-dr finds and drives Terraform.
#[derive(Debug, Clone, Serialize)]
pub struct TerraformSettings {
    /// The root configuration efs-dr renders and runs, relative to the config file.
    pub dir: PathBuf,
    /// `terraform`, `tofu`, or a path to either.
    pub binary: String,
    /// How long Terraform waits for the state lock (`-lock-timeout`).
    #[serde(with = "humantime_serde_compat")]
    pub lock_timeout: Duration,
    /// Where the root finds the efs_replication module. Unset: efs-dr writes its own copy into
    /// `<dir>/modules/efs_replication`.
    pub module_source: Option<String>,
    /// A `backend "TYPE" { ... }` block, passed through to the rendered root as written.
    pub backend: Option<String>,
    /// The backend's S3 settings when it is `backend "s3"`: the run lease is kept beside the
    /// state, in the same bucket.
    pub s3_backend: Option<S3Backend>,
    /// Terraform's `-parallelism` for plan and apply. None: one per pair, at least 10
    /// (Terraform's own default): each pair's phase changes one resource, and the provider
    /// waits on AWS for each (8 minutes for a deletion), so a fleet must not go in waves.
    pub parallelism: Option<u32>,
    /// The provider's create and delete timeouts of a replication (the module's `timeouts`).
    /// The provider measures them on the wall clock; AWS often takes about 15 minutes to
    /// reach ENABLED, past the provider's own 20-minute default on a slow day, and a create
    /// that times out leaves the resource tainted. Default 60 minutes.
    #[serde(with = "humantime_serde_compat")]
    pub replication_timeouts: Duration,
}

impl TerraformSettings {
    /// The parallelism for `pairs` pairs.
    pub fn parallelism_for(&self, pairs: usize) -> u32 {
        self.parallelism
            .unwrap_or_else(|| (pairs as u32).clamp(10, 256))
    }
}

/// One replicated pair: A (primary, home) and B (secondary).
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub name: String,
    pub primary: Side,
    pub secondary: Side,
    /// Where a failback keeps a recovery point of A before it overwrites writes only A has:
    /// the pair's own `backup` block, or the top-level one.
    pub backup: Option<BackupSettings>,
    /// A CloudWatch alarm on the lag of the replication in force: the pair's own `alarms`
    /// block, or the top-level one.
    pub alarms: Option<AlarmSettings>,
    /// The operator's commands at the hook points: the pair's own `hooks` block over the
    /// top-level one, point by point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<crate::hooks::HookSettings>,
}

/// `alarms { sns_topic_arns = [...], metric_region = "destination" }`: per pair, one alarm on
/// `TimeSinceLastSync` above `gates.max_lag`, missing data breaching, in the region where the
/// metric is published, notifying the topics of that region.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlarmSettings {
    pub sns_topic_arns: Vec<String>,
    pub metric_region: MetricRegion,
}

impl AlarmSettings {
    /// The topics an alarm in `region` notifies (an alarm's SNS actions must be in its region).
    pub fn topics_in(&self, region: &str) -> Vec<String> {
        self.sns_topic_arns
            .iter()
            .filter(|arn| arn.split(':').nth(3) == Some(region))
            .cloned()
            .collect()
    }
}

/// Which region of a replication its lag alarm lives in: where AWS publishes
/// `TimeSinceLastSync`, which AWS does not document (`efs-dr doctor` checks it).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetricRegion {
    /// The destination's region: it survives the source region's outage, and a source that
    /// stops syncing (or is gone) turns the alarm to ALARM.
    Destination,
    /// The source's region.
    Source,
}

impl MetricRegion {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricRegion::Destination => "destination",
            MetricRegion::Source => "source",
        }
    }
}

/// The block to add, for an error message.
pub const ALARMS_EXAMPLE: &str = "alarms {\n  sns_topic_arns = [\"arn:aws:sns:us-east-1:123456789012:efs-dr\", \"arn:aws:sns:us-west-2:123456789012:efs-dr\"]\n}";

/// An AWS Backup vault in A's region and the IAM role AWS Backup assumes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackupSettings {
    pub vault: String,
    pub role_arn: String,
}

/// A whole pair, as error messages show it (valid HCL: a test parses every example).
pub const PAIR_EXAMPLE: &str = "pair \"shared-home\" {\n  primary {\n    region         = \"us-east-1\"\n    file_system_id = \"fs-0123456789abcdef0\"\n  }\n  secondary {\n    region         = \"us-west-2\"\n    file_system_id = \"fs-0fedcba9876543210\"\n  }\n}";

/// The block to add, for an error message.
pub const BACKUP_EXAMPLE: &str = "backup {\n  vault    = \"efs-dr\"\n  role_arn = \"arn:aws:iam::123456789012:role/efs-dr-backup\"\n}";

/// One file system of a pair.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Side {
    pub region: Region,
    pub file_system_id: FileSystemId,
    /// The Availability Zones the application runs in on this side (`zones = [...]`): `doctor`
    /// checks a mount target is available in each. Empty: as many zones as the other side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
}

/// Timings of the gates. All durations are AWS time, not local time.
#[derive(Debug, Clone, Serialize)]
pub struct GateSettings {
    #[serde(with = "humantime_serde_compat")]
    pub poll_interval: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub replication_timeout: Duration,
    /// RPO: a planned failover is refused when the last sync is older than this.
    #[serde(with = "humantime_serde_compat")]
    pub max_lag: Duration,
    /// How long writes must have stopped before a failback cut-over.
    #[serde(with = "humantime_serde_compat")]
    pub quiesce_window: Duration,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            poll_interval: Duration::from_secs(5),
            replication_timeout: Duration::from_secs(30 * 60),
            max_lag: Duration::from_secs(15 * 60),
            quiesce_window: Duration::from_secs(2 * 60),
        }
    }
}

/// Durations appear as humantime strings ("5s", "30m") in JSON output.
mod humantime_serde_compat {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Config::parse(&text, path)?)
    }

    /// Parses and validates `text`; `file` is used for messages and relative paths.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let source = SourceText::new(text);
        let mut issues = Issues::new(&source);
        let body = match hcl_edit::parser::parse_body(text) {
            Ok(body) => body,
            Err(e) => {
                let loc = e.location();
                return Err(ConfigError {
                    file: file.to_path_buf(),
                    issues: vec![ConfigIssue {
                        line: Some(loc.line()),
                        column: Some(loc.column()),
                        field: String::new(),
                        problem: format!("this is not valid HCL: {}", e.message()),
                        example: None,
                    }],
                });
            }
        };

        let mut top = BodyReader::new(&body, "", None);
        let terraform = read_terraform(&mut top, &mut issues);
        let gates = read_gates(&mut top, &mut issues);
        let lease = read_lease(&mut top, &mut issues);
        let backup = top
            .single_block("backup", &mut issues)
            .and_then(|b| read_backup(b, "backup", &mut issues));
        let alarms = top
            .single_block("alarms", &mut issues)
            .and_then(|b| read_alarms(b, "alarms", &mut issues));
        let hooks = top
            .single_block("hooks", &mut issues)
            .and_then(|b| read_hooks(b, "hooks", true, &mut issues));
        let pair_blocks = top.blocks("pair");
        top.finish(
            &[
                "terraform",
                "pair",
                "gates",
                "backup",
                "alarms",
                "hooks",
                "lease",
            ],
            &mut issues,
        );

        let mut pairs = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for block in &pair_blocks {
            let label = match block.labels.as_slice() {
                [one] => Some(label_str(one)),
                _ => {
                    issues.push(
                        block.span(),
                        "pair",
                        format!(
                            "a pair block takes exactly one name, found {}",
                            block.labels.len()
                        ),
                        Some(PAIR_EXAMPLE.to_string()),
                    );
                    None
                }
            };
            let Some(name) = label else { continue };
            if let Err(problem) = check_pair_name(&name) {
                issues.push(
                    block.span(),
                    &format!("pair {name:?}"),
                    problem.to_string(),
                    Some(PAIR_EXAMPLE.to_string()),
                );
                continue;
            }
            if let Some(first_line) = names.get(&name) {
                issues.push(
                    block.span(),
                    &format!("pair {name:?}"),
                    format!("the pair name {name:?} is already used on line {first_line}; pair names must be unique"),
                    None,
                );
                continue;
            }
            let line = block
                .span()
                .map(|r| source.line_col(r.start).0)
                .unwrap_or(0);
            names.insert(name.clone(), line);
            if let Some(mut pair) = read_pair(&name, block, &mut issues) {
                pair.backup = pair.backup.or_else(|| backup.clone());
                pair.alarms = pair.alarms.or_else(|| alarms.clone());
                pair.hooks = merge_hooks(hooks.as_ref(), pair.hooks.take());
                if check_alarm_topics(&pair, block, &mut issues) {
                    pairs.push(pair);
                }
            }
        }
        if pair_blocks.is_empty() {
            issues.push(
                None,
                "pair",
                "no pair is configured; efs-dr needs at least one replicated pair",
                Some(PAIR_EXAMPLE.to_string()),
            );
        }
        check_file_systems_unique(&pairs, &pair_blocks, &mut issues);

        if let Some(g) = &gates {
            if g.poll_interval >= g.replication_timeout {
                issues.push(
                    None,
                    "gates > poll_interval",
                    format!(
                        "poll_interval ({}) must be shorter than replication_timeout ({})",
                        humantime::format_duration(g.poll_interval),
                        humantime::format_duration(g.replication_timeout)
                    ),
                    Some("poll_interval = \"5s\"".to_string()),
                );
            }
        }

        // In the order of the file, as an editor shows them; problems without a place last.
        issues
            .list
            .sort_by_key(|i| (i.line.is_none(), i.line, i.column));
        if !issues.list.is_empty() {
            return Err(ConfigError {
                file: file.to_path_buf(),
                issues: issues.list,
            });
        }
        Ok(Config {
            file: file.to_path_buf(),
            terraform: terraform.expect("no issues means terraform settings were read"),
            pairs,
            gates: gates.expect("no issues means gate settings were read"),
            lease: lease.expect("no issues means lease settings were read"),
        })
    }

    /// What is valid but dangerous on a bad day, said by `config validate`, `init` and
    /// `status`: a state kept in a pair's primary region is lost with that region, so an
    /// unplanned failover can make B writable but cannot record it.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let Some(backend) = &self.terraform.s3_backend else {
            return warnings;
        };
        let Some(region) = &backend.region else {
            return warnings;
        };
        let pairs: Vec<&str> = self
            .pairs
            .iter()
            .filter(|p| p.primary.region.as_str() == region)
            .map(|p| p.name.as_str())
            .collect();
        if !pairs.is_empty() {
            warnings.push(format!(
                "the Terraform state (S3 bucket {}) is in {region}, the primary region of pair(s) {}: an outage of {region} takes the state with it, so an unplanned failover can make B writable but cannot record it in the state until {region} returns (exit 4). Keep the state bucket in a secondary region or a third one (README: \"Remote state and teams\")",
                backend.bucket,
                pairs.join(", ")
            ));
        }
        warnings
    }

    /// The Terraform root folder, resolved against the config file's folder.
    pub fn terraform_dir(&self) -> PathBuf {
        let base = self.file.parent().unwrap_or(Path::new("."));
        base.join(&self.terraform.dir)
    }

    /// The pairs named, or every pair when `names` is empty. Unknown names are an error that
    /// lists the pairs there are.
    pub fn select_pairs(&self, names: &[String]) -> Result<Vec<&Pair>, UnknownPair> {
        if names.is_empty() {
            return Ok(self.pairs.iter().collect());
        }
        let mut out = Vec::new();
        for name in names {
            match self.pairs.iter().find(|p| &p.name == name) {
                Some(p) => out.push(p),
                None => {
                    return Err(UnknownPair {
                        name: name.clone(),
                        file: self.file.clone(),
                        known: self.pairs.iter().map(|p| p.name.clone()).collect(),
                    });
                }
            }
        }
        Ok(out)
    }
}

fn label_str(label: &BlockLabel) -> String {
    label.as_str().to_string()
}

/// A `--pair` that names no pair of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no pair {name:?} in {}; the pairs are: {}", file.display(), known.join(", "))]
pub struct UnknownPair {
    pub name: String,
    pub file: PathBuf,
    pub known: Vec<String>,
}

/// A pair name that cannot be a Terraform map key and a file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PairNameError {
    #[error("a pair name cannot be empty")]
    Empty,
    #[error("{0:?} is not a usable pair name: use letters, digits, '-' and '_' (it becomes a Terraform map key and a file name)")]
    Unusable(String),
}

fn check_pair_name(name: &str) -> Result<(), PairNameError> {
    if name.is_empty() {
        return Err(PairNameError::Empty);
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(PairNameError::Unusable(name.to_string()));
    }
    Ok(())
}

fn read_terraform(top: &mut BodyReader, issues: &mut Issues) -> Option<TerraformSettings> {
    let default = TerraformSettings {
        dir: PathBuf::from("terraform"),
        binary: "terraform".to_string(),
        lock_timeout: Duration::from_secs(60),
        module_source: None,
        backend: None,
        s3_backend: None,
        parallelism: None,
        replication_timeouts: Duration::from_secs(60 * 60),
    };
    let Some(block) = top.single_block("terraform", issues) else {
        return Some(default);
    };
    let mut r = BodyReader::new(&block.body, "terraform", block.span());
    let dir = r.string("dir", "dir = \"terraform\"", issues);
    let binary = r.string("binary", "binary = \"terraform\"", issues);
    let lock_timeout = r.duration("lock_timeout", default.lock_timeout, issues);
    let replication_timeouts =
        r.duration("replication_timeouts", default.replication_timeouts, issues);
    let parallelism = r
        .count("parallelism", 1..=1024, "parallelism = 100", issues)
        .map(|n| n as u32);
    let module_source = r.string(
        "module_source",
        "module_source = \"../modules/efs_replication\"",
        issues,
    );
    let mut s3_backend = None;
    let backend = r.single_block("backend", issues).and_then(|b| {
        if b.labels.len() != 1 {
            issues.push(
                b.span(),
                "terraform > backend",
                "a backend block takes exactly one label, its type",
                Some("backend \"s3\" {\n  bucket = \"tf-state\"\n  key    = \"efs-dr\"\n  region = \"us-east-1\"\n}".to_string()),
            );
            return None;
        }
        if b.labels[0].as_str() == "s3" {
            s3_backend = backend::read_s3(b, issues);
        }
        b.span().map(|span| issues.source.slice(span).to_string())
    });
    if let Some(b) = &binary {
        if b.value.trim().is_empty() {
            issues.push(
                b.span.clone(),
                "terraform > binary",
                "cannot be empty",
                Some("binary = \"terraform\"  # or \"tofu\", or a path".to_string()),
            );
        }
    }
    if let Some(d) = &dir {
        if d.value.trim().is_empty() {
            issues.push(
                d.span.clone(),
                "terraform > dir",
                "cannot be empty",
                Some("dir = \"terraform\"".to_string()),
            );
        }
    }
    r.finish(
        &[
            "dir",
            "binary",
            "lock_timeout",
            "module_source",
            "backend",
            "parallelism",
            "replication_timeouts",
        ],
        issues,
    );
    Some(TerraformSettings {
        dir: dir.map(|d| PathBuf::from(d.value)).unwrap_or(default.dir),
        binary: binary.map(|b| b.value).unwrap_or(default.binary),
        lock_timeout: lock_timeout?,
        module_source: module_source.map(|m| m.value),
        backend,
        s3_backend,
        parallelism,
        replication_timeouts: replication_timeouts?,
    })
}

fn read_gates(top: &mut BodyReader, issues: &mut Issues) -> Option<GateSettings> {
    let default = GateSettings::default();
    let Some(block) = top.single_block("gates", issues) else {
        return Some(default);
    };
    let mut r = BodyReader::new(&block.body, "gates", block.span());
    let poll_interval = r.duration("poll_interval", default.poll_interval, issues);
    let replication_timeout =
        r.duration("replication_timeout", default.replication_timeout, issues);
    let max_lag = r.duration("max_lag", default.max_lag, issues);
    let quiesce_window = r.duration("quiesce_window", default.quiesce_window, issues);
    r.finish(
        &[
            "poll_interval",
            "replication_timeout",
            "max_lag",
            "quiesce_window",
        ],
        issues,
    );
    Some(GateSettings {
        poll_interval: poll_interval?,
        replication_timeout: replication_timeout?,
        max_lag: max_lag?,
        quiesce_window: quiesce_window?,
    })
}

fn read_lease(top: &mut BodyReader, issues: &mut Issues) -> Option<LeaseSettings> {
    let default = LeaseSettings::default();
    let Some(block) = top.single_block("lease", issues) else {
        return Some(default);
    };
    let mut r = BodyReader::new(&block.body, "lease", block.span());
    let heartbeat = r.duration("heartbeat", default.heartbeat, issues);
    let stale_after = r.duration("stale_after", default.stale_after, issues);
    r.finish(&["heartbeat", "stale_after"], issues);
    let (heartbeat, stale_after) = (heartbeat?, stale_after?);
    if stale_after < heartbeat * 3 {
        issues.push(
            block.span(),
            "lease > stale_after",
            format!(
                "stale_after ({}) must be at least three heartbeats ({}): a live run that misses one heartbeat must not look dead",
                humantime::format_duration(stale_after),
                humantime::format_duration(heartbeat * 3)
            ),
            Some("lease {\n  heartbeat   = \"10s\"\n  stale_after = \"2m\"\n}".to_string()),
        );
        return None;
    }
    Some(LeaseSettings {
        heartbeat,
        stale_after,
    })
}

fn read_pair(name: &str, block: &hcl_edit::structure::Block, issues: &mut Issues) -> Option<Pair> {
    let path = format!("pair {name:?}");
    let mut r = BodyReader::new(&block.body, &path, block.span());
    let primary = read_side(
        &mut r,
        "primary",
        "us-east-1",
        "fs-0123456789abcdef0",
        issues,
    );
    let secondary = read_side(
        &mut r,
        "secondary",
        "us-west-2",
        "fs-0fedcba9876543210",
        issues,
    );
    let backup = r
        .single_block("backup", issues)
        .and_then(|b| read_backup(b, &format!("{path} > backup"), issues));
    let alarms = r
        .single_block("alarms", issues)
        .and_then(|b| read_alarms(b, &format!("{path} > alarms"), issues));
    let hooks = r
        .single_block("hooks", issues)
        .and_then(|b| read_hooks(b, &format!("{path} > hooks"), false, issues));
    r.finish(
        &["primary", "secondary", "backup", "alarms", "hooks"],
        issues,
    );
    let (primary, secondary) = (primary?, secondary?);
    if primary.region == secondary.region {
        issues.push(
            block.span(),
            &path,
            format!(
                "primary and secondary are both in {}; a disaster-recovery pair needs two regions",
                primary.region
            ),
            Some("secondary {\n  region         = \"us-west-2\"\n  file_system_id = \"fs-0fedcba9876543210\"\n}".to_string()),
        );
        return None;
    }
    if primary.file_system_id == secondary.file_system_id {
        issues.push(
            block.span(),
            &path,
            format!(
                "primary and secondary are the same file system {}",
                primary.file_system_id
            ),
            None,
        );
        return None;
    }
    Some(Pair {
        name: name.to_string(),
        primary,
        secondary,
        backup,
        alarms,
        hooks,
    })
}

/// A `hooks` block: a shell command per hook point, `timeout`, and (top level) `max_parallel`.
fn read_hooks(
    block: &hcl_edit::structure::Block,
    path: &str,
    top_level: bool,
    issues: &mut Issues,
) -> Option<crate::hooks::HookSettings> {
    use crate::hooks::{HookSettings, DEFAULT_MAX_PARALLEL, DEFAULT_TIMEOUT, HOOK_POINTS};
    let mut r = BodyReader::new(&block.body, path, block.span());
    let mut commands = BTreeMap::new();
    for point in HOOK_POINTS {
        let example = format!("{point} = \"./hooks/{point}.sh\"");
        if let Some(c) = r.string(point.as_str(), &example, issues) {
            if c.value.trim().is_empty() {
                issues.push(
                    c.span,
                    &join(path, point.as_str()),
                    "is empty: leave it out to run nothing there",
                    Some(example),
                );
                return None;
            }
            commands.insert(point, c.value);
        }
    }
    let timeout = r.duration("timeout", DEFAULT_TIMEOUT, issues);
    let mut known: Vec<&str> = HOOK_POINTS.iter().map(|p| p.as_str()).collect();
    known.push("timeout");
    // How many pairs' hooks run at once bounds the whole fleet: the top-level block's only.
    let max_parallel = if top_level {
        known.push("max_parallel");
        r.count("max_parallel", 1..=1024, "max_parallel = 10", issues)
            .map(|n| n as u32)
            .unwrap_or(DEFAULT_MAX_PARALLEL)
    } else {
        if let Some(span) = r.attribute_span("max_parallel") {
            issues.push(
                span,
                &join(path, "max_parallel"),
                "bounds the hooks of all pairs at once: set it in the top-level `hooks` block",
                Some("hooks {\n  max_parallel = 10\n}".to_string()),
            );
            return None;
        }
        DEFAULT_MAX_PARALLEL
    };
    r.finish(&known, issues);
    Some(HookSettings {
        commands,
        timeout: timeout?,
        max_parallel,
    })
}

/// The pair's hooks over the top-level ones, point by point; the pair's timeout if it has a
/// block.
fn merge_hooks(
    top: Option<&crate::hooks::HookSettings>,
    own: Option<crate::hooks::HookSettings>,
) -> Option<crate::hooks::HookSettings> {
    match (top, own) {
        (None, own) => own,
        (Some(top), None) => Some(top.clone()),
        (Some(top), Some(mut own)) => {
            own.max_parallel = top.max_parallel;
            for (point, command) in &top.commands {
                own.commands
                    .entry(*point)
                    .or_insert_with(|| command.clone());
            }
            Some(own)
        }
    }
}

fn read_alarms(
    block: &hcl_edit::structure::Block,
    path: &str,
    issues: &mut Issues,
) -> Option<AlarmSettings> {
    let mut r = BodyReader::new(&block.body, path, block.span());
    let example = "sns_topic_arns = [\"arn:aws:sns:us-east-1:123456789012:efs-dr\", \"arn:aws:sns:us-west-2:123456789012:efs-dr\"]";
    let topics = r.string_list("sns_topic_arns", example, issues);
    let region_example = "metric_region = \"destination\"";
    let metric_region = r.string("metric_region", region_example, issues);
    r.finish(&["sns_topic_arns", "metric_region"], issues);
    let Some(topics) = topics else {
        if !block.body.has_attribute("sns_topic_arns") {
            issues.push(
                block.span(),
                &join(path, "sns_topic_arns"),
                "sns_topic_arns is missing: the alarm notifies these SNS topics",
                Some(example.to_string()),
            );
        }
        return None;
    };
    let mut ok = true;
    for arn in &topics.value {
        let parts: Vec<&str> = arn.split(':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && crate::ids::Region::parse(parts[3]).is_ok()
            && parts[4].len() == 12
            && parts[4].bytes().all(|b| b.is_ascii_digit())
            && !parts[5].is_empty();
        if !valid {
            issues.push(
                topics.span.clone(),
                &join(path, "sns_topic_arns"),
                format!("{arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"),
                Some(example.to_string()),
            );
            ok = false;
        }
    }
    let metric_region = match metric_region {
        None => MetricRegion::Destination,
        Some(v) => match v.value.as_str() {
            "destination" => MetricRegion::Destination,
            "source" => MetricRegion::Source,
            other => {
                issues.push(
                    v.span.clone(),
                    &join(path, "metric_region"),
                    format!("{other:?} is neither \"destination\" nor \"source\": the region of the replication whose TimeSinceLastSync the alarm watches"),
                    Some(region_example.to_string()),
                );
                return None;
            }
        },
    };
    ok.then_some(AlarmSettings {
        sns_topic_arns: topics.value,
        metric_region,
    })
}

/// A pair's alarm lives in either of its regions as the direction flips (SNS notifies only an
/// alarm of its own region): each must have a topic. False when one has none (reported).
fn check_alarm_topics(
    pair: &Pair,
    block: &hcl_edit::structure::Block,
    issues: &mut Issues,
) -> bool {
    let Some(alarms) = &pair.alarms else {
        return true;
    };
    let missing: Vec<&str> = [&pair.primary.region, &pair.secondary.region]
        .into_iter()
        .map(|r| r.as_str())
        .filter(|r| alarms.topics_in(r).is_empty())
        .collect();
    if missing.is_empty() {
        return true;
    }
    issues.push(
        block.span(),
        &format!("pair {:?} > alarms > sns_topic_arns", pair.name),
        format!(
            "no SNS topic in {}: the pair's lag alarm lives in {} or {} as the direction flips, and an alarm can notify only topics of its own region; add a topic ARN in {}",
            missing.join(" and "),
            pair.primary.region,
            pair.secondary.region,
            missing.join(" and ")
        ),
        Some(ALARMS_EXAMPLE.to_string()),
    );
    false
}

fn read_backup(
    block: &hcl_edit::structure::Block,
    path: &str,
    issues: &mut Issues,
) -> Option<BackupSettings> {
    let mut r = BodyReader::new(&block.body, path, block.span());
    let vault = r.required_string("vault", "vault = \"efs-dr\"", issues);
    let role = r.required_string(
        "role_arn",
        "role_arn = \"arn:aws:iam::123456789012:role/efs-dr-backup\"",
        issues,
    );
    r.finish(&["vault", "role_arn"], issues);
    let (vault, role) = (vault?, role?);
    let vault_ok = (2..=50).contains(&vault.value.len())
        && vault
            .value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !vault_ok {
        issues.push(
            vault.span.clone(),
            &join(path, "vault"),
            format!(
                "{:?} is not a backup vault name (2-50 letters, digits, '-' or '_')",
                vault.value
            ),
            Some("vault = \"efs-dr\"".to_string()),
        );
        return None;
    }
    if !(role.value.starts_with("arn:aws")
        && role.value.contains(":iam::")
        && role.value.contains(":role/"))
    {
        issues.push(
            role.span.clone(),
            &join(path, "role_arn"),
            format!("{:?} is not an IAM role ARN", role.value),
            Some("role_arn = \"arn:aws:iam::123456789012:role/efs-dr-backup\"".to_string()),
        );
        return None;
    }
    Some(BackupSettings {
        vault: vault.value,
        role_arn: role.value,
    })
}

fn read_side(
    pair: &mut BodyReader,
    ident: &str,
    example_region: &str,
    example_fs: &str,
    issues: &mut Issues,
) -> Option<Side> {
    let path = join(pair.path(), ident);
    let example_block = format!(
        "{ident} {{\n  region         = \"{example_region}\"\n  file_system_id = \"{example_fs}\"\n}}"
    );
    let Some(block) = pair.single_block(ident, issues) else {
        issues.push(
            pair.owner_span(),
            &path,
            format!("the {ident} block is missing"),
            Some(example_block),
        );
        return None;
    };
    if !block.labels.is_empty() {
        issues.push(
            block.span(),
            &path,
            format!("the {ident} block takes no label"),
            Some(example_block.clone()),
        );
    }
    let mut r = BodyReader::new(&block.body, &path, block.span());
    let region_example = format!("region = \"{example_region}\"");
    let fs_example = format!("file_system_id = \"{example_fs}\"");
    let region = r
        .required_string("region", &region_example, issues)
        .and_then(|v| match Region::parse(&v.value) {
            Ok(region) => Some(region),
            Err(problem) => {
                issues.push(
                    v.span,
                    &join(&path, "region"),
                    problem,
                    Some(region_example.clone()),
                );
                None
            }
        });
    let fs = r
        .required_string("file_system_id", &fs_example, issues)
        .and_then(|v| match FileSystemId::parse(&v.value) {
            Ok(id) => Some(id),
            Err(problem) => {
                issues.push(
                    v.span,
                    &join(&path, "file_system_id"),
                    format!("{problem} (an EFS id is \"fs-\" and 8 or 17 hex digits)"),
                    Some(fs_example.clone()),
                );
                None
            }
        });
    let zones_example = format!("zones = [\"{example_region}a\", \"{example_region}b\"]");
    let zones = r
        .string_list("zones", &zones_example, issues)
        .map(|z| {
            for zone in &z.value {
                let in_region = region.as_ref().is_none_or(|r| {
                    zone.len() == r.as_str().len() + 1 && zone.starts_with(r.as_str())
                });
                if !in_region {
                    issues.push(
                        z.span.clone(),
                        &join(&path, "zones"),
                        format!("{zone:?} is not an Availability Zone of this side's region (a zone is the region and a letter)"),
                        Some(zones_example.clone()),
                    );
                }
            }
            z.value
        })
        .unwrap_or_default();
    r.finish(&["region", "file_system_id", "zones"], issues);
    Some(Side {
        region: region?,
        file_system_id: fs?,
        zones,
    })
}

fn check_file_systems_unique(
    pairs: &[Pair],
    blocks: &[&hcl_edit::structure::Block],
    issues: &mut Issues,
) {
    let mut seen: BTreeMap<&FileSystemId, &str> = BTreeMap::new();
    for pair in pairs {
        for side in [&pair.primary, &pair.secondary] {
            if let Some(other) = seen.get(&side.file_system_id) {
                if *other != pair.name {
                    let span = blocks
                        .iter()
                        .find(|b| b.labels.first().map(label_str).as_deref() == Some(&pair.name))
                        .and_then(|b| b.span());
                    issues.push(
                        span,
                        &format!("pair {:?}", pair.name),
                        format!(
                            "file system {} is already in pair {other:?}; a file system can be in only one replication",
                            side.file_system_id
                        ),
                        None,
                    );
                }
            } else {
                seen.insert(&side.file_system_id, &pair.name);
            }
        }
    }
}

#[cfg(test)]
mod tests;
